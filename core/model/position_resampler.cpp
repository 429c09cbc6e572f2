#include "core/model/position_resampler.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace patchlens {
namespace {

// One output pixel along one axis: input indices and their weights.
struct Taps {
  std::vector<int> index;
  std::vector<float> weight;
};

float cubicInner(float x, float a) {  // |x| <= 1
  return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
}
float cubicOuter(float x, float a) {  // 1 < |x| < 2
  return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
}

// torch upsample_bicubic2d: source = scale * (dst + 0.5) - 0.5 (not clamped for cubic), four
// taps at floor(source) - 1 .. + 2 clamped into the input, A = -0.75.
std::vector<Taps> cubicTaps(int in, int out, double scale) {
  constexpr float kA = -0.75f;
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  const auto s = static_cast<float>(scale);
  for (int o = 0; o < out; ++o) {
    const float source = s * (static_cast<float>(o) + 0.5f) - 0.5f;
    const float floorSource = std::floor(source);
    const int i0 = static_cast<int>(floorSource);
    const float t = source - floorSource;
    const float w[4] = {cubicOuter(t + 1.0f, kA), cubicInner(t, kA), cubicInner(1.0f - t, kA),
                        cubicOuter(2.0f - t, kA)};
    Taps& tp = taps[static_cast<std::size_t>(o)];
    for (int k = 0; k < 4; ++k) {
      tp.index.push_back(std::clamp(i0 - 1 + k, 0, in - 1));
      tp.weight.push_back(w[k]);
    }
  }
  return taps;
}

// PIL's bicubic filter (A = -0.5), as torch's antialiased kernels use it.
float aaCubic(float x) {
  constexpr float kA = -0.5f;
  x = std::fabs(x);
  if (x < 1.0f) return cubicInner(x, kA);
  if (x < 2.0f) return cubicOuter(x, kA);
  return 0.0f;
}

// torch's antialiased kernels: PIL's triangle filter (bilinear).
float aaTriangle(float x) {
  x = std::fabs(x);
  return x < 1.0f ? 1.0f - x : 0.0f;
}

// torch _upsample_bicubic2d_aa / _upsample_bilinear2d_aa (aten/src/ATen/native/cpu/
// UpSampleKernel.cpp, _compute_indices_weights_aa): support (interp_size / 2) * max(scale, 1)
// (interp_size 4 cubic, 2 bilinear), weights normalised to sum 1.
std::vector<Taps> antialiasTaps(int in, int out, float (*filter)(float), float halfWidth) {
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float support = scale >= 1.0f ? halfWidth * scale : halfWidth;
  const float invScale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  for (int o = 0; o < out; ++o) {
    const float center = scale * (static_cast<float>(o) + 0.5f);
    const int xmin = std::max(static_cast<int>(center - support + 0.5f), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5f), in);
    Taps& tp = taps[static_cast<std::size_t>(o)];
    float total = 0.0f;
    for (int j = xmin; j < xmax; ++j) {
      const float w = filter((static_cast<float>(j) - center + 0.5f) * invScale);
      tp.index.push_back(j);
      tp.weight.push_back(w);
      total += w;
    }
    if (total != 0.0f) {
      for (float& w : tp.weight) w /= total;
    }
  }
  return taps;
}

// Rows first (a weighted sum of whole table rows per output row), then columns.
RowMatrixF separable(const RowMatrixF& table, int rows, int cols, int outRows, int outCols,
                     const std::vector<Taps>& rowTaps, const std::vector<Taps>& colTaps) {
  const Eigen::Index d = table.cols();
  RowMatrixF horizontal = RowMatrixF::Zero(static_cast<Eigen::Index>(rows) * outCols, d);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < outCols; ++x) {
      const Taps& t = colTaps[static_cast<std::size_t>(x)];
      auto dst = horizontal.row(y * outCols + x);
      for (std::size_t k = 0; k < t.index.size(); ++k)
        dst += t.weight[k] * table.row(y * cols + t.index[k]);
    }
  }
  RowMatrixF out = RowMatrixF::Zero(static_cast<Eigen::Index>(outRows) * outCols, d);
  for (int y = 0; y < outRows; ++y) {
    const Taps& t = rowTaps[static_cast<std::size_t>(y)];
    for (int x = 0; x < outCols; ++x) {
      auto dst = out.row(y * outCols + x);
      for (std::size_t k = 0; k < t.index.size(); ++k)
        dst += t.weight[k] * horizontal.row(t.index[k] * outCols + x);
    }
  }
  return out;
}

}  // namespace

RowMatrixF PositionResampler::bicubic(const RowMatrixF& table, int rows, int cols, int outRows,
                                      int outCols, double scaleRows, double scaleCols) {
  return separable(table, rows, cols, outRows, outCols, cubicTaps(rows, outRows, scaleRows),
                   cubicTaps(cols, outCols, scaleCols));
}

RowMatrixF PositionResampler::bicubicAntialias(const RowMatrixF& table, int rows, int cols,
                                               int outRows, int outCols) {
  return separable(table, rows, cols, outRows, outCols, antialiasTaps(rows, outRows, aaCubic, 2.0f),
                   antialiasTaps(cols, outCols, aaCubic, 2.0f));
}

RowMatrixF PositionResampler::bilinearAntialias(const RowMatrixF& table, int rows, int cols,
                                                int outRows, int outCols) {
  return separable(table, rows, cols, outRows, outCols,
                   antialiasTaps(rows, outRows, aaTriangle, 1.0f),
                   antialiasTaps(cols, outCols, aaTriangle, 1.0f));
}

}  // namespace patchlens
