#include "core/model/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>

// The kernel is compiled for AVX-512 whatever the build's -march, and chosen at run time:
// a portable build (PATCHLENS_NATIVE=OFF) still gets it on a CPU that has it.
#define PATCHLENS_AVX512 __attribute__((target("avx512f")))

namespace patchlens {

bool PackedGemm::available() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported;
}

std::string PackedGemm::backendDescription() {
  return available() ? "AVX-512 packed kernel (14x32 tiles), weights packed once"
                     : "Eigen GEMM (no AVX-512 on this CPU)";
}

PackedGemm::PackedGemm(const RowMatrixF& weight, const VectorF& bias)
    : m_depth(static_cast<int>(weight.cols())), m_outputs(static_cast<int>(weight.rows())) {
  const int panelCount = panels();
  m_packedWeights.assign(
      static_cast<std::size_t>(panelCount) * static_cast<std::size_t>(m_depth) * kPanelWidth, 0.0f);
  m_paddedBias.assign(static_cast<std::size_t>(panelCount) * kPanelWidth, 0.0f);
  for (int d = 0; d < m_outputs; ++d) {
    const int panel = d / kPanelWidth;
    const int lane = d % kPanelWidth;
    float* dst = &m_packedWeights[static_cast<std::size_t>(panel) *
                                  static_cast<std::size_t>(m_depth) * kPanelWidth];
    for (int k = 0; k < m_depth; ++k)
      dst[static_cast<std::size_t>(k) * kPanelWidth + static_cast<std::size_t>(lane)] =
          weight(d, k);
    if (bias.size() > 0) m_paddedBias[static_cast<std::size_t>(d)] = bias[d];
  }
}

std::size_t PackedGemm::packedRowsSize(int rows) const {
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  return static_cast<std::size_t>(tiles) * static_cast<std::size_t>(m_depth) * kTileRows;
}

namespace {

// One 14 x 32 tile over k in [0, depth): 28 accumulators + 2 weight registers + 1
// broadcast = 31 of 32 zmm. Starts from the bias, or from `out` when accumulating.
PATCHLENS_AVX512 inline void tile(const float* __restrict a, const float* __restrict b,
                                  const float* bias, int depth, float* out, std::size_t rowStride,
                                  int rows, __mmask16 mask0, __mmask16 mask1, bool accumulate) {
  constexpr int R = PackedGemm::kTileRows;
  __m512 acc0[R];
  __m512 acc1[R];
  const __m512 bias0 = _mm512_loadu_ps(bias);
  const __m512 bias1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  if (accumulate) {
    for (int r = 0; r < rows; ++r) {
      const float* row = out + static_cast<std::size_t>(r) * rowStride;
      acc0[r] = _mm512_maskz_loadu_ps(mask0, row);
      acc1[r] = _mm512_maskz_loadu_ps(mask1, row + 16);
    }
  }
  for (int k = 0; k < depth; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b + k * PackedGemm::kPanelWidth);
    const __m512 b1 = _mm512_loadu_ps(b + k * PackedGemm::kPanelWidth + 16);
    const float* ak = a + k * R;
#pragma GCC unroll 14
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(ak[r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* row = out + static_cast<std::size_t>(r) * rowStride;
    _mm512_mask_storeu_ps(row, mask0, acc0[r]);
    _mm512_mask_storeu_ps(row + 16, mask1, acc1[r]);
  }
}

// The loop over panels and tiles, in AVX-512 code so that tile() inlines into it.
PATCHLENS_AVX512 void multiplyAvx512(const float* packedX, int rows, float* out,
                                     std::size_t rowStride, int panelBegin, int panelEnd, int depth,
                                     int outputs, const std::vector<float>& packedWeights,
                                     const std::vector<float>& paddedBias) {
  constexpr int kTileRows = PackedGemm::kTileRows;
  constexpr int kPanelWidth = PackedGemm::kPanelWidth;
  constexpr int kDepthSlice = PackedGemm::kDepthSlice;
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  for (int p = panelBegin; p < panelEnd; ++p) {
    const int columns = std::min(kPanelWidth, outputs - p * kPanelWidth);
    const auto mask0 = static_cast<__mmask16>(columns >= 16 ? 0xFFFF : (1u << columns) - 1u);
    const auto mask1 = static_cast<__mmask16>(columns >= 32   ? 0xFFFF
                                              : columns <= 16 ? 0u
                                                              : (1u << (columns - 16)) - 1u);
    const float* panel =
        &packedWeights[static_cast<std::size_t>(p) * static_cast<std::size_t>(depth) * kPanelWidth];
    const float* bias = &paddedBias[static_cast<std::size_t>(p) * kPanelWidth];
    // K in slices of kDepthSlice: one slice of the weight panel (24 kB) stays in L1 while
    // every tile of tokens streams past it.
    for (int k0 = 0; k0 < depth; k0 += kDepthSlice) {
      const int slice = std::min(kDepthSlice, depth - k0);
      for (int t = 0; t < tiles; ++t) {
        const int tileRows = std::min(kTileRows, rows - t * kTileRows);
        const float* a = packedX + (static_cast<std::size_t>(t) * static_cast<std::size_t>(depth) +
                                    static_cast<std::size_t>(k0)) *
                                       kTileRows;
        tile(a, panel + static_cast<std::size_t>(k0) * kPanelWidth, bias, slice,
             out + static_cast<std::size_t>(t) * kTileRows * rowStride +
                 static_cast<std::size_t>(p) * kPanelWidth,
             rowStride, tileRows, mask0, mask1, k0 > 0);
      }
    }
  }
}

}  // namespace

void PackedGemm::multiply(const float* packedX, int rows, float* out, std::size_t rowStride,
                          int panelBegin, int panelEnd) const {
  multiplyAvx512(packedX, rows, out, rowStride, panelBegin, panelEnd, m_depth, m_outputs,
                 m_packedWeights, m_paddedBias);
}

}  // namespace patchlens
