#include "core/model/vision_transformer.h"

#include <cmath>
#include <utility>

#include "core/io/error.h"
#include "core/model/nonfinite.h"
#include "core/model/position/relative_position_bias.h"
#include "core/model/position/rope_embedding.h"
#include "core/model/position_resampler.h"
#include "core/model/resource_plan.h"
#include "core/model/transformer_families.h"
#include "core/model/transformer_weights.h"
#include "core/weights/tensor_source_factory.h"

namespace patchlens {
namespace {

std::string gridText(int rows, int cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

// The position rows for an input grid: how many prefix tokens get a row, and the patch rows
// (the table itself on the native grid, else resampled as the family's own code does).
struct PositionRows {
  int prefixRows = 0;
  RowMatrixF patches;
};

PositionRows positionsFor(const TransformerWeights& w, int rows, int cols) {
  const TransformerConfig& c = w.config;
  const auto tableRows = static_cast<int>(w.positions.rows());
  const int n = rows * cols;
  int prefixRows = c.positionPrefixRows;
  int nativeRows = c.nativeGridRows, nativeCols = c.nativeGridCols;
  const int alt = c.alternativePositionPrefixRows;
  if (nativeRows > 0) {
    if (alt >= 0 && tableRows - alt == n && !(rows == nativeRows && cols == nativeCols)) {
      throw Error("", "ambiguous position table: its " + std::to_string(tableRows) +
                          " rows read as " + std::to_string(prefixRows) + " prefix rows + a " +
                          gridText(nativeRows, nativeCols) + " grid, or as " + std::to_string(alt) +
                          " prefix rows + this input's " + gridText(rows, cols) +
                          " grid (timm's no_embed_class); a config.json "
                          "beside the file naming model_args.no_embed_class or the image size "
                          "decides");
    }
  } else if (tableRows - prefixRows == n) {
    nativeRows = rows;
    nativeCols = cols;
  } else if (alt >= 0 && tableRows - alt == n) {
    prefixRows = alt;
    nativeRows = rows;
    nativeCols = cols;
  } else {
    throw Error("", "the position table's " + std::to_string(tableRows - prefixRows) +
                        " patch rows are no square grid and no config.json beside the file names "
                        "the image size it was trained at (timm model_args.img_size or "
                        "pretrained_cfg.input_size, HF image_size): only an input of exactly that "
                        "many patches runs; this one gives " +
                        gridText(rows, cols));
  }
  const int native = nativeRows * nativeCols;
  PositionRows out;
  out.prefixRows = prefixRows;
  const RowMatrixF table = w.positions.bottomRows(native);
  if (rows == nativeRows && cols == nativeCols) {
    out.patches = table;
    return out;
  }
  switch (c.resample) {
    case PositionResample::TimmBicubic:
      // resample_abs_pos_embed returns the table as it is when the new grid is square and has
      // its count, even from a non-square grid.
      out.patches = rows == cols && n == native ? table
                                                : PositionResampler::bicubicAntialias(
                                                      table, nativeRows, nativeCols, rows, cols);
      return out;
    case PositionResample::NaflexBicubic:
      out.patches = PositionResampler::bicubicAntialias(table, nativeRows, nativeCols, rows, cols);
      return out;
    case PositionResample::NaflexBilinear:
      out.patches = PositionResampler::bilinearAntialias(table, nativeRows, nativeCols, rows, cols);
      return out;
    case PositionResample::HfScaleFactor: {
      if (nativeRows != nativeCols) {
        throw Error("", "the " + c.family + " code reshapes its position table as a square, but " +
                            "it was trained on a " + gridText(nativeRows, nativeCols) +
                            " grid: only that grid runs; this input gives " + gridText(rows, cols));
      }
      // transformers 4.3x: scale_factor = ((g + 0.1) / sqrt(N)), so torch maps coordinates
      // with 1 / scale_factor (not in / out), and the output is floor(sqrt(N) * factor) = g.
      const double side = std::sqrt(static_cast<double>(native));
      const double factorRows = (rows + 0.1) / side;
      const double factorCols = (cols + 0.1) / side;
      out.patches = PositionResampler::bicubic(table, nativeRows, nativeCols, rows, cols,
                                               1.0 / factorRows, 1.0 / factorCols);
      return out;
    }
    case PositionResample::None:
      break;
  }
  throw Error("", "the " + c.family +
                      " code cannot resample its position embedding: it was trained on a " +
                      gridText(nativeRows, nativeCols) + " grid of " + std::to_string(c.patchSize) +
                      "-pixel patches (" + std::to_string(nativeCols * c.patchSize) + "x" +
                      std::to_string(nativeRows * c.patchSize) + " input) but this input gives " +
                      gridText(rows, cols) + "; use --img-size " +
                      (nativeRows == nativeCols ? std::to_string(nativeRows * c.patchSize)
                                                : std::to_string(nativeRows * c.patchSize) + "x" +
                                                      std::to_string(nativeCols * c.patchSize)));
}

}  // namespace

VisionTransformer::VisionTransformer(std::shared_ptr<const TransformerWeights> weights)
    : m_weights(std::move(weights)) {}

std::optional<VisionTransformer> VisionTransformer::load(const std::string& path,
                                                         const TransformerLoadOptions& options,
                                                         std::string* whyNot) {
  const std::unique_ptr<TensorSource> source = openTensorSource(path);
  if (!options.shapesOnly) {
    // Memory follows the file's headers: the weights are sized, and refused over the memory
    // limit, before any block tensor is converted.
    TransformerLoadOptions describe = options;
    describe.shapesOnly = true;
    std::shared_ptr<const TransformerWeights> shapes =
        readTransformer(*source, path, describe, whyNot);
    if (!shapes) return std::nullopt;
    if (!shapes->shapesOnly) return VisionTransformer(std::move(shapes));  // read whole already
    checkResourcePlan(weightsPlan(shapes->config), {options.maxMemoryBytes, ~std::uint64_t{0}},
                      path);
  }
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
                                             const AttentionObserver& observer, KeptLayers kept,
                                             const QkvObserver& qkvObserver) const {
  const TransformerWeights& w = *m_weights;
  if (w.shapesOnly) throw Error({}, "the transformer was described (shapes only), not loaded");
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
    const PositionRows pos = positionsFor(w, out.gridRows, out.gridCols);
    if (pos.prefixRows > 0) x.topRows(pos.prefixRows) += w.positions.topRows(pos.prefixRows);
    x.bottomRows(patches) += pos.patches;
  }
  out.patchEmbedding = std::move(embedding.tokens);
  if (c.preNorm) {
    RowMatrixF normed;
    layerNorm(x, normed, w.preNorm, c.layerNormEps);
    x = std::move(normed);
  }
  out.tokens.reserve(w.blocks.size() + 1);
  const auto keep = [&](int layer) {
    if (kept.layer >= 0 && out.firstNonFiniteLayer < 0 && countNonFinite(x) > 0)
      out.firstNonFiniteLayer = layer;
    out.tokens.push_back(kept.keeps(layer) ? x : RowMatrixF(0, d));
  };
  keep(0);
  BlockScratch scratch;
  std::optional<RopeGrid> rope;  // RoPE families: this grid's sin/cos, shared by every block
  if (w.rope) scratch.rope = &rope.emplace(*w.rope, out.gridRows, out.gridCols);
  scratch.keepProbabilities = static_cast<bool>(observer);  // else the blocked attention
  if (qkvObserver) scratch.qkvObserver = &qkvObserver;
  for (std::size_t i = 0; i < w.blocks.size(); ++i) {
    scratch.ropeBlock = static_cast<int>(i);
    // Relative-bias families: this block's [T x T] per head (a table of another grid refused).
    attentionBiasFor(w.blocks[i].relativeBias.get(), w.sharedRelativeBias.get(), out.gridRows,
                     out.gridCols, c.patchSize, scratch.positionBias);
    w.blocks[i].forward(x, c, scratch);
    if (observer) observer(static_cast<int>(i) + 1, scratch.probabilities);
    keep(static_cast<int>(i) + 1);
  }
  if (c.finalNorm) {
    layerNorm(x, out.final, w.finalNorm, c.layerNormEps);
  } else {
    out.final = x;
  }
  if (kept.layer >= 0 && out.firstNonFiniteLayer < 0 && countNonFinite(out.final) > 0)
    out.firstNonFiniteLayer = static_cast<int>(w.blocks.size()) + 1;
  return out;
}

}  // namespace patchlens
