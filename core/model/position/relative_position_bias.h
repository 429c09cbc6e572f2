#pragma once

#include <cstdint>
#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// BEiT's relative position bias (timm beit.py, HF modeling_beit.py), the one place PatchLens
// reads it: a learned table [(2 Wh - 1)(2 Ww - 1) + 3, heads] for a Wh x Ww window, looked up
// through gen_relative_position_index for the class token + the window's patches, added to
// q kᵀ / sqrt(d) before the softmax. The last three rows are cls -> patch, patch -> cls and
// cls -> cls.
struct RelativePositionBias {
  int windowRows = 0, windowCols = 0;  // the grid the table was trained for
  RowMatrixF table;                    // [(2 Wh - 1)(2 Ww - 1) + 3 x heads]

  int heads() const { return static_cast<int>(table.cols()); }
  static Eigen::Index tableRows(int windowRows, int windowCols) {
    return static_cast<Eigen::Index>(2 * windowRows - 1) * (2 * windowCols - 1) + 3;
  }
};

// beit.py gen_relative_position_index: [(N + 1) x (N + 1)] row-major, N = rows x cols, token 0
// the class token.
std::vector<std::int64_t> relativePositionIndex(int windowRows, int windowCols);

// Fills bias with one [T x T] per head (T = 1 + gridRows x gridCols): the per-block table's
// lookup plus the shared one's (timm: attn + block bias + shared bias); either may be null,
// both null leaves bias empty. Throws Error("", ...) naming the table's grid when the input's
// grid is another one: timm resizes the table only when it loads a checkpoint into a model of
// another size (resize_rel_pos_bias_table), which PatchLens does not do.
void attentionBiasFor(const RelativePositionBias* block, const RelativePositionBias* shared,
                      int gridRows, int gridCols, int patchSize, std::vector<RowMatrixF>& bias);

}  // namespace patchlens
