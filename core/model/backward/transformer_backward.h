#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/model/linear_layer.h"
#include "core/model/position/rope_embedding.h"
#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"

namespace patchlens {

// What one block's backward needs from its forward (its input is the trace's tokens[l - 1]).
// Only what the backward reads is kept (the trace is most of explain's memory and every page of
// it is touched once): norm2's output, and the context and hidden without a sub-LN, live in
// buffers reused from block to block.
struct BlockActivations {
  RowMatrixF normed1;  // norm1(x) [T x D]: the last block only (Grad-CAM's A), else empty
  RowMatrixF qkv;      // [T x 3D], q and k of the patches rotated (RoPE families)
  std::vector<RowMatrixF> probabilities;  // one softmax [T x T] per head
  RowMatrixF context;  // with attn.norm only: the attention output before it [T x D], else empty
  RowMatrixF middle;   // x after the attention residual [T x D]
  RowMatrixF preActivation;  // fc1 output before the activation [T x M] (SwiGLU: w1 x)
  RowMatrixF gate;           // SwiGLU only: fc1Gate output w2 x [T x M], else empty
  // With mlp.norm only: activation(preActivation) (SwiGLU: silu(w1 x) * w2 x) before it, else
  // empty.
  RowMatrixF hidden;
};

// Buffers a pass reuses from block to block (transformer_backward.cpp says which), and from
// call to call when the caller keeps the ForwardTrace / BackwardResult that holds them.
struct BackwardWorkspace {
  std::vector<float> packed;  // packed rows (and dY W's B panels) of the linear layers
  // forward: norm1 / norm2 outputs not kept, a sub-LN's output, proj / fc2 outputs, the context
  // and hidden activations when no sub-LN keeps them in the trace
  RowMatrixF normed, projected, context, hidden;
  // backward
  RowMatrixF scaled, gradHidden, gradSub, gradGate, sigmoid, gradNormed, gradFromGate, gradContext,
      gradQkv;
  std::vector<RowMatrixF> gradScores;  // one [T x T] per thread: d/d(scores) of its head
  std::vector<RowMatrixF> gradHeads;   // d/d softmax of every head [T x T], one block at a time
};

// A forward that keeps every block's activations, for the backward.
struct ForwardTrace {
  int gridRows = 0, gridCols = 0;
  std::vector<RowMatrixF> tokens;  // depth + 1 entries, as TransformerOutput::tokens
  RowMatrixF final;                // [T x D], final norm applied (when the family has one)
  std::vector<BlockActivations> blocks;
  // RoPE families: the sin / cos of this grid the forward rotated with (its transpose, the
  // rotation by -theta, takes the gradients of q and k back); null otherwise.
  std::shared_ptr<const RopeGrid> rope;
  BackwardWorkspace workspace;  // the forward's buffers, kept for the next forward into this trace
};

struct BackwardResult {
  std::vector<RowMatrixF> gradTokens;  // depth + 1 entries: d target / d tokens_L [T x D]
  RowMatrixF gradLastNormed1;          // d target / d (the last block's norm1 output) [T x D]
  BackwardWorkspace workspace;  // the backward's buffers, kept for the next backward into this
};

// Called once per block l = depth..1 (backward order) with d target / d softmax of every head
// and the softmax itself, each [T x T].
using AttentionGradientObserver = std::function<void(
    int block, const std::vector<RowMatrixF>& gradHeads, const std::vector<RowMatrixF>& heads)>;

// The exact reverse pass of VisionTransformer's encoder, block by block: gradients with
// respect to activations only (weights are fixed). Linear layers run backward as dY W straight
// from the packed GEMM's panels (no second copy of the weights); LayerNorm (also the sub-LNs
// attn.norm / mlp.norm), GELU (erf, tanh), QuickGELU, SwiGLU, softmax and LayerScale have their
// closed-form derivatives; RoPE is a rotation, its transpose the rotation by -theta with the same
// RopeGrid; a relative position bias is a constant added to the scores (the gradient passes
// straight to the softmax input). Memory: the forward's activations (kept by forward()) plus
// one block's gradients at a time.
class TransformerBackward {
 public:
  // Throws Error (no file) with unsupportedReason() for a model whose blocks it cannot invert.
  explicit TransformerBackward(std::shared_ptr<const TransformerWeights> weights);
  // Why this model's backward would not be exact, or empty (every block layout the encoder runs
  // is covered today).
  static std::string unsupportedReason(const TransformerWeights& weights);

  const TransformerConfig& config() const { return m_weights->config; }

  // tokens_0 exactly as VisionTransformer::forward builds it (the same code runs), then every
  // block with its activations kept. Throws Error as VisionTransformer::forward does.
  ForwardTrace forward(const ChwTensor& input) const;
  // The same into *trace, reusing its buffers when the sizes match (a caller that explains image
  // after image keeps one trace: its pages are touched once, not once per call).
  void forward(const ChwTensor& input, ForwardTrace& trace) const;

  // From d target / d final [T x D] back to every tokens_L.
  BackwardResult backward(const ForwardTrace& trace, const RowMatrixF& gradFinal,
                          const AttentionGradientObserver& observer = {}) const;
  // The same into *result, reusing its buffers.
  void backward(const ForwardTrace& trace, const RowMatrixF& gradFinal, BackwardResult& result,
                const AttentionGradientObserver& observer = {}) const;

 private:
  void blockForward(std::size_t index, const RopeGrid* rope,
                    const std::vector<RowMatrixF>& positionBias, RowMatrixF& x, BlockActivations& a,
                    BackwardWorkspace& w) const;
  void blockBackward(std::size_t index, const ForwardTrace& trace, RowMatrixF& grad,
                     RowMatrixF* gradNormed1, BackwardWorkspace& w) const;

  std::shared_ptr<const TransformerWeights> m_weights;
  VisionTransformer m_embedding;  // the same weights without blocks: tokens_0 only
};

// explain --target similar:R,C: the cosine similarity between final[patchRow] and the class
// token (without one: the mean of the patch tokens); its gradient with respect to final in
// *grad [T x D]. Throws Error when either token is zero.
float patchSimilarityTarget(const RowMatrixF& final, const TransformerConfig& config,
                            Eigen::Index patchRow, RowMatrixF& grad);

// The pooled embedding of the final tokens: the class token, or without one the mean patch
// token (registers left out).
VectorF pooledEmbedding(const RowMatrixF& final, const TransformerConfig& config);

// explain --target similar-to B: the cosine similarity between this image's pooled embedding
// and `other` (B's, a constant); its gradient with respect to final in *grad [T x D]. Throws
// Error when either is zero or the widths differ.
float embeddingSimilarityTarget(const RowMatrixF& final, const TransformerConfig& config,
                                const VectorF& other, RowMatrixF& grad);

// d/dx of LayerNorm (biased variance, eps) for d/dy = grad, added into gradX.
void layerNormBackward(const RowMatrixF& x, const LayerNormWeights& norm, float eps,
                       const RowMatrixF& grad, RowMatrixF& gradX);

// The derivative of an MLP activation at pre-activation values, multiplied in place into grad.
void multiplyActivationDerivative(const RowMatrixF& preActivation, Activation activation,
                                  RowMatrixF& grad);

}  // namespace patchlens
