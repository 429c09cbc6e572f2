#include "core/model/backward/transformer_backward.h"

#include <cmath>
#include <limits>
#include <unsupported/Eigen/SpecialFunctions>
#include <utility>

#include "core/io/error.h"
#include "core/model/omp_thread.h"
#include "core/model/position/relative_position_bias.h"

namespace patchlens {
namespace {

// The encoder's weights without its blocks and final norm: VisionTransformer::forward then
// returns tokens_0 built by its own code (prefix tokens, positions, resampling, pre-norm).
std::shared_ptr<const TransformerWeights> embeddingOnly(const TransformerWeights& w) {
  auto e = std::make_shared<TransformerWeights>();
  e->config = w.config;
  e->config.finalNorm = false;
  e->patchEmbedding = w.patchEmbedding;
  e->prefixTokens = w.prefixTokens;
  e->positions = w.positions;
  e->preNorm = w.preNorm;
  return e;
}

// d/dx of y = R(theta) x for d/dy in qkv's q and k columns, in place: R(-theta) = R(theta)^T.
// Swapping the two members of every rotated pair is a reflection P with P R(theta) P =
// R(-theta), so the forward's own RopeGrid::apply between two swaps rotates back, with the same
// sin / cos tables (every variant: rotate-half, interleaved, per-block mixed).
void rotateBack(const RopeGrid& grid, const RopeEmbedding& rope, int heads, int block,
                RowMatrixF& gradQkv) {
  const Eigen::Index headDim = gradQkv.cols() / (3 * heads);
  const Eigen::Index half = headDim / 2;
  const bool interleaved = rope.pairs == RopeEmbedding::Pairs::Interleaved;
  const auto swapPairs = [&] {
    for (Eigen::Index r = rope.prefixTokens; r < gradQkv.rows(); ++r) {
      float* row = gradQkv.row(r).data();
      for (Eigen::Index base = 0; base < 2 * heads * headDim; base += headDim) {
        for (Eigen::Index t = 0; t < half; ++t) {
          if (interleaved) {
            std::swap(row[base + 2 * t], row[base + 2 * t + 1]);
          } else {
            std::swap(row[base + t], row[base + half + t]);
          }
        }
      }
    }
  };
  swapPairs();
  grid.apply(gradQkv, heads, block);
  swapPairs();
}

void addScaled(RowMatrixF& x, const RowMatrixF& y, const VectorF& scale) {
  if (scale.size() > 0) {
    x += y * scale.asDiagonal();
  } else {
    x += y;
  }
}

}  // namespace

std::string TransformerBackward::unsupportedReason(const TransformerWeights& weights) {
  // RoPE (rotate-half, interleaved, per-block mixed), relative position bias, SwiGLU (both
  // layouts are fc1 / fc1Gate after reading), the sub-LNs and LayerScale are inverted below;
  // an activation this file has no derivative for would be named here.
  if (weights.config.postNorm) return "explain does not support eva02 post-norm blocks yet";
  switch (weights.config.activation) {
    case Activation::Gelu:
    case Activation::GeluTanh:
    case Activation::QuickGelu:
    case Activation::SwiGlu:
      return {};
  }
  return "the exact backward has no derivative for the MLP activation of " + weights.config.family;
}

TransformerBackward::TransformerBackward(std::shared_ptr<const TransformerWeights> weights)
    : m_weights(std::move(weights)), m_embedding(embeddingOnly(*m_weights)) {
  if (const std::string why = unsupportedReason(*m_weights); !why.empty()) throw Error({}, why);
}

void TransformerBackward::blockForward(std::size_t index, const RopeGrid* rope,
                                       const std::vector<RowMatrixF>& positionBias, RowMatrixF& x,
                                       BlockActivations& a, BackwardWorkspace& w) const {
  const TransformerConfig& c = config();
  const TransformerBlock& block = m_weights->blocks[index];
  // The calls of TransformerBlock::forward, with the intermediates the backward reads kept.
  const bool lastBlock = index + 1 == m_weights->blocks.size();
  RowMatrixF& normed1 = lastBlock ? a.normed1 : w.normed;
  layerNorm(x, normed1, block.norm1, c.layerNormEps);
  block.qkv.apply(normed1, a.qkv, LinearEpilogue::None, w.packed);
  if (rope) rope->apply(a.qkv, c.numHeads, static_cast<int>(index));
  const Eigen::Index tokens = a.qkv.rows();
  const int heads = c.numHeads;
  const int headDim = c.headDim();
  const int width = c.embedDim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  using Stride = Eigen::OuterStride<>;
  using ConstHead = Eigen::Map<const RowMatrixF, 0, Stride>;
  using Head = Eigen::Map<RowMatrixF, 0, Stride>;
  const Stride qkvStride(3 * width);
  const bool attnNorm = block.attnNorm.weight.size() > 0;
  RowMatrixF& context = attnNorm ? a.context : w.context;
  a.probabilities.resize(static_cast<std::size_t>(heads));
  for (RowMatrixF& p : a.probabilities) p.resize(tokens, tokens);
  context.resize(tokens, width);
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (int h = 0; h < heads; ++h) {
    const ConstHead q(a.qkv.data() + h * headDim, tokens, headDim, qkvStride);
    const ConstHead k(a.qkv.data() + width + h * headDim, tokens, headDim, qkvStride);
    const ConstHead v(a.qkv.data() + 2 * width + h * headDim, tokens, headDim, qkvStride);
    RowMatrixF& p = a.probabilities[static_cast<std::size_t>(h)];
    p.noalias() = (q * scale) * k.transpose();
    if (!positionBias.empty()) p += positionBias[static_cast<std::size_t>(h)];
    for (Eigen::Index r = 0; r < tokens; ++r) {
      auto row = p.row(r).array();
      row = (row - row.maxCoeff()).exp();
      row *= 1.0f / row.sum();
    }
    Head out(context.data() + h * headDim, tokens, headDim, Stride(width));
    out.noalias() = p * v;
  }
  // layer(subNorm(in)) for the sub-LN families (attn.norm before proj, mlp.norm before fc2).
  const auto applyAfterSubNorm = [&](const LinearLayer& layer, const LayerNormWeights& subNorm,
                                     const RowMatrixF& in) {
    if (subNorm.weight.size() == 0) {
      layer.apply(in, w.projected, LinearEpilogue::None, w.packed);
      return;
    }
    layerNorm(in, w.normed, subNorm, c.layerNormEps);
    layer.apply(w.normed, w.projected, LinearEpilogue::None, w.packed);
  };
  applyAfterSubNorm(block.proj, block.attnNorm, context);
  addScaled(x, w.projected, block.layerScale1);
  a.middle = x;
  layerNorm(x, w.normed, block.norm2, c.layerNormEps);
  block.fc1.apply(w.normed, a.preActivation, LinearEpilogue::None, w.packed);
  RowMatrixF& hidden = block.mlpNorm.weight.size() > 0 ? a.hidden : w.hidden;
  if (c.activation == Activation::SwiGlu) {  // hidden = silu(w1 x) * (w2 x), as the forward
    block.fc1Gate.apply(w.normed, a.gate, LinearEpilogue::None, w.packed);
    hidden.resize(a.preActivation.rows(), a.preActivation.cols());
    hidden.array() =
        a.preActivation.array() / (1.0f + (-a.preActivation.array()).exp()) * a.gate.array();
  } else {
    // The activation in the panel-wide pieces LinearLayer's epilogue uses, so hidden is the
    // forward's to the bit.
    const LinearEpilogue epilogue = epilogueFor(c.activation);
    const Eigen::Index columns = a.preActivation.cols();
    hidden.resize(tokens, columns);
    // Row by row in parallel, as the epilogue runs on the GEMM's threads.
    [[maybe_unused]] const int activationThreads = Eigen::nbThreads();
#pragma omp parallel for num_threads(activationThreads) if (activationThreads > 1) schedule(static)
    for (Eigen::Index r = 0; r < tokens; ++r) {
      hidden.row(r) = a.preActivation.row(r);
      for (Eigen::Index c0 = 0; c0 < columns; c0 += PackedGemm::kPanelWidth) {
        const Eigen::Index count = std::min<Eigen::Index>(PackedGemm::kPanelWidth, columns - c0);
        applyActivation(hidden.row(r).data() + c0, count, epilogue);
      }
    }
  }
  applyAfterSubNorm(block.fc2, block.mlpNorm, hidden);
  addScaled(x, w.projected, block.layerScale2);
}

ForwardTrace TransformerBackward::forward(const ChwTensor& input) const {
  ForwardTrace trace;
  forward(input, trace);
  return trace;
}

void TransformerBackward::forward(const ChwTensor& input, ForwardTrace& trace) const {
  TransformerOutput first = m_embedding.forward(input);
  trace.gridRows = first.gridRows;
  trace.gridCols = first.gridCols;
  const std::size_t depth = m_weights->blocks.size();
  // Every matrix below keeps its allocation when its size is that of the last call.
  trace.tokens.resize(depth + 1);
  trace.tokens.front().swap(first.tokens.front());
  trace.blocks.resize(depth);
  RowMatrixF x = trace.tokens.front();
  trace.rope.reset();
  if (m_weights->rope)
    trace.rope = std::make_shared<const RopeGrid>(*m_weights->rope, trace.gridRows, trace.gridCols);
  std::vector<RowMatrixF> positionBias;
  for (std::size_t i = 0; i < depth; ++i) {
    // Relative-bias families: this block's [T x T] per head, as VisionTransformer::forward.
    attentionBiasFor(m_weights->blocks[i].relativeBias.get(), m_weights->sharedRelativeBias.get(),
                     trace.gridRows, trace.gridCols, config().patchSize, positionBias);
    blockForward(i, trace.rope.get(), positionBias, x, trace.blocks[i], trace.workspace);
    trace.tokens[i + 1] = x;
  }
  if (config().finalNorm) {
    layerNorm(x, trace.final, m_weights->finalNorm, config().layerNormEps);
  } else {
    trace.final.swap(x);
  }
}

void layerNormBackward(const RowMatrixF& x, const LayerNormWeights& norm, float eps,
                       const RowMatrixF& grad, RowMatrixF& gradX) {
  const Eigen::Index rows = x.rows();
  const float inverseWidth = 1.0f / static_cast<float>(x.cols());
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows >= 64) schedule(static)
  for (Eigen::Index r = 0; r < rows; ++r) {
    const auto in = x.row(r).array();
    const float mean = in.sum() * inverseWidth;
    const float variance = (in - mean).square().sum() * inverseWidth;
    const float scale = 1.0f / std::sqrt(variance + eps);
    const Eigen::ArrayXf hat = ((in - mean) * scale).transpose();
    const Eigen::ArrayXf g = grad.row(r).transpose().array() * norm.weight.array();
    const float meanG = g.mean();
    const float meanGHat = (g * hat).mean();
    gradX.row(r).array() += (scale * (g - meanG - hat * meanGHat)).transpose();
  }
}

void multiplyActivationDerivative(const RowMatrixF& preActivation, Activation activation,
                                  RowMatrixF& grad) {
  const Eigen::Index rows = preActivation.rows();
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows >= 16) schedule(static)
  for (Eigen::Index r = 0; r < rows; ++r) {
    const Eigen::ArrayXf x = preActivation.row(r).transpose().array();
    Eigen::ArrayXf derivative;
    switch (activation) {
      case Activation::Gelu:  // 0.5 (1 + erf(x / sqrt 2)) + x phi(x)
        derivative = 0.5f * (1.0f + (x * 0.70710678118654752f).erf()) +
                     x * 0.39894228040143268f * (-0.5f * x.square()).exp();
        break;
      case Activation::GeluTanh: {  // u = k (x + 0.044715 x^3)
        const Eigen::ArrayXf t = (0.79788456080286536f * (x + 0.044715f * x.cube())).tanh();
        derivative = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t.square()) * 0.79788456080286536f *
                                             (1.0f + 3.0f * 0.044715f * x.square());
        break;
      }
      case Activation::QuickGelu: {  // s = sigmoid(1.702 x): s + 1.702 x s (1 - s)
        const Eigen::ArrayXf s = 1.0f / (1.0f + (-1.702f * x).exp());
        derivative = s + 1.702f * x * s * (1.0f - s);
        break;
      }
      case Activation::SwiGlu:  // two inputs: blockBackward's swiGluBackward, never here
        derivative = Eigen::ArrayXf::Constant(x.size(), std::numeric_limits<float>::quiet_NaN());
        break;
    }
    grad.row(r).array() *= derivative.transpose();
  }
}

void TransformerBackward::blockBackward(std::size_t index, const ForwardTrace& trace,
                                        RowMatrixF& grad, RowMatrixF* gradNormed1,
                                        BackwardWorkspace& w) const {
  const TransformerConfig& c = config();
  const TransformerBlock& block = m_weights->blocks[index];
  const BlockActivations& a = trace.blocks[index];
  const RowMatrixF& input = trace.tokens[index];
  const Eigen::Index tokens = a.qkv.rows();
  // grad times a LayerScale, or grad itself without one.
  const auto scaledBy = [&](const VectorF& layerScale) -> const RowMatrixF& {
    if (layerScale.size() == 0) return grad;
    w.scaled.noalias() = grad * layerScale.asDiagonal();
    return w.scaled;
  };

  // x_out = middle + ls2 * fc2(act(fc1(norm2(middle)))); grad holds d/dx_out.
  if (block.mlpNorm.weight.size() > 0) {  // fc2 read mlp.norm(hidden)
    block.fc2.applyTransposed(scaledBy(block.layerScale2), w.gradSub, w.packed);
    w.gradHidden.setZero(a.hidden.rows(), a.hidden.cols());
    layerNormBackward(a.hidden, block.mlpNorm, c.layerNormEps, w.gradSub, w.gradHidden);
  } else {
    block.fc2.applyTransposed(scaledBy(block.layerScale2), w.gradHidden, w.packed);
  }
  if (c.activation == Activation::SwiGlu) {
    // hidden = silu(u) * g: d/du = dH g s (1 + u (1 - s)), s = sigmoid(u); d/dg = dH silu(u).
    const auto u = a.preActivation.array();
    w.sigmoid.resize(a.preActivation.rows(), a.preActivation.cols());
    w.sigmoid.array() = 1.0f / (1.0f + (-u).exp());
    const auto s = w.sigmoid.array();
    w.gradGate.resize(w.gradHidden.rows(), w.gradHidden.cols());
    w.gradGate.array() = w.gradHidden.array() * u * s;
    w.gradHidden.array() *= a.gate.array() * s * (1.0f + u * (1.0f - s));
    block.fc1.applyTransposed(w.gradHidden, w.gradNormed, w.packed);
    block.fc1Gate.applyTransposed(w.gradGate, w.gradFromGate, w.packed);
    w.gradNormed += w.gradFromGate;
  } else {
    multiplyActivationDerivative(a.preActivation, c.activation, w.gradHidden);
    block.fc1.applyTransposed(w.gradHidden, w.gradNormed, w.packed);
  }
  layerNormBackward(a.middle, block.norm2, c.layerNormEps, w.gradNormed, grad);  // d/dmiddle

  // middle = input + ls1 * proj(attn.norm(attention(norm1(input)))).
  if (block.attnNorm.weight.size() > 0) {  // proj read attn.norm(context)
    block.proj.applyTransposed(scaledBy(block.layerScale1), w.gradSub, w.packed);
    w.gradContext.setZero(a.context.rows(), a.context.cols());
    layerNormBackward(a.context, block.attnNorm, c.layerNormEps, w.gradSub, w.gradContext);
  } else {
    block.proj.applyTransposed(scaledBy(block.layerScale1), w.gradContext, w.packed);
  }
  const int heads = c.numHeads;
  const int headDim = c.headDim();
  const int width = c.embedDim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  using Stride = Eigen::OuterStride<>;
  using ConstHead = Eigen::Map<const RowMatrixF, 0, Stride>;
  using Head = Eigen::Map<RowMatrixF, 0, Stride>;
  const Stride qkvStride(3 * width);
  // Everything is allocated before the parallel region: no exception may escape it.
  w.gradQkv.resize(tokens, 3 * width);  // every column is written below, head by head
  std::vector<RowMatrixF>& gradHeads = w.gradHeads;
  gradHeads.resize(static_cast<std::size_t>(heads));
  for (RowMatrixF& gp : gradHeads) gp.resize(tokens, tokens);
  const int threads = std::max(1, Eigen::nbThreads());
  w.gradScores.resize(static_cast<std::size_t>(threads));
  for (RowMatrixF& gs : w.gradScores) gs.resize(tokens, tokens);
  const RowMatrixF& gradContext = w.gradContext;
  RowMatrixF& gradQkv = w.gradQkv;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (int h = 0; h < heads; ++h) {
    const ConstHead q(a.qkv.data() + h * headDim, tokens, headDim, qkvStride);
    const ConstHead k(a.qkv.data() + width + h * headDim, tokens, headDim, qkvStride);
    const ConstHead v(a.qkv.data() + 2 * width + h * headDim, tokens, headDim, qkvStride);
    const ConstHead gOut(gradContext.data() + h * headDim, tokens, headDim, Stride(width));
    const RowMatrixF& p = a.probabilities[static_cast<std::size_t>(h)];
    RowMatrixF& gp = gradHeads[static_cast<std::size_t>(h)];
    gp.noalias() = gOut * v.transpose();  // d/dP
    Head gv(gradQkv.data() + 2 * width + h * headDim, tokens, headDim, qkvStride);
    gv.noalias() = p.transpose() * gOut;
    // Softmax: dS = P (dP - rowsum(dP P)).
    RowMatrixF& gs = w.gradScores[static_cast<std::size_t>(ompThreadIndex())];
    for (Eigen::Index r = 0; r < tokens; ++r) {
      const float dot = gp.row(r).dot(p.row(r));
      gs.row(r).array() = p.row(r).array() * (gp.row(r).array() - dot);
    }
    // S = (q scale) k^T.
    Head gq(gradQkv.data() + h * headDim, tokens, headDim, qkvStride);
    gq.noalias() = (gs * k) * scale;
    Head gk(gradQkv.data() + width + h * headDim, tokens, headDim, qkvStride);
    gk.noalias() = (gs.transpose() * q) * scale;
  }
  // The score bias (BEiT) is a constant: nothing to do. RoPE: q and k were rotated by theta after
  // the projection; their gradients go back through the transpose, the rotation by -theta.
  if (trace.rope)
    rotateBack(*trace.rope, *m_weights->rope, heads, static_cast<int>(index), gradQkv);
  block.qkv.applyTransposed(gradQkv, w.gradNormed, w.packed);
  if (gradNormed1) *gradNormed1 = w.gradNormed;
  layerNormBackward(input, block.norm1, c.layerNormEps, w.gradNormed, grad);  // grad: d/dinput
}

BackwardResult TransformerBackward::backward(const ForwardTrace& trace, const RowMatrixF& gradFinal,
                                             const AttentionGradientObserver& observer) const {
  BackwardResult result;
  backward(trace, gradFinal, result, observer);
  return result;
}

void TransformerBackward::backward(const ForwardTrace& trace, const RowMatrixF& gradFinal,
                                   BackwardResult& result,
                                   const AttentionGradientObserver& observer) const {
  const TransformerConfig& c = config();
  const std::size_t depth = m_weights->blocks.size();
  result.gradTokens.resize(depth + 1);
  RowMatrixF& grad = result.gradTokens[depth];
  if (c.finalNorm) {
    grad.setZero(gradFinal.rows(), gradFinal.cols());
    layerNormBackward(trace.tokens.back(), m_weights->finalNorm, c.layerNormEps, gradFinal, grad);
  } else {
    grad = gradFinal;
  }
  BackwardWorkspace& workspace = result.workspace;
  for (std::size_t i = depth; i-- > 0;) {
    RowMatrixF& gradInput = result.gradTokens[i];
    gradInput = result.gradTokens[i + 1];
    blockBackward(i, trace, gradInput, i + 1 == depth ? &result.gradLastNormed1 : nullptr,
                  workspace);
    if (observer)
      observer(static_cast<int>(i) + 1, workspace.gradHeads, trace.blocks[i].probabilities);
  }
}

namespace {

// cos(a, b) in double, and its gradients with respect to a and b. Throws Error when either is
// zero.
double cosineWithGradients(const VectorF& a, const VectorF& b, VectorF& gradA, VectorF& gradB) {
  const double na = a.cast<double>().norm(), nb = b.cast<double>().norm();
  if (na == 0.0 || nb == 0.0)
    throw Error("", "the cosine similarity is undefined: a token of the target is zero");
  const double cosine = a.cast<double>().dot(b.cast<double>()) / (na * nb);
  gradA = (b.cast<double>() / (na * nb) - cosine * a.cast<double>() / (na * na)).cast<float>();
  gradB = (a.cast<double>() / (na * nb) - cosine * b.cast<double>() / (nb * nb)).cast<float>();
  return cosine;
}

// d target / d pooled, spread back over the tokens it was pooled from.
void addPooledGradient(const TransformerConfig& c, const VectorF& gradPooled, RowMatrixF& grad) {
  if (c.classToken) {
    grad.row(0) += gradPooled.transpose();
  } else {
    const Eigen::Index patches = grad.rows() - c.prefixTokens();
    grad.bottomRows(patches).rowwise() += gradPooled.transpose() / static_cast<float>(patches);
  }
}

}  // namespace

VectorF pooledEmbedding(const RowMatrixF& final, const TransformerConfig& c) {
  const Eigen::Index patches = final.rows() - c.prefixTokens();
  return c.classToken ? VectorF(final.row(0).transpose())
                      : VectorF(final.bottomRows(patches).colwise().mean().transpose());
}

float patchSimilarityTarget(const RowMatrixF& final, const TransformerConfig& c,
                            Eigen::Index patchRow, RowMatrixF& grad) {
  VectorF gradA, gradB;
  const double cosine =
      cosineWithGradients(final.row(patchRow).transpose(), pooledEmbedding(final, c), gradA, gradB);
  grad = RowMatrixF::Zero(final.rows(), final.cols());
  grad.row(patchRow) += gradA.transpose();
  addPooledGradient(c, gradB, grad);
  return static_cast<float>(cosine);
}

float embeddingSimilarityTarget(const RowMatrixF& final, const TransformerConfig& c,
                                const VectorF& other, RowMatrixF& grad) {
  if (other.size() != final.cols()) {
    throw Error("", "the other embedding has " + std::to_string(other.size()) +
                        " channels, this model " + std::to_string(final.cols()));
  }
  VectorF gradPooled, gradOther;  // `other` is a constant: its gradient is dropped
  const double cosine =
      cosineWithGradients(pooledEmbedding(final, c), other, gradPooled, gradOther);
  grad = RowMatrixF::Zero(final.rows(), final.cols());
  addPooledGradient(c, gradPooled, grad);
  return static_cast<float>(cosine);
}

}  // namespace patchlens
