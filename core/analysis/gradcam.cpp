#include "core/analysis/gradcam.h"

namespace patchlens {

RowMatrixF gradCamMap(const RowMatrixF& normed1, const RowMatrixF& gradNormed1, int rows,
                      int cols) {
  const Eigen::Index patches = static_cast<Eigen::Index>(rows) * cols;
  const auto a = normed1.bottomRows(patches);
  const VectorF weights = gradNormed1.bottomRows(patches).colwise().mean().transpose();
  const VectorF cam = (a * weights).cwiseMax(0.0f);
  return Eigen::Map<const RowMatrixF>(cam.data(), rows, cols);
}

}  // namespace patchlens
