#include "app/cli/batch_command.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include "app/cli/command_line.h"
#include "core/image/image_header.h"
#include "core/image/model_input_reader.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/threading.h"
#include "core/io/work_queue.h"
#include "core/model/initializers.h"
#include "core/model/resource_plan.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_exporter.h"
#include "ui/figures/figure_factory.h"
#include "ui/figures/plot_kind.h"

namespace patchlens::cli {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

const std::set<std::string> kImageExtensions = {
    ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm",
    ".pbm", ".pnm", ".exr",  ".hdr", ".jp2", ".ras",  ".sr",   ".pfm", ".dib", ".jpe"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool looksLikeImage(const fs::path& path) {
  if (kImageExtensions.count(lower(path.extension().string()))) return true;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::uint8_t head[64];
  const std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  return readImageHeader(std::span<const std::uint8_t>(head, n)).isImage;
}

// OUTDIR/<relative dir>/<stem>.npy; files sharing a stem in one folder keep their extension.
std::vector<fs::path> outputPaths(const std::vector<std::string>& inputs, const fs::path& inDir,
                                  const fs::path& outDir) {
  std::map<fs::path, int> stems;
  for (const auto& in : inputs) {
    const fs::path rel = fs::path(in).lexically_relative(inDir);
    ++stems[rel.parent_path() / rel.stem()];
  }
  std::vector<fs::path> outs;
  for (const auto& in : inputs) {
    const fs::path rel = fs::path(in).lexically_relative(inDir);
    const bool clash = stems[rel.parent_path() / rel.stem()] > 1;
    outs.push_back(outDir / rel.parent_path() /
                   ((clash ? rel.filename().string() : rel.stem().string()) + ".npy"));
  }
  return outs;
}

// "similarity:3,4" -> "similarity-3_4": a kind as part of a file name.
std::string kindFileName(const std::string& kind) {
  std::string name = kind;
  for (char& c : name) {
    if (c == ':') c = '-';
    if (c == ',') c = '_';
  }
  return name;
}

// An output --resume may keep: it reads back whole as a float32 array of the expected shape.
bool validOutput(const fs::path& path, const std::vector<std::int64_t>& shape) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  try {
    return readNpy(path.string()).shape == shape;
  } catch (const std::exception&) {
    return false;
  }
}

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// --layer as a tokens index 0..depth, or depth + 1 for "final".
int featureLayer(const std::string& text, int depth) {
  if (text == "final") return depth + 1;
  std::size_t used = 0;
  int value = -1;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 0 || value > depth) {
    throw UsageError("--layer needs 0.." + std::to_string(depth) + " or 'final' (the model has " +
                     std::to_string(depth) + " blocks), got '" + text + "'");
  }
  return value;
}

std::string formatSeconds(double s) {
  std::ostringstream out;
  const int total = static_cast<int>(s + 0.5);
  out << total / 60 << ":" << std::setw(2) << std::setfill('0') << total % 60;
  return out.str();
}

}  // namespace

std::vector<std::string> listBatchInputs(const std::string& dir, bool recursive) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(dir, fs::exists(dir, ec) ? "is not a directory" : "no such directory");
  }
  std::vector<std::string> files;
  auto consider = [&](const fs::directory_entry& entry) {
    std::error_code e;
    if (entry.is_regular_file(e) && looksLikeImage(entry.path()))
      files.push_back(entry.path().string());
  };
  const auto options = fs::directory_options::skip_permission_denied;
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir, options, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      consider(*it);
    }
  } else {
    for (auto it = fs::directory_iterator(dir, options, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      consider(*it);
    }
  }
  if (ec) throw Error(dir, "cannot list the directory: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::pair<std::size_t, std::size_t> shardRange(std::size_t count, int k, int n) {
  const auto bound = [&](int part) {
    return static_cast<std::size_t>(static_cast<unsigned long long>(count) *
                                    static_cast<unsigned long long>(part) /
                                    static_cast<unsigned long long>(n));
  };
  return {bound(k - 1), bound(k)};
}

BatchReport runBatch(const BatchOptions& options, std::ostream& progress, bool interactive) {
  const auto start = Clock::now();
  // Output names come from the whole sorted list, so every shard names a file the same way.
  const std::vector<std::string> everyInput = listBatchInputs(options.inputDir, options.recursive);
  const std::vector<fs::path> everyOutput =
      outputPaths(everyInput, fs::path(options.inputDir), fs::path(options.outputDir));
  const auto [shardFirst, shardLast] =
      shardRange(everyInput.size(), options.shardIndex, options.shardCount);
  const auto sliceOf = [&](const auto& all) {
    return std::vector(all.begin() + static_cast<std::ptrdiff_t>(shardFirst),
                       all.begin() + static_cast<std::ptrdiff_t>(shardLast));
  };
  const std::vector<std::string> shardInputs = sliceOf(everyInput);
  const std::vector<fs::path> shardOutputs = sliceOf(everyOutput);

  // Weights once for all images; every embedder shares the packed layer (or the encoder).
  std::optional<VisionTransformer> vit;
  if (!options.layer.empty()) {
    if (parseInitializer(options.config.weights.source))
      throw UsageError("--layer needs a checkpoint with transformer blocks: --weights FILE");
    TransformerLoadOptions loadOptions;
    loadOptions.heads = options.heads;
    loadOptions.patch = options.config.weights.file;
    loadOptions.maxMemoryBytes = options.config.maxMemoryBytes;
    std::string whyNot;
    vit = VisionTransformer::load(options.config.weights.source, loadOptions, &whyNot);
    if (!vit) {
      throw Error(options.config.weights.source,
                  "only a patch embedding, no transformer for --layer: " + whyNot);
    }
  }
  const PatchWeights weights =
      vit ? vit->patchWeights()
          : resolveWeights(options.config.weights, options.config.maxMemoryBytes);
  const PatchEmbedding layer(weights);
  const PreprocessConfig preprocessConfig = preprocessFor(options.config.preprocess, weights);
  checkOutputBudget(preprocessConfig, weights, options.config.remainder,
                    options.config.maxOutputBytes, options.inputDir);
  {
    // Every worker holds one image's chain at a time (and its slot another): the plan of one
    // embedding, times the slots in flight.
    const GridSize grid = PatchEmbedding::gridFor(preprocessConfig.height, preprocessConfig.width,
                                                  weights.patchSize, options.config.remainder);
    ResourcePlan plan =
        embeddingPlan(preprocessConfig, grid.tokens(), weights.patchLength(), weights.embedDim);
    plan.command = "batch";
    const double inFlight = 2.0 * std::max(1u, std::thread::hardware_concurrency());
    plan.inputBytes *= inFlight;
    plan.activationBytes *= inFlight;
    checkResourcePlan(plan, {options.config.maxMemoryBytes, options.config.maxOutputBytes},
                      weights.file.empty() ? options.inputDir : weights.file);
  }

  if (preprocessConfig.resize == ResizeMode::MaxPatches && options.pool == FeaturePool::None) {
    throw Error(options.config.weights.source,
                "max-patches preprocessing gives each image its own token count, so --pool none "
                "has no common shape; use --pool cls or mean, or a fixed size (--img-size N "
                "--resize squash)");
  }
  // The shape every image's output has: each is preprocessed to the same model input.
  const int tokensLayer = vit ? featureLayer(options.layer, vit->config().depth) : 0;
  const Eigen::Index prefix = vit ? vit->config().prefixTokens() : 0;
  if (options.pool == FeaturePool::Cls && (!vit || vit->config().prefixTokenNames().empty() ||
                                           vit->config().prefixTokenNames().front() != "cls")) {
    throw Error(options.config.weights.source, "the model has no cls token; use --pool mean");
  }
  // Created only once the weights, the preprocessing and the budgets are accepted: a refusal
  // leaves nothing behind.
  std::error_code ec;
  fs::create_directories(options.outputDir, ec);
  if (ec || !fs::is_directory(options.outputDir)) {
    throw Error(options.outputDir,
                "cannot create the output directory" + (ec ? ": " + ec.message() : std::string()));
  }
  const GridSize grid =
      PatchEmbedding::gridFor(preprocessConfig.height, preprocessConfig.width, weights.patchSize,
                              vit ? RemainderPolicy::Crop : options.config.remainder);
  const std::int64_t width = weights.embedDim;
  const std::vector<std::int64_t> outputShape =
      options.pool != FeaturePool::None ? std::vector<std::int64_t>{width}
                                        : std::vector<std::int64_t>{grid.tokens() + prefix, width};

  // --resume: an output that reads back whole with the expected shape is kept; anything else
  // (missing, truncated, another shape) is computed again.
  BatchReport report;
  std::vector<std::string> inputs;
  std::vector<fs::path> outputs;
  for (std::size_t i = 0; i < shardInputs.size(); ++i) {
    if (options.resume && validOutput(shardOutputs[i], outputShape)) {
      ++report.skipped;
      continue;
    }
    inputs.push_back(shardInputs[i]);
    outputs.push_back(shardOutputs[i]);
  }
  const ImageLoadOptions loadOptions = options.config.loadOptions();
  std::vector<PlotKind> kinds;
  for (const std::string& plot : options.plots) kinds.push_back(PlotKind::parse(plot));
  const auto sharedWeights = std::make_shared<const PatchWeights>(weights);

  // Every image's buffers (decoded pixels, resized input, tensor) are freed and allocated
  // again for the next one: from a heap that keeps them, not from fresh mmap'd pages that
  // the kernel faults in and zeroes for each image.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);

  // Workers (one per core) each take the next image through the whole chain — file ->
  // model input (ModelInputReader: the fused JPEG decode + resize) -> embedding (the GEMM on
  // the worker's own core, its patches and tokens still in that core's cache) — and hand it
  // to a writer (the .npy made durable: write, fsync, rename), which holds no core while it
  // waits in fsync. Slots carry an image from worker to writer and come back once written:
  // the images in flight are bounded and every buffer (model input, tensor, tokens, the
  // reader's bands) is reused from image to image, never allocated per image.
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int imageCount = static_cast<int>(std::min<std::size_t>(inputs.size(), 1 << 30));
  const int workers =
      std::max(1, std::min(options.threads > 0 ? options.threads : cores, imageCount));
  const int writers = std::max(1, std::min(2, imageCount));
  setComputeThreads(1);

  struct Slot {
    std::size_t index = 0;
    PreprocessResult pre;
    Embedding embedding;  // storage reused from image to image
    RowMatrixF features;  // --layer: the tokens of that layer, pooled or not
    std::string failure;
  };
  std::vector<Slot> pipelineSlots(static_cast<std::size_t>(2 * workers + writers));
  WorkQueue<Slot*> freeSlots;
  WorkQueue<Slot*> toWrite;
  for (Slot& slot : pipelineSlots) freeSlots.push(&slot);

  const auto failureText = [](const std::exception& e) {
    if (const auto* error = dynamic_cast<const Error*>(&e)) return error->reason();
    return std::string(e.what());
  };

  std::atomic<std::size_t> next{0};
  auto work = [&] {
    ModelInputReader reader;
    for (std::size_t i = next++; i < inputs.size(); i = next++) {
      Slot& slot = **freeSlots.pop();
      slot.index = i;
      slot.failure.clear();
      try {
        fs::create_directories(outputs[i].parent_path());
        reader.read(inputs[i], loadOptions, preprocessConfig, slot.pre);
        if (vit) {
          // One image per worker on one core: the encoder runs single-threaded in each.
          const TransformerOutput out =
              vit->forward(slot.pre.tensor, {}, KeptLayers::only(tokensLayer));
          const RowMatrixF& tokens = tokensLayer > vit->config().depth
                                         ? out.final
                                         : out.tokens[static_cast<std::size_t>(tokensLayer)];
          if (options.pool == FeaturePool::Cls) {
            slot.features = tokens.topRows(1);
          } else if (options.pool == FeaturePool::Mean) {
            slot.features = tokens.bottomRows(tokens.rows() - prefix).colwise().mean();
          } else {
            slot.features = tokens;
          }
        } else {
          layer.forwardInto(slot.pre.tensor, slot.embedding, options.config.remainder);
        }
        if (!kinds.empty()) {
          // The same figures as `export --plot`, drawn by the same code.
          FigureData data;
          data.input = toQImage(slot.pre.inputRgb);
          data.tensor = std::move(slot.pre.tensor);  // slot.pre is refilled for the next image
          data.normalization = preprocessConfig.normalization;
          data.remainder = options.config.remainder;
          data.weights = sharedWeights;
          data.embedding = slot.embedding;
          const fs::path& out = outputs[slot.index];
          const fs::path stem = out.parent_path() / out.stem();
          for (std::size_t k = 0; k < kinds.size(); ++k) {
            const std::unique_ptr<Figure> figure = makeFigure(kinds[k], data, FigureOptions{});
            const std::string file = stem.string() + "-" + kindFileName(options.plots[k]) + ".png";
            FigureExporter(*figure).write(QString::fromStdString(file), FigureFormat::Png);
          }
        }
      } catch (const std::exception& e) {
        slot.failure = failureText(e);
      }
      toWrite.push(&slot);
    }
  };

  std::mutex mutex;
  std::size_t done = 0;
  auto write = [&] {
    while (const auto item = toWrite.pop()) {
      Slot& slot = **item;
      const std::size_t i = slot.index;
      if (slot.failure.empty()) {
        try {
          if (vit) {
            writeNpy(outputs[i].string(), outputShape, slot.features.data());
          } else {
            const Embedding& y = slot.embedding;
            writeNpy(outputs[i].string(), {y.tokens.rows(), y.tokens.cols()}, y.tokens.data());
          }
        } catch (const std::exception& e) {
          slot.failure = failureText(e);
        }
      }
      const std::string failure = slot.failure;
      freeSlots.push(&slot);
      const std::lock_guard lock(mutex);
      ++done;
      if (failure.empty()) {
        ++report.embedded;
      } else {
        report.failures.push_back({inputs[i], failure});
      }
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if (interactive) {
        const double eta =
            elapsed / static_cast<double>(done) * static_cast<double>(inputs.size() - done);
        const int barWidth = 30;
        const auto filled =
            static_cast<int>(static_cast<double>(barWidth) * static_cast<double>(done) /
                             static_cast<double>(inputs.size()));
        progress << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
                 << std::string(static_cast<std::size_t>(barWidth - filled), '.') << "] " << done
                 << "/" << inputs.size() << "  " << std::fixed << std::setprecision(1)
                 << static_cast<double>(done) / elapsed << " img/s  ETA " << formatSeconds(eta)
                 << "  failed " << report.failures.size() << "   " << std::flush;
      } else {
        progress << "[" << done << "/" << inputs.size() << "] " << printable(inputs[i]) << " -> "
                 << printable(failure.empty() ? outputs[i].string() : "FAILED: " + failure) << "\n";
      }
    }
  };

  if (!inputs.empty()) {
    std::vector<std::thread> workThreads;
    std::vector<std::thread> writeThreads;
    for (int t = 0; t < writers; ++t) writeThreads.emplace_back(write);
    for (int t = 0; t < workers; ++t) workThreads.emplace_back(work);
    for (auto& t : workThreads) t.join();
    toWrite.close();
    for (auto& t : writeThreads) t.join();
  }
  if (interactive && !inputs.empty()) progress << "\n";
  std::sort(report.failures.begin(), report.failures.end(),
            [](const BatchFailure& a, const BatchFailure& b) { return a.path < b.path; });

  // Pooled: the shard's features stacked into one [N, D] array in sorted order, with
  // index.csv (path relative to DIR, row); shards name theirs features-K-of-N.npy so that
  // their concatenation in K order is the whole sorted list. Failed images have no row.
  if (options.pool != FeaturePool::None) {
    const std::string tag = options.shardCount > 1 ? "-" + std::to_string(options.shardIndex) +
                                                         "-of-" + std::to_string(options.shardCount)
                                                   : std::string();
    const fs::path outDir(options.outputDir);
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < shardInputs.size(); ++i) {
      if (!validOutput(shardOutputs[i], outputShape)) continue;  // failed: listed in report
      rows.push_back(i);
    }
    AtomicFile stacked((outDir / ("features" + tag + ".npy")).string());
    stacked.write(npyFloatHeader({static_cast<std::int64_t>(rows.size()), width}));
    std::string index = "path,row\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const NpyArray a = readNpy(shardOutputs[rows[r]].string());
      stacked.write(a.data.data(), a.data.size() * sizeof(float));
      index += csvField(fs::path(shardInputs[rows[r]])
                            .lexically_relative(fs::path(options.inputDir))
                            .generic_string()) +
               "," + std::to_string(r) + "\n";
    }
    AtomicFile indexFile((outDir / ("index" + tag + ".csv")).string());
    indexFile.write(index);
    stacked.commit();
    indexFile.commit();
    report.features = (outDir / ("features" + tag + ".npy")).string();
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace patchlens::cli
