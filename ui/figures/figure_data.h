#pragma once

#include <QImage>
#include <memory>
#include <optional>

#include "core/analysis/class_explainer.h"
#include "core/analysis/embedding_analysis.h"
#include "core/analysis/foreground_pca.h"
#include "core/analysis/layer_trace.h"
#include "core/image/chw_tensor.h"
#include "core/image/normalization.h"
#include "core/model/patch_embedding.h"
#include "core/model/qkv_features.h"
#include "core/weights/patch_weights.h"
#include "ui/base/color_scale.h"
#include "ui/base/colormap.h"

namespace patchlens {

// What the figures are drawn from: one image through one patch-embedding layer, as the
// core computed it (the CLI fills it from the pipeline, the GUI from its Session).
struct FigureData {
  QImage input;      // the model input as 8-bit RGB (tensor.width x tensor.height)
  ChwTensor tensor;  // the normalised model input
  Normalization normalization;
  RemainderPolicy remainder = RemainderPolicy::Crop;
  std::shared_ptr<const PatchWeights> weights;
  Embedding embedding;  // the tokens of `layer` (its patch rows)
  // The transformer's layers when the weights hold one (null: a patch embedding only; why
  // in noTransformer). `layer` indexes trace->layers (0 = patch embedding).
  std::shared_ptr<const LayerTrace> trace;
  std::string noTransformer;
  int layer = 0;
  // What `embedding` holds at a block's layer: its tokens, or its queries, keys or values
  // (issue 21; `export --source`). Titles name it: "Keys, block 6".
  TokenSource source = TokenSource::Tokens;
  // The classifier's forward with activations kept (prediction, gradcam, relevance); null:
  // why in noExplainer (no transformer, a backward refused). explanation: the target already
  // explained (the GUI's selected class); the factory reuses it when it is the kind's class.
  std::shared_ptr<const ClassExplainer> explainer;
  std::string noExplainer;
  std::shared_ptr<const ClassExplanation> explanation;

  int patchSize() const { return weights ? weights->patchSize : 0; }
};

// Choices a reader makes about every figure.
struct FigureOptions {
  std::optional<ColormapId> colormap;  // nullopt: each figure's default
  // How maps are scaled (nullopt: from the colormap, symmetric for a diverging one); Global
  // uses `global`, the whole embedding's range.
  std::optional<ScaleMode> scale;
  ValueRange global;
  // How strongly a map covers the image (nullopt: the figure's default).
  std::optional<double> opacity;
  // The attention query (attention, attention-heads, rollout); nullopt: cls when the model
  // has one, else the centre patch.
  std::optional<TokenQuery> query;
  // pca: the DINOv2 foreground step (nullopt: the plain PCA of every token).
  std::optional<ForegroundPcaOptions> foreground;
  int selectedHead = -1;  // marked in attention-distance and attention-heads (-1: none)
};

// A layer index of `trace` as the command line writes it: "patch", "0".."depth" (tokens_L:
// layer index L + 1, shown as "Block L"), "final". Without a trace: "patch".
std::string layerSpec(const LayerTrace* trace, int layer);
// How a token figure names its layer: "Block 6", "Final norm", or with q/k/v "Keys, block 6".
std::string layerTitle(const FigureData& data);

// Signed values (channels, weights) default to a diverging map centred on 0.
ColormapId signedColormap(const FigureOptions& options);
// Non-negative or unsigned values default to a sequential map.
ColormapId sequentialColormap(const FigureOptions& options);
// A diverging map gets +-max|v| so that 0 sits in its middle; a sequential one min..max.
ValueRange rangeForColormap(ColormapId colormap, const Eigen::Ref<const VectorF>& values);
// The options' scale mode when set (as the screen draws it), else the colormap's default
// (symmetric for a diverging map, min/max otherwise).
ScaleMode scaleModeFor(ColormapId colormap, const FigureOptions& options);
// The colour scale of `values` in that mode (ColorScale: flat maps drawn flat).
ColorScale colorScaleFor(ColormapId colormap, const Eigen::Ref<const VectorF>& values,
                         const FigureOptions& options);
ValueRange rangeForOptions(ColormapId colormap, const Eigen::Ref<const VectorF>& values,
                           const FigureOptions& options);

}  // namespace patchlens
