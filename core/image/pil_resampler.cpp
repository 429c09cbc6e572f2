#include "core/image/pil_resampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core/utility.hpp>
#include <stdexcept>
#include <vector>

namespace patchlens {
namespace {

// PIL's Resample.c: coefficients carry 32 - 8 - 2 bits of fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubicFilter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double bilinearFilter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For each output pixel: the first input index, how many inputs, and their weights.
struct Coefficients {
  int kernelSize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int32_t> weights;  // [outSize x kernelSize], fixed point
};

// Mirrors precompute_coeffs + normalize_coeffs_8bpc of PIL 9.4 (box = whole image).
Coefficients computeCoefficients(int inSize, int outSize, Interpolation interp) {
  const double support0 = interp == Interpolation::Bicubic ? 2.0 : 1.0;
  double (*filter)(double) = interp == Interpolation::Bicubic ? bicubicFilter : bilinearFilter;
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterScale = std::max(scale, 1.0);
  const double support = support0 * filterScale;
  Coefficients c;
  c.kernelSize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<std::size_t>(outSize));
  c.count.resize(static_cast<std::size_t>(outSize));
  c.weights.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(c.kernelSize), 0);
  std::vector<double> kernel(static_cast<std::size_t>(c.kernelSize));
  const double ss = 1.0 / filterScale;
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    xmin = std::max(xmin, 0);
    int xmax = static_cast<int>(center + support + 0.5);
    xmax = std::min(xmax, inSize) - xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter((x + xmin - center + 0.5) * ss);
      kernel[static_cast<std::size_t>(x)] = w;
      total += w;
    }
    std::int32_t* out =
        &c.weights[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.kernelSize)];
    for (int x = 0; x < xmax; ++x) {
      double k = kernel[static_cast<std::size_t>(x)];
      if (total != 0.0) k /= total;
      const double fixed = k * (1 << kPrecisionBits);
      out[x] = static_cast<std::int32_t>(k < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[static_cast<std::size_t>(xx)] = xmin;
    c.count[static_cast<std::size_t>(xx)] = xmax;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t value) {
  const std::int32_t shifted = value >> kPrecisionBits;
  return static_cast<std::uint8_t>(std::clamp(shifted, 0, 255));
}

// Adds `weight` x one 8-bit row into the accumulators. __restrict: uint8_t may alias
// anything, and without it GCC will not vectorise the loop.
inline void accumulateRow(std::int32_t* __restrict acc, const std::uint8_t* __restrict src,
                          int length, std::int32_t weight) {
  for (int i = 0; i < length; ++i) acc[i] += static_cast<std::int32_t>(src[i]) * weight;
}

inline void storeRow(std::uint8_t* __restrict dst, const std::int32_t* __restrict acc, int length) {
  for (int i = 0; i < length; ++i) dst[i] = clip8(acc[i]);
}

// Vertical pass: output row yy = sum over its taps of input rows (first - rowOffset + k).
void resampleVertical(const cv::Mat& in, cv::Mat& out, int rowOffset, const Coefficients& c) {
  const int rowLength = in.cols * in.channels();
  cv::parallel_for_(cv::Range(0, out.rows), [&](const cv::Range& range) {
    std::vector<std::int32_t> acc(static_cast<std::size_t>(rowLength));
    for (int yy = range.start; yy < range.end; ++yy) {
      const int first = c.first[static_cast<std::size_t>(yy)] - rowOffset;
      const int count = c.count[static_cast<std::size_t>(yy)];
      const std::int32_t* k =
          &c.weights[static_cast<std::size_t>(yy) * static_cast<std::size_t>(c.kernelSize)];
      std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
      for (int y = 0; y < count; ++y)
        accumulateRow(acc.data(), in.ptr<std::uint8_t>(first + y), rowLength, k[y]);
      storeRow(out.ptr<std::uint8_t>(yy), acc.data(), rowLength);
    }
  });
}

// Horizontal pass over input rows [rowBegin, rowBegin + out.rows). Each strip of rows is
// transposed (in cache) so that the taps run over contiguous memory: the same integer sums
// per pixel as PIL's loop, but vectorised along the strip.
void resampleHorizontal(const cv::Mat& in, cv::Mat& out, int rowBegin, const Coefficients& c) {
  constexpr int kStrip = 32;
  const int channels = in.channels();
  const int strips = (out.rows + kStrip - 1) / kStrip;
  cv::parallel_for_(cv::Range(0, strips), [&](const cv::Range& range) {
    cv::Mat transposed;
    cv::Mat stripOut;
    std::vector<std::int32_t> acc(static_cast<std::size_t>(kStrip * channels));
    for (int s = range.start; s < range.end; ++s) {
      const int y0 = s * kStrip;
      const int rows = std::min(kStrip, out.rows - y0);
      cv::transpose(in.rowRange(rowBegin + y0, rowBegin + y0 + rows), transposed);  // cols x rows
      stripOut.create(out.cols, rows, in.type());
      const int length = rows * channels;
      for (int xx = 0; xx < out.cols; ++xx) {
        const int first = c.first[static_cast<std::size_t>(xx)];
        const int count = c.count[static_cast<std::size_t>(xx)];
        const std::int32_t* k =
            &c.weights[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.kernelSize)];
        std::fill_n(acc.begin(), length, 1 << (kPrecisionBits - 1));
        for (int x = 0; x < count; ++x)
          accumulateRow(acc.data(), transposed.ptr<std::uint8_t>(first + x), length, k[x]);
        storeRow(stripOut.ptr<std::uint8_t>(xx), acc.data(), length);
      }
      cv::transpose(stripOut, out.rowRange(y0, y0 + rows));
    }
  });
}

// PIL's ImagingScaleAffine: a[0] = in/out accumulated in double, COORD = floor for >= 0.
std::vector<int> nearestIndices(int inSize, int outSize) {
  std::vector<int> index(static_cast<std::size_t>(outSize), -1);
  const double step = static_cast<double>(inSize) / outSize;
  double pos = step * 0.5;
  for (int x = 0; x < outSize; ++x) {
    const int i = pos < 0.0 ? -1 : static_cast<int>(pos);
    index[static_cast<std::size_t>(x)] = (i >= 0 && i < inSize) ? i : -1;
    pos += step;
  }
  return index;
}

cv::Mat resizeNearest(const cv::Mat& in, int width, int height) {
  const std::vector<int> xs = nearestIndices(in.cols, width);
  const std::vector<int> ys = nearestIndices(in.rows, height);
  cv::Mat out(height, width, in.type(), cv::Scalar::all(0));
  const auto pixelBytes = static_cast<std::size_t>(in.elemSize());
  for (int y = 0; y < height; ++y) {
    const int sy = ys[static_cast<std::size_t>(y)];
    if (sy < 0) continue;
    const std::uint8_t* src = in.ptr<std::uint8_t>(sy);
    std::uint8_t* dst = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      const int sx = xs[static_cast<std::size_t>(x)];
      if (sx >= 0)
        std::copy_n(src + static_cast<std::size_t>(sx) * pixelBytes, pixelBytes,
                    dst + static_cast<std::size_t>(x) * pixelBytes);
    }
  }
  return out;
}

}  // namespace

cv::Mat resizeLikePil(const cv::Mat& image, int width, int height, Interpolation interp) {
  if (image.depth() != CV_8U || image.empty()) {
    throw std::invalid_argument("resizeLikePil needs a non-empty 8-bit image");
  }
  if (width <= 0 || height <= 0) throw std::invalid_argument("resizeLikePil: empty target size");
  if (width == image.cols && height == image.rows) return image.clone();
  if (interp == Interpolation::Nearest) return resizeNearest(image, width, height);

  const bool needHorizontal = width != image.cols;
  const bool needVertical = height != image.rows;
  const Coefficients horizontal = computeCoefficients(image.cols, width, interp);
  const Coefficients vertical = computeCoefficients(image.rows, height, interp);

  // Like PIL, the horizontal pass only covers the rows the vertical pass will read.
  const int firstRow = vertical.first.front();
  const int lastRow = vertical.first.back() + vertical.count.back();
  cv::Mat temp = image;
  int rowOffset = 0;
  if (needHorizontal) {
    const int rows = needVertical ? lastRow - firstRow : image.rows;
    rowOffset = needVertical ? firstRow : 0;
    temp = cv::Mat(rows, width, image.type());
    resampleHorizontal(image, temp, rowOffset, horizontal);
  }
  if (!needVertical) return temp;
  cv::Mat out(height, width, image.type());
  resampleVertical(temp, out, rowOffset, vertical);
  return out;
}

}  // namespace patchlens
