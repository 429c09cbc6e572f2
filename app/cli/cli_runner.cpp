#include "app/cli/cli_runner.h"

#include <unistd.h>

#include <QGuiApplication>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>

#include "app/cli/batch_command.h"
#include "app/cli/command_line.h"
#include "app/cli/explain_command.h"
#include "app/cli/export_command.h"
#include "app/cli/forward_command.h"
#include "app/cli/predict_command.h"
#include "core/image/image_header.h"
#include "core/io/csv_writer.h"
#include "core/io/error.h"
#include "core/io/file_bytes.h"
#include "core/io/threading.h"
#include "core/model/initializers.h"
#include "core/model/nonfinite.h"
#include "core/model/packed_gemm.h"
#include "core/model/resource_plan.h"
#include "core/model/transformer_families.h"
#include "core/weights/npy_array.h"
#include "core/weights/shape_text.h"
#include "core/weights/tensor_source_factory.h"

namespace patchlens::cli {
namespace {

using Clock = std::chrono::steady_clock;

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string preprocessSummary(const PreprocessConfig& p) {
  std::ostringstream s;
  if (p.resize == ResizeMode::MaxPatches) {
    // Before an image is seen: the budget, not a size.
    s << "at most " << p.maxPatches << " patches (" << resizeModeName(p.resize);
  } else {
    s << p.width << " x " << p.height << " (" << resizeModeName(p.resize);
  }
  if (p.resize == ResizeMode::Crop) s << ", crop-pct " << p.cropPct;
  s << ", " << interpolationName(p.interpolation) << ", norm " << p.normalization.name << ")";
  return s.str();
}

// preprocess() does not know the file; its refusals are about this image.
PreprocessResult preprocessNamed(const cv::Mat& rgb, const PreprocessConfig& config,
                                 const std::string& path) {
  try {
    return preprocess(rgb, config);
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(path, e.reason());
  }
}

// Reads the first bytes only, to tell images from arrays and weight files.
ImageHeader sniff(const std::string& path) {
  checkedRegularFileSize(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path, "cannot open the file");
  std::vector<std::uint8_t> head(65536);
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  return readImageHeader(head);
}

void infoImage(const CommandLine& cl, const std::string& path, std::ostream& out,
               std::ostream& err) {
  const LoadedImage image = loadImage(path, cl.config.loadOptions());
  out << "file: " << printable(path) << "\n";
  out << "kind: image (" << image.format << ", " << image.sourceWidth << " x " << image.sourceHeight
      << ", " << image.sourceChannels << " channel" << (image.sourceChannels == 1 ? "" : "s")
      << ", " << image.sourceBitDepth << "-bit)\n";
  printWarnings(err, path, image.warnings);
  if (image.decodeReduction > 1) {
    out << "decode: at 1/" << image.decodeReduction << " scale (" << image.rgb.cols << " x "
        << image.rgb.rows << ") for --fast-decode\n";
  }
  // A weight file fixes the patch size and width the grid line reports.
  int patch = cl.config.weights.shape.patchSize;
  int width = cl.config.weights.shape.embedDim;
  PreprocessConfig p = cl.config.preprocess;
  if (!parseInitializer(cl.config.weights.source)) {
    const PatchWeights weights = resolveWeights(cl.config.weights, cl.config.maxMemoryBytes);
    patch = weights.patchSize;
    width = weights.embedDim;
    p = preprocessFor(p, weights);
  } else if (p.resize == ResizeMode::MaxPatches && p.patchSize == 0) {
    p.patchSize = patch;
  }
  p = fixedSizeFor(p, image.rgb.cols, image.rgb.rows);
  checkResourcePlan(preprocessPlan(p), {cl.config.maxMemoryBytes, ~std::uint64_t{0}}, path);
  const PreprocessResult pre = preprocessNamed(image.rgb, p, path);
  const PreprocessGeometry& g = pre.geometry;
  out << "model input: " << preprocessSummary(p) << "\n";
  out << "resize: " << g.sourceWidth << "x" << g.sourceHeight << " -> " << g.resizedWidth << "x"
      << g.resizedHeight << ", model input at (" << g.offsetX << ", " << g.offsetY << ")\n";
  const GridSize grid = PatchEmbedding::gridFor(p.height, p.width, patch, cl.config.remainder);
  out << "grid: " << grid.rows << " x " << grid.cols << " = " << grid.tokens() << " tokens of "
      << patch << " x " << patch << " px; embedding [" << grid.tokens() << ", " << width
      << "] with --weights " << printable(cl.config.weights.source) << "\n";
}

void infoArray(const std::string& path, std::ostream& out) {
  const auto bytes = readFileBytes(path, std::uint64_t{4} << 30);
  const NpyHeader h = parseNpyHeader(bytes, path);
  out << "file: " << printable(path) << "\n";
  out << "kind: NumPy array, dtype " << printable(h.descr) << ", shape " << shapeText(h.shape)
      << (h.fortranOrder ? ", Fortran order" : "") << "\n";
  if (h.shape.size() == 4) {
    out << "use: a patch-embedding weight [D, C, P, P] (D=" << h.shape[0] << ", C=" << h.shape[1]
        << ", P=" << h.shape[2] << ") for --weights\n";
  } else if (h.shape.size() == 3 || (h.shape.size() == 4 && h.shape[0] == 1)) {
    out << "use: a model input [C, H, W] for embed --tensor\n";
  } else if (h.shape.size() == 2) {
    out << "use: a matrix [" << h.shape[0] << ", " << h.shape[1] << "], e.g. an embedding [N, D]\n";
  }
}

void infoWeights(const CommandLine& cl, const std::string& path, std::ostream& out,
                 std::ostream& err) {
  const WeightFileInfo info = inspectWeightFile(path, cl.config.weights.file);
  out << "file: " << printable(path) << "\n";
  out << "kind: " << info.format << " weight file, " << info.tensors.size() << " tensor"
      << (info.tensors.size() == 1 ? "" : "s") << "\n";
  for (const std::string& d : info.details) out << "about: " << d << "\n";
  for (const TensorInfo& t : info.tensors) {
    out << "  " << printable(t.name) << "  " << printable(t.dtype) << "  " << shapeText(t.shape)
        << "\n";
  }
  std::vector<std::string> warnings;
  if (const auto model = findModelPreprocessing(path, warnings)) {
    const PreprocessConfig p = model->applyTo(cl.config.preprocess, cl.config.explicitPreprocess);
    out << model->description(cl.config.explicitPreprocess) << "\n";
    if (p.imageRefusal.empty()) {
      out << "model input: " << preprocessSummary(p) << "\n";
    } else {
      out << "model input: images refused (--tensor only)\n";
    }
  }
  printWarnings(err, path, warnings);
  // timm's NaFlexVit and HF's Siglip2VisionModel: no conv patch view (a Linear), but their
  // encoder runs: described too.
  const bool naflex =
      std::any_of(info.tensors.begin(), info.tensors.end(), [](const TensorInfo& t) {
        return t.shape.size() == 2 && (t.name == "embeds.proj.weight" ||
                                       t.name == "vision_model.embeddings.patch_embedding.weight");
      });
  if (info.usable || naflex) describeTransformer(cl, path, out);
  out << "use: " << printable(info.usage) << "\n";
}

int runInfo(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  const std::string& path = cl.inputs.front();
  const ImageHeader header = sniff(path);
  if (header.format == "NumPy") {
    // A 4-D .npy is both an array and a weight; the array view says more.
    infoArray(path, out);
  } else if (header.format == "ZIP" || header.format == "safetensors" ||
             looksLikeWeightFile(path)) {
    infoWeights(cl, path, out, err);
  } else {
    infoImage(cl, path, out, err);
  }
  return 0;
}

int runPreprocess(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  if (!endsWith(cl.output, ".npy")) throw UsageError("preprocess writes .npy (-o X.npy)");
  const std::string& path = cl.inputs.front();
  const auto start = Clock::now();
  // Decode first: a bad image is the likelier mistake and fails fastest.
  const LoadedImage image = loadImage(path, cl.config.loadOptions());
  const PatchWeights weights = resolveWeights(cl.config.weights, cl.config.maxMemoryBytes);
  const PreprocessConfig shape =
      preprocessFor(cl.config.preprocess, weights, image.rgb.cols, image.rgb.rows);
  checkResourcePlan(preprocessPlan(shape), {cl.config.maxMemoryBytes, cl.config.maxOutputBytes},
                    path);
  const PreprocessResult pre = preprocessNamed(image.rgb, shape, path);
  const ChwTensor& t = pre.tensor;
  writeNpy(cl.output, {t.channels, t.height, t.width}, t.data.data());
  printWarnings(err, path, image.warnings);
  out << "wrote " << printable(cl.output) << ": float32 [" << t.channels << ", " << t.height << ", "
      << t.width << "] (" << preprocessSummary(cl.config.preprocess) << ", " << std::fixed
      << std::setprecision(1) << millisecondsSince(start) << " ms)\n";
  return 0;
}

ChwTensor readTensorInput(const std::string& path) {
  const NpyArray a = readNpy(path);
  std::vector<std::int64_t> shape = a.shape;
  if (shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
  if (shape.size() != 3) {
    throw Error(path,
                "expected a float array [C, H, W] or [1, C, H, W], got " + shapeText(a.shape));
  }
  if (shape[0] < 1 || shape[0] > 64 || shape[1] > 65536 || shape[2] > 65536) {
    throw Error(path, "implausible tensor shape " + shapeText(a.shape));
  }
  ChwTensor t(static_cast<int>(shape[0]), static_cast<int>(shape[1]), static_cast<int>(shape[2]));
  t.data = a.data;
  return t;
}

int runEmbed(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  const bool csv = endsWith(cl.output, ".csv");
  if (!csv && !endsWith(cl.output, ".npy"))
    throw UsageError("embed writes .npy or .csv (-o Y.npy|Y.csv)");
  const auto start = Clock::now();
  // Read the input first: a bad image or tensor is the likelier mistake and fails fastest.
  ChwTensor input;
  LoadedImage image;
  const std::string inputName = cl.tensorPath.empty() ? cl.inputs.front() : cl.tensorPath;
  if (!cl.tensorPath.empty()) {
    input = readTensorInput(cl.tensorPath);
  } else {
    image = loadImage(inputName, cl.config.loadOptions());
  }
  const PatchWeights weights = resolveWeights(cl.config.weights, cl.config.maxMemoryBytes);
  // The image's own model input (max-patches resizing sizes each image by its own shape).
  const PreprocessConfig imageConfig =
      cl.tensorPath.empty()
          ? preprocessFor(cl.config.preprocess, weights, image.rgb.cols, image.rgb.rows)
          : preprocessFor(cl.config.preprocess, weights);
  if (cl.tensorPath.empty()) {
    checkOutputBudget(imageConfig, weights, cl.config.remainder, cl.config.maxOutputBytes,
                      inputName);
  } else if (input.channels == weights.inChannels &&
             PatchEmbedding::gridFor(input.height, input.width, weights.patchSize,
                                     cl.config.remainder)
                     .tokens() > 0) {
    // A tensor of the wrong channel count or smaller than a patch: forward() says so.
    PreprocessConfig tensorShape;
    tensorShape.height = input.height;
    tensorShape.width = input.width;
    checkOutputBudget(tensorShape, weights, cl.config.remainder, cl.config.maxOutputBytes,
                      inputName);
  }
  {
    PreprocessConfig shape = imageConfig;
    if (!cl.tensorPath.empty()) {
      shape.height = input.height;
      shape.width = input.width;
    }
    const GridSize grid =
        PatchEmbedding::gridFor(shape.height, shape.width, weights.patchSize, cl.config.remainder);
    checkResourcePlan(embeddingPlan(shape, grid.tokens(), weights.patchLength(), weights.embedDim),
                      {cl.config.maxMemoryBytes, cl.config.maxOutputBytes},
                      weights.file.empty() ? inputName : weights.file);
  }
  std::vector<std::string> weightWarnings;
  if (!weights.file.empty()) {
    // The conv patch embedding is exact whatever follows it; a refused encoder is said, not hidden.
    const std::string why =
        encoderRefusalByName(*openTensorSource(weights.file), weights.file, cl.config.weights.file);
    if (!why.empty())
      weightWarnings.push_back("the encoder is refused (" + why +
                               "); the patch embedding written is exact");
  }
  const PatchEmbedding layer(weights);
  if (cl.tensorPath.empty()) input = preprocessNamed(image.rgb, imageConfig, inputName).tensor;
  const std::vector<std::string>& warnings = image.warnings;
  Embedding embedding;
  try {
    embedding = layer.forward(input, cl.config.remainder);
  } catch (const Error& e) {
    throw Error(inputName, e.reason());
  }
  if (const std::int64_t bad = countNonFinite(embedding.tokens)) {
    const std::string file = weights.file.empty() ? inputName : weights.file;
    const std::string what = std::to_string(bad) +
                             " non-finite values (NaN/Inf) in the output, first appearing in "
                             "the patch embedding";
    if (!cl.allowNonFinite) throw Error(file, what + "; --allow-nonfinite writes them anyway");
    err << "patchlens-cli: warning: " << printable(file) << ": " << what << "\n";
  }
  if (csv) {
    writeCsv(cl.output, embedding.tokens);
  } else {
    writeNpy(cl.output, {embedding.tokens.rows(), embedding.tokens.cols()},
             embedding.tokens.data());
  }
  printWarnings(err, inputName, warnings);
  printWarnings(err, weights.file, weightWarnings);
  out << "wrote " << printable(cl.output) << ": float32 [" << embedding.tokens.rows() << ", "
      << embedding.tokens.cols() << "] (" << embedding.grid.rows << " x " << embedding.grid.cols
      << " grid, P=" << weights.patchSize << ", weights " << printable(weights.description) << ", "
      << std::fixed << std::setprecision(1) << millisecondsSince(start) << " ms)\n";
  return 0;
}

int runForwardCommand(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  checkForwardOutput(cl);
  // Read the input first: a bad image or tensor is the likelier mistake and fails fastest.
  ChwTensor input;
  LoadedImage image;
  const std::string inputName = cl.tensorPath.empty() ? cl.inputs.front() : cl.tensorPath;
  if (!cl.tensorPath.empty()) {
    input = readTensorInput(cl.tensorPath);
  } else {
    image = loadImage(inputName, cl.config.loadOptions());
  }
  const VisionTransformer vit = loadTransformer(cl);
  if (cl.tensorPath.empty()) {
    const PreprocessConfig shape =
        preprocessFor(cl.config.preprocess, vit.patchWeights(), image.rgb.cols, image.rgb.rows);
    checkOutputBudget(shape, vit.patchWeights(), cl.config.remainder, cl.config.maxOutputBytes,
                      inputName);
    checkForwardPlan(cl, vit, shape);
    input = preprocessNamed(image.rgb, shape, inputName).tensor;
  }
  printWarnings(err, inputName, image.warnings);
  runForward(cl, vit, input, inputName, out, err);
  return 0;
}

// One input of predict / explain: a tensor file as is, or an image decoded now (a bad image is
// the likelier mistake and fails before the model is read) and preprocessed once the model's
// patch weights are known.
struct ClassifierInput {
  std::string name;
  ChwTensor tensor;
  cv::Mat inputRgb;
  LoadedImage image;

  ClassifierInput(const CommandLine& cl, std::string path, bool isTensor) : name(std::move(path)) {
    if (isTensor)
      tensor = readTensorInput(name);
    else
      image = loadImage(name, cl.config.loadOptions());
  }
  void preprocessFor(const CommandLine& cl, const PatchWeights& patch, std::ostream& err) {
    if (!image.rgb.empty()) {
      const PreprocessConfig shape =
          patchlens::preprocessFor(cl.config.preprocess, patch, image.rgb.cols, image.rgb.rows);
      checkOutputBudget(shape, patch, cl.config.remainder, cl.config.maxOutputBytes, name);
      PreprocessResult pre = preprocessNamed(image.rgb, shape, name);
      tensor = std::move(pre.tensor);
      inputRgb = pre.inputRgb;
    }
    printWarnings(err, name, image.warnings);
  }
};

}  // namespace

ClassifierRun loadClassifierRun(const CommandLine& cl, std::ostream& err) {
  const bool tensor = !cl.tensorPath.empty();
  ClassifierInput a(cl, tensor ? cl.tensorPath : cl.inputs.front(), tensor);
  ClassifierRun run;
  run.model = loadClassifierModel(cl);
  a.preprocessFor(cl, run.model.encoder->patchWeights(), err);
  run.inputName = a.name;
  run.input = std::move(a.tensor);
  run.inputRgb = a.inputRgb;
  return run;
}

namespace {

// predict and explain: the input read as forward reads it, then the model with its head;
// explain --target similar-to B reads B as it reads A.
int runClassifierCommand(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  if (cl.command == Command::Predict) {
    checkPredictOptions(cl);
  } else {
    checkExplainOptions(cl);
  }
  const ClassifierRun run = loadClassifierRun(cl, err);
  if (cl.command == Command::Predict) {
    runPredict(cl, run.model, run.input, run.inputName, out, err);
    return 0;
  }
  if (cl.similarTo.empty()) {
    runExplain(cl, run.model, run.input, run.inputName, out, nullptr, &err);
    return 0;
  }
  ClassifierInput b(cl, cl.similarTo, !cl.tensorPath.empty());
  b.preprocessFor(cl, run.model.encoder->patchWeights(), err);
  const SimilarToInput similarTo{std::move(b.tensor), b.name};
  runExplain(cl, run.model, run.input, run.inputName, out, &similarTo, &err);
  return 0;
}

int runBatchCommand(const CommandLine& cl, std::ostream& out) {
  BatchOptions options;
  options.inputDir = cl.inputs.front();
  options.outputDir = cl.output;
  options.recursive = cl.recursive;
  options.threads = cl.threads;
  options.config = cl.config;
  options.plots = cl.plots;
  options.layer = cl.layer;
  options.heads = cl.heads;
  options.pool = cl.pool == "cls"    ? FeaturePool::Cls
                 : cl.pool == "mean" ? FeaturePool::Mean
                                     : FeaturePool::None;
  options.shardIndex = cl.shardIndex;
  options.shardCount = cl.shardCount;
  options.resume = cl.resume;
  const auto app = options.plots.empty() ? nullptr : makeGuiApplication();  // fonts for the figures
  BatchReport report;
  try {
    report = runBatch(options, out, ::isatty(STDOUT_FILENO) == 1);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--plot ") + e.what());
  }
  const int total = report.embedded + static_cast<int>(report.failures.size());
  out << "embedded " << report.embedded << " of " << total << " images into "
      << printable(cl.output) << " in " << std::fixed << std::setprecision(1) << report.seconds
      << " s (" << (report.seconds > 0 ? total / report.seconds : 0.0) << " images/s)\n";
  if (report.skipped > 0) out << "kept " << report.skipped << " outputs already there (--resume)\n";
  if (!report.features.empty()) out << "wrote " << printable(report.features) << "\n";
  if (report.failures.empty()) return 0;
  out << report.failures.size() << " failed:\n";
  for (const BatchFailure& f : report.failures)
    out << "  " << printable(f.path) << ": " << printable(f.reason) << "\n";
  throw Error(cl.inputs.front(), std::to_string(report.failures.size()) + " of " +
                                     std::to_string(total) + " images failed (listed on stdout)");
}

}  // namespace

void printWarnings(std::ostream& err, const std::string& file,
                   const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings)
    err << "patchlens-cli: warning: " << printable(file) << ": " << printable(w) << "\n";
}

int runCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CommandLine cl;
  try {
    cl = parseCommandLine(args);
    setComputeThreads(cl.threads);
    if (cl.version) {
      out << "patchlens-cli " << PATCHLENS_VERSION << "\n"
          << "compute: " << PackedGemm::backendDescription() << ", " << computeThreads()
          << " threads\n";
      return 0;
    }
    if (cl.help) {
      out << helpText(cl.command);
      return 0;
    }
    // The checkpoint's own preprocessing becomes the default (explicit options win).
    const ModelPreprocessingNote note = applyModelPreprocessing(cl.config);
    for (const std::string& w : note.warnings) err << "patchlens-cli: warning: " << w << "\n";
    if (!note.description.empty()) err << "patchlens-cli: note: " << note.description << "\n";
    switch (cl.command) {
      case Command::Info:
        return runInfo(cl, out, err);
      case Command::Preprocess:
        return runPreprocess(cl, out, err);
      case Command::Embed:
        return runEmbed(cl, out, err);
      case Command::Batch:
        return runBatchCommand(cl, out);
      case Command::Export:
        return runExport(cl, out, err);
      case Command::Forward:
        return runForwardCommand(cl, out, err);
      case Command::Predict:
      case Command::Explain:
        return runClassifierCommand(cl, out, err);
      case Command::None:
        break;
    }
    return 2;
  } catch (const UsageError& e) {
    err << "patchlens-cli: usage: " << printable(e.what()) << "\n";
    return 2;
  } catch (const Error& e) {
    err << "patchlens-cli: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    err << "patchlens-cli: error: "
        << printable(cl.inputs.empty() ? cl.tensorPath : cl.inputs.front()) << ": out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    err << "patchlens-cli: error: "
        << printable(cl.inputs.empty() ? cl.tensorPath : cl.inputs.front()) << ": "
        << printable(e.what()) << "\n";
    return 1;
  }
}

}  // namespace patchlens::cli
