#include "core/model/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

// The kernel is compiled for AVX-512 whatever the build's -march, and chosen at run time:
// a portable build (PATCHLENS_NATIVE=OFF) still gets it on a CPU that has it.
#define PATCHLENS_AVX512 __attribute__((target("avx512f")))

namespace patchlens {

bool PackedGemm::available() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported;
}

std::string PackedGemm::backendDescription() {
  return available() ? "AVX-512 packed kernel (14x32 tiles, " +
                           GemmBlocking::choose(CpuCaches::host(), 768).describe() +
                           " for K = 768; " + CpuCaches::host().describe() + ")"
                     : "Eigen GEMM (no AVX-512 on this CPU)";
}

PackedGemm::PackedGemm(const RowMatrixF& weight, const VectorF& bias)
    : PackedGemm(weight, bias,
                 GemmBlocking::choose(CpuCaches::host(), static_cast<int>(weight.cols()))) {}

PackedGemm::PackedGemm(const RowMatrixF& weight, const VectorF& bias, const GemmBlocking& blocking)
    : m_depth(static_cast<int>(weight.cols())),
      m_outputs(static_cast<int>(weight.rows())),
      m_blocking(blocking) {
  m_blocking.depthSlice = std::clamp(m_blocking.depthSlice, 1, std::max(m_depth, 1));
  m_blocking.blockTiles = std::max(m_blocking.blockTiles, 1);
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

constexpr int kTileRows = PackedGemm::kTileRows;
constexpr int kPanelWidth = PackedGemm::kPanelWidth;

// One 14 x 32 tile over k in [0, depth): 28 accumulators + 2 weight registers + 1
// broadcast = 31 of 32 zmm. Starts from the bias, or from `out` when accumulating.
// kFull (all 14 rows valid) has no row-count test anywhere, so the accumulators never
// leave the registers; a last partial micro-row takes the general path.
template <bool kFull, bool kStream = false, bool kPrefetch = false>
PATCHLENS_AVX512 inline void tile(const float* __restrict a, const float* __restrict b,
                                  const float* bias, int depth, float* out, std::size_t rowStride,
                                  int rows, __mmask16 mask0, __mmask16 mask1, bool accumulate,
                                  const float* next = nullptr) {
  __m512 acc0[kTileRows];
  __m512 acc1[kTileRows];
  if (accumulate) {
#pragma GCC unroll 14
    for (int r = 0; r < kTileRows; ++r) {
      if (kFull || r < rows) {
        const float* row = out + static_cast<std::size_t>(r) * rowStride;
        acc0[r] = _mm512_maskz_loadu_ps(mask0, row);
        acc1[r] = _mm512_maskz_loadu_ps(mask1, row + 16);
      } else {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
      }
    }
  } else {
    const __m512 bias0 = _mm512_loadu_ps(bias);
    const __m512 bias1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 14
    for (int r = 0; r < kTileRows; ++r) {
      acc0[r] = bias0;
      acc1[r] = bias1;
    }
  }
  for (int k = 0; k < depth; ++k) {
    if constexpr (kPrefetch) {
      // The next panel's weight slice into L2 while this panel's first tile runs, so that
      // its first tile does not wait for L3 (a thread with few tiles per panel would).
      _mm_prefetch(reinterpret_cast<const char*>(next + k * kPanelWidth), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + k * kPanelWidth + 16), _MM_HINT_T1);
    }
    const __m512 b0 = _mm512_loadu_ps(b + k * kPanelWidth);
    const __m512 b1 = _mm512_loadu_ps(b + k * kPanelWidth + 16);
    const float* ak = a + k * kTileRows;
#pragma GCC unroll 14
    for (int r = 0; r < kTileRows; ++r) {
      const __m512 av = _mm512_set1_ps(ak[r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < kTileRows; ++r) {
    if (kFull || r < rows) {
      float* row = out + static_cast<std::size_t>(r) * rowStride;
      if constexpr (kStream) {
        _mm512_stream_ps(row, acc0[r]);
        _mm512_stream_ps(row + 16, acc1[r]);
      } else {
        _mm512_mask_storeu_ps(row, mask0, acc0[r]);
        _mm512_mask_storeu_ps(row + 16, mask1, acc1[r]);
      }
    }
  }
}

// The loop over panels and tiles, in AVX-512 code so that tile() inlines into it.
PATCHLENS_AVX512 void multiplyAvx512(const float* packedX, int rows, float* out,
                                     std::size_t rowStride, int panelBegin, int panelEnd, int depth,
                                     int outputs, int depthSlice,
                                     const std::vector<float>& packedWeights,
                                     const std::vector<float>& paddedBias, bool streamOutput) {
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  // Streaming stores need whole aligned 64-byte halves of a tile row and one pass over K.
  const bool stream = streamOutput && depthSlice >= depth &&
                      reinterpret_cast<std::uintptr_t>(out) % 64 == 0 && rowStride % 16 == 0;
  for (int p = panelBegin; p < panelEnd; ++p) {
    const int columns = std::min(kPanelWidth, outputs - p * kPanelWidth);
    const auto mask0 = static_cast<__mmask16>(columns >= 16 ? 0xFFFF : (1u << columns) - 1u);
    const auto mask1 = static_cast<__mmask16>(columns >= 32   ? 0xFFFF
                                              : columns <= 16 ? 0u
                                                              : (1u << (columns - 16)) - 1u);
    const float* panel =
        &packedWeights[static_cast<std::size_t>(p) * static_cast<std::size_t>(depth) * kPanelWidth];
    const float* bias = &paddedBias[static_cast<std::size_t>(p) * kPanelWidth];
    // K in slices (GemmBlocking): one slice of the weight panel stays in cache while every
    // tile of tokens streams past it.
    for (int k0 = 0; k0 < depth; k0 += depthSlice) {
      const int slice = std::min(depthSlice, depth - k0);
      const float* weights = panel + static_cast<std::size_t>(k0) * kPanelWidth;
      for (int t = 0; t < tiles; ++t) {
        const int tileRows = std::min(kTileRows, rows - t * kTileRows);
        const float* a = packedX + (static_cast<std::size_t>(t) * static_cast<std::size_t>(depth) +
                                    static_cast<std::size_t>(k0)) *
                                       kTileRows;
        float* o = out + static_cast<std::size_t>(t) * kTileRows * rowStride +
                   static_cast<std::size_t>(p) * kPanelWidth;
        // The first tile of a panel also fetches the next panel's slice (1-3 % faster on
        // 1 and 2 threads, interleaved A/B on 224/16/768).
        const bool prefetch = t == 0 && p + 1 < panelEnd;
        const float* next = weights + static_cast<std::size_t>(depth) * kPanelWidth;
        if (tileRows == kTileRows && stream && columns == kPanelWidth) {
          if (prefetch) {
            tile<true, true, true>(a, weights, bias, slice, o, rowStride, tileRows, mask0, mask1,
                                   false, next);
          } else {
            tile<true, true>(a, weights, bias, slice, o, rowStride, tileRows, mask0, mask1, false);
          }
        } else if (tileRows == kTileRows && prefetch) {
          tile<true, false, true>(a, weights, bias, slice, o, rowStride, tileRows, mask0, mask1,
                                  k0 > 0, next);
        } else if (tileRows == kTileRows) {
          tile<true>(a, weights, bias, slice, o, rowStride, tileRows, mask0, mask1, k0 > 0);
        } else {
          tile<false>(a, weights, bias, slice, o, rowStride, tileRows, mask0, mask1, k0 > 0);
        }
      }
    }
  }
}

// 16 x 16 transpose in registers: v[i][j] becomes v[j][i].
PATCHLENS_AVX512 inline void transpose16(__m512 (&v)[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]);
    const __m512d b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d d = _mm512_castps_pd(t[4 * i + 3]);
    v[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    v[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    v[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    v[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Each 128-bit lane now holds a 4 x 4 block; gather the lanes.
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(v[8 * i + j], v[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(v[8 * i + j], v[8 * i + 4 + j], 0xDD);
    }
  }
  for (int j = 0; j < 4; ++j) {
    v[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    v[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    v[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
    v[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
  }
}

PATCHLENS_AVX512 void packMicroRowAvx512(const float* const* rows, int count, int columns,
                                         float* dst) {
  constexpr auto kRowMask = static_cast<__mmask16>((1u << kTileRows) - 1u);
  for (int c0 = 0; c0 < columns; c0 += 16) {
    const int width = std::min(16, columns - c0);
    const auto load = static_cast<__mmask16>((1u << width) - 1u);
    __m512 v[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; ++r)
      v[r] = r < count ? _mm512_maskz_loadu_ps(load, rows[r] + c0) : _mm512_setzero_ps();
    transpose16(v);
    float* d = dst + static_cast<std::size_t>(c0) * kTileRows;
    for (int c = 0; c < width; ++c)
      _mm512_mask_storeu_ps(d + static_cast<std::size_t>(c) * kTileRows, kRowMask, v[c]);
  }
}

}  // namespace

void PackedGemm::packMicroRow(const float* const* rows, int count, int columns, float* dst) {
  packMicroRowAvx512(rows, std::clamp(count, 0, kTileRows), columns, dst);
}

void PackedGemm::multiply(const float* packedX, int rows, float* out, std::size_t rowStride,
                          int panelBegin, int panelEnd, bool streamOutput) const {
  multiplyAvx512(packedX, rows, out, rowStride, panelBegin, panelEnd, m_depth, m_outputs,
                 m_blocking.depthSlice, m_packedWeights, m_paddedBias, streamOutput);
  if (streamOutput) _mm_sfence();  // the streamed rows are visible before the caller reads
}

}  // namespace patchlens
