#include "core/model/patch_embedding.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "core/io/error.h"
#include "core/model/cpu_caches.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace patchlens {

PatchEmbedding::PatchEmbedding(PatchWeights weights) : m_weights(std::move(weights)) {
  m_weights.validate(m_weights.description);
  if (PackedGemm::available())
    m_gemm = std::make_shared<const PackedGemm>(m_weights.weight, m_weights.bias);
}

PatchEmbedding::PatchEmbedding(PatchWeights weights, const GemmBlocking& blocking)
    : m_weights(std::move(weights)) {
  m_weights.validate(m_weights.description);
  if (PackedGemm::available())
    m_gemm = std::make_shared<const PackedGemm>(m_weights.weight, m_weights.bias, blocking);
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
// This general path also zero-fills pixels past the image (remainder padding).
void packTileScalar(const ChwTensor& input, const GridSize& grid, int p, int first, int rows,
                    int tile, int depth, float* packed) {
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

// The same for a micro-row whose patches lie inside the image (always, unless padding):
// per channel and patch row, the 14 tokens' P pixels go through an in-register transpose,
// 7x faster than the element-wise copy (the im2col was 10 % of the 224/16/768 embed).
void packTile(const ChwTensor& input, const GridSize& grid, int p, int first, int rows, int tile,
              int depth, float* packed) {
  constexpr int R = PackedGemm::kTileRows;
  const int count = std::min(R, rows - tile * R);
  std::array<const float*, R> origin{};
  for (int r = 0; r < count; ++r) {
    const int token = first + tile * R + r;
    const int gy = token / grid.cols;
    const int gx = token % grid.cols;
    if ((gy + 1) * p > input.height || (gx + 1) * p > input.width) {
      packTileScalar(input, grid, p, first, rows, tile, depth, packed);
      return;
    }
    origin[static_cast<std::size_t>(r)] = &input.data[input.index(0, gy * p, gx * p)];
  }
  float* dst = packed + static_cast<std::size_t>(tile) * static_cast<std::size_t>(depth) * R;
  const std::size_t rowStep = static_cast<std::size_t>(input.width);
  const std::size_t planeStep = rowStep * static_cast<std::size_t>(input.height);
  std::array<const float*, R> src{};
  for (int ch = 0; ch < input.channels; ++ch) {
    for (int ky = 0; ky < p; ++ky) {
      const std::size_t offset =
          static_cast<std::size_t>(ch) * planeStep + static_cast<std::size_t>(ky) * rowStep;
      for (int r = 0; r < count; ++r)
        src[static_cast<std::size_t>(r)] = origin[static_cast<std::size_t>(r)] + offset;
      PackedGemm::packMicroRow(src.data(), count, p,
                               dst + static_cast<std::size_t>((ch * p + ky) * p) * R);
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
  // Threads split the tokens (whole micro-rows), not the weight panels: each thread packs
  // only its own patches into its own buffer and runs every panel over them, so the one
  // synchronisation is the join at the end. A thread's tokens go in blocks whose packed
  // patches stay in L2 (GemmBlocking, from this CPU's cache sizes).
  constexpr int R = PackedGemm::kTileRows;
  const int tokens = out.grid.tokens();
  const int depth = m_weights.patchLength();
  const int dim = m_weights.embedDim;
  const int tiles = (tokens + R - 1) / R;
  const int blockLimit = m_gemm->blocking().blockTiles;
  [[maybe_unused]] const int threads = std::max(1, std::min(Eigen::nbThreads(), tiles));
  // An output many times the L2 (a 2048 x 2048 input: 50 MB of tokens) leaves the caches
  // anyway: streamed, its lines are not first read from memory to be overwritten.
  const bool streamOutput =
      static_cast<std::size_t>(tokens) * static_cast<std::size_t>(dim) * sizeof(float) >
      4 * CpuCaches::host().withDefaults().l2;
  const auto work = [&](int thread, int threadCount) {
    const int t0 = static_cast<int>(static_cast<long long>(tiles) * thread / threadCount);
    const int t1 = static_cast<int>(static_cast<long long>(tiles) * (thread + 1) / threadCount);
    if (t1 <= t0) return;
    const int blocks = (t1 - t0 + blockLimit - 1) / blockLimit;
    const int blockTiles = (t1 - t0 + blocks - 1) / blocks;
    // Reused from call to call: no allocation, no page faults after the first image.
    thread_local std::vector<float> packed;
    const std::size_t need =
        static_cast<std::size_t>(blockTiles) * static_cast<std::size_t>(depth) * R;
    if (packed.size() < need) packed.resize(need);
    for (int b0 = t0; b0 < t1; b0 += blockTiles) {
      const int first = b0 * R;
      const int rows = std::min(std::min(t1, b0 + blockTiles) * R, tokens) - first;
      const int microRows = (rows + R - 1) / R;
      for (int t = 0; t < microRows; ++t)
        packTile(input, out.grid, m_weights.patchSize, first, rows, t, depth, packed.data());
      m_gemm->multiply(packed.data(), rows, out.tokens.row(first).data(),
                       static_cast<std::size_t>(dim), 0, m_gemm->panels(), streamOutput);
    }
  };
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    work(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  work(0, 1);
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
    // A failed allocation is caught inside and rethrown after the region: an exception must
    // not cross it (that is std::terminate).
    std::exception_ptr failure;
#pragma omp parallel num_threads(threads)
    {
      RowMatrixF scratch;
#pragma omp for schedule(static)
      for (int b = 0; b < blocks; ++b) {
        try {
          runBlock(b, scratch);
        } catch (...) {
#pragma omp critical(patchlens_patch_embedding_failure)
          if (!failure) failure = std::current_exception();
        }
      }
    }
    if (failure) std::rethrow_exception(failure);
  } else {
    RowMatrixF scratch;
    for (int b = 0; b < blocks; ++b) runBlock(b, scratch);
  }
}

}  // namespace patchlens
