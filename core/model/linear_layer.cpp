#include "core/model/linear_layer.h"

#include <algorithm>
#include <unsupported/Eigen/SpecialFunctions>

namespace patchlens {

LinearLayer::LinearLayer(const RowMatrixF& weight, const VectorF& bias)
    : m_inputs(static_cast<int>(weight.cols())), m_outputs(static_cast<int>(weight.rows())) {
  if (PackedGemm::available()) {
    m_gemm = std::make_shared<const PackedGemm>(weight, bias);
  } else {
    m_weight = weight;
    m_bias = bias.size() > 0 ? bias : VectorF::Zero(weight.rows());
  }
}

void applyActivation(float* values, Eigen::Index count, LinearEpilogue epilogue) {
  Eigen::Map<Eigen::ArrayXf> x(values, count);
  switch (epilogue) {
    case LinearEpilogue::None:
      return;
    case LinearEpilogue::Gelu:  // torch.nn.functional.gelu: 0.5 x (1 + erf(x / sqrt 2))
      x = 0.5f * x * (1.0f + (x * 0.70710678118654752f).erf());
      return;
    case LinearEpilogue::GeluTanh:  // gelu(approximate='tanh')
      x = 0.5f * x * (1.0f + (0.79788456080286536f * (x + 0.044715f * x.cube())).tanh());
      return;
    case LinearEpilogue::QuickGelu:  // CLIP: x * sigmoid(1.702 x)
      x = x / (1.0f + (-1.702f * x).exp());
      return;
  }
}

void LinearLayer::applyTransposed(const RowMatrixF& gradOut, RowMatrixF& gradIn,
                                  std::vector<float>& scratch) const {
  if (m_gemm) {
    m_gemm->multiplyTransposed(gradOut, gradIn, scratch);
  } else {
    gradIn.noalias() = gradOut * m_weight;
  }
}

void LinearLayer::apply(const RowMatrixF& x, RowMatrixF& out, LinearEpilogue epilogue,
                        std::vector<float>& scratch) const {
  const int rows = static_cast<int>(x.rows());
  out.resize(rows, m_outputs);
  if (!m_gemm) {
    out.noalias() = x * m_weight.transpose();
    out.rowwise() += m_bias.transpose();
    if (epilogue != LinearEpilogue::None) applyActivation(out.data(), out.size(), epilogue);
    return;
  }
  // Row blocks of at most 196 tokens and 1 MB of packed rows (K = 3072: 84 tokens) stay in L2
  // next to one weight panel while its K-slice stays in L1; tasks are (row block, panel) pairs.
  constexpr int kTile = PackedGemm::kTileRows;
  constexpr std::size_t kBlockBytes = std::size_t{1} << 20;
  const int kBlockTiles =
      std::clamp(static_cast<int>(kBlockBytes / (static_cast<std::size_t>(kTile) * sizeof(float) *
                                                 static_cast<std::size_t>(std::max(m_inputs, 1)))),
                 1, 14);
  const int tiles = (rows + kTile - 1) / kTile;
  // A last micro-row of a few tokens (ViT's 197 = 14 x 14 + 1) joins the block before it
  // rather than making a block of its own: it then runs right after that block's tiles of
  // the same weight panel, which are still in cache. Alone, each of its one-row tiles read a
  // whole panel from L3 for a 32nd of the FLOPs (4 % of a ViT-B forward).
  const int tail = rows % kTile;
  int blocks = (tiles + kBlockTiles - 1) / kBlockTiles;
  const bool tailJoins = blocks > 1 && tail > 0 && tail <= 3 && tiles % kBlockTiles == 1;
  if (tailJoins) --blocks;
  const int panels = m_gemm->panels();
  const int depth = m_inputs;
  const std::size_t stride = static_cast<std::size_t>(m_outputs);
  // Grow only: a block's layers alternate K = 768 and 3072, and a vector regrown after a
  // shrink zero-fills what it regains, at every fc2.
  if (scratch.size() < m_gemm->packedRowsSize(rows)) scratch.resize(m_gemm->packedRowsSize(rows));
  float* packed = scratch.data();
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for schedule(static)
    for (int t = 0; t < tiles; ++t) {
      // Packed by the kernel's in-register 16 x 16 transpose: a scalar loop of stride-14
      // stores cost the K = 3072 layer ~15 % (patchlens-bench linear/197x3072x768).
      const float* sources[kTile];
      const int count = std::min(kTile, rows - t * kTile);
      for (int r = 0; r < count; ++r) sources[r] = x.row(t * kTile + r).data();
      PackedGemm::packMicroRow(
          sources, count, depth,
          packed + static_cast<std::size_t>(t) * static_cast<std::size_t>(depth) * kTile);
    }
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int b = 0; b < blocks; ++b) {
      for (int p = 0; p < panels; ++p) {
        const int first = b * kBlockTiles * kTile;
        const int count =
            b + 1 == blocks ? rows - first : std::min(kBlockTiles * kTile, rows - first);
        const float* blockX = packed + static_cast<std::size_t>(b) * kBlockTiles *
                                           static_cast<std::size_t>(depth) * kTile;
        float* blockOut = out.row(first).data();
        m_gemm->multiply(blockX, count, blockOut, stride, p, p + 1);
        if (epilogue != LinearEpilogue::None) {
          const int c0 = p * PackedGemm::kPanelWidth;
          const int width = std::min(PackedGemm::kPanelWidth, m_outputs - c0);
          for (int r = 0; r < count; ++r)
            applyActivation(
                blockOut + static_cast<std::size_t>(r) * stride + static_cast<std::size_t>(c0),
                width, epilogue);
        }
      }
    }
  }
}

}  // namespace patchlens
