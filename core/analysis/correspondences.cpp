#include "core/analysis/correspondences.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/analysis/embedding_analysis.h"
#include "core/io/error.h"

namespace patchlens {

namespace {

void checkWidths(const RowMatrixF& a, const RowMatrixF& b) {
  if (a.cols() != b.cols()) {
    throw Error("", "the two token sets have different widths (" + std::to_string(a.cols()) +
                        " and " + std::to_string(b.cols()) + " channels)");
  }
}

// Rows scaled to unit length; a zero row stays zero (similarity 0, as cosineSimilarity).
RowMatrixF normalisedRows(const RowMatrixF& tokens) {
  RowMatrixF out = tokens;
  for (Eigen::Index r = 0; r < out.rows(); ++r) {
    const float norm = out.row(r).norm();
    if (norm > 0.0f) out.row(r) /= norm;
  }
  return out;
}

bool uses(const std::vector<bool>& mask, Eigen::Index i) {
  return mask.empty() || mask[static_cast<std::size_t>(i)];
}

}  // namespace

VectorF crossSimilarity(const RowMatrixF& from, int token, const RowMatrixF& over) {
  checkWidths(from, over);
  if (token < 0 || token >= from.rows()) {
    throw Error(
        "", "token " + std::to_string(token) + " is outside 0.." + std::to_string(from.rows() - 1));
  }
  // cosineSimilarity's own arithmetic (double, 0 for a zero norm) on [over; from_token].
  RowMatrixF stacked(over.rows() + 1, over.cols());
  stacked.topRows(over.rows()) = over;
  stacked.row(over.rows()) = from.row(token);
  return cosineSimilarity(stacked, static_cast<int>(over.rows())).head(over.rows());
}

RowMatrixF crossSimilarityMatrix(const RowMatrixF& a, const RowMatrixF& b) {
  checkWidths(a, b);
  const RowMatrixF na = normalisedRows(a);
  const RowMatrixF nb = normalisedRows(b);
  RowMatrixF s(a.rows(), b.rows());
  s.noalias() = na * nb.transpose();
  return s;
}

std::vector<PatchMatch> mutualNearestNeighbours(const RowMatrixF& similarity,
                                                const std::vector<bool>& useA,
                                                const std::vector<bool>& useB, int topK) {
  const Eigen::Index na = similarity.rows();
  const Eigen::Index nb = similarity.cols();
  if ((!useA.empty() && static_cast<Eigen::Index>(useA.size()) != na) ||
      (!useB.empty() && static_cast<Eigen::Index>(useB.size()) != nb)) {
    throw Error("", "a foreground mask does not match the similarity matrix");
  }
  constexpr float kNone = -std::numeric_limits<float>::infinity();
  // Row and column argmax in one pass over S; a strict '>' keeps the lowest index on ties.
  // A NaN never becomes a nearest neighbour.
  std::vector<int> rowBest(static_cast<std::size_t>(na), -1);
  std::vector<int> colBest(static_cast<std::size_t>(nb), -1);
  std::vector<float> colMax(static_cast<std::size_t>(nb), kNone);
  for (Eigen::Index i = 0; i < na; ++i) {
    if (!uses(useA, i)) continue;
    const float* row = similarity.data() + i * nb;
    float best = kNone;
    int bestJ = -1;
    for (Eigen::Index j = 0; j < nb; ++j) {
      if (!uses(useB, j)) continue;
      const float v = row[j];
      if (bestJ < 0 ? !std::isnan(v) : v > best) {
        best = v;
        bestJ = static_cast<int>(j);
      }
      if (colBest[static_cast<std::size_t>(j)] < 0 ? !std::isnan(v)
                                                   : v > colMax[static_cast<std::size_t>(j)]) {
        colMax[static_cast<std::size_t>(j)] = v;
        colBest[static_cast<std::size_t>(j)] = static_cast<int>(i);
      }
    }
    rowBest[static_cast<std::size_t>(i)] = bestJ;
  }
  std::vector<PatchMatch> matches;
  for (Eigen::Index i = 0; i < na; ++i) {
    const int j = rowBest[static_cast<std::size_t>(i)];
    if (j >= 0 && colBest[static_cast<std::size_t>(j)] == i)
      matches.push_back({static_cast<int>(i), j, similarity(i, j)});
  }
  std::stable_sort(matches.begin(), matches.end(), [](const PatchMatch& x, const PatchMatch& y) {
    if (x.similarity != y.similarity) return x.similarity > y.similarity;
    return x.tokenA < y.tokenA || (x.tokenA == y.tokenA && x.tokenB < y.tokenB);
  });
  if (topK > 0 && static_cast<std::size_t>(topK) < matches.size())
    matches.resize(static_cast<std::size_t>(topK));
  return matches;
}

std::vector<PatchMatch> mutualNearestNeighbours(const RowMatrixF& a, const RowMatrixF& b,
                                                const MatchOptions& options) {
  checkWidths(a, b);
  std::vector<bool> useA;
  std::vector<bool> useB;
  if (options.foregroundOnly) {
    useA = foregroundPca(a, options.foreground).foreground;
    useB = foregroundPca(b, options.foreground).foreground;
  }
  return mutualNearestNeighbours(crossSimilarityMatrix(a, b), useA, useB, options.topK);
}

}  // namespace patchlens
