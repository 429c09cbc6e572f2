#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"),
// accumulated one block at a time so that an AttentionObserver can feed it during the
// forward instead of keeping every layer's attention:
//   Â_l = rownorm(0.5 · mean_h A_l,h + 0.5 · I),   R_l = Â_l · R_(l-1),   R_0 = I.
// Row q of R_L says how much each input token (prefix tokens, then patches) flows into
// token q of the last block's output. Accumulates in double (a 24-block product in float
// drifts by ~1e-6).
class AttentionRollout {
 public:
  AttentionRollout() = default;

  // Folds in block l's heads (each [T x T]); the first call fixes T. Throws Error on a shape
  // that does not match.
  void addBlock(const std::vector<RowMatrixF>& heads);

  int blocks() const { return m_blocks; }
  int tokens() const { return static_cast<int>(m_product.rows()); }
  // R after the blocks added so far, [T x T] (empty before the first block).
  RowMatrixF matrix() const;
  // Row `query` of R over the patch keys (columns prefix..T-1), [N].
  VectorF patchMap(int query, int prefixTokens) const;

 private:
  Eigen::MatrixXd m_product;
  int m_blocks = 0;
};

}  // namespace patchlens
