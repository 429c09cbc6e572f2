#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/flash_attention.h"
#include "core/model/linear_layer.h"
#include "core/model/transformer_config.h"

namespace patchlens {

class RopeGrid;               // core/model/position/rope_embedding.h
struct RelativePositionBias;  // core/model/position/relative_position_bias.h

// A LayerNorm's affine parameters.
struct LayerNormWeights {
  VectorF weight;  // [D]
  VectorF bias;    // [D]
};

// out = (x - mean) / sqrt(var + eps) * weight + bias per row, biased variance (torch LayerNorm).
void layerNorm(const RowMatrixF& x, RowMatrixF& out, const LayerNormWeights& norm, float eps);

// One thread's tile of the blocked attention: a query tile against one key tile at a time.
struct AttentionTile {
  RowMatrixF query;                // [Bq x d] the tile's queries, pre-scaled by 1/sqrt(d)
  RowMatrixF scores;               // [Bq x Bk] scores, then exp(score - running max)
  RowMatrixF accumulated;          // [Bq x d] unnormalised sum of exp-weighted values
  VectorF runningMax, runningSum;  // [Bq] per query row: the online softmax's max and sum
};

// Called once per block (1..depth) with the block's fused [T x 3D] q | k | v as they enter
// the attention: after the qkv projection and the family's RoPE, before the 1/sqrt(dh) scale.
// Head h of q is columns h*dh..(h+1)*dh, of k D + h*dh.., of v 2D + h*dh..
// (core/model/qkv_features.h splits it). Both attention paths call it; the caller keeps only the
// blocks it asked for.
using QkvObserver = std::function<void(int block, const RowMatrixF& qkv)>;

// Buffers one forward reuses from block to block, so a 12-block pass allocates once.
struct BlockScratch {
  RowMatrixF normed, qkv, context, projected, hidden, gate;
  // true: every head's [T x T] softmax is materialised in probabilities (an observer reads it);
  // false: the blocked kernel runs in O(T x D) plus one tile per thread and probabilities is
  // left empty.
  bool keepProbabilities = true;
  std::vector<RowMatrixF> probabilities;  // one [T x T] per head
  std::vector<AttentionTile> tiles;       // one per thread (blocked attention, Eigen)
  FlashAttention flash;  // the blocked attention on the packed kernels (AVX-512 / AVX2 hosts)
  std::vector<float> packed;
  const RopeGrid* rope = nullptr;  // RoPE families: this input's grid, set by the forward
  int ropeBlock = 0;               // the block being run (RoPE-Mixed has angles per block)
  const QkvObserver* qkvObserver = nullptr;  // forward --qkv, the GUI's q/k/v sources; or null
  // Relative-bias families (BEiT): one [T x T] per head added to q kᵀ / sqrt(d) before the
  // softmax in both attention paths, set per block by the forward; empty otherwise.
  std::vector<RowMatrixF> positionBias;
};

// One pre-norm ViT block, the canonical layout every family is converted into:
// x = x + ls1 * proj(attn(norm1(x))); x = x + ls2 * fc2(act(fc1(norm2(x)))).
// TransformerConfig::postNorm (timm EvaBlockPostNorm): x = x + norm1(proj(attn(x))), then
// x = x + norm2(fc2(act(fc1(x)))).
class TransformerBlock {
 public:
  LayerNormWeights norm1, norm2;
  LinearLayer qkv;      // [3D x D]: q rows, then k, then v (timm's fused qkv)
  LinearLayer proj;     // [D x D]
  LinearLayer fc1;      // [M x D]
  LinearLayer fc2;      // [D x M]
  LinearLayer fc1Gate;  // [M x D] SwiGLU only: fc1 is w1 (silu), this is w2
  // Sub-LayerNorms (timm eva.py, empty when absent): attn.norm on the attention's output before
  // proj (scale_attn_inner, EVA-02 CLIP), mlp.norm on the hidden layer before fc2 (scale_mlp).
  LayerNormWeights attnNorm, mlpNorm;
  VectorF layerScale1, layerScale2;  // [D], empty when the family has none
  // BEiT's per-block relative position bias table; null for every other family.
  std::shared_ptr<const RelativePositionBias> relativeBias;

  // x [T x D] in place. After the call scratch.probabilities holds each head's softmax when
  // scratch.keepProbabilities, else it is empty (the blocked attention never forms it).
  void forward(RowMatrixF& x, const TransformerConfig& config, BlockScratch& scratch) const;

 private:
  void attention(const TransformerConfig& config, BlockScratch& scratch) const;
  void blockedAttention(const TransformerConfig& config, BlockScratch& scratch) const;
  void branchOutput(const TransformerConfig& config, const LayerNormWeights& norm,
                    BlockScratch& scratch) const;
};

LinearEpilogue epilogueFor(Activation activation);

}  // namespace patchlens
