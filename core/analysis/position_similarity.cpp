#include "core/analysis/position_similarity.h"

#include <cmath>
#include <string>

#include "core/io/error.h"

namespace patchlens {

namespace {

// The grid of the patch rows: the declared one when it fits, else a square one.
void resolveGrid(const PositionEmbedding& positions, Eigen::Index count, int& rows, int& cols) {
  if (positions.gridRows > 0 && positions.gridCols > 0) {
    if (static_cast<Eigen::Index>(positions.gridRows) * positions.gridCols != count) {
      throw Error("", "the position embedding has " + std::to_string(count) +
                          " patch rows, not the " + std::to_string(positions.gridRows) + " x " +
                          std::to_string(positions.gridCols) + " grid it declares");
    }
    rows = positions.gridRows;
    cols = positions.gridCols;
    return;
  }
  const auto side = static_cast<Eigen::Index>(std::llround(std::sqrt(static_cast<double>(count))));
  if (count == 0 || side * side != count) {
    throw Error("", "the position embedding's " + std::to_string(count) +
                        " patch rows do not form a square grid");
  }
  rows = static_cast<int>(side);
  cols = static_cast<int>(side);
}

}  // namespace

RowMatrixF PositionSimilarity::map(int patch) const {
  if (patch < 0 || patch >= positions()) {
    throw Error(
        "", "patch " + std::to_string(patch) + " is outside 0.." + std::to_string(positions() - 1));
  }
  return Eigen::Map<const RowMatrixF>(matrix.row(patch).data(), gridRows, gridCols);
}

PositionSimilarity positionSimilarity(const PositionEmbedding& positions) {
  if (positions.hasClassToken && positions.table.rows() < 1) {
    throw Error("", "the position embedding declares a class-token row but has no rows");
  }
  const auto patches = positions.patchRows();
  PositionSimilarity result;
  resolveGrid(positions, patches.rows(), result.gridRows, result.gridCols);
  if (patches.cols() == 0) throw Error("", "the position embedding has no channels");

  // Double precision: cosines of 768-d vectors near 1 differ in the 4th digit otherwise.
  Eigen::MatrixXd unit = patches.cast<double>();
  for (Eigen::Index r = 0; r < unit.rows(); ++r) {
    const double norm = unit.row(r).norm();
    if (norm > 0.0) {
      unit.row(r) /= norm;
    } else {
      unit.row(r).setZero();
    }
  }
  result.matrix = (unit * unit.transpose()).cast<float>();
  return result;
}

PositionSimilarity positionSimilarity(const PatchWeights& weights) {
  if (!weights.positionEmbedding) {
    throw Error(
        "", "these weights have no position embedding" +
                (weights.description.empty() ? std::string() : " (" + weights.description + ")"));
  }
  return positionSimilarity(*weights.positionEmbedding);
}

}  // namespace patchlens
