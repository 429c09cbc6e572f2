#include "core/image/pil_resampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core/utility.hpp>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

// Input rows per horizontal strip: a strip's pixels of one column (16 x channels bytes) are
// one vector of accumulators.
constexpr int kStrip = 16;

// The horizontal pass over one strip of up to kStrip rows. The strip is transposed into
// `columns` (column-major: column x holds its kStrip rows' pixels) so that each tap adds one
// contiguous run of kStrip x channels bytes: the same integer sums per pixel as PIL's loop,
// vectorised across the strip's rows. src[r] points at input column colBegin of row r.
template <int kChannels>
void horizontalKernel(const std::uint8_t* const* src, int rowCount, int colBegin, int colEnd,
                      const int* first, const int* count, const std::int32_t* weights,
                      int kernelSize, int outBegin, int outEnd, std::uint8_t* const* dst,
                      std::vector<std::uint8_t>& columns) {
  constexpr int kLanes = kStrip * kChannels;
  const int width = colEnd - colBegin;
  columns.resize(static_cast<std::size_t>(width) * kLanes);
  std::uint8_t* __restrict t = columns.data();
  for (int r = 0; r < rowCount; ++r) {
    const std::uint8_t* __restrict row = src[r];
    std::uint8_t* __restrict out = t + r * kChannels;
    for (int x = 0; x < width; ++x) {
#pragma GCC unroll 4
      for (int c = 0; c < kChannels; ++c)
        out[static_cast<std::size_t>(x) * kLanes + static_cast<std::size_t>(c)] =
            row[x * kChannels + c];
    }
  }
  std::int32_t acc[kLanes];
  for (int xx = outBegin; xx < outEnd; ++xx) {
    const auto o = static_cast<std::size_t>(xx);
    const std::uint8_t* base = t + static_cast<std::ptrdiff_t>(first[o] - colBegin) * kLanes;
    const std::int32_t* k = weights + o * static_cast<std::size_t>(kernelSize);
    for (int i = 0; i < kLanes; ++i) acc[i] = 1 << (kPrecisionBits - 1);
    for (int x = 0; x < count[o]; ++x) {
      const std::uint8_t* __restrict column = base + static_cast<std::ptrdiff_t>(x) * kLanes;
      const std::int32_t w = k[x];
#pragma GCC unroll 4
      for (int i = 0; i < kLanes; ++i) acc[i] += static_cast<std::int32_t>(column[i]) * w;
    }
    const int at = (xx - outBegin) * kChannels;
    for (int r = 0; r < rowCount; ++r) {
      for (int c = 0; c < kChannels; ++c) dst[r][at + c] = clip8(acc[r * kChannels + c]);
    }
  }
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

#if defined(__x86_64__) || defined(__i386__)
#define PATCHLENS_HAVE_AVX512_RESAMPLER 1
#define PATCHLENS_AVX512BW __attribute__((target("avx512f,avx512bw")))

bool avx512bwAvailable() {
  static const bool supported =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return supported;
}

// horizontalKernel<3> in AVX-512: the strip's rows are transposed 16 at a time by one
// gather per column (4 bytes of each row: R G B + the next R), compacted to 48 bytes; each
// tap then adds 3 x 16 widened bytes times its weight (vpmulld: PIL's exact int32 sums).
// src points at row 0's first needed column, rows `step` bytes apart; rowCount <= 16.
PATCHLENS_AVX512BW void horizontalRgbAvx512(const std::uint8_t* src, std::size_t step, int rowCount,
                                            int colBegin, int colEnd, const int* first,
                                            const int* count, const std::int32_t* weights,
                                            int kernelSize, int outBegin, int outEnd,
                                            std::uint8_t* const* dst,
                                            std::vector<std::uint8_t>& columns) {
  constexpr int kStride = 64;  // bytes per transposed column (48 used)
  const int width = colEnd - colBegin;
  columns.resize(static_cast<std::size_t>(width + 1) * kStride);
  std::uint8_t* t = columns.data();
  alignas(64) std::int32_t offsets[16];
  for (int r = 0; r < 16; ++r)
    offsets[r] = static_cast<std::int32_t>(static_cast<std::size_t>(r < rowCount ? r : 0) * step);
  const __m512i index = _mm512_load_si512(offsets);
  // Per 128-bit lane (4 rows of RGBX): keep R G B, drop X; then the 4 lanes' 12 bytes together.
  const __m512i squeeze =
      _mm512_set4_epi32(static_cast<int>(0x80808080), 0x0e0d0c0a, 0x09080605, 0x04020100);
  const __m512i pack = _mm512_set_epi32(15, 15, 15, 15, 14, 13, 12, 10, 9, 8, 6, 5, 4, 2, 1, 0);
  // The last column reads 3 bytes per row, not 4: nothing past the rows' end is touched.
  const int gathered = std::max(0, width - 1);
  for (int x = 0; x < gathered; ++x) {
    const __m512i rgbx = _mm512_i32gather_epi32(index, src + 3 * static_cast<std::size_t>(x), 1);
    const __m512i rgb = _mm512_permutexvar_epi32(pack, _mm512_shuffle_epi8(rgbx, squeeze));
    _mm512_storeu_si512(t + static_cast<std::size_t>(x) * kStride, rgb);
  }
  for (int x = gathered; x < width; ++x) {
    std::uint8_t* column = t + static_cast<std::size_t>(x) * kStride;
    for (int r = 0; r < 16; ++r) {
      const std::uint8_t* pixel = src + static_cast<std::size_t>(r < rowCount ? r : 0) * step +
                                  3 * static_cast<std::size_t>(x);
      column[3 * r] = pixel[0];
      column[3 * r + 1] = pixel[1];
      column[3 * r + 2] = pixel[2];
    }
  }
  const __m512i half = _mm512_set1_epi32(1 << (kPrecisionBits - 1));
  const __m512i zero = _mm512_setzero_si512();
  alignas(64) std::uint8_t block[16 * 48];  // 16 output columns' results, [column][row][c]
  for (int xx0 = outBegin; xx0 < outEnd; xx0 += 16) {
    const int n = std::min(16, outEnd - xx0);
    for (int j = 0; j < n; ++j) {
      const auto o = static_cast<std::size_t>(xx0 + j);
      const std::uint8_t* base = t + static_cast<std::ptrdiff_t>(first[o] - colBegin) * kStride;
      const std::int32_t* k = weights + o * static_cast<std::size_t>(kernelSize);
      __m512i a0 = half;
      __m512i a1 = half;
      __m512i a2 = half;
      for (int x = 0; x < count[o]; ++x) {
        const std::uint8_t* column = base + static_cast<std::ptrdiff_t>(x) * kStride;
        const __m512i w = _mm512_set1_epi32(k[x]);
        a0 = _mm512_add_epi32(
            a0, _mm512_mullo_epi32(
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(column))),
                    w));
        a1 = _mm512_add_epi32(
            a1, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(
                                       reinterpret_cast<const __m128i*>(column + 16))),
                                   w));
        a2 = _mm512_add_epi32(
            a2, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(
                                       reinterpret_cast<const __m128i*>(column + 32))),
                                   w));
      }
      // clip8: >> 22, then [0, 255] (max with 0, unsigned saturation to bytes).
      std::uint8_t* out = block + j * 48;
      _mm_storeu_si128(
          reinterpret_cast<__m128i*>(out),
          _mm512_cvtusepi32_epi8(_mm512_max_epi32(_mm512_srai_epi32(a0, kPrecisionBits), zero)));
      _mm_storeu_si128(
          reinterpret_cast<__m128i*>(out + 16),
          _mm512_cvtusepi32_epi8(_mm512_max_epi32(_mm512_srai_epi32(a1, kPrecisionBits), zero)));
      _mm_storeu_si128(
          reinterpret_cast<__m128i*>(out + 32),
          _mm512_cvtusepi32_epi8(_mm512_max_epi32(_mm512_srai_epi32(a2, kPrecisionBits), zero)));
    }
    for (int r = 0; r < rowCount; ++r) {
      std::uint8_t* row = dst[r] + 3 * static_cast<std::size_t>(xx0 - outBegin);
      for (int j = 0; j < n; ++j) {
        row[3 * j] = block[j * 48 + 3 * r];
        row[3 * j + 1] = block[j * 48 + 3 * r + 1];
        row[3 * j + 2] = block[j * 48 + 3 * r + 2];
      }
    }
  }
}
#endif

}  // namespace

void PilResampler::computeAxis(int inSize, int outSize, Interpolation interp, Axis& axis) {
  if (axis.inSize == inSize && axis.outSize == outSize && axis.interp == interp) return;
  axis.inSize = inSize;
  axis.outSize = outSize;
  axis.interp = interp;
  Coefficients c = computeCoefficients(inSize, outSize, interp);
  axis.kernelSize = c.kernelSize;
  axis.first = std::move(c.first);
  axis.count = std::move(c.count);
  axis.weights = std::move(c.weights);
}

void PilResampler::configure(int inWidth, int inHeight, int channels, int outWidth, int outHeight,
                             Interpolation interp, const cv::Rect& region) {
  if (interp == Interpolation::Nearest)
    throw std::invalid_argument("PilResampler: nearest has no filter (use resizeLikePil)");
  if (inWidth <= 0 || inHeight <= 0 || outWidth <= 0 || outHeight <= 0)
    throw std::invalid_argument("PilResampler: empty size");
  if (channels < 1 || channels > 4) throw std::invalid_argument("PilResampler: 1 to 4 channels");
  if (region.empty() || (region & cv::Rect(0, 0, outWidth, outHeight)) != region)
    throw std::invalid_argument("PilResampler: the region is not inside the output");
  m_channels = channels;
  m_region = region;
  m_horizontal = outWidth != inWidth;
  m_vertical = outHeight != inHeight;
  if (m_horizontal) {
    computeAxis(inWidth, outWidth, interp, m_h);
    int end = 0;
    for (int xx = region.x; xx < region.x + region.width; ++xx) {
      const auto o = static_cast<std::size_t>(xx);
      end = std::max(end, m_h.first[o] + m_h.count[o]);
    }
    m_inColumns = cv::Range(m_h.first[static_cast<std::size_t>(region.x)], end);
  } else {
    m_inColumns = cv::Range(region.x, region.x + region.width);
  }
  if (m_vertical) {
    computeAxis(inHeight, outHeight, interp, m_v);
    int end = 0;
    for (int yy = region.y; yy < region.y + region.height; ++yy) {
      const auto o = static_cast<std::size_t>(yy);
      end = std::max(end, m_v.first[o] + m_v.count[o]);
    }
    m_inRows = cv::Range(m_v.first[static_cast<std::size_t>(region.y)], end);
  } else {
    m_inRows = cv::Range(region.y, region.y + region.height);
  }
  m_temp.create(m_inRows.size(), region.width, CV_MAKETYPE(CV_8U, channels));
}

void PilResampler::addRows(const cv::Mat& rows, int y, int x0) {
  if (rows.depth() != CV_8U || rows.channels() != m_channels)
    throw std::invalid_argument("PilResampler::addRows: wrong pixel type");
  if (x0 > m_inColumns.start || x0 + rows.cols < m_inColumns.end)
    throw std::invalid_argument("PilResampler::addRows: the rows miss needed columns");
  const int begin = std::max(y, m_inRows.start);
  const int end = std::min(y + rows.rows, m_inRows.end);
  const auto pixelBytes = static_cast<std::size_t>(m_channels);
  for (int s = begin; s < end; s += kStrip) {
    const int count = std::min(kStrip, end - s);
    const std::uint8_t* src[kStrip];
    std::uint8_t* dst[kStrip];
    for (int r = 0; r < count; ++r) {
      src[r] = rows.ptr<std::uint8_t>(s + r - y) +
               static_cast<std::size_t>(m_inColumns.start - x0) * pixelBytes;
      dst[r] = m_temp.ptr<std::uint8_t>(s + r - m_inRows.start);
    }
    if (!m_horizontal) {
      for (int r = 0; r < count; ++r)
        std::copy_n(src[r], static_cast<std::size_t>(m_region.width) * pixelBytes, dst[r]);
      continue;
    }
    thread_local std::vector<std::uint8_t> columns;  // the transposed strip, reused
    const int colBegin = m_inColumns.start;
    const int colEnd = m_inColumns.end;
    const int outBegin = m_region.x;
    const int outEnd = m_region.x + m_region.width;
    switch (m_channels) {
      case 1:
        horizontalKernel<1>(src, count, colBegin, colEnd, m_h.first.data(), m_h.count.data(),
                            m_h.weights.data(), m_h.kernelSize, outBegin, outEnd, dst, columns);
        break;
      case 2:
        horizontalKernel<2>(src, count, colBegin, colEnd, m_h.first.data(), m_h.count.data(),
                            m_h.weights.data(), m_h.kernelSize, outBegin, outEnd, dst, columns);
        break;
      case 3:
#ifdef PATCHLENS_HAVE_AVX512_RESAMPLER
        if (avx512bwAvailable()) {
          horizontalRgbAvx512(src[0], rows.step[0], count, colBegin, colEnd, m_h.first.data(),
                              m_h.count.data(), m_h.weights.data(), m_h.kernelSize, outBegin,
                              outEnd, dst, columns);
          break;
        }
#endif
        horizontalKernel<3>(src, count, colBegin, colEnd, m_h.first.data(), m_h.count.data(),
                            m_h.weights.data(), m_h.kernelSize, outBegin, outEnd, dst, columns);
        break;
      default:
        horizontalKernel<4>(src, count, colBegin, colEnd, m_h.first.data(), m_h.count.data(),
                            m_h.weights.data(), m_h.kernelSize, outBegin, outEnd, dst, columns);
        break;
    }
  }
}

#ifdef PATCHLENS_HAVE_AVX512_RESAMPLER
// The vertical pass for one output row, 64 bytes of the row at a time in 4 x 16 int32
// accumulators (PIL's sums, as accumulateRow), clipped and packed back to bytes.
PATCHLENS_AVX512BW void verticalRowAvx512(const std::uint8_t* const* taps, const std::int32_t* k,
                                          int count, int length, std::uint8_t* dst) {
  const __m512i half = _mm512_set1_epi32(1 << (kPrecisionBits - 1));
  const __m512i zero = _mm512_setzero_si512();
  int i = 0;
  for (; i + 64 <= length; i += 64) {
    __m512i a[4] = {half, half, half, half};
    for (int y = 0; y < count; ++y) {
      const __m512i w = _mm512_set1_epi32(k[y]);
      const std::uint8_t* row = taps[y] + i;
      for (int q = 0; q < 4; ++q) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16 * q));
        a[q] = _mm512_add_epi32(a[q], _mm512_mullo_epi32(_mm512_cvtepu8_epi32(bytes), w));
      }
    }
    for (int q = 0; q < 4; ++q) {
      const __m512i clipped = _mm512_max_epi32(_mm512_srai_epi32(a[q], kPrecisionBits), zero);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16 * q),
                       _mm512_cvtusepi32_epi8(clipped));
    }
  }
  for (; i < length; ++i) {
    std::int32_t sum = 1 << (kPrecisionBits - 1);
    for (int y = 0; y < count; ++y) sum += static_cast<std::int32_t>(taps[y][i]) * k[y];
    dst[i] = clip8(sum);
  }
}
#endif

void PilResampler::finish(cv::Mat& out) const {
  out.create(m_region.height, m_region.width, m_temp.type());
  const int length = m_region.width * m_channels;
  if (!m_vertical) {
    m_temp.copyTo(out);
    return;
  }
#ifdef PATCHLENS_HAVE_AVX512_RESAMPLER
  if (avx512bwAvailable()) {
    std::vector<const std::uint8_t*> taps(static_cast<std::size_t>(std::max(m_v.kernelSize, 1)));
    for (int yy = m_region.y; yy < m_region.y + m_region.height; ++yy) {
      const auto o = static_cast<std::size_t>(yy);
      const int first = m_v.first[o] - m_inRows.start;
      const int count = m_v.count[o];
      for (int y = 0; y < count; ++y)
        taps[static_cast<std::size_t>(y)] = m_temp.ptr<std::uint8_t>(first + y);
      verticalRowAvx512(taps.data(), &m_v.weights[o * static_cast<std::size_t>(m_v.kernelSize)],
                        count, length, out.ptr<std::uint8_t>(yy - m_region.y));
    }
    return;
  }
#endif
  cv::parallel_for_(cv::Range(0, m_region.height), [&](const cv::Range& range) {
    std::vector<std::int32_t> acc(static_cast<std::size_t>(length));
    for (int yy = m_region.y + range.start; yy < m_region.y + range.end; ++yy) {
      const auto o = static_cast<std::size_t>(yy);
      const int first = m_v.first[o] - m_inRows.start;
      const int count = m_v.count[o];
      const std::int32_t* k = &m_v.weights[o * static_cast<std::size_t>(m_v.kernelSize)];
      std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
      for (int y = 0; y < count; ++y)
        accumulateRow(acc.data(), m_temp.ptr<std::uint8_t>(first + y), length, k[y]);
      storeRow(out.ptr<std::uint8_t>(yy - m_region.y), acc.data(), length);
    }
  });
}

cv::Mat resizeLikePil(const cv::Mat& image, int width, int height, Interpolation interp) {
  if (image.depth() != CV_8U || image.empty()) {
    throw std::invalid_argument("resizeLikePil needs a non-empty 8-bit image");
  }
  if (width <= 0 || height <= 0) throw std::invalid_argument("resizeLikePil: empty target size");
  if (width == image.cols && height == image.rows) return image.clone();
  if (interp == Interpolation::Nearest) return resizeNearest(image, width, height);

  PilResampler resampler;
  resampler.configure(image.cols, image.rows, image.channels(), width, height, interp,
                      cv::Rect(0, 0, width, height));
  // Bands of input rows in parallel (each writes its own rows of the horizontal pass).
  constexpr int kBand = 4 * kStrip;
  const cv::Range rows = resampler.inputRows();
  const int bands = (rows.size() + kBand - 1) / kBand;
  cv::parallel_for_(cv::Range(0, bands), [&](const cv::Range& range) {
    for (int b = range.start; b < range.end; ++b) {
      const int y0 = rows.start + b * kBand;
      const int y1 = std::min(rows.end, y0 + kBand);
      resampler.addRows(image.rowRange(y0, y1), y0);
    }
  });
  cv::Mat out;
  resampler.finish(out);
  return out;
}

}  // namespace patchlens
