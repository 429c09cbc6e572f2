#pragma once

#include "core/model/eigen_types.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

// Cosine similarity between the learned position embeddings of the patch positions
// (the ViT paper's Fig. 7, centre): row i, reshaped to the grid, is patch i's small map.
struct PositionSimilarity {
  int gridRows = 0;
  int gridCols = 0;
  RowMatrixF matrix;  // [N x N], N = gridRows * gridCols; symmetric, 1 on the diagonal

  int positions() const { return gridRows * gridCols; }
  // Patch `patch`'s similarity to every position as a gridRows x gridCols map; throws Error
  // when the patch is out of range.
  RowMatrixF map(int patch) const;
};

// The class-token row is left out: it has no place on the grid. A zero row has similarity 0
// to everything (itself included). Throws Error when the table's patch rows do not form the
// declared grid (or, without one, a square grid).
PositionSimilarity positionSimilarity(const PositionEmbedding& positions);
// Same, from the weights; throws Error when they carry no position embedding.
PositionSimilarity positionSimilarity(const PatchWeights& weights);

}  // namespace patchlens
