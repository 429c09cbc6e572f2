#pragma once

#include <vector>

#include "core/analysis/embedding_analysis.h"

namespace patchlens {

// The DINOv2 recipe for showing features (Oquab et al. 2023, Fig. 1 and the official demo
// notebooks): a PCA of all patch tokens, the first component min–max scaled to [0, 1] and
// thresholded to split foreground from background, then a second 3-component PCA of the
// foreground tokens only, each component min–max scaled over the foreground to [0, 1] as RGB;
// the background is black.
struct ForegroundPcaOptions {
  float threshold = 0.5f;  // on the scaled first component, in [0, 1]
  // The sign of a principal axis is arbitrary: flip uses 1 − scaled PC1, so that the
  // foreground can be either end of the axis.
  bool flip = false;
};

struct ForegroundPca {
  VectorF firstComponent;        // [N] PC1 of all tokens, min–max scaled to [0, 1] (flipped)
  std::vector<bool> foreground;  // [N] firstComponent > threshold
  int foregroundCount = 0;
  PcaResult second;         // PCA of the foreground tokens (empty when fewer than 2)
  RowMatrixF rgb;           // [N x 3]: foreground coloured, background 0
  float firstRatio = 0.0f;  // explained-variance ratio of PC1 of all tokens
};

// `patchTokens` [N x D] (prefix tokens left out). Throws Error for fewer than 2 tokens.
ForegroundPca foregroundPca(const RowMatrixF& patchTokens, const ForegroundPcaOptions& options);

}  // namespace patchlens
