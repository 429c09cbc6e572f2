#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Every token's L2 norm at every layer, [T x L] (row = token, prefix tokens first; column =
// layer), the picture of Darcet et al. 2024 ("Vision Transformers Need Registers") where a
// few high-norm artifact tokens stand out in the deep layers of large ViTs. A layer with
// fewer rows than the widest one (the patch embedding: N rows, no prefix tokens) holds the
// patch tokens: it is aligned to the bottom and its missing prefix rows are NaN.
RowMatrixF tokenNormsAcrossDepth(const std::vector<const RowMatrixF*>& layers);

}  // namespace patchlens
