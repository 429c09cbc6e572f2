#include "core/analysis/attention_mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/analysis/attention_maps.h"
#include "core/io/error.h"

namespace patchlens {

RowMatrixF attentionMassMask(const RowMatrixF& maps, float threshold) {
  if (!(threshold > 0.0f && threshold <= 1.0f)) {
    throw Error("",
                "the attention mass threshold must be in (0, 1], not " + std::to_string(threshold));
  }
  const Eigen::Index n = maps.cols();
  RowMatrixF masks = RowMatrixF::Zero(maps.rows(), n);
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  // torch compares the float tensor with the Python float 1 - t cast to float32.
  const float keepAbove = static_cast<float>(1.0 - static_cast<double>(threshold));
  for (Eigen::Index h = 0; h < maps.rows(); ++h) {
    const auto row = maps.row(h);
    double sum = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) sum += row(i);
    const float total = static_cast<float>(sum);
    if (!(total > 0.0f) || !std::isfinite(total)) {
      throw Error("", "head " + std::to_string(h) + "'s attention over the patches sums to " +
                          std::to_string(total) + ": no mass to threshold");
    }
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](Eigen::Index a, Eigen::Index b) { return row(a) < row(b); });
    double cumulative = 0.0;
    for (const Eigen::Index i : order) {
      cumulative += row(i) / total;  // val /= sum in float, then cumsum (double accumulator)
      if (static_cast<float>(cumulative) > keepAbove) masks(h, i) = 1.0f;
    }
  }
  return masks;
}

AttentionMasks attentionMasks(const std::vector<RowMatrixF>& heads, int query, int prefixTokens,
                              int gridRows, int gridCols, float threshold) {
  checkAttentionShape(heads, prefixTokens, gridRows, gridCols);
  AttentionMasks result;
  result.gridRows = gridRows;
  result.gridCols = gridCols;
  result.threshold = threshold;
  result.maps.resize(static_cast<Eigen::Index>(heads.size()), Eigen::Index{gridRows} * gridCols);
  for (std::size_t h = 0; h < heads.size(); ++h)
    result.maps.row(static_cast<Eigen::Index>(h)) =
        patchAttention(heads[h], query, prefixTokens).transpose();
  result.masks = attentionMassMask(result.maps, threshold);
  return result;
}

RowMatrixF upsampleNearest(const Eigen::Ref<const VectorF>& map, int rows, int cols, int factor) {
  if (rows <= 0 || cols <= 0 || factor <= 0 || map.size() != Eigen::Index{rows} * cols) {
    throw Error("", "a map of " + std::to_string(map.size()) + " values is not a " +
                        std::to_string(rows) + " x " + std::to_string(cols) +
                        " grid to upsample by " + std::to_string(factor));
  }
  RowMatrixF pixels(Eigen::Index{rows} * factor, Eigen::Index{cols} * factor);
  for (Eigen::Index y = 0; y < pixels.rows(); ++y)
    for (Eigen::Index x = 0; x < pixels.cols(); ++x)
      pixels(y, x) = map((y / factor) * cols + x / factor);
  return pixels;
}

}  // namespace patchlens
