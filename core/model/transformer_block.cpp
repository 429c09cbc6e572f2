#include "core/model/transformer_block.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include "core/model/omp_thread.h"
#include "core/model/position/rope_embedding.h"

namespace patchlens {
namespace {

// Blocked attention tiles on hosts without a packed kernel (elsewhere FlashAttention runs):
// 64 queries x 256 keys of scores (64 KB) stay in L2 beside the query tile and the
// accumulator (16 KB each at d = 64); Eigen's packing buffers for products this small live on
// the stack, so nothing inside the parallel region allocates.
constexpr Eigen::Index kQueryTile = 64;
constexpr Eigen::Index kKeyTile = 256;

using Stride = Eigen::OuterStride<>;
using ConstHead = Eigen::Map<const RowMatrixF, 0, Stride>;
using Head = Eigen::Map<RowMatrixF, 0, Stride>;

}  // namespace

const char* activationName(Activation activation) {
  switch (activation) {
    case Activation::Gelu:
      return "GELU (erf)";
    case Activation::GeluTanh:
      return "GELU (tanh approximation)";
    case Activation::QuickGelu:
      return "QuickGELU x*sigmoid(1.702x)";
    case Activation::SwiGlu:
      return "SwiGLU silu(w1 x) * w2 x";
  }
  return "?";
}

LinearEpilogue epilogueFor(Activation activation) {
  switch (activation) {
    case Activation::Gelu:
      return LinearEpilogue::Gelu;
    case Activation::GeluTanh:
      return LinearEpilogue::GeluTanh;
    case Activation::QuickGelu:
      return LinearEpilogue::QuickGelu;
    case Activation::SwiGlu:
      return LinearEpilogue::None;  // the gate is applied after both halves (forward)
  }
  return LinearEpilogue::Gelu;
}

void layerNorm(const RowMatrixF& x, RowMatrixF& out, const LayerNormWeights& norm, float eps) {
  out.resize(x.rows(), x.cols());
  const Eigen::Index rows = x.rows();
  const float inverseWidth = 1.0f / static_cast<float>(x.cols());
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows >= 64) schedule(static)
  for (Eigen::Index r = 0; r < rows; ++r) {
    const auto in = x.row(r).array();
    const float mean = in.sum() * inverseWidth;
    const float variance = (in - mean).square().sum() * inverseWidth;
    const float scale = 1.0f / std::sqrt(variance + eps);
    out.row(r).array() =
        (in - mean) * scale * norm.weight.transpose().array() + norm.bias.transpose().array();
  }
}

void TransformerBlock::attention(const TransformerConfig& config, BlockScratch& s) const {
  const Eigen::Index tokens = s.qkv.rows();
  const int heads = config.numHeads;
  const int headDim = config.headDim();
  const int width = config.embedDim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  const Stride qkvStride(3 * width);
  // Everything is allocated before the parallel region: no exception may escape it.
  s.probabilities.resize(static_cast<std::size_t>(heads));
  for (RowMatrixF& p : s.probabilities) p.resize(tokens, tokens);
  s.context.resize(tokens, width);
  const auto attendHead = [&](int h) {
    const ConstHead q(s.qkv.data() + h * headDim, tokens, headDim, qkvStride);
    const ConstHead k(s.qkv.data() + width + h * headDim, tokens, headDim, qkvStride);
    const ConstHead v(s.qkv.data() + 2 * width + h * headDim, tokens, headDim, qkvStride);
    RowMatrixF& p = s.probabilities[static_cast<std::size_t>(h)];
    p.noalias() = (q * scale) * k.transpose();
    if (!s.positionBias.empty()) p += s.positionBias[static_cast<std::size_t>(h)];
    for (Eigen::Index r = 0; r < tokens; ++r) {
      auto row = p.row(r).array();
      row = (row - row.maxCoeff()).exp();
      row *= 1.0f / row.sum();
    }
    Head out(s.context.data() + h * headDim, tokens, headDim, Stride(width));
    out.noalias() = p * v;
  };
  [[maybe_unused]] const int threads = Eigen::nbThreads();
  // Heads in parallel; inside the region Eigen's GEMMs run on one thread each. Eigen's own
  // GEMM workspace may still fail to allocate: caught per head, rethrown after the region.
  std::exception_ptr failure;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (int h = 0; h < heads; ++h) {
    try {
      attendHead(h);
    } catch (...) {
#pragma omp critical(patchlens_attention_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// Flash-style attention: per (head, query tile) one work item streams the key tiles through an
// online softmax (running max and sum per query row; the accumulator is rescaled when the max
// grows) and divides by the sum once at the end. Memory: the context plus one tile per thread.
void TransformerBlock::blockedAttention(const TransformerConfig& config, BlockScratch& s) const {
  if (FlashAttention::kernel()) {  // the same online softmax on the register-tile kernels
    s.probabilities.clear();
    s.probabilities.shrink_to_fit();
    s.flash.run(s.qkv, config.numHeads, config.headDim(), s.positionBias, s.context);
    return;
  }
  const Eigen::Index tokens = s.qkv.rows();
  const int heads = config.numHeads;
  const Eigen::Index headDim = config.headDim();
  const Eigen::Index width = config.embedDim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  const Stride qkvStride(3 * width);
  const int threads = std::max(1, Eigen::nbThreads());
  // Everything is allocated before the parallel region: no exception may escape it.
  s.probabilities.clear();
  s.probabilities.shrink_to_fit();
  s.context.resize(tokens, width);
  s.tiles.resize(static_cast<std::size_t>(threads));
  for (AttentionTile& t : s.tiles) {
    t.query.resize(kQueryTile, headDim);
    t.scores.resize(kQueryTile, kKeyTile);
    t.accumulated.resize(kQueryTile, headDim);
    t.runningMax.resize(kQueryTile);
    t.runningSum.resize(kQueryTile);
  }
  const Eigen::Index queryTiles = (tokens + kQueryTile - 1) / kQueryTile;
  const Eigen::Index items = heads * queryTiles;
  const float* qkvData = s.qkv.data();
  float* contextData = s.context.data();
  // Eigen may still allocate a GEMM workspace: caught per item, rethrown after the region.
  std::exception_ptr failure;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (Eigen::Index item = 0; item < items; ++item) {
    try {
      const Eigen::Index h = item / queryTiles;
      const Eigen::Index q0 = (item % queryTiles) * kQueryTile;
      const Eigen::Index qn = std::min(kQueryTile, tokens - q0);
      AttentionTile& t = s.tiles[static_cast<std::size_t>(ompThreadIndex())];
      auto q = t.query.topRows(qn);
      q.noalias() =
          ConstHead(qkvData + q0 * 3 * width + h * headDim, qn, headDim, qkvStride) * scale;
      auto accumulated = t.accumulated.topRows(qn);
      accumulated.setZero();
      auto runningMax = t.runningMax.head(qn);
      runningMax.setConstant(-std::numeric_limits<float>::infinity());
      auto runningSum = t.runningSum.head(qn);
      runningSum.setZero();
      for (Eigen::Index k0 = 0; k0 < tokens; k0 += kKeyTile) {
        const Eigen::Index kn = std::min(kKeyTile, tokens - k0);
        const float* rows = qkvData + k0 * 3 * width + h * headDim;
        const ConstHead k(rows + width, kn, headDim, qkvStride);
        const ConstHead v(rows + 2 * width, kn, headDim, qkvStride);
        auto scores = t.scores.topLeftCorner(qn, kn);
        scores.noalias() = q * k.transpose();
        if (!s.positionBias.empty())
          scores += s.positionBias[static_cast<std::size_t>(h)].block(q0, k0, qn, kn);
        for (Eigen::Index r = 0; r < qn; ++r) {
          auto row = scores.row(r).array();
          const float newMax = std::max(runningMax[r], row.maxCoeff());
          row = (row - newMax).exp();
          if (newMax > runningMax[r]) {
            const float rescale = std::exp(runningMax[r] - newMax);  // 0 on the first tile
            runningSum[r] *= rescale;
            accumulated.row(r) *= rescale;
            runningMax[r] = newMax;
          }
          runningSum[r] += row.sum();
        }
        accumulated.noalias() += scores * v;
      }
      Head out(contextData + q0 * width + h * headDim, qn, headDim, Stride(width));
      out.noalias() = runningSum.cwiseInverse().asDiagonal() * accumulated;
    } catch (...) {
#pragma omp critical(patchlens_blocked_attention_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// Post-norm blocks only: the branch's output (in projected) through its norm before the residual
// add, x + norm(branch(x)); normed is free by then (both branches have read it).
void TransformerBlock::branchOutput(const TransformerConfig& config, const LayerNormWeights& norm,
                                    BlockScratch& s) const {
  if (!config.postNorm) return;
  layerNorm(s.projected, s.normed, norm, config.layerNormEps);
  s.projected.swap(s.normed);
}

void TransformerBlock::forward(RowMatrixF& x, const TransformerConfig& config,
                               BlockScratch& s) const {
  // Post-norm (timm EvaBlockPostNorm): the branches read x itself; norm1 / norm2 normalise the
  // branch outputs instead (branchOutput below).
  if (!config.postNorm) layerNorm(x, s.normed, norm1, config.layerNormEps);
  qkv.apply(config.postNorm ? x : s.normed, s.qkv, LinearEpilogue::None, s.packed);
  // RoPE hook: rotate q and k of the patches before q.k^T (rope_embedding.cpp).
  if (s.rope) s.rope->apply(s.qkv, config.numHeads, s.ropeBlock);
  // q, k, v as both attention paths read them (each scales q by 1/sqrt(dh) itself).
  if (s.qkvObserver && *s.qkvObserver) (*s.qkvObserver)(s.ropeBlock + 1, s.qkv);
  if (s.keepProbabilities) {
    attention(config, s);
  } else {
    blockedAttention(config, s);
  }
  const RowMatrixF* context = &s.context;
  if (attnNorm.weight.size() > 0) {  // sub-LN; normed (norm1's output) is free after qkv
    layerNorm(s.context, s.normed, attnNorm, config.layerNormEps);
    context = &s.normed;
  }
  proj.apply(*context, s.projected, LinearEpilogue::None, s.packed);
  branchOutput(config, norm1, s);
  if (layerScale1.size() > 0) {
    x += s.projected * layerScale1.asDiagonal();
  } else {
    x += s.projected;
  }
  if (!config.postNorm) layerNorm(x, s.normed, norm2, config.layerNormEps);
  const RowMatrixF& mlpInput = config.postNorm ? x : s.normed;
  fc1.apply(mlpInput, s.hidden, epilogueFor(config.activation), s.packed);
  if (config.activation == Activation::SwiGlu) {  // SwiGLU hook: hidden = silu(w1 x) * (w2 x)
    fc1Gate.apply(mlpInput, s.gate, LinearEpilogue::None, s.packed);
    s.hidden.array() = s.hidden.array() / (1.0f + (-s.hidden.array()).exp()) * s.gate.array();
  }
  const RowMatrixF* hidden = &s.hidden;
  if (mlpNorm.weight.size() > 0) {  // sub-LN; gate is free once the SwiGLU product is formed
    layerNorm(s.hidden, s.gate, mlpNorm, config.layerNormEps);
    hidden = &s.gate;
  }
  fc2.apply(*hidden, s.projected, LinearEpilogue::None, s.packed);
  branchOutput(config, norm2, s);
  if (layerScale2.size() > 0) {
    x += s.projected * layerScale2.asDiagonal();
  } else {
    x += s.projected;
  }
}

}  // namespace patchlens
