#include "core/analysis/attention_maps.h"

#include <string>

#include "core/io/error.h"

namespace patchlens {

void checkAttentionShape(const std::vector<RowMatrixF>& heads, int prefixTokens, int gridRows,
                         int gridCols) {
  if (heads.empty()) throw Error("", "the attention holds no heads");
  const Eigen::Index t = heads.front().rows();
  for (const RowMatrixF& h : heads) {
    if (h.rows() != t || h.cols() != t) {
      throw Error("", "every attention head must be [T x T] with the same T (got " +
                          std::to_string(h.rows()) + " x " + std::to_string(h.cols()) + ")");
    }
  }
  if (prefixTokens < 0 || gridRows <= 0 || gridCols <= 0 ||
      t != Eigen::Index{prefixTokens} + Eigen::Index{gridRows} * gridCols) {
    throw Error("", "attention over " + std::to_string(t) + " tokens does not fit " +
                        std::to_string(prefixTokens) + " prefix tokens and a " +
                        std::to_string(gridRows) + " x " + std::to_string(gridCols) + " grid");
  }
}

RowMatrixF meanOverHeads(const std::vector<RowMatrixF>& heads) {
  if (heads.empty()) throw Error("", "the attention holds no heads");
  RowMatrixF mean = heads.front();
  for (std::size_t h = 1; h < heads.size(); ++h) mean += heads[h];
  mean /= static_cast<float>(heads.size());
  return mean;
}

VectorF patchAttention(const RowMatrixF& attention, int query, int prefixTokens) {
  if (query < 0 || query >= attention.rows()) {
    throw Error("", "query token " + std::to_string(query) + " is out of range (0.." +
                        std::to_string(attention.rows() - 1) + ")");
  }
  if (prefixTokens < 0 || prefixTokens > attention.cols()) {
    throw Error("", "more prefix tokens than attention keys");
  }
  return attention.row(query).tail(attention.cols() - prefixTokens).transpose();
}

VectorF headPatchAttention(const std::vector<RowMatrixF>& heads, int head, int query,
                           int prefixTokens) {
  if (heads.empty()) throw Error("", "the attention holds no heads");
  if (head >= static_cast<int>(heads.size())) {
    throw Error("", "head " + std::to_string(head) + " is out of range (0.." +
                        std::to_string(heads.size() - 1) + ")");
  }
  if (head >= 0) return patchAttention(heads[static_cast<std::size_t>(head)], query, prefixTokens);
  VectorF sum = patchAttention(heads.front(), query, prefixTokens);
  for (std::size_t h = 1; h < heads.size(); ++h)
    sum += patchAttention(heads[h], query, prefixTokens);
  return sum / static_cast<float>(heads.size());
}

}  // namespace patchlens
