#include "core/model/patch_embedding.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "core/io/error.h"

namespace patchlens {

PatchEmbedding::PatchEmbedding(PatchWeights weights) : m_weights(std::move(weights)) {
  m_weights.validate(m_weights.description);
  if (PackedGemm::available())
    m_gemm = std::make_shared<const PackedGemm>(m_weights.weight, m_weights.bias);
}

GridSize PatchEmbedding::gridFor(int height, int width, int patchSize, RemainderPolicy policy) {
  if (patchSize <= 0) return {};
  if (policy == RemainderPolicy::Pad) {
    return {(height + patchSize - 1) / patchSize, (width + patchSize - 1) / patchSize};
  }
  return {height / patchSize, width / patchSize};
}

namespace {

// im2col for tokens [first, first + rows.rows()): each token row is C*P contiguous runs
// of P floats, copied straight from the CHW rows; pixels past the image stay zero.
void fillPatchRows(const ChwTensor& input, const GridSize& grid, int p, int first,
                   RowMatrixF& rows) {
  rows.setZero();
  for (Eigen::Index i = 0; i < rows.rows(); ++i) {
    const int token = first + static_cast<int>(i);
    const int r = token / grid.cols;
    const int c = token % grid.cols;
    float* dst = rows.row(i).data();
    const int x0 = c * p;
    const int runLength = std::max(0, std::min(p, input.width - x0));
    for (int ch = 0; ch < input.channels; ++ch) {
      for (int ky = 0; ky < p; ++ky) {
        const int y = r * p + ky;
        if (y >= input.height) break;
        std::memcpy(dst + (ch * p + ky) * p, &input.data[input.index(ch, y, x0)],
                    static_cast<std::size_t>(runLength) * sizeof(float));
      }
    }
  }
}

// Fused im2col for the packed kernel: tile t of the block starting at token `first`,
// written as [k][kTileRows] so the kernel broadcasts 14 tokens' values from one cache line.
void packTile(const ChwTensor& input, const GridSize& grid, int p, int first, int rows, int tile,
              int depth, float* packed) {
  constexpr int R = PackedGemm::kTileRows;
  float* dst = packed + static_cast<std::size_t>(tile) * static_cast<std::size_t>(depth) * R;
  for (int r = 0; r < R; ++r) {
    const int local = tile * R + r;
    if (local >= rows) {
      for (int k = 0; k < depth; ++k)
        dst[static_cast<std::size_t>(k) * R + static_cast<std::size_t>(r)] = 0.0f;
      continue;
    }
    const int token = first + local;
    const int gy = token / grid.cols;
    const int gx = token % grid.cols;
    for (int ch = 0; ch < input.channels; ++ch) {
      for (int ky = 0; ky < p; ++ky) {
        const int y = gy * p + ky;
        float* column =
            dst + static_cast<std::size_t>((ch * p + ky) * p) * R + static_cast<std::size_t>(r);
        const float* src = y < input.height ? &input.data[input.index(ch, y, 0)] : nullptr;
        for (int kx = 0; kx < p; ++kx) {
          const int x = gx * p + kx;
          column[static_cast<std::size_t>(kx) * R] =
              (src != nullptr && x < input.width) ? src[x] : 0.0f;
        }
      }
    }
  }
}

// Token rows per block: small enough that a block's patches stay in L2, and at least
// one block per thread so that every core has work.
int blockCount(int tokens, int threads) {
  constexpr int kMaxBlockRows = 256;
  int blocks = std::max(1, (tokens + kMaxBlockRows - 1) / kMaxBlockRows);
  if (threads > 1 && tokens >= 2 * 64) blocks = (blocks + threads - 1) / threads * threads;
  return blocks;
}

}  // namespace

RowMatrixF PatchEmbedding::extractPatches(const ChwTensor& input, int patchSize,
                                          RemainderPolicy policy) {
  const GridSize grid = gridFor(input.height, input.width, patchSize, policy);
  RowMatrixF patches(grid.tokens(), input.channels * patchSize * patchSize);
  fillPatchRows(input, grid, patchSize, 0, patches);
  return patches;
}

Embedding PatchEmbedding::forward(const ChwTensor& input, RemainderPolicy policy) const {
  Embedding out;
  forwardInto(input, out, policy);
  return out;
}

void PatchEmbedding::forwardInto(const ChwTensor& input, Embedding& out,
                                 RemainderPolicy policy) const {
  if (input.channels != m_weights.inChannels) {
    throw Error("", "the input has " + std::to_string(input.channels) +
                        " channels but the patch embedding expects " +
                        std::to_string(m_weights.inChannels));
  }
  out.grid = gridFor(input.height, input.width, m_weights.patchSize, policy);
  const int tokens = out.grid.tokens();
  if (tokens == 0) {
    throw Error("", "the input (" + std::to_string(input.width) + "x" +
                        std::to_string(input.height) + ") is smaller than one " +
                        std::to_string(m_weights.patchSize) + "x" +
                        std::to_string(m_weights.patchSize) + " patch");
  }
  out.tokens.resize(tokens, m_weights.embedDim);  // no reallocation when the shape is unchanged
  if (m_gemm) {
    forwardPacked(input, out);
  } else {
    forwardEigen(input, out);
  }
}

void PatchEmbedding::forwardPacked(const ChwTensor& input, Embedding& out) const {
  // Blocks of 196 tokens keep a block's packed patches (600 kB) in L2 next to one
  // weight panel; threads split the packing by tiles and the GEMM by weight panels.
  constexpr int kBlockRows = 14 * PackedGemm::kTileRows;
  const int tokens = out.grid.tokens();
  const int depth = m_weights.patchLength();
  const int dim = m_weights.embedDim;
  const int panels = m_gemm->panels();
  [[maybe_unused]] const int threads = Eigen::nbThreads();  // read by the OpenMP pragma only
  std::vector<float> packed(m_gemm->packedRowsSize(std::min(kBlockRows, tokens)));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    for (int first = 0; first < tokens; first += kBlockRows) {
      const int rows = std::min(kBlockRows, tokens - first);
      const int tiles = (rows + PackedGemm::kTileRows - 1) / PackedGemm::kTileRows;
#pragma omp for schedule(static)
      for (int t = 0; t < tiles; ++t)
        packTile(input, out.grid, m_weights.patchSize, first, rows, t, depth, packed.data());
#pragma omp for schedule(static)
      for (int panel = 0; panel < panels; ++panel) {
        m_gemm->multiply(packed.data(), rows, out.tokens.row(first).data(),
                         static_cast<std::size_t>(dim), panel, panel + 1);
      }
    }
  }
}

void PatchEmbedding::forwardEigen(const ChwTensor& input, Embedding& out) const {
  const int tokens = out.grid.tokens();
  const int threads = Eigen::nbThreads();
  const int blocks = blockCount(tokens, threads);
  const int blockRows = (tokens + blocks - 1) / blocks;

  // One block: im2col into a scratch buffer, then one GEMM Y = X W^T (+ b) into its rows.
  auto runBlock = [&](int block, RowMatrixF& scratch) {
    const int first = block * blockRows;
    const int rows = std::min(blockRows, tokens - first);
    if (rows <= 0) return;
    scratch.resize(rows, m_weights.patchLength());
    fillPatchRows(input, out.grid, m_weights.patchSize, first, scratch);
    auto target = out.tokens.middleRows(first, rows);
    target.noalias() = scratch * m_weights.weight.transpose();
    if (m_weights.hasBias()) target.rowwise() += m_weights.bias.transpose();
  };
  if (blocks > 1 && threads > 1) {
    // Blocks in parallel; Eigen sees the parallel region and runs each GEMM on one thread.
#pragma omp parallel num_threads(threads)
    {
      RowMatrixF scratch;
#pragma omp for schedule(static)
      for (int b = 0; b < blocks; ++b) runBlock(b, scratch);
    }
  } else {
    RowMatrixF scratch;
    for (int b = 0; b < blocks; ++b) runBlock(b, scratch);
  }
}

}  // namespace patchlens
