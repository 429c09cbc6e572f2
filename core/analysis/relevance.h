#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Chefer, Gur & Wolf 2021 (generic attention-model explainability, eqs. 5-6) for a
// self-attention encoder: R = I_T; for each block in forward order,
// Abar = mean over heads of relu(dtarget/dA (.) A), R = R + Abar R.
class RelevanceAccumulator {
 public:
  explicit RelevanceAccumulator(int depth) : m_blocks(static_cast<std::size_t>(depth)) {}

  // Block l = 1..depth, any order (the backward visits them last to first).
  void addBlock(int block, const std::vector<RowMatrixF>& gradHeads,
                const std::vector<RowMatrixF>& heads);

  // R after every block [T x T].
  RowMatrixF relevance() const;

  // The class token's row of R over the patch columns (without a class token: the mean of the
  // patch rows), on the grid [rows x cols].
  RowMatrixF map(bool classToken, int rows, int cols) const;

 private:
  std::vector<RowMatrixF> m_blocks;  // Abar per block
};

}  // namespace patchlens
