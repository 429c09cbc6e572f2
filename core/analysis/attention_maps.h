#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Per-layer attention as a transformer block computes it: heads[h] is [T x T], row = query,
// each row a softmax distribution over the T keys. T = prefix tokens (cls, dist, registers)
// followed by the N patch tokens in raster order. Pure and Qt-free; throw Error on a bad
// shape or index.

// The mean over heads, [T x T].
RowMatrixF meanOverHeads(const std::vector<RowMatrixF>& heads);

// What query `query` attends to among the patch keys: row `query` of `attention`, columns
// prefix..T-1, [N] (the values are the softmax probabilities; they do not sum to 1 when the
// query also attends to prefix tokens).
VectorF patchAttention(const RowMatrixF& attention, int query, int prefixTokens);

// One map per head (head < 0: the mean over heads) for `query`, [N].
VectorF headPatchAttention(const std::vector<RowMatrixF>& heads, int head, int query,
                           int prefixTokens);

// Throws Error when the heads are empty, not square, of different sizes, or have fewer
// columns than prefixTokens + rows * cols.
void checkAttentionShape(const std::vector<RowMatrixF>& heads, int prefixTokens, int gridRows,
                         int gridCols);

}  // namespace patchlens
