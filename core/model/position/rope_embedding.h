#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Axial 2-D rotary position embedding, the one place PatchLens rotates q and k. A family's
// variant is data: DINOv3 (dinov3/layers/rope_position_encoding.py + attention.py) is
// coordinates (i + 0.5) / H and (j + 0.5) / W (normalize "separate"; "max"/"min" divide by
// max(H, W) / min(H, W)) mapped to 2c - 1, angles 2 pi c / period laid out [h periods, w periods]
// and tiled twice, rotate-half (x * cos + [-x2, x1] * sin), patches only: the prefix tokens
// (cls, storage) are not rotated.
struct RopeEmbedding {
  enum class Normalize { Separate, Max, Min };
  std::vector<float> periods;  // [headDim / 4], as the file stores them (DINOv3: bfloat16)
  Normalize normalize = Normalize::Separate;
  int prefixTokens = 0;  // tokens before the patches, left as they are

  int headDim() const { return 4 * static_cast<int>(periods.size()); }
};

// The sin / cos of one patch grid, ready to rotate every block's q and k.
class RopeGrid {
 public:
  RopeGrid(const RopeEmbedding& rope, int gridRows, int gridCols);

  // Rotates q and k of every head in the patch rows of a fused [T x 3D] qkv (q columns, then
  // k, then v; head h at h * headDim), in place. T must be prefixTokens + gridRows * gridCols.
  void apply(RowMatrixF& qkv, int heads) const;

  // [gridRows * gridCols x headDim / 2]: the first half of dinov3's [HW x headDim] tables (the
  // second half repeats it).
  const RowMatrixF& sin() const { return m_sin; }
  const RowMatrixF& cos() const { return m_cos; }

 private:
  int m_prefix = 0;
  int m_headDim = 0;
  RowMatrixF m_sin, m_cos;
};

}  // namespace patchlens
