#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "core/model/pipeline.h"

namespace patchlens::cli {

// What `patchlens-cli batch DIR -o OUTDIR` does, independent of argument parsing.
struct BatchOptions {
  std::string inputDir;
  std::string outputDir;
  bool recursive = false;
  int threads = 0;  // decoder threads of the pipeline; 0 = one per core
  PipelineConfig config;
  std::vector<std::string> plots;  // figure kinds drawn per image as <name>-<kind>.png
};

struct BatchFailure {
  std::string path;
  std::string reason;
};

struct BatchReport {
  int embedded = 0;
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

}  // namespace patchlens::cli
