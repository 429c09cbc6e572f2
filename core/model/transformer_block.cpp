#include "core/model/transformer_block.h"

#include <cmath>
#include <exception>

#include "core/model/position/rope_embedding.h"

namespace patchlens {

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
  using Stride = Eigen::OuterStride<>;
  using ConstHead = Eigen::Map<const RowMatrixF, 0, Stride>;
  using Head = Eigen::Map<RowMatrixF, 0, Stride>;
  const Stride qkvStride(3 * width);
  s.probabilities.resize(static_cast<std::size_t>(heads));
  s.context.resize(tokens, width);
  // Every allocation before the parallel region: an exception must not cross it (a
  // bad_alloc there is std::terminate). The resource plan refuses what would not fit.
  for (RowMatrixF& p : s.probabilities) p.resize(tokens, tokens);
  const auto attendHead = [&](int h) {
    const ConstHead q(s.qkv.data() + h * headDim, tokens, headDim, qkvStride);
    const ConstHead k(s.qkv.data() + width + h * headDim, tokens, headDim, qkvStride);
    const ConstHead v(s.qkv.data() + 2 * width + h * headDim, tokens, headDim, qkvStride);
    RowMatrixF& p = s.probabilities[static_cast<std::size_t>(h)];
    p.noalias() = (q * scale) * k.transpose();
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

void TransformerBlock::forward(RowMatrixF& x, const TransformerConfig& config,
                               BlockScratch& s) const {
  layerNorm(x, s.normed, norm1, config.layerNormEps);
  qkv.apply(s.normed, s.qkv, LinearEpilogue::None, s.packed);
  // RoPE hook: rotate q and k of the patches before q.k^T (rope_embedding.cpp).
  if (s.rope) s.rope->apply(s.qkv, config.numHeads);
  attention(config, s);
  proj.apply(s.context, s.projected, LinearEpilogue::None, s.packed);
  if (layerScale1.size() > 0) {
    x += s.projected * layerScale1.asDiagonal();
  } else {
    x += s.projected;
  }
  layerNorm(x, s.normed, norm2, config.layerNormEps);
  fc1.apply(s.normed, s.hidden, epilogueFor(config.activation), s.packed);
  if (config.activation == Activation::SwiGlu) {  // SwiGLU hook: hidden = silu(w1 x) * (w2 x)
    fc1Gate.apply(s.normed, s.gate, LinearEpilogue::None, s.packed);
    s.hidden.array() = s.hidden.array() / (1.0f + (-s.hidden.array()).exp()) * s.gate.array();
  }
  fc2.apply(s.hidden, s.projected, LinearEpilogue::None, s.packed);
  if (layerScale2.size() > 0) {
    x += s.projected * layerScale2.asDiagonal();
  } else {
    x += s.projected;
  }
}

}  // namespace patchlens
