#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// DINO's per-head attention masks (facebookresearch/dino, visualize_attention.py): for one
// query (DINO: the class token) of one block, each head's attention over the patch keys,
// and the mask of the patches that hold the top `threshold` of that head's attention mass.
// Pure and Qt-free; throws Error on a bad shape, query or threshold.
struct AttentionMasks {
  RowMatrixF maps;   // [H x N]: row h = head h's attention from the query to the N patches
  RowMatrixF masks;  // [H x N]: 1 where the patch is kept, 0 elsewhere
  float threshold = 0.6f;
  int gridRows = 0;
  int gridCols = 0;
};

// DINO's thresholding of each row of `maps`, as its code does it (not "keep while the
// descending sum is <= t", which differs at the boundary): sort the row ascending, divide by
// its sum (over the patches only), cumulative sum, keep the patches whose cumulative value is
// > 1 - threshold. Arithmetic as torch's CPU kernels: float32 values, the sum and the
// cumulative sum accumulated in double and rounded to float, compared with float(1 -
// threshold). Equal values are ordered by patch index (a stable sort, as torch's CPU sort).
// threshold in (0, 1]; a row whose sum is not positive is refused by name.
RowMatrixF attentionMassMask(const RowMatrixF& maps, float threshold);

// Every head's map for `query` over the patch keys (prefix tokens dropped) and its mask.
AttentionMasks attentionMasks(const std::vector<RowMatrixF>& heads, int query, int prefixTokens,
                              int gridRows, int gridCols, float threshold);

// DINO's nn.functional.interpolate(scale_factor=patch_size, mode="nearest") of one map of
// rows x cols (row-major, N = rows * cols): [rows * factor x cols * factor], each pixel the
// value of the patch it lies in.
RowMatrixF upsampleNearest(const Eigen::Ref<const VectorF>& map, int rows, int cols, int factor);

}  // namespace patchlens
