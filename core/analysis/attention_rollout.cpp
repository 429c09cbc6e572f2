#include "core/analysis/attention_rollout.h"

#include <string>

#include "core/analysis/attention_maps.h"
#include "core/io/error.h"

namespace patchlens {

void AttentionRollout::addBlock(const std::vector<RowMatrixF>& heads) {
  const RowMatrixF mean = meanOverHeads(heads);
  if (mean.rows() != mean.cols() || mean.rows() == 0) {
    throw Error("", "attention rollout needs square [T x T] heads");
  }
  for (const RowMatrixF& h : heads) {
    if (h.rows() != mean.rows() || h.cols() != mean.cols())
      throw Error("", "attention heads of different sizes");
  }
  if (m_blocks > 0 && mean.rows() != m_product.rows()) {
    throw Error("", "attention rollout: block over " + std::to_string(mean.rows()) +
                        " tokens after blocks over " + std::to_string(m_product.rows()));
  }
  const Eigen::Index t = mean.rows();
  Eigen::MatrixXd augmented = 0.5 * mean.cast<double>();
  augmented.diagonal().array() += 0.5;
  // Rows of a softmax already sum to 1 (so do these); renormalising keeps the product a
  // row-stochastic matrix also for attention that was stored rounded (F16 dumps).
  const Eigen::VectorXd sums = augmented.rowwise().sum();
  for (Eigen::Index r = 0; r < t; ++r) {
    if (sums(r) > 0.0) augmented.row(r) /= sums(r);
  }
  m_product = m_blocks == 0 ? augmented : Eigen::MatrixXd(augmented * m_product);
  ++m_blocks;
}

RowMatrixF AttentionRollout::matrix() const {
  return m_product.cast<float>();
}

VectorF AttentionRollout::patchMap(int query, int prefixTokens) const {
  if (m_blocks == 0) throw Error("", "attention rollout holds no block yet");
  if (query < 0 || query >= m_product.rows())
    throw Error("", "rollout query " + std::to_string(query) + " is out of range");
  if (prefixTokens < 0 || prefixTokens >= m_product.cols())
    throw Error("", "more prefix tokens than rollout keys");
  return m_product.row(query).tail(m_product.cols() - prefixTokens).transpose().cast<float>();
}

}  // namespace patchlens
