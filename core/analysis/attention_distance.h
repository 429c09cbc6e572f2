#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Mean attention distance (ViT paper, Dosovitskiy et al. 2021, Fig. 7 right) of every head of
// one block, in input pixels, [H]:
//   for each patch query q:  d_q = Σ_k a'_qk · ‖centre(q) − centre(k)‖,   over patch keys k,
//   head distance = mean of d_q over the patch queries.
// Patch centres are ((col + ½)·P, (row + ½)·P). Prefix tokens (cls, dist, registers) have no
// position in the image: they are left out as queries and as keys, and each query's
// attention over the patch keys is renormalised, a'_qk = a_qk / Σ_k a_qk (a query that puts
// all its attention on prefix tokens is skipped). heads[h] is [T x T], T = prefix + rows·cols.
// Throws Error on a shape that does not fit.
VectorF meanAttentionDistance(const std::vector<RowMatrixF>& heads, int prefixTokens, int gridRows,
                              int gridCols, int patchSize);

}  // namespace patchlens
