#include "core/model/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "core/model/omp_thread.h"
#include "core/model/packed_gemm_avx2.h"

// The kernel is compiled for AVX-512 whatever the build's -march, and chosen at run time:
// a portable build (PATCHLENS_NATIVE=OFF) still gets it on a CPU that has it.
#define PATCHLENS_AVX512 __attribute__((target("avx512f")))

namespace patchlens {

std::optional<PackedGemm::Kernel> PackedGemm::hostKernel() {
  static const std::optional<Kernel> kernel = [] {
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char* wanted = std::getenv("PATCHLENS_GEMM");
    const std::string choice = wanted ? wanted : "";
    if (choice == "eigen") return std::optional<Kernel>();
    if (avx512 && choice != "avx2") return std::optional<Kernel>(Kernel::Avx512);
    if (avx2) return std::optional<Kernel>(Kernel::Avx2);
    return std::optional<Kernel>();
  }();
  return kernel;
}

std::string PackedGemm::backendDescription() {
  const auto kernel = hostKernel();
  if (!kernel) return "Eigen GEMM (no AVX2 + FMA on this CPU, or PATCHLENS_GEMM=eigen)";
  return std::string(*kernel == Kernel::Avx512 ? "AVX-512 packed kernel (14x32 tiles, "
                                               : "AVX2 packed kernel (6x16 tiles, ") +
         GemmBlocking::choose(CpuCaches::host(), 768, *kernel).describe() + " for K = 768; " +
         CpuCaches::host().describe() + ")";
}

PackedGemm::PackedGemm(const RowMatrixF& weight, const VectorF& bias)
    : PackedGemm(weight, bias,
                 GemmBlocking::choose(CpuCaches::host(), static_cast<int>(weight.cols()),
                                      hostKernel().value_or(Kernel::Avx2))) {}

PackedGemm::PackedGemm(const RowMatrixF& weight, const VectorF& bias, const GemmBlocking& blocking)
    : PackedGemm(weight, bias, blocking, hostKernel().value_or(Kernel::Avx2)) {}

PackedGemm::PackedGemm(const RowMatrixF& weight, const VectorF& bias, const GemmBlocking& blocking,
                       Kernel kernel)
    : m_depth(static_cast<int>(weight.cols())),
      m_outputs(static_cast<int>(weight.rows())),
      m_blocking(blocking),
      m_kernel(kernel) {
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

// The first `count` of a register's 16 lanes (0 to 16, clamped): a panel's column masks are
// lowLanes(columns) and lowLanes(columns - 16).
inline __mmask16 lowLanes(int count) {
  return static_cast<__mmask16>(count >= 16 ? 0xFFFFu : count <= 0 ? 0u : (1u << count) - 1u);
}

// A kRows x 32 tile over k in [0, depth) (kRows <= 14: 28 accumulators + 2 weight registers
// + 1 broadcast = 31 of 32 zmm). Starts from the bias, or from `out` when accumulating. The
// row count is a template argument, so the accumulators never leave the registers and a
// last partial micro-row (ViT's 197 tokens: one row) costs its rows, not 14. kStream writes
// with streaming stores (outputs far larger than L2); kPrefetch fetches `next` into L2.
template <int kRows, bool kStream = false, bool kPrefetch = false>
PATCHLENS_AVX512 inline void tile(const float* __restrict a, const float* __restrict b,
                                  const float* bias, int depth, float* out, std::size_t rowStride,
                                  __mmask16 mask0, __mmask16 mask1, bool accumulate,
                                  const float* next = nullptr) {
  __m512 acc0[kRows];
  __m512 acc1[kRows];
  if (accumulate) {
#pragma GCC unroll 14
    for (int r = 0; r < kRows; ++r) {
      const float* row = out + static_cast<std::size_t>(r) * rowStride;
      acc0[r] = _mm512_maskz_loadu_ps(mask0, row);
      acc1[r] = _mm512_maskz_loadu_ps(mask1, row + 16);
    }
  } else {
    const __m512 bias0 = _mm512_loadu_ps(bias);
    const __m512 bias1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 14
    for (int r = 0; r < kRows; ++r) {
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
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_set1_ps(ak[r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < kRows; ++r) {
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

// tile<rows> for a run-time row count in [1, 14).
template <int... kRows>
PATCHLENS_AVX512 inline void partialTile(std::integer_sequence<int, kRows...>, int rows,
                                         const float* a, const float* b, const float* bias,
                                         int depth, float* out, std::size_t rowStride,
                                         __mmask16 mask0, __mmask16 mask1, bool accumulate) {
  ((rows == kRows + 1 ? tile<kRows + 1>(a, b, bias, depth, out, rowStride, mask0, mask1, accumulate)
                      : void()),
   ...);
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
    const __mmask16 mask0 = lowLanes(columns);
    const __mmask16 mask1 = lowLanes(columns - 16);
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
            tile<kTileRows, true, true>(a, weights, bias, slice, o, rowStride, mask0, mask1, false,
                                        next);
          } else {
            tile<kTileRows, true>(a, weights, bias, slice, o, rowStride, mask0, mask1, false);
          }
        } else if (tileRows == kTileRows && prefetch) {
          tile<kTileRows, false, true>(a, weights, bias, slice, o, rowStride, mask0, mask1, k0 > 0,
                                       next);
        } else if (tileRows == kTileRows) {
          tile<kTileRows>(a, weights, bias, slice, o, rowStride, mask0, mask1, k0 > 0);
        } else {
          partialTile(std::make_integer_sequence<int, kTileRows - 1>(), tileRows, a, weights, bias,
                      slice, o, rowStride, mask0, mask1, k0 > 0);
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

// multiplyPanels on the AVX-512 kernel: every panel, K in one pass, tiles down the rows.
PATCHLENS_AVX512 void multiplyPanelsAvx512(const float* packedX, int rows, float* out,
                                           std::size_t rowStride, int depth, int outputs,
                                           const float* panels, const float* paddedBias) {
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  const int panelCount = (outputs + kPanelWidth - 1) / kPanelWidth;
  for (int p = 0; p < panelCount; ++p) {
    const int columns = std::min(kPanelWidth, outputs - p * kPanelWidth);
    const __mmask16 mask0 = lowLanes(columns);
    const __mmask16 mask1 = lowLanes(columns - 16);
    const float* weights = panels + static_cast<std::size_t>(p) * depth * kPanelWidth;
    const float* bias = paddedBias + static_cast<std::size_t>(p) * kPanelWidth;
    for (int t = 0; t < tiles; ++t) {
      const int tileRows = std::min(kTileRows, rows - t * kTileRows);
      const float* a = packedX + static_cast<std::size_t>(t) * depth * kTileRows;
      float* o = out + static_cast<std::size_t>(t) * kTileRows * rowStride +
                 static_cast<std::size_t>(p) * kPanelWidth;
      if (tileRows == kTileRows) {
        tile<kTileRows>(a, weights, bias, depth, o, rowStride, mask0, mask1, false);
      } else {
        partialTile(std::make_integer_sequence<int, kTileRows - 1>(), tileRows, a, weights, bias,
                    depth, o, rowStride, mask0, mask1, false);
      }
    }
  }
}

}  // namespace

void PackedGemm::packMicroRow(const float* const* rows, int count, int columns, float* dst) {
  count = std::clamp(count, 0, kTileRows);
  if (hostKernel() == Kernel::Avx512) {
    packMicroRowAvx512(rows, count, columns, dst);
    return;
  }
  for (int c = 0; c < columns; ++c) {
    float* d = dst + static_cast<std::size_t>(c) * kTileRows;
    for (int r = 0; r < kTileRows; ++r) d[r] = r < count ? rows[r][c] : 0.0f;
  }
}

void PackedGemm::multiply(const float* packedX, int rows, float* out, std::size_t rowStride,
                          int panelBegin, int panelEnd, bool streamOutput) const {
  if (m_kernel == Kernel::Avx2) {
    // Cached stores only: the AVX2 kernel has no streaming variant.
    detail::multiplyAvx2(packedX, rows, out, rowStride, panelBegin, panelEnd, m_depth, m_outputs,
                         m_blocking.depthSlice, m_packedWeights.data(), m_paddedBias.data());
    return;
  }
  multiplyAvx512(packedX, rows, out, rowStride, panelBegin, panelEnd, m_depth, m_outputs,
                 m_blocking.depthSlice, m_packedWeights, m_paddedBias, streamOutput);
  if (streamOutput) _mm_sfence();  // the streamed rows are visible before the caller reads
}

void PackedGemm::multiplyPanels(Kernel kernel, const float* packedX, int rows, float* out,
                                std::size_t rowStride, int depth, int outputs, const float* panels,
                                const float* paddedBias) {
  const int panelCount = (outputs + kPanelWidth - 1) / kPanelWidth;
  if (kernel == Kernel::Avx2) {
    detail::multiplyAvx2(packedX, rows, out, rowStride, 0, panelCount, depth, outputs, depth,
                         panels, paddedBias);
    return;
  }
  multiplyPanelsAvx512(packedX, rows, out, rowStride, depth, outputs, panels, paddedBias);
}

namespace {

// dst [outputs rounded up to 32][32] = W[:, k0:k0+width] (zeros from column width on): each
// 32 x 32 block of a packed panel (rows k, lanes = outputs) transposed as four 16 x 16 blocks in
// registers. The padded lanes of the last panel are zero in the packed weights, so are their rows.
PATCHLENS_AVX512 void packTransposedPanelAvx512(const float* packedWeights, int depth, int outputs,
                                                int k0, int width, float* dst) {
  const int panelCount = (outputs + kPanelWidth - 1) / kPanelWidth;
  for (int q = 0; q < panelCount; ++q) {
    const float* src =
        packedWeights + (static_cast<std::size_t>(q) * static_cast<std::size_t>(depth) +
                         static_cast<std::size_t>(k0)) *
                            kPanelWidth;
    float* panelDst = dst + static_cast<std::size_t>(q) * kPanelWidth * kPanelWidth;
    for (int g = 0; g < kPanelWidth / 16; ++g) {  // 16 columns of dst: 16 k of the panel
      const int present = std::clamp(width - 16 * g, 0, 16);
      for (int h = 0; h < kPanelWidth / 16; ++h) {  // 16 rows of dst: 16 lanes of the panel
        __m512 v[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i)
          v[i] = i < present
                     ? _mm512_loadu_ps(src + static_cast<std::size_t>(16 * g + i) * kPanelWidth +
                                       16 * h)
                     : _mm512_setzero_ps();
        transpose16(v);
        float* d = panelDst + static_cast<std::size_t>(16 * h) * kPanelWidth + 16 * g;
#pragma GCC unroll 16
        for (int l = 0; l < 16; ++l)
          _mm512_storeu_ps(d + static_cast<std::size_t>(l) * kPanelWidth, v[l]);
      }
    }
  }
}

// out[r, 0:columns] = packedX[r, :] panel for r < rows: the forward's 14 x 32 tiles over one B
// panel [depth][32] (columns <= 32), K in slices of depthSlice, every micro-row per slice.
PATCHLENS_AVX512 void multiplyPanelAvx512(const float* packedX, int rows, int depth, int depthSlice,
                                          const float* panel, int columns, float* out,
                                          std::size_t rowStride) {
  alignas(64) static const float kZeros[kPanelWidth] = {};
  const __mmask16 mask0 = lowLanes(columns);
  const __mmask16 mask1 = lowLanes(columns - 16);
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  for (int k0 = 0; k0 < depth; k0 += depthSlice) {
    const int slice = std::min(depthSlice, depth - k0);
    const float* weights = panel + static_cast<std::size_t>(k0) * kPanelWidth;
    for (int t = 0; t < tiles; ++t) {
      const int tileRows = std::min(kTileRows, rows - t * kTileRows);
      const float* a = packedX + (static_cast<std::size_t>(t) * static_cast<std::size_t>(depth) +
                                  static_cast<std::size_t>(k0)) *
                                     kTileRows;
      float* o = out + static_cast<std::size_t>(t) * kTileRows * rowStride;
      if (tileRows == kTileRows) {
        tile<kTileRows>(a, weights, kZeros, slice, o, rowStride, mask0, mask1, k0 > 0);
      } else {
        partialTile(std::make_integer_sequence<int, kTileRows - 1>(), tileRows, a, weights, kZeros,
                    slice, o, rowStride, mask0, mask1, k0 > 0);
      }
    }
  }
}

}  // namespace

void PackedGemm::multiplyTransposed(const RowMatrixF& gradOut, RowMatrixF& gradIn,
                                    std::vector<float>& scratch) const {
  const int rows = static_cast<int>(gradOut.rows());
  const int inner = m_outputs;  // the K of this product
  gradIn.resize(rows, m_depth);
  if (rows == 0 || m_depth == 0) return;
  if (inner == 0) {
    gradIn.setZero();
    return;
  }
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  const std::size_t packedSize =
      static_cast<std::size_t>(tiles) * static_cast<std::size_t>(inner) * kTileRows;
  // One B panel per thread: the outputs rounded up to whole panels, x 32 columns.
  const std::size_t panelSize = static_cast<std::size_t>(panels()) * kPanelWidth * kPanelWidth;
  const int threads = std::max(1, Eigen::nbThreads());
  // Grow only (as LinearLayer::apply): a regrown vector zero-fills what it regains.
  const std::size_t needed = packedSize + static_cast<std::size_t>(threads) * panelSize;
  if (scratch.size() < needed) scratch.resize(needed);
  float* packed = scratch.data();
  float* panelsBase = scratch.data() + packedSize;
  const int depthSlice = GemmBlocking::choose(CpuCaches::host(), inner, m_kernel).depthSlice;
  const int depthPanels = (m_depth + kPanelWidth - 1) / kPanelWidth;
  const std::size_t stride = static_cast<std::size_t>(m_depth);
  const float* weights = m_packedWeights.data();
  alignas(64) static const float kZeros[kPanelWidth] = {};
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for schedule(static)
    for (int t = 0; t < tiles; ++t) {
      const float* sources[kTileRows];
      const int count = std::min(kTileRows, rows - t * kTileRows);
      for (int r = 0; r < count; ++r) sources[r] = gradOut.row(t * kTileRows + r).data();
      packMicroRow(
          sources, count, inner,
          packed + static_cast<std::size_t>(t) * static_cast<std::size_t>(inner) * kTileRows);
    }
    const int thread = ompThreadIndex();
    float* panel = panelsBase + static_cast<std::size_t>(thread) * panelSize;
#pragma omp for schedule(dynamic, 1)
    for (int p = 0; p < depthPanels; ++p) {
      const int k0 = p * kPanelWidth;
      const int width = std::min(kPanelWidth, m_depth - k0);
      float* out = gradIn.data() + k0;
      if (m_kernel == Kernel::Avx2) {
        detail::packTransposedPanelAvx2(weights, m_depth, m_outputs, k0, width, panel);
        detail::multiplyAvx2(packed, rows, out, stride, 0, 1, inner, width, depthSlice, panel,
                             kZeros);
      } else {
        packTransposedPanelAvx512(weights, m_depth, m_outputs, k0, width, panel);
        multiplyPanelAvx512(packed, rows, inner, depthSlice, panel, width, out, stride);
      }
    }
  }
}

}  // namespace patchlens
