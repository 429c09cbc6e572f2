#include "ui/compare/compare_data.h"

#include <QFileInfo>
#include <future>

#include "core/analysis/embedding_analysis.h"
#include "core/analysis/foreground_pca.h"
#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/model/initializers.h"
#include "core/model/vision_transformer.h"
#include "core/weights/model_preprocessing.h"
#include "ui/base/qt_conversions.h"

namespace patchlens {

QString CompareSide::layerName(int layer) const {
  return trace ? QString::fromStdString(trace->layerName(layer))
               : QStringLiteral("Patch embedding");
}

RowMatrixF CompareSide::patchTokens(int layer) const {
  return trace ? trace->patchTokens(layer) : patchEmbedding.tokens;
}

namespace {

// One model as the compare window runs it: its config with the checkpoint's own
// preprocessing applied, its patch weights and, when the file holds one, the encoder.
struct CompareModel {
  PipelineConfig config;
  PatchWeights weights;
  std::optional<VisionTransformer> encoder;

  CompareModel(const PipelineConfig& requested, int heads) : config(requested) {
    applyModelPreprocessing(config);
    weights = resolveWeights(config.weights, config.maxMemoryBytes);
    if (!parseInitializer(config.weights.source)) {
      TransformerLoadOptions options;
      options.heads = heads;
      options.patch = config.weights.file;
      std::string whyNot;
      encoder = VisionTransformer::load(config.weights.source, options, &whyNot);
    }
  }
};

CompareSide computeSide(const QString& path, const CompareModel& m) {
  const PipelineConfig& config = m.config;
  const std::string file = path.toStdString();
  const LoadedImage image = loadImage(file, config.loadOptions());
  const PreprocessConfig preprocessConfig =
      preprocessFor(config.preprocess, m.weights, image.rgb.cols, image.rgb.rows);
  checkOutputBudget(preprocessConfig, m.weights, config.remainder, config.maxOutputBytes, file);
  PreprocessResult pre;
  CompareSide side;
  try {
    pre = preprocess(image.rgb, preprocessConfig);
    side.patchEmbedding = PatchEmbedding(m.weights).forward(pre.tensor, config.remainder);
    if (m.encoder) {
      side.trace = std::make_shared<const LayerTrace>(
          traceTransformer(*m.encoder, pre.tensor, TraceOptions{}));
    }
  } catch (const Error& e) {
    throw Error(e.file().empty() ? file : e.file(), e.reason());
  }
  side.path = path;
  side.model = QFileInfo(QString::fromStdString(config.weights.source)).fileName();
  side.input = toQImage(pre.inputRgb);
  side.grid = side.patchEmbedding.grid;
  side.patchSize = m.weights.patchSize;
  return side;
}

// `second` on another thread while `first` runs here; the first's error wins when both fail,
// so the message does not depend on which thread was faster.
template <typename First, typename Second>
std::pair<CompareSide, CompareSide> inParallel(First first, Second second) {
  auto b = std::async(std::launch::async, second);
  CompareSide a;
  try {
    a = first();
  } catch (...) {
    b.wait();
    throw;
  }
  return {std::move(a), b.get()};
}

}  // namespace

std::pair<CompareSide, CompareSide> computeCompareSides(const QString& pathA, const QString& pathB,
                                                        const PipelineConfig& requested,
                                                        int heads) {
  const CompareModel model(requested, heads);  // read once for both images
  return inParallel([&] { return computeSide(pathA, model); },
                    [&] { return computeSide(pathB, model); });
}

std::pair<CompareSide, CompareSide> computeCompareModels(const QString& image,
                                                         const PipelineConfig& a,
                                                         const PipelineConfig& b, int heads) {
  return inParallel([&] { return computeSide(image, CompareModel(a, heads)); },
                    [&] { return computeSide(image, CompareModel(b, heads)); });
}

PipelineConfig secondModelConfig(const PipelineConfig& a, const std::string& weightsB) {
  PipelineConfig b = a;
  b.weights = WeightChoice{};
  b.weights.source = weightsB;
  // Every field the user did not give goes back to its default; B's checkpoint then sets its own.
  const PreprocessConfig defaults;
  ModelPreprocessing reset;
  reset.height = defaults.height;
  reset.width = defaults.width;
  reset.resize = defaults.resize;
  reset.cropPct = defaults.cropPct;
  reset.interpolation = defaults.interpolation;
  reset.normalization = defaults.normalization;
  b.preprocess = reset.applyTo(a.preprocess, a.explicitPreprocess);
  return b;
}

int matchingLayerOfB(const CompareSide& a, const CompareSide& b, int layer) {
  if (!a.trace || !b.trace) return 0;
  return layerIndexAtRelativeDepth(layer, a.trace->depth, b.trace->depth);
}

ModelsLayer computeModelsLayer(const CompareSide& a, const CompareSide& b, int layer) {
  ModelsLayer out;
  out.layerA = layer;
  out.layerB = matchingLayerOfB(a, b, layer);
  const RowMatrixF ta = a.patchTokens(out.layerA);
  const RowMatrixF tb = b.patchTokens(out.layerB);
  out.rgbA = pcaToRgb(tokenPca(ta, 3));
  out.rgbB = pcaToRgb(tokenPca(tb, 3));
  out.similarityA = crossSimilarityMatrix(ta, ta);
  out.similarityB = crossSimilarityMatrix(tb, tb);
  return out;
}

CompareLayer computeCompareLayer(const CompareSide& a, const CompareSide& b, int layer,
                                 std::optional<ForegroundPcaOptions> foreground) {
  CompareLayer out;
  out.layer = layer;
  const RowMatrixF ta = a.patchTokens(layer);
  const RowMatrixF tb = b.patchTokens(layer);
  out.similarity = crossSimilarityMatrix(ta, tb);
  std::vector<bool> useA;
  std::vector<bool> useB;
  if (foreground) {
    useA = foregroundPca(ta, *foreground).foreground;
    useB = foregroundPca(tb, *foreground).foreground;
  }
  out.matches = mutualNearestNeighbours(out.similarity, useA, useB, 0);
  JointPcaOptions joint;
  joint.foreground = foreground.has_value();
  if (foreground) joint.threshold = *foreground;
  out.joint = jointPca(ta, tb, joint);
  return out;
}

}  // namespace patchlens
