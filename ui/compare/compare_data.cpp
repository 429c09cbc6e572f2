#include "ui/compare/compare_data.h"

#include <future>

#include "core/analysis/foreground_pca.h"
#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/model/initializers.h"
#include "core/model/vision_transformer.h"
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

CompareSide computeSide(const QString& path, const PipelineConfig& config,
                        const PatchWeights& weights, const VisionTransformer* model) {
  const std::string file = path.toStdString();
  const LoadedImage image = loadImage(file, config.loadOptions());
  const PreprocessConfig preprocessConfig = preprocessFor(config.preprocess, weights);
  checkOutputBudget(preprocessConfig, weights, config.remainder, config.maxOutputBytes, file);
  PreprocessResult pre;
  CompareSide side;
  try {
    pre = preprocess(image.rgb, preprocessConfig);
    side.patchEmbedding = PatchEmbedding(weights).forward(pre.tensor, config.remainder);
    if (model) {
      side.trace =
          std::make_shared<const LayerTrace>(traceTransformer(*model, pre.tensor, TraceOptions{}));
    }
  } catch (const Error& e) {
    throw Error(e.file().empty() ? file : e.file(), e.reason());
  }
  side.path = path;
  side.input = toQImage(pre.inputRgb);
  side.grid = side.patchEmbedding.grid;
  side.patchSize = weights.patchSize;
  return side;
}

}  // namespace

std::pair<CompareSide, CompareSide> computeCompareSides(const QString& pathA, const QString& pathB,
                                                        const PipelineConfig& requested,
                                                        int heads) {
  // The checkpoint's own preprocessing where nothing explicit was asked, as the session does.
  PipelineConfig config = requested;
  applyModelPreprocessing(config);
  const PatchWeights weights = resolveWeights(config.weights);
  std::optional<VisionTransformer> model;
  if (!parseInitializer(config.weights.source)) {
    TransformerLoadOptions options;
    options.heads = heads;
    options.patch = config.weights.file;
    std::string whyNot;
    model = VisionTransformer::load(config.weights.source, options, &whyNot);
  }
  const VisionTransformer* m = model ? &*model : nullptr;
  // B on a second thread while A runs here; A's error wins when both fail.
  auto second =
      std::async(std::launch::async, [&] { return computeSide(pathB, config, weights, m); });
  CompareSide a;
  try {
    a = computeSide(pathA, config, weights, m);
  } catch (...) {
    second.wait();
    throw;
  }
  return {std::move(a), second.get()};
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
