#include "core/model/packed_gemm_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "core/model/packed_gemm.h"

// Compiled for AVX2 + FMA whatever the build's -march and chosen at run time, so a portable
// build (PATCHLENS_NATIVE=OFF, the Debian package) runs it on any CPU since Haswell.
#define PATCHLENS_AVX2 __attribute__((target("avx2,fma")))

namespace patchlens::detail {
namespace {

constexpr int kTileRows = PackedGemm::kTileRows;
constexpr int kPanelWidth = PackedGemm::kPanelWidth;
constexpr int kLanes = 8;   // floats per ymm
constexpr int kWidth = 16;  // outputs per register tile: a panel is two of them
constexpr int kGroup = 5;   // rows per register tile: a micro-row of 14 is 5 + 5 + 4

// kRows x 16 outputs over k in [0, depth) (kRows <= 6: 12 accumulators + 2 weights + 1
// broadcast of 16 ymm): 2 weight loads and kRows broadcasts per 2 kRows FMAs, so the FMAs
// and not the loads set the pace. `a` points at the tile's first row inside a micro-row
// (rows kTileRows floats apart per k). Starts from the bias, or from `out` when accumulating;
// mask0 / mask1 keep the columns that exist (a last, narrower panel).
template <int kRows>
PATCHLENS_AVX2 inline void tile(const float* __restrict a, const float* __restrict b,
                                const float* bias, int depth, float* out, std::size_t rowStride,
                                __m256i mask0, __m256i mask1, bool accumulate) {
  __m256 acc0[kRows];
  __m256 acc1[kRows];
  if (accumulate) {
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      const float* row = out + static_cast<std::size_t>(r) * rowStride;
      acc0[r] = _mm256_maskload_ps(row, mask0);
      acc1[r] = _mm256_maskload_ps(row + kLanes, mask1);
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
    const __m256 w0 = _mm256_loadu_ps(b + static_cast<std::size_t>(k) * kPanelWidth);
    const __m256 w1 = _mm256_loadu_ps(b + static_cast<std::size_t>(k) * kPanelWidth + kLanes);
    const float* ak = a + static_cast<std::size_t>(k) * kTileRows;
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_broadcast_ss(ak + r);
      acc0[r] = _mm256_fmadd_ps(av, w0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, w1, acc1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kRows; ++r) {
    float* row = out + static_cast<std::size_t>(r) * rowStride;
    _mm256_maskstore_ps(row, mask0, acc0[r]);
    _mm256_maskstore_ps(row + kLanes, mask1, acc1[r]);
  }
}

template <int... kRows>
PATCHLENS_AVX2 inline void anyTile(std::integer_sequence<int, kRows...>, int rows, const float* a,
                                   const float* b, const float* bias, int depth, float* out,
                                   std::size_t rowStride, __m256i mask0, __m256i mask1,
                                   bool accumulate) {
  ((rows == kRows + 1 ? tile<kRows + 1>(a, b, bias, depth, out, rowStride, mask0, mask1, accumulate)
                      : void()),
   ...);
}

PATCHLENS_AVX2 __m256i laneMask(int columns) {
  alignas(32) std::int32_t lanes[kLanes];
  for (int l = 0; l < kLanes; ++l) lanes[l] = l < columns ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

}  // namespace

PATCHLENS_AVX2 void multiplyAvx2(const float* packedX, int rows, float* out, std::size_t rowStride,
                                 int panelBegin, int panelEnd, int depth, int outputs,
                                 int depthSlice, const float* packedWeights,
                                 const float* paddedBias) {
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  for (int p = panelBegin; p < panelEnd; ++p) {
    const float* panel =
        packedWeights + static_cast<std::size_t>(p) * static_cast<std::size_t>(depth) * kPanelWidth;
    for (int k0 = 0; k0 < depth; k0 += depthSlice) {
      const int slice = std::min(depthSlice, depth - k0);
      // A half panel's slice (16 floats per k) is reused by every row group of every micro-row.
      for (int half = 0; half < kPanelWidth / kWidth; ++half) {
        const int c0 = p * kPanelWidth + half * kWidth;
        const int columns = std::min(kWidth, outputs - c0);
        if (columns <= 0) break;
        const __m256i mask0 = laneMask(columns);
        const __m256i mask1 = laneMask(columns - kLanes);
        const float* weights = panel + static_cast<std::size_t>(k0) * kPanelWidth + half * kWidth;
        const float* bias = paddedBias + c0;
        for (int t = 0; t < tiles; ++t) {
          const int tileRows = std::min(kTileRows, rows - t * kTileRows);
          const float* a =
              packedX + (static_cast<std::size_t>(t) * static_cast<std::size_t>(depth) +
                         static_cast<std::size_t>(k0)) *
                            kTileRows;
          float* o = out + static_cast<std::size_t>(t) * kTileRows * rowStride +
                     static_cast<std::size_t>(c0);
          for (int r0 = 0; r0 < tileRows; r0 += kGroup) {
            const int groupRows = std::min(kGroup, tileRows - r0);
            float* groupOut = o + static_cast<std::size_t>(r0) * rowStride;
            if (groupRows == kGroup) {
              tile<kGroup>(a + r0, weights, bias, slice, groupOut, rowStride, mask0, mask1, k0 > 0);
            } else {
              anyTile(std::make_integer_sequence<int, kGroup - 1>(), groupRows, a + r0, weights,
                      bias, slice, groupOut, rowStride, mask0, mask1, k0 > 0);
            }
          }
        }
      }
    }
  }
}

}  // namespace patchlens::detail
