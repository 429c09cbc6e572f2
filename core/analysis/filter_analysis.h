#pragma once

#include <opencv2/core.hpp>

#include "core/analysis/embedding_analysis.h"
#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

// The ViT paper's Fig. 7 (left) shows the first 28 principal components of the filters.
inline constexpr int kFilterPcaComponents = 28;

// Principal components of the D filters (rows of the weight [D x C*P*P]): the filters are
// the samples, the C*P*P pixel weights the variables.
struct FilterPca {
  PcaResult pca;       // mean [C*P*P], components [k x C*P*P], projections [D x k], variances
  int inChannels = 0;  // C
  int patchSize = 0;   // P

  int components() const { return static_cast<int>(pca.components.rows()); }
  // Component `index` as a C x P x P tile; throws Error when out of range.
  ChwTensor componentTile(int index) const;
  // The mean filter that was subtracted, as a C x P x P tile.
  ChwTensor meanTile() const;
};

// Top-k components of the centred filters (k clamped to min(D, C*P*P)), with tokenPca's
// deterministic sign: each component's largest-|loading| entry is positive. Explained
// variance divides by D - 1. Throws Error on empty weights.
FilterPca filterPca(const PatchWeights& weights, int components = kFilterPcaComponents);

// Filter of output channel `channel` (row of the weight) as a C x P x P tile.
ChwTensor filterTile(const PatchWeights& weights, int channel);

// A flattened (c, kh, kw) vector of length C*P*P as a C x P x P tile.
ChwTensor vectorToTile(const Eigen::Ref<const VectorF>& flat, int channels, int patchSize);

// A tile as an 8-bit P x P image for display: CV_8UC3 in RGB order for C = 3, grey
// replicated to three channels for C = 1. Scaled symmetrically per tile, so that 0 is
// mid-grey (128) and +-max|v| is 255 / 0: the sign of a filter weight stays readable.
// Throws Error for other channel counts or an empty tile.
cv::Mat tileToRgb8(const ChwTensor& tile);

}  // namespace patchlens
