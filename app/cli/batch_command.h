#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "core/model/pipeline.h"

namespace patchlens::cli {

// How a transformer's [T, D] tokens become an image's features.
enum class FeaturePool {
  None,  // every token: [T, D] per image
  Cls,   // the cls token's row: [D]
  Mean   // the mean of the patch rows (prefix tokens left out): [D]
};

// What `patchlens-cli batch DIR -o OUTDIR` does, independent of argument parsing.
struct BatchOptions {
  std::string inputDir;
  std::string outputDir;
  bool recursive = false;
  int threads = 0;  // decoder threads of the pipeline; 0 = one per core
  PipelineConfig config;
  std::vector<std::string> plots;  // figure kinds drawn per image as <name>-<kind>.png
  // Features of a whole ViT encoder instead of the patch embedding: tokens_L or "final".
  std::string layer;  // empty: the patch embedding
  int heads = 0;      // --heads
  FeaturePool pool = FeaturePool::None;
  int shardIndex = 1, shardCount = 1;  // --shard K/N: the K-th of N contiguous parts
  bool resume = false;                 // skip images whose output exists and reads back whole
};

struct BatchFailure {
  std::string path;
  std::string reason;
};

struct BatchReport {
  int embedded = 0;
  int skipped = 0;       // --resume: outputs already there and valid
  std::string features;  // pooled: the stacked [N, D] file written (and its index beside it)
  std::vector<BatchFailure> failures;
  double seconds = 0;
};

// Embeds every image under inputDir into outputDir/<relative path>/<stem>.npy through a
// decode -> embed -> write pipeline (one decoder per core), going on past bad files; with plots,
// also <stem>-<kind>.png per image (the caller must have made a QGuiApplication). Throws
// std::invalid_argument for a bad kind. Progress goes to `progress` (a bar with ETA when
// `interactive`, else one line per image). Throws Error for an unusable DIR or OUTDIR.
BatchReport runBatch(const BatchOptions& options, std::ostream& progress, bool interactive);

// The image files a batch would take, sorted; by content or by a known image extension.
std::vector<std::string> listBatchInputs(const std::string& dir, bool recursive);

// The K-th (1..N) of N contiguous, near-equal parts of `count` items: [first, last). Every
// item falls in exactly one part, and concatenating the parts in K order gives the whole list.
std::pair<std::size_t, std::size_t> shardRange(std::size_t count, int k, int n);

}  // namespace patchlens::cli
