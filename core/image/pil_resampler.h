#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <vector>

#include "core/image/interpolation.h"

namespace patchlens {

// PIL 9's Image.resize (bicubic, bilinear) restricted to one rectangle of the output and fed
// the input rows in order, so that a decoder can hand over bands as it decodes them and
// nothing outside the rectangle's filter support is ever resampled (a centre crop needs
// 224 of 330 columns). Same integer arithmetic as PIL: separable convolution whose support
// grows with the shrink factor, 22-bit fixed-point coefficients, horizontal pass first,
// 8-bit rounding after each pass; the pixels equal those of the whole resize.
// Reusable: configure() keeps the buffers of the previous image when they are large enough.
class PilResampler {
 public:
  // The output would be outWidth x outHeight; only `region` (inside it) is made. Throws
  // std::invalid_argument for Nearest (see resizeLikePil), sizes <= 0 or channels outside 1..4.
  void configure(int inWidth, int inHeight, int channels, int outWidth, int outHeight,
                 Interpolation interp, const cv::Rect& region);

  // The input columns and rows the region depends on.
  cv::Range inputColumns() const { return m_inColumns; }
  cv::Range inputRows() const { return m_inRows; }

  // Input rows [y, y + rows.rows), whose column 0 is input column x0 and which cover
  // inputColumns(); rows outside inputRows() are skipped. Calls for disjoint rows may run
  // on different threads at once.
  void addRows(const cv::Mat& rows, int y, int x0 = 0);

  // Once every row of inputRows() was added: the region (region.height x region.width,
  // the input's type) into out, resized. Output rows in parallel (cv::parallel_for_).
  void finish(cv::Mat& out) const;

 private:
  struct Axis {
    int inSize = 0;  // what the coefficients are for (kept: the next image is often alike)
    int outSize = 0;
    Interpolation interp = Interpolation::Nearest;
    int kernelSize = 0;
    std::vector<int> first;  // first input index of each output pixel
    std::vector<int> count;
    std::vector<std::int32_t> weights;  // [outSize x kernelSize]
  };
  static void computeAxis(int inSize, int outSize, Interpolation interp, Axis& axis);

  int m_channels = 0;
  cv::Rect m_region;
  bool m_horizontal = false;  // false: the width is unchanged and PIL skips the pass
  bool m_vertical = false;
  Axis m_h;
  Axis m_v;
  cv::Range m_inColumns;
  cv::Range m_inRows;
  cv::Mat m_temp;  // horizontal pass output: inputRows() x region.width
};

// Resizes an 8-bit image (1 to 4 channels) exactly as PIL 9's Image.resize does (the whole
// image through PilResampler, rows in parallel); NEAREST uses PIL's affine sampling.
// cv::resize differs (no antialiasing when shrinking).
cv::Mat resizeLikePil(const cv::Mat& image, int width, int height, Interpolation interp);

}  // namespace patchlens
