#include "core/analysis/relevance.h"

#include <stdexcept>

namespace patchlens {

void RelevanceAccumulator::addBlock(int block, const std::vector<RowMatrixF>& gradHeads,
                                    const std::vector<RowMatrixF>& heads) {
  if (block < 1 || block > static_cast<int>(m_blocks.size()) || heads.empty() ||
      gradHeads.size() != heads.size())
    throw std::invalid_argument("RelevanceAccumulator: bad block or heads");
  RowMatrixF mean = RowMatrixF::Zero(heads.front().rows(), heads.front().cols());
  for (std::size_t h = 0; h < heads.size(); ++h)
    mean += gradHeads[h].cwiseProduct(heads[h]).cwiseMax(0.0f);
  mean /= static_cast<float>(heads.size());
  m_blocks[static_cast<std::size_t>(block - 1)] = std::move(mean);
}

RowMatrixF RelevanceAccumulator::relevance() const {
  if (m_blocks.empty() || m_blocks.front().size() == 0)
    throw std::invalid_argument("RelevanceAccumulator: no blocks");
  const Eigen::Index tokens = m_blocks.front().rows();
  RowMatrixF r = RowMatrixF::Identity(tokens, tokens);
  for (const RowMatrixF& abar : m_blocks) {
    if (abar.rows() != tokens) throw std::invalid_argument("RelevanceAccumulator: block missing");
    r += abar * r;
  }
  return r;
}

RowMatrixF RelevanceAccumulator::map(bool classToken, int rows, int cols) const {
  const RowMatrixF r = relevance();
  const Eigen::Index patches = static_cast<Eigen::Index>(rows) * cols;
  Eigen::RowVectorXf row;
  if (classToken) {
    row = r.row(0).tail(patches);
  } else {
    row = r.bottomRightCorner(patches, patches).colwise().mean();
  }
  return Eigen::Map<const RowMatrixF>(row.data(), rows, cols);
}

}  // namespace patchlens
