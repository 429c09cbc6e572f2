#pragma once

#include <opencv2/core.hpp>

#include "core/image/interpolation.h"

namespace patchlens {

// Resizes an 8-bit image (1 to 4 channels) exactly as PIL 9's Image.resize does:
// separable convolution whose support grows with the shrink factor (antialiasing),
// 22-bit fixed-point coefficients, horizontal pass first, 8-bit rounding after each pass;
// NEAREST uses PIL's affine sampling. cv::resize differs (no antialiasing when shrinking).
cv::Mat resizeLikePil(const cv::Mat& image, int width, int height, Interpolation interp);

}  // namespace patchlens
