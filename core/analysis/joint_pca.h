#pragma once

#include <vector>

#include "core/analysis/foreground_pca.h"
#include "core/model/eigen_types.h"

namespace patchlens {

// One PCA fitted on the patch tokens of two images at once, so that the same part gets the
// same colour in both (the multi-image PCA figures of DINOv2 / DINOv3). With `foreground` set
// it is exactly foregroundPca of the stacked tokens [A; B]: PC1 of both, one threshold, a
// second 3-component PCA of the foreground of both, each component min–max scaled over that
// joint foreground. Without it, a 3-component PCA of [A; B], each component min–max scaled
// over both images (pcaToRgb).
struct JointPcaOptions {
  bool foreground = true;
  ForegroundPcaOptions threshold;
};

struct JointPca {
  PcaResult pca;                  // the shared components (the foreground PCA's second one)
  RowMatrixF rgbA;                // [N_a x 3] in [0, 1]; background 0
  RowMatrixF rgbB;                // [N_b x 3]
  std::vector<bool> foregroundA;  // [N_a] (all true without the foreground step)
  std::vector<bool> foregroundB;  // [N_b]
  int foregroundCount = 0;        // over both images
};

// Throws Error for different widths or fewer than 2 tokens in all.
JointPca jointPca(const RowMatrixF& a, const RowMatrixF& b, const JointPcaOptions& options = {});

}  // namespace patchlens
