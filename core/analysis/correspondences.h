#pragma once

#include <vector>

#include "core/analysis/foreground_pca.h"
#include "core/model/eigen_types.h"

namespace patchlens {

// Patch correspondences between two images (or two token sets of one model): cosine
// similarity of patch tokens across the two sets and their mutual nearest neighbours, as in
// the DINO / DINOv2 / DINOv3 matching figures. Tokens are [N x D] patch tokens (prefix tokens
// left out), both with the same D. A token of norm 0 has similarity 0 to everything.

// Cosine similarity of token `token` of `from` to every token of `over`, [N_over]. Throws Error
// for a token out of range or for different widths.
VectorF crossSimilarity(const RowMatrixF& from, int token, const RowMatrixF& over);

// Every pair at once: S(i, j) = cos(a_i, b_j), [N_a x N_b], one GEMM of the row-normalised
// tokens. Row i is the map of A's patch i over B, column j the map of B's patch j over A.
RowMatrixF crossSimilarityMatrix(const RowMatrixF& a, const RowMatrixF& b);

struct PatchMatch {
  int tokenA = 0;  // patch index in A (row-major over A's grid)
  int tokenB = 0;  // patch index in B
  float similarity = 0.0f;
};

struct MatchOptions {
  // Keep at most this many matches (the best ones); 0 keeps every mutual pair.
  int topK = 0;
  // Restrict both sides to their foreground (foregroundPca of each image's own tokens at
  // this threshold) before looking for nearest neighbours.
  bool foregroundOnly = false;
  ForegroundPcaOptions foreground;
};

// The mutual nearest neighbours of A's and B's patch tokens: (i, j) with j = argmax_j S(i, j)
// and i = argmax_i S(i, j). Tie rule: an argmax that is reached by several tokens goes to the
// lowest index (numpy.argmax), so every token has exactly one nearest neighbour. Sorted by
// similarity, highest first; equal similarities by tokenA, then tokenB, ascending.
std::vector<PatchMatch> mutualNearestNeighbours(const RowMatrixF& a, const RowMatrixF& b,
                                                const MatchOptions& options = {});

// The same from a precomputed S (crossSimilarityMatrix), with optional masks of the tokens
// that take part (empty: all). For the GUI, which keeps S to answer hovers.
std::vector<PatchMatch> mutualNearestNeighbours(const RowMatrixF& similarity,
                                                const std::vector<bool>& useA,
                                                const std::vector<bool>& useB, int topK);

}  // namespace patchlens
