#include "ui/figures/figure_factory.h"

#include <QStringList>
#include <algorithm>
#include <string>

#include "core/analysis/attention_maps.h"
#include "core/analysis/channel_statistics.h"
#include "core/analysis/depth_norms.h"
#include "core/analysis/embedding_analysis.h"
#include "core/analysis/filter_analysis.h"
#include "core/analysis/foreground_pca.h"
#include "core/analysis/patch_reconstruction.h"
#include "core/analysis/position_similarity.h"
#include "core/io/error.h"
#include "ui/base/color_scale.h"
#include "ui/figures/attention_distance_figure.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/figures/attention_map_figure.h"
#include "ui/figures/channel_grid_figure.h"
#include "ui/figures/channel_map_figure.h"
#include "ui/figures/filter_gallery_figure.h"
#include "ui/figures/filter_pca_figure.h"
#include "ui/figures/foreground_pca_figure.h"
#include "ui/figures/histogram_figure.h"
#include "ui/figures/pca_rgb_figure.h"
#include "ui/figures/position_similarity_figure.h"
#include "ui/figures/prediction_figure.h"
#include "ui/figures/reconstruction_figure.h"
#include "ui/figures/similarity_figure.h"
#include "ui/figures/token_line_figure.h"
#include "ui/figures/token_norms_figure.h"
#include "ui/figures/token_tile_figure.h"

namespace patchlens {

namespace {

constexpr int kHistogramBins = 100;

void checkChannel(const FigureData& data, int channel) {
  const int d = data.embedding.embedDim();
  if (channel < 0 || channel >= d) {
    throw Error("", "channel " + std::to_string(channel) + " is out of range: the embedding has " +
                        std::to_string(d) + " channels (0.." + std::to_string(d - 1) + ")");
  }
}

int checkedToken(const FigureData& data, int row, int col) {
  const GridSize g = data.embedding.grid;
  if (row < 0 || row >= g.rows || col < 0 || col >= g.cols) {
    throw Error("", "patch (" + std::to_string(row) + ", " + std::to_string(col) +
                        ") is outside the " + std::to_string(g.rows) + " x " +
                        std::to_string(g.cols) + " grid (rows 0.." + std::to_string(g.rows - 1) +
                        ", columns 0.." + std::to_string(g.cols - 1) + ")");
  }
  return data.embedding.tokenIndex(row, col);
}

const PatchWeights& weightsOf(const FigureData& data) {
  if (!data.weights) throw Error("", "no weights to draw");
  return *data.weights;
}

const LayerTrace& traceOf(const FigureData& data, const PlotKind& kind) {
  if (!data.trace) {
    throw Error("",
                kind.name() + " needs a transformer, but the weights hold only a patch embedding" +
                    (data.noTransformer.empty() ? std::string() : " (" + data.noTransformer + ")"));
  }
  return *data.trace;
}

void checkBlock(const LayerTrace& trace, int block) {
  if (block < 1 || block > trace.depth) {
    throw Error("", "block " + std::to_string(block) + " does not exist: the model has " +
                        std::to_string(trace.depth) + " blocks (1.." + std::to_string(trace.depth) +
                        ")");
  }
}

// The query token and how a figure names it: --query, else cls, else the centre patch.
int queryToken(const LayerTrace& trace, const FigureOptions& options,
               AttentionMapFigure::Query* q) {
  int token = 0;
  if (options.query) {
    token = options.query->token(trace);
  } else if (trace.prefixTokens > 0) {
    token = 0;
  } else {
    token = (trace.gridRows / 2) * trace.gridCols + trace.gridCols / 2;
  }
  if (token < trace.prefixTokens) {
    q->name = QString::fromStdString(trace.prefixNames[static_cast<std::size_t>(token)]);
    q->row = q->col = -1;
  } else {
    q->row = (token - trace.prefixTokens) / trace.gridCols;
    q->col = (token - trace.prefixTokens) % trace.gridCols;
    q->name = QStringLiteral("patch (%1, %2)").arg(q->row).arg(q->col);
  }
  return token;
}

// The figures drawn from the tokens of one layer (data.layer); the others name their block
// (attention), span every layer (depth figures) or show the weights.
bool showsLayerTokens(const PlotKind& kind, const FigureOptions& options) {
  switch (kind.type) {
    case PlotType::Channel:
    case PlotType::Token:
    case PlotType::TokenLine:
    case PlotType::Channels:
    case PlotType::Similarity:
    case PlotType::Histogram:
      return true;
    case PlotType::Pca:
      return !options.foreground;  // the foreground figure names its layer itself
    default:
      return false;
  }
}

std::unique_ptr<Figure> buildFigure(const PlotKind& kind, const FigureData& data,
                                    const FigureOptions& options, QString* scaleCaption);

const ClassExplainer& explainerOf(const FigureData& data, const PlotKind& kind) {
  if (!data.explainer)
    throw Error("", kind.name() + " needs a classifier" +
                        (data.noExplainer.empty() ? std::string() : ": " + data.noExplainer));
  return *data.explainer;
}

std::unique_ptr<Figure> predictionFigure(const PlotKind& kind, const FigureData& data) {
  const ClassExplainer& explainer = explainerOf(data, kind);
  const ClassifierHead* head = explainer.head();
  if (!head) throw Error("", "prediction needs a classifier head; " + data.noExplainer);
  const VectorF& logits = explainer.logits();
  const VectorF p = softmax(logits);
  std::vector<PredictionFigure::Entry> entries;
  for (const int k : topClasses(logits, kind.first)) {
    entries.push_back({k, QString::fromStdString(head->labels[static_cast<std::size_t>(k)]),
                       static_cast<double>(p[k])});
  }
  const int selected = data.explanation ? data.explanation->classIndex : explainer.topClass();
  return std::make_unique<PredictionFigure>(std::move(entries), head->classes(),
                                            QString::fromStdString(head->labelsSource), selected);
}

// Grad-CAM / relevance of the kind's class (the top one for -1): the explanation at hand when
// it is that class, else one backward now. Without a head: the target explained already (a
// patch's similarity), named in the title.
std::unique_ptr<Figure> explanationFigure(const PlotKind& kind, const FigureData& data,
                                          const FigureOptions& options) {
  const ClassExplainer& explainer = explainerOf(data, kind);
  std::shared_ptr<const ClassExplanation> e = data.explanation;
  if (explainer.hasHead()) {
    const int k = kind.first >= 0 ? kind.first : explainer.topClass();
    if (!e || e->classIndex != k) e = std::make_shared<ClassExplanation>(explainer.explainClass(k));
  } else if (!e || kind.first >= 0) {
    throw Error("", kind.name() + " needs a classifier head (" + data.noExplainer +
                        "); the GUI explains the selected patch's similarity instead");
  }
  const QString target = QString::fromStdString(
      explanationTargetName(*e, explainer.head(), explainer.config().classToken));
  const bool gradcam = kind.type == PlotType::GradCam;
  const int depth = explainer.config().depth;
  const QString title = gradcam
                            ? QStringLiteral("Grad-CAM · %1 · Block %2").arg(target).arg(depth)
                            : QStringLiteral("Relevance · %1 · Blocks 1–%2").arg(target).arg(depth);
  const RowMatrixF& map = gradcam ? e->gradcam : e->relevance;
  VectorF values = Eigen::Map<const VectorF>(map.data(), map.size());
  const ColormapId colormap = sequentialColormap(options);
  const ColorScale scale =
      ColorScale::of(scaleModeFor(colormap, options), values, minMaxRange(values));
  AttentionMapFigure::Query query;
  query.role = QStringLiteral("target");
  query.name = target;
  query.row = e->patchRow;
  query.col = e->patchCol;
  return std::make_unique<AttentionMapFigure>(
      title, gradcam ? QStringLiteral("Grad-CAM") : QStringLiteral("relevance"), data.input,
      std::move(values), GridSize{explainer.gridRows(), explainer.gridCols()}, data.patchSize(),
      query, colormap, scale);
}

}  // namespace

std::unique_ptr<Figure> makeFigure(const PlotKind& kind, const FigureData& data,
                                   const FigureOptions& options) {
  QString scaleCaption;
  std::unique_ptr<Figure> figure = buildFigure(kind, data, options, &scaleCaption);
  // With a transformer every token figure names its layer ("Block 6" for --layer 6); every
  // map names its colour scale ("scale min/max", "uniform (range 4e-06)").
  QStringList context;
  if (data.trace && showsLayerTokens(kind, options))
    context << QString::fromStdString(layerTitle(data));
  if (!scaleCaption.isEmpty()) context << scaleCaption;
  if (!context.isEmpty()) figure->setContext(context.join(QStringLiteral(" · ")));
  return figure;
}

namespace {

std::unique_ptr<Figure> buildFigure(const PlotKind& kind, const FigureData& data,
                                    const FigureOptions& options, QString* scaleCaption) {
  const RowMatrixF& tokens = data.embedding.tokens;
  const GridSize grid = data.embedding.grid;
  const int p = data.patchSize();
  switch (kind.type) {
    case PlotType::Channel: {
      checkChannel(data, kind.first);
      const ColormapId map = signedColormap(options);
      VectorF values = channelMap(tokens, kind.first);
      const ColorScale scale = colorScaleFor(map, values, options);
      const ValueRange range = scale.range;
      *scaleCaption = scale.caption();
      return std::make_unique<ChannelMapFigure>(data.input, std::move(values), grid, p, kind.first,
                                                map, range, options.opacity.value_or(0.7));
    }
    case PlotType::Token: {
      const int token = checkedToken(data, kind.first, kind.second);
      const ColormapId map = signedColormap(options);
      VectorF values = tokens.row(token).transpose();
      const ColorScale scale = colorScaleFor(map, values, options);
      const ValueRange range = scale.range;
      *scaleCaption = scale.caption();
      QImage patch = data.input.copy(kind.second * p, kind.first * p, p, p);
      return std::make_unique<TokenTileFigure>(std::move(patch), std::move(values), kind.first,
                                               kind.second, map, range);
    }
    case PlotType::TokenLine: {
      const int token = checkedToken(data, kind.first, kind.second);
      return std::make_unique<TokenLineFigure>(tokens.row(token).transpose(), kind.first,
                                               kind.second);
    }
    case PlotType::Channels: {
      checkChannel(data, kind.first);
      checkChannel(data, kind.second);
      const ColormapId map = signedColormap(options);
      const RowMatrixF shown = tokens.middleCols(kind.first, kind.second - kind.first + 1);
      const ColorScale scale =
          colorScaleFor(map, Eigen::Map<const VectorF>(shown.data(), shown.size()), options);
      const ValueRange range = scale.range;
      *scaleCaption = scale.caption();
      return std::make_unique<ChannelGridFigure>(tokens, grid, kind.first, kind.second, map, range);
    }
    case PlotType::Filters:
      return std::make_unique<FilterGalleryFigure>(weightsOf(data));
    case PlotType::FilterPca: {
      const PatchWeights& w = weightsOf(data);
      return std::make_unique<FilterPcaFigure>(filterPca(w), w.embedDim);
    }
    case PlotType::Pca:
      if (options.foreground) {
        const QString shown = ForegroundPcaFigure::shownText(
            data.source, QString::fromStdString(layerTitle(data)), data.layer - 1);
        return std::make_unique<ForegroundPcaFigure>(data.input,
                                                     foregroundPca(tokens, *options.foreground),
                                                     *options.foreground, grid, p, shown);
      }
      return std::make_unique<PcaRgbFigure>(data.input, tokenPca(tokens, 3), grid, p,
                                            QString::fromUtf8(tokenSourceName(data.source)));
    case PlotType::Similarity: {
      const int token = checkedToken(data, kind.first, kind.second);
      return std::make_unique<SimilarityFigure>(data.input, cosineSimilarity(tokens, token), grid,
                                                p, kind.first, kind.second,
                                                signedColormap(options));
    }
    case PlotType::PositionSimilarity: {
      const PatchWeights& w = weightsOf(data);
      if (!w.positionEmbedding) {
        throw Error("",
                    "the weights (" + w.description +
                        ") carry no position embedding; posembed needs a weight file that has one");
      }
      return std::make_unique<PositionSimilarityFigure>(positionSimilarity(w),
                                                        signedColormap(options));
    }
    case PlotType::Histogram: {
      const Eigen::Map<const VectorF> all(tokens.data(), tokens.size());
      const ValueRange span = minMaxRange(all);
      const ColormapId map = signedColormap(options);
      return std::make_unique<HistogramFigure>(matrixHistogram(tokens, kHistogramBins, span),
                                               vectorStats(all), static_cast<int>(tokens.rows()),
                                               static_cast<int>(tokens.cols()), map,
                                               rangeForColormap(map, all));
    }
    case PlotType::Attention:
    case PlotType::AttentionHeads:
    case PlotType::AttentionMask: {
      const LayerTrace& trace = traceOf(data, kind);
      const int block = kind.first;
      checkBlock(trace, block);
      const auto& heads = trace.attentionOf(block);
      AttentionMapFigure::Query query;
      const int token = queryToken(trace, options, &query);
      const QString blockName = QStringLiteral("block %1").arg(block);
      // Every head's map: the one colour scale of this block's attention (attentionColorScale,
      // as the overlay and the dock draw it).
      RowMatrixF maps(static_cast<Eigen::Index>(heads.size()), trace.patches());
      for (std::size_t h = 0; h < heads.size(); ++h)
        maps.row(static_cast<Eigen::Index>(h)) =
            patchAttention(heads[h], token, trace.prefixTokens).transpose();
      const ColormapId map = sequentialColormap(options);
      const ColorScale scale = attentionColorScale(scaleModeFor(map, options), maps);
      if (kind.type == PlotType::AttentionHeads || kind.type == PlotType::AttentionMask) {
        std::optional<AttentionHeadsFigure::MassMask> mask;
        if (kind.type == PlotType::AttentionMask)
          mask = AttentionHeadsFigure::MassMask{data.input, p, kind.threshold};
        return std::make_unique<AttentionHeadsFigure>(
            std::move(maps), trace.distances.row(block - 1).transpose(),
            GridSize{trace.gridRows, trace.gridCols}, blockName, query.name, query.row, query.col,
            options.selectedHead, map, scale, std::move(mask));
      }
      if (kind.second >= static_cast<int>(heads.size())) {
        throw Error("", "head " + std::to_string(kind.second) + " is out of range: the model has " +
                            std::to_string(heads.size()) + " heads (0.." +
                            std::to_string(heads.size() - 1) + ")");
      }
      const QString what = kind.second < 0 ? QStringLiteral("mean over %1 heads").arg(heads.size())
                                           : QStringLiteral("head %1").arg(kind.second);
      return std::make_unique<AttentionMapFigure>(
          QStringLiteral("Attention, %1, %2").arg(blockName, what), QStringLiteral("attention"),
          data.input, headPatchAttention(heads, kind.second, token, trace.prefixTokens),
          GridSize{trace.gridRows, trace.gridCols}, p, query, map, scale);
    }
    case PlotType::Rollout: {
      const LayerTrace& trace = traceOf(data, kind);
      AttentionMapFigure::Query query;
      const int token = queryToken(trace, options, &query);
      VectorF values = trace.rollout.patchMap(token, trace.prefixTokens);
      const ColormapId map = sequentialColormap(options);
      const ColorScale scale =
          ColorScale::of(scaleModeFor(map, options), values, minMaxRange(values));
      return std::make_unique<AttentionMapFigure>(
          QStringLiteral("Attention rollout through %1 blocks").arg(trace.depth),
          QStringLiteral("rollout"), data.input, std::move(values),
          GridSize{trace.gridRows, trace.gridCols}, p, query, map, scale);
    }
    case PlotType::AttentionDistance: {
      const LayerTrace& trace = traceOf(data, kind);
      const int block = data.layer > 0 ? trace.blockForLayer(data.layer) : 0;
      return std::make_unique<AttentionDistanceFigure>(trace.distances, trace.patchSize,
                                                       trace.gridRows, trace.gridCols, block,
                                                       options.selectedHead);
    }
    case PlotType::TokenNorms: {
      const LayerTrace& trace = traceOf(data, kind);
      std::vector<const RowMatrixF*> layers;
      for (const RowMatrixF& l : trace.layers) layers.push_back(&l);
      return std::make_unique<TokenNormsFigure>(tokenNormsAcrossDepth(layers), trace.prefixNames,
                                                data.layer, sequentialColormap(options));
    }
    case PlotType::Reconstruction: {
      if (data.layer != 0) {
        throw Error(
            "",
            "reconstruction inverts the patch embedding; it exists only at --layer patch, not at "
            "--layer " +
                layerSpec(data.trace.get(), data.layer));
      }
      const PatchWeights& w = weightsOf(data);
      const int most = static_cast<int>(std::min(tokens.rows(), tokens.cols()));
      if (kind.first > most) {
        throw Error("", "reconstruction:" + std::to_string(kind.first) +
                            " keeps more components than the " + std::to_string(most) +
                            " the tokens have");
      }
      const PatchReconstruction r = PatchReconstructor(w).reconstruct(
          data.tensor, data.embedding, data.normalization, kind.first, data.remainder);
      return std::make_unique<ReconstructionFigure>(data.input, r, w.embedDim,
                                                    options.colormap.value_or(ColormapId::Magma));
    }
    case PlotType::Prediction:
      return predictionFigure(kind, data);
    case PlotType::GradCam:
    case PlotType::Relevance:
      return explanationFigure(kind, data, options);
    case PlotType::Matches:
    case PlotType::JointPca:
    case PlotType::SimilarityTo:
      // Two images: makeCompareFigure (compare_figure_factory.h).
      throw Error("", kind.name() + " compares two images (export A --compare B)");
  }
  throw Error("", "unknown plot kind");
}

}  // namespace

}  // namespace patchlens
