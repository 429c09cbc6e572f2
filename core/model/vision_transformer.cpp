#include "core/model/vision_transformer.h"

#include <cmath>
#include <utility>

#include "core/io/error.h"
#include "core/model/position_resampler.h"
#include "core/model/transformer_families.h"
#include "core/model/transformer_weights.h"
#include "core/weights/tensor_source_factory.h"

namespace patchlens {
namespace {

std::string gridText(int rows, int cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

// The patch rows of the position table for this grid: the table itself on the native grid,
// else resampled as the family's own code does.
RowMatrixF patchPositions(const TransformerWeights& w, int rows, int cols) {
  const TransformerConfig& c = w.config;
  const int native = c.nativeGridRows * c.nativeGridCols;
  const RowMatrixF table = w.positions.bottomRows(native);
  if (rows == c.nativeGridRows && cols == c.nativeGridCols) return table;
  switch (c.resample) {
    case PositionResample::TimmBicubic:
      return PositionResampler::bicubicAntialias(table, c.nativeGridRows, c.nativeGridCols, rows,
                                                 cols);
    case PositionResample::HfScaleFactor: {
      // transformers 4.3x: scale_factor = ((g + 0.1) / sqrt(N)), so torch maps coordinates
      // with 1 / scale_factor (not in / out), and the output is floor(sqrt(N) * factor) = g.
      const double side = std::sqrt(static_cast<double>(native));
      const double factorRows = (rows + 0.1) / side;
      const double factorCols = (cols + 0.1) / side;
      return PositionResampler::bicubic(table, c.nativeGridRows, c.nativeGridCols, rows, cols,
                                        1.0 / factorRows, 1.0 / factorCols);
    }
    case PositionResample::None:
      break;
  }
  throw Error("", "the " + c.family +
                      " code cannot resample its position embedding: it was trained on a " +
                      gridText(c.nativeGridRows, c.nativeGridCols) + " grid of " +
                      std::to_string(c.patchSize) + "-pixel patches (" +
                      std::to_string(c.nativeGridCols * c.patchSize) + "x" +
                      std::to_string(c.nativeGridRows * c.patchSize) +
                      " input) but this input gives " + gridText(rows, cols) + "; use --img-size " +
                      std::to_string(c.nativeGridRows * c.patchSize));
}

}  // namespace

VisionTransformer::VisionTransformer(std::shared_ptr<const TransformerWeights> weights)
    : m_weights(std::move(weights)) {}

std::optional<VisionTransformer> VisionTransformer::load(const std::string& path,
                                                         const TransformerLoadOptions& options,
                                                         std::string* whyNot) {
  const std::unique_ptr<TensorSource> source = openTensorSource(path);
  std::shared_ptr<const TransformerWeights> w = readTransformer(*source, path, options, whyNot);
  if (!w) return std::nullopt;
  return VisionTransformer(std::move(w));
}

const TransformerConfig& VisionTransformer::config() const {
  return m_weights->config;
}

const PatchWeights& VisionTransformer::patchWeights() const {
  return m_weights->patchEmbedding->weights();
}

TransformerOutput VisionTransformer::forward(const ChwTensor& input,
                                             const AttentionObserver& observer) const {
  const TransformerWeights& w = *m_weights;
  const TransformerConfig& c = w.config;
  TransformerOutput out;
  Embedding embedding = w.patchEmbedding->forward(input);
  out.gridRows = embedding.grid.rows;
  out.gridCols = embedding.grid.cols;
  const Eigen::Index patches = embedding.tokens.rows();
  const Eigen::Index prefix = c.prefixTokens();
  const Eigen::Index d = c.embedDim;

  // Token order: cls, dist, registers, then the patches row-major.
  RowMatrixF x(prefix + patches, d);
  if (prefix > 0) x.topRows(prefix) = w.prefixTokens;
  x.bottomRows(patches) = embedding.tokens;
  if (c.hasPositionEmbedding) {
    if (c.positionPrefixRows > 0)
      x.topRows(c.positionPrefixRows) += w.positions.topRows(c.positionPrefixRows);
    x.bottomRows(patches) += patchPositions(w, out.gridRows, out.gridCols);
  }
  out.patchEmbedding = std::move(embedding.tokens);
  if (c.preNorm) {
    RowMatrixF normed;
    layerNorm(x, normed, w.preNorm, c.layerNormEps);
    x = std::move(normed);
  }
  out.tokens.reserve(w.blocks.size() + 1);
  out.tokens.push_back(x);
  BlockScratch scratch;
  scratch.keepProbabilities = static_cast<bool>(observer);  // else the blocked attention
  for (std::size_t i = 0; i < w.blocks.size(); ++i) {
    w.blocks[i].forward(x, c, scratch);
    if (observer) observer(static_cast<int>(i) + 1, scratch.probabilities);
    out.tokens.push_back(x);
  }
  if (c.finalNorm) {
    layerNorm(x, out.final, w.finalNorm, c.layerNormEps);
  } else {
    out.final = x;
  }
  return out;
}

}  // namespace patchlens
