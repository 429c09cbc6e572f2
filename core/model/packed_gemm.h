#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Y = X W^T + b with W packed once per weight set into the layout an AVX-512 register
// tile wants (panels of kPanelWidth output channels, K-major). X is handed in already
// packed by the caller's im2col, in micro-rows of kTileRows tokens, so the patches are
// written once and read straight from cache by the kernel.
class PackedGemm {
 public:
  static constexpr int kTileRows = 14;     // tokens per register tile (196 = 14 x 14)
  static constexpr int kPanelWidth = 32;   // output channels per tile: two 16-float registers
  static constexpr int kDepthSlice = 192;  // K per pass: a 24 kB weight slice stays in L1

  // True when this CPU has AVX-512 (checked at run time); otherwise callers use Eigen's GEMM.
  static bool available();
  // Which GEMM PatchLens uses on this machine, for --version and the GUI's About box.
  static std::string backendDescription();

  PackedGemm() = default;
  PackedGemm(const RowMatrixF& weight, const VectorF& bias);

  int depth() const { return m_depth; }
  int outputs() const { return m_outputs; }

  // Floats of packed-X storage for `rows` tokens (rounded up to whole micro-rows).
  std::size_t packedRowsSize(int rows) const;
  // Where row `row` (0-based inside the block) and column k live in packed X.
  static std::size_t packedIndex(int row, int k, int depth) {
    return (static_cast<std::size_t>(row / kTileRows) * static_cast<std::size_t>(depth) +
            static_cast<std::size_t>(k)) *
               kTileRows +
           static_cast<std::size_t>(row % kTileRows);
  }

  // out[r, :] = packedX[r, :] W^T + b for r < rows; `out` points at row 0, rowStride floats apart.
  // Panels [panelBegin, panelEnd) only, so threads can split the columns. Needs available().
  void multiply(const float* packedX, int rows, float* out, std::size_t rowStride, int panelBegin,
                int panelEnd) const;
  int panels() const { return (m_outputs + kPanelWidth - 1) / kPanelWidth; }

 private:
  int m_depth = 0;
  int m_outputs = 0;
  std::vector<float> m_packedWeights;  // [panel][k][kPanelWidth], zero-padded
  std::vector<float> m_paddedBias;     // [panels * kPanelWidth], zero-padded
};

}  // namespace patchlens
