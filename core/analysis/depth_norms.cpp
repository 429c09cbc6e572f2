#include "core/analysis/depth_norms.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/io/error.h"

namespace patchlens {

RowMatrixF tokenNormsAcrossDepth(const std::vector<const RowMatrixF*>& layers) {
  if (layers.empty()) throw Error("", "no layers to take norms of");
  Eigen::Index t = 0;
  for (const RowMatrixF* layer : layers) {
    if (layer == nullptr) throw Error("", "a missing layer");
    t = std::max(t, layer->rows());
  }
  RowMatrixF norms = RowMatrixF::Constant(t, static_cast<Eigen::Index>(layers.size()),
                                          std::numeric_limits<float>::quiet_NaN());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const RowMatrixF& layer = *layers[l];
    const Eigen::Index offset = t - layer.rows();
    for (Eigen::Index r = 0; r < layer.rows(); ++r) {
      // Accumulated in double: deep-layer tokens reach norms in the hundreds.
      norms(offset + r, static_cast<Eigen::Index>(l)) =
          static_cast<float>(std::sqrt(layer.row(r).cast<double>().squaredNorm()));
    }
  }
  return norms;
}

}  // namespace patchlens
