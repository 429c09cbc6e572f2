#pragma once

#include "core/model/eigen_types.h"

namespace patchlens {

// Grad-CAM on a ViT (as pytorch-grad-cam's ViT recipe, with every prefix token dropped):
// A = the last block's norm1 output on the N patch tokens, G = d target / d A, w = the mean of G
// over the patches, map = relu(A w) on the grid [rows x cols], neither normalised nor resized.
// normed1 and gradNormed1 are [T x D]; the patches are their last rows * cols rows.
RowMatrixF gradCamMap(const RowMatrixF& normed1, const RowMatrixF& gradNormed1, int rows, int cols);

}  // namespace patchlens
