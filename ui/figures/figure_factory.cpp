#include "ui/figures/figure_factory.h"

#include <string>

#include "core/analysis/channel_statistics.h"
#include "core/analysis/embedding_analysis.h"
#include "core/analysis/filter_analysis.h"
#include "core/analysis/patch_reconstruction.h"
#include "core/analysis/position_similarity.h"
#include "core/io/error.h"
#include "ui/figures/channel_grid_figure.h"
#include "ui/figures/channel_map_figure.h"
#include "ui/figures/filter_gallery_figure.h"
#include "ui/figures/filter_pca_figure.h"
#include "ui/figures/histogram_figure.h"
#include "ui/figures/pca_rgb_figure.h"
#include "ui/figures/position_similarity_figure.h"
#include "ui/figures/reconstruction_figure.h"
#include "ui/figures/similarity_figure.h"
#include "ui/figures/token_line_figure.h"
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

}  // namespace

std::unique_ptr<Figure> makeFigure(const PlotKind& kind, const FigureData& data,
                                   const FigureOptions& options) {
  const RowMatrixF& tokens = data.embedding.tokens;
  const GridSize grid = data.embedding.grid;
  const int p = data.patchSize();
  switch (kind.type) {
    case PlotType::Channel: {
      checkChannel(data, kind.first);
      const ColormapId map = signedColormap(options);
      VectorF values = channelMap(tokens, kind.first);
      const ValueRange range = rangeForOptions(map, values, options);
      return std::make_unique<ChannelMapFigure>(data.input, std::move(values), grid, p, kind.first,
                                                map, range, options.opacity.value_or(0.7));
    }
    case PlotType::Token: {
      const int token = checkedToken(data, kind.first, kind.second);
      const ColormapId map = signedColormap(options);
      VectorF values = tokens.row(token).transpose();
      const ValueRange range = rangeForOptions(map, values, options);
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
      const ValueRange range =
          rangeForOptions(map, Eigen::Map<const VectorF>(shown.data(), shown.size()), options);
      return std::make_unique<ChannelGridFigure>(tokens, grid, kind.first, kind.second, map, range);
    }
    case PlotType::Filters:
      return std::make_unique<FilterGalleryFigure>(weightsOf(data));
    case PlotType::FilterPca: {
      const PatchWeights& w = weightsOf(data);
      return std::make_unique<FilterPcaFigure>(filterPca(w), w.embedDim);
    }
    case PlotType::Pca:
      return std::make_unique<PcaRgbFigure>(data.input, tokenPca(tokens, 3), grid, p);
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
    case PlotType::Reconstruction: {
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
  }
  throw Error("", "unknown plot kind");
}

}  // namespace patchlens
