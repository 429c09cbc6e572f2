#include "core/model/packed_gemm_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "core/model/packed_gemm.h"

// Compiled for AVX2 + FMA whatever the build's -march and chosen at run time, so a portable
// build (PATCHLENS_NATIVE=OFF, the Debian package) runs it on any CPU since Haswell. AVX-512 is
// switched off here even in a native build on an AVX-512 host: the kernel then has the 16 ymm
// registers it has on the CPUs that run it, and what it measures here is what they get.
#define PATCHLENS_AVX2 __attribute__((target("avx2,fma")))

namespace patchlens::detail {
namespace {

constexpr int kTileRows = PackedGemm::kTileRows;
constexpr int kPanelWidth = PackedGemm::kPanelWidth;
constexpr int kLanes = 8;   // floats per ymm
constexpr int kWidth = 16;  // outputs per register tile: a panel is two of them
// Rows per register tile: a micro-row of 14 is 6 + 4 + 4 (12, 8 and 8 accumulators). Measured
// on Zen 5 against 5 + 5 + 4 (1-3 points of the peak better) and 6 + 6 + 2 (the 2-row tile's 4
// accumulators cannot hide the FMA latency: 6 points worse).
constexpr int kGroupStart[] = {0, 6, 10, kTileRows};
constexpr int kGroups = 3;

enum class Prefetch { None, NextRows, NextWeights };

PATCHLENS_AVX2 __m256i laneMask(int columns) {
  alignas(32) std::int32_t lanes[kLanes];
  for (int l = 0; l < kLanes; ++l) lanes[l] = l < columns ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

// kRows x 16 outputs over k in [0, depth) (kRows <= 6: 12 accumulators + 2 weights + 1
// broadcast of 16 ymm): 2 weight loads and kRows broadcasts per 2 kRows FMAs. `a` points at
// the tile's first row inside a micro-row (rows kTileRows floats apart per k). Starts from the
// bias, or from `out` when accumulating (a later K slice). A tile of a whole 16 outputs uses
// plain loads and stores (kMasked false): live lane masks took two of the 16 registers and
// made the compiler spill a weight register inside the k loop (47 % of the peak). kPrefetch
// fetches the micro-row after this one (NextRows: 56 bytes per k) or the weight slice after
// this one (NextWeights: 128 bytes per k) into L1 while this tile computes.
template <int kRows, bool kMasked, Prefetch kPrefetch>
PATCHLENS_AVX2 __attribute__((noinline)) void tile(const float* __restrict a,
                                                   const float* __restrict b, const float* bias,
                                                   int depth, float* out, std::size_t rowStride,
                                                   int columns, bool accumulate,
                                                   const float* next) {
  __m256 acc0[kRows];
  __m256 acc1[kRows];
  if (accumulate) {
    if constexpr (kMasked) {
      const __m256i mask0 = laneMask(columns);
      const __m256i mask1 = laneMask(columns - kLanes);
#pragma GCC unroll 6
      for (int r = 0; r < kRows; ++r) {
        const float* row = out + static_cast<std::size_t>(r) * rowStride;
        acc0[r] = _mm256_maskload_ps(row, mask0);
        acc1[r] = _mm256_maskload_ps(row + kLanes, mask1);
      }
    } else {
#pragma GCC unroll 6
      for (int r = 0; r < kRows; ++r) {
        const float* row = out + static_cast<std::size_t>(r) * rowStride;
        acc0[r] = _mm256_loadu_ps(row);
        acc1[r] = _mm256_loadu_ps(row + kLanes);
      }
    }
  } else {
    const __m256 bias0 = _mm256_loadu_ps(bias);
    const __m256 bias1 = _mm256_loadu_ps(bias + kLanes);
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      acc0[r] = bias0;
      acc1[r] = bias1;
    }
  }
  for (int k = 0; k < depth; ++k) {
    if constexpr (kPrefetch == Prefetch::NextRows) {
      _mm_prefetch(reinterpret_cast<const char*>(next + static_cast<std::size_t>(k) * kTileRows),
                   _MM_HINT_T0);
    } else if constexpr (kPrefetch == Prefetch::NextWeights) {
      const float* line = next + static_cast<std::size_t>(k) * kPanelWidth;
      _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(line + kWidth), _MM_HINT_T0);
    }
    __m256 w0 = _mm256_loadu_ps(b + static_cast<std::size_t>(k) * kPanelWidth);
    __m256 w1 = _mm256_loadu_ps(b + static_cast<std::size_t>(k) * kPanelWidth + kLanes);
    // Both weight vectors in registers, loaded once per k: left to itself, GCC folded them
    // into every FMA as memory operands where the tile was inlined (kRows + 2 loads per k
    // instead of 2, a load-bound loop at 59 % of the peak on Zen 5 in a -march=native build).
    asm("" : "+x"(w0), "+x"(w1));
    const float* ak = a + static_cast<std::size_t>(k) * kTileRows;
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_broadcast_ss(ak + r);
      acc0[r] = _mm256_fmadd_ps(av, w0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, w1, acc1[r]);
    }
  }
  if constexpr (kMasked) {
    const __m256i mask0 = laneMask(columns);
    const __m256i mask1 = laneMask(columns - kLanes);
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      float* row = out + static_cast<std::size_t>(r) * rowStride;
      _mm256_maskstore_ps(row, mask0, acc0[r]);
      _mm256_maskstore_ps(row + kLanes, mask1, acc1[r]);
    }
  } else {
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      float* row = out + static_cast<std::size_t>(r) * rowStride;
      _mm256_storeu_ps(row, acc0[r]);
      _mm256_storeu_ps(row + kLanes, acc1[r]);
    }
  }
}

// tile<rows> for a run-time row count in [1, 6].
template <bool kMasked, Prefetch kPrefetch>
PATCHLENS_AVX2 inline void anyTile(int rows, const float* a, const float* b, const float* bias,
                                   int depth, float* out, std::size_t rowStride, int columns,
                                   bool accumulate, const float* next) {
  switch (rows) {
    case 1:
      tile<1, kMasked, kPrefetch>(a, b, bias, depth, out, rowStride, columns, accumulate, next);
      break;
    case 2:
      tile<2, kMasked, kPrefetch>(a, b, bias, depth, out, rowStride, columns, accumulate, next);
      break;
    case 3:
      tile<3, kMasked, kPrefetch>(a, b, bias, depth, out, rowStride, columns, accumulate, next);
      break;
    case 4:
      tile<4, kMasked, kPrefetch>(a, b, bias, depth, out, rowStride, columns, accumulate, next);
      break;
    case 5:
      tile<5, kMasked, kPrefetch>(a, b, bias, depth, out, rowStride, columns, accumulate, next);
      break;
    default:
      tile<6, kMasked, kPrefetch>(a, b, bias, depth, out, rowStride, columns, accumulate, next);
      break;
  }
}

template <bool kMasked>
PATCHLENS_AVX2 inline void prefetchingTile(Prefetch prefetch, int rows, const float* a,
                                           const float* b, const float* bias, int depth, float* out,
                                           std::size_t rowStride, int columns, bool accumulate,
                                           const float* next) {
  if (prefetch == Prefetch::NextRows) {
    anyTile<kMasked, Prefetch::NextRows>(rows, a, b, bias, depth, out, rowStride, columns,
                                         accumulate, next);
  } else if (prefetch == Prefetch::NextWeights) {
    anyTile<kMasked, Prefetch::NextWeights>(rows, a, b, bias, depth, out, rowStride, columns,
                                            accumulate, next);
  } else {
    anyTile<kMasked, Prefetch::None>(rows, a, b, bias, depth, out, rowStride, columns, accumulate,
                                     next);
  }
}

}  // namespace

PATCHLENS_AVX2 void multiplyAvx2(const float* packedX, int rows, float* out, std::size_t rowStride,
                                 int panelBegin, int panelEnd, int depth, int outputs,
                                 int depthSlice, const float* packedWeights,
                                 const float* paddedBias) {
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  const int allPanels = (outputs + kPanelWidth - 1) / kPanelWidth;
  for (int p = panelBegin; p < panelEnd; ++p) {
    const float* panel =
        packedWeights + static_cast<std::size_t>(p) * static_cast<std::size_t>(depth) * kPanelWidth;
    // K in slices small enough that one slice of the panel (both halves) and of one micro-row
    // stay in L1 (GemmBlocking, Kernel::Avx2): the panel slice is reused by every micro-row,
    // the micro-row slice by both halves and all three row groups.
    for (int k0 = 0; k0 < depth; k0 += depthSlice) {
      const int slice = std::min(depthSlice, depth - k0);
      // The weights after this slice (the panel's next slice, or the next panel's first; both
      // inside the packed weights), fetched by the first micro-row's middle tile.
      const bool lastSlice = k0 + slice >= depth;
      const float* nextWeights =
          !lastSlice          ? panel + static_cast<std::size_t>(k0 + slice) * kPanelWidth
          : p + 1 < allPanels ? panel + static_cast<std::size_t>(depth) * kPanelWidth
                              : nullptr;
      const int nextDepth =
          !lastSlice ? std::min(slice, depth - k0 - slice) : std::min(slice, depth);
      for (int t = 0; t < tiles; ++t) {
        const int tileRows = std::min(kTileRows, rows - t * kTileRows);
        const float* a = packedX + (static_cast<std::size_t>(t) * static_cast<std::size_t>(depth) +
                                    static_cast<std::size_t>(k0)) *
                                       kTileRows;
        // The same slice of the next micro-row, fetched by the second half's first tile.
        const float* nextRows =
            t + 1 < tiles ? a + static_cast<std::size_t>(depth) * kTileRows : nullptr;
        for (int half = 0; half < kPanelWidth / kWidth; ++half) {
          const int c0 = p * kPanelWidth + half * kWidth;
          const int columns = std::min(kWidth, outputs - c0);
          if (columns <= 0) break;
          const float* weights = panel + static_cast<std::size_t>(k0) * kPanelWidth + half * kWidth;
          const float* bias = paddedBias + c0;
          float* o = out + static_cast<std::size_t>(t) * kTileRows * rowStride +
                     static_cast<std::size_t>(c0);
          for (int g = 0; g < kGroups && kGroupStart[g] < tileRows; ++g) {
            const int r0 = kGroupStart[g];
            const int groupRows = std::min(kGroupStart[g + 1], tileRows) - r0;
            Prefetch prefetch = Prefetch::None;
            const float* next = nullptr;
            if (half == 1 && g == 0 && nextRows) {
              prefetch = Prefetch::NextRows;
              next = nextRows;
            } else if (t == 0 && half == 0 && g == 1 && nextWeights && nextDepth == slice) {
              prefetch = Prefetch::NextWeights;
              next = nextWeights;
            }
            float* groupOut = o + static_cast<std::size_t>(r0) * rowStride;
            if (columns == kWidth) {
              prefetchingTile<false>(prefetch, groupRows, a + r0, weights, bias, slice, groupOut,
                                     rowStride, columns, k0 > 0, next);
            } else {
              prefetchingTile<true>(prefetch, groupRows, a + r0, weights, bias, slice, groupOut,
                                    rowStride, columns, k0 > 0, next);
            }
          }
        }
      }
    }
  }
}

namespace {

// 8 x 8 transpose in registers: r[i][j] becomes r[j][i].
PATCHLENS_AVX2 inline void transpose8(__m256 (&r)[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 s[8];
  for (int i = 0; i < 2; ++i) {
    s[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
  }
}

}  // namespace

PATCHLENS_AVX2 void packTransposedPanelAvx2(const float* packedWeights, int depth, int outputs,
                                            int k0, int width, float* dst) {
  const int panelCount = (outputs + kPanelWidth - 1) / kPanelWidth;
  for (int q = 0; q < panelCount; ++q) {
    const float* src =
        packedWeights + (static_cast<std::size_t>(q) * static_cast<std::size_t>(depth) +
                         static_cast<std::size_t>(k0)) *
                            kPanelWidth;
    float* panelDst = dst + static_cast<std::size_t>(q) * kPanelWidth * kPanelWidth;
    for (int g = 0; g < kPanelWidth / kLanes; ++g) {  // 8 columns of dst: 8 k of the panel
      const int present = std::clamp(width - kLanes * g, 0, kLanes);
      for (int h = 0; h < kPanelWidth / kLanes; ++h) {  // 8 rows of dst: 8 lanes of the panel
        __m256 v[kLanes];
#pragma GCC unroll 8
        for (int i = 0; i < kLanes; ++i)
          v[i] =
              i < present
                  ? _mm256_loadu_ps(src + static_cast<std::size_t>(kLanes * g + i) * kPanelWidth +
                                    kLanes * h)
                  : _mm256_setzero_ps();
        transpose8(v);
        float* d = panelDst + static_cast<std::size_t>(kLanes * h) * kPanelWidth + kLanes * g;
#pragma GCC unroll 8
        for (int l = 0; l < kLanes; ++l)
          _mm256_storeu_ps(d + static_cast<std::size_t>(l) * kPanelWidth, v[l]);
      }
    }
  }
}

}  // namespace patchlens::detail
