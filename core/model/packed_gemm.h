#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/gemm_blocking.h"

namespace patchlens {

// Y = X W^T + b with W packed once per weight set into the layout an AVX-512 register
// tile wants (panels of kPanelWidth output channels, K-major). X is handed in already
// packed by the caller's im2col, in micro-rows of kTileRows tokens, so the patches are
// written once and read straight from cache by the kernel. How K and the tokens are cut
// (blocking()) comes from this CPU's cache sizes.
class PackedGemm {
 public:
  static constexpr int kTileRows = 14;    // tokens per register tile (196 = 14 x 14)
  static constexpr int kPanelWidth = 32;  // output channels per tile: two 16-float registers
  // K per pass when nothing is known about the caches (GemmBlocking::choose with defaults
  // gives it for K <= 1024); the kernel uses blocking().depthSlice.
  static constexpr int kDepthSlice = 1024;

  // The register-tile kernels, chosen at run time from the CPU (AVX-512, else AVX2 + FMA);
  // PATCHLENS_GEMM=avx2|eigen picks a lesser one (to see what another host gets, and in
  // tests). Both read and write the same packed layouts.
  using Kernel = GemmKernel;
  static std::optional<Kernel> hostKernel();
  // True when a packed kernel runs on this CPU; otherwise callers use Eigen's GEMM.
  static bool available() { return hostKernel().has_value(); }
  // Which GEMM PatchLens uses on this machine, for --version and the GUI's About box.
  static std::string backendDescription();

  PackedGemm() = default;
  // Blocking chosen from this machine's caches (CpuCaches::host()) for the host's kernel.
  PackedGemm(const RowMatrixF& weight, const VectorF& bias);
  // An explicit blocking (tests, benchmarks).
  PackedGemm(const RowMatrixF& weight, const VectorF& bias, const GemmBlocking& blocking);
  // An explicit kernel too (benchmarks: the AVX2 kernel on an AVX-512 host). The CPU must
  // support it.
  PackedGemm(const RowMatrixF& weight, const VectorF& bias, const GemmBlocking& blocking,
             Kernel kernel);

  int depth() const { return m_depth; }
  int outputs() const { return m_outputs; }
  const GemmBlocking& blocking() const { return m_blocking; }
  Kernel kernel() const { return m_kernel; }

  // Floats of packed-X storage for `rows` tokens (rounded up to whole micro-rows).
  std::size_t packedRowsSize(int rows) const;
  // Where row `row` (0-based inside the block) and column k live in packed X.
  static std::size_t packedIndex(int row, int k, int depth) {
    return (static_cast<std::size_t>(row / kTileRows) * static_cast<std::size_t>(depth) +
            static_cast<std::size_t>(k)) *
               kTileRows +
           static_cast<std::size_t>(row % kTileRows);
  }

  // One micro-row of packed X from up to kTileRows source rows: dst[c * kTileRows + r] =
  // rows[r][c] for c < columns and r < count, zeros for the rows from count on. On the AVX-512
  // kernel it moves 16 columns at a time through an in-register transpose; otherwise a plain
  // loop writes the same layout.
  static void packMicroRow(const float* const* rows, int count, int columns, float* dst);

  // out[r, :] = packedX[r, :] W^T + b for r < rows; `out` points at row 0, rowStride floats apart.
  // Panels [panelBegin, panelEnd) only, so threads can split the columns. Needs available().
  // streamOutput: an output far larger than the caches is written with non-temporal stores
  // (no read-for-ownership of lines about to be overwritten whole) where the rows are
  // 64-byte aligned and K is one slice; otherwise it has no effect.
  void multiply(const float* packedX, int rows, float* out, std::size_t rowStride, int panelBegin,
                int panelEnd, bool streamOutput = false) const;
  int panels() const { return (m_outputs + kPanelWidth - 1) / kPanelWidth; }
  // The backward of a linear layer: gradIn [rows x depth] = gradOut [rows x outputs] W, on the
  // same register-tile kernel as multiply(): gradOut packed into micro-rows (K = outputs), and
  // for each kPanelWidth columns of gradIn a B panel W[:, k0:k0+32] laid out [outputs][32],
  // transposed in registers from the packed panels into a per-thread buffer (outputs x 32
  // floats): no transposed copy of the weights is kept. Threads split the depth panels.
  // scratch holds the packed gradOut and the per-thread panels. Needs available().
  void multiplyTransposed(const RowMatrixF& gradOut, RowMatrixF& gradIn,
                          std::vector<float>& scratch) const;

  // The same kernels over panels the caller packed itself (the attention's keys and values,
  // repacked per block): out[r, :] = packedX[r, :] W^T + bias for r < rows, with W in
  // `panels` = [ceil(outputs / 32)][depth][32] and bias ceil(outputs / 32) * 32 floats. K is
  // one slice (no blocking: the attention's depths are dh and one key tile). Needs a kernel.
  static void multiplyPanels(Kernel kernel, const float* packedX, int rows, float* out,
                             std::size_t rowStride, int depth, int outputs, const float* panels,
                             const float* paddedBias);

 private:
  int m_depth = 0;
  int m_outputs = 0;
  GemmBlocking m_blocking;
  Kernel m_kernel = Kernel::Avx512;
  std::vector<float> m_packedWeights;  // [panel][k][kPanelWidth], zero-padded
  std::vector<float> m_paddedBias;     // [panels * kPanelWidth], zero-padded
};

}  // namespace patchlens
