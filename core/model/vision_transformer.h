#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/model/transformer_block.h"
#include "core/model/transformer_config.h"
#include "core/weights/patch_weights.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

struct TransformerWeights;

// Which transformer to read from a weight file.
struct TransformerLoadOptions {
  int heads = 0;            // --heads: > 0 overrides metadata, sidecar and guess
  WeightLoadOptions patch;  // --key / --bias-key for the patch embedding
  // Read the settings and check every tensor's name and shape, but convert no block tensor
  // (`info`, the resource plan before loading): the blocks hold shapes only and forward()
  // refuses to run.
  bool shapesOnly = false;
  // --max-memory-mb (0: the default, core/model/resource_plan.h): a load first reads the
  // shapes and refuses weights that would not fit, before converting any tensor.
  std::uint64_t maxMemoryBytes = 0;
};

// Everything one forward pass produces. Token order: cls, dist, registers, then the patches
// in row-major grid order.
struct TransformerOutput {
  int gridRows = 0, gridCols = 0;  // patch grid of this input; N = rows * cols
  RowMatrixF patchEmbedding;       // [N x D]
  std::vector<RowMatrixF>
      tokens;        // depth + 1 entries [T x D]: [0] input to block 1, [l] output of block l
  RowMatrixF final;  // [T x D], final norm applied (timm forward_features)
  // With a forward that keeps one layer only: the first of tokens_0..depth (depth + 1: final)
  // holding a NaN or Inf, -1 when none did; the layers dropped can no longer be scanned.
  int firstNonFiniteLayer = -1;
};

// Which tokens_L a forward keeps. Every layer by default; `only(L)` keeps tokens_L alone
// (L = depth + 1: final only) and leaves the others empty, so a long sequence does not hold
// depth + 1 copies of its tokens (ViT-B at 1024^2: 13 x 12.6 MB).
struct KeptLayers {
  int layer = -1;  // -1: every layer
  static KeptLayers only(int layer) { return {layer}; }
  bool keeps(int l) const { return layer < 0 || layer == l; }
};

// Called once per block l = 1..depth with the softmax probabilities of every head,
// heads[h] is [T x T] (row = query). Lets callers keep only what they need (one layer, a
// rollout product, per-head distances) instead of every layer's attention.
using AttentionObserver = std::function<void(int block, const std::vector<RowMatrixF>& heads)>;

// A whole ViT encoder read from a checkpoint of any supported family, converted once into one
// canonical pre-norm block layout. Immutable after load; copies share the weights, and forward
// is const, so one instance serves many threads.
class VisionTransformer {
 public:
  // nullopt when the file holds only a patch embedding (why: in *whyNot). Throws Error naming
  // a missing or mis-shaped block tensor, or weights over options.maxMemoryBytes (before any
  // block tensor is converted). Heads: options.heads > 0 wins, else metadata/sidecar,
  // else the standard-width guess, else Error("... pass --heads").
  static std::optional<VisionTransformer> load(const std::string& path,
                                               const TransformerLoadOptions& options = {},
                                               std::string* whyNot = nullptr);

  const TransformerConfig& config() const;
  const PatchWeights& patchWeights() const;  // the same patch embedding the rest of PatchLens uses
  // The converted weights (shared, not copied): the GUI's explain job runs its backward on them.
  const std::shared_ptr<const TransformerWeights>& weights() const { return m_weights; }

  // Throws Error when the input's channels differ from the weights' or its grid differs from
  // the native one in a family whose code cannot resample position embeddings.
  // qkvObserver: each block's q | k | v (transformer_block.h, QkvObserver), in either
  // attention path; nothing is kept for it here.
  TransformerOutput forward(const ChwTensor& input, const AttentionObserver& observer = {},
                            KeptLayers kept = {}, const QkvObserver& qkvObserver = {}) const;

  explicit VisionTransformer(std::shared_ptr<const TransformerWeights> weights);

 private:
  std::shared_ptr<const TransformerWeights> m_weights;
};

}  // namespace patchlens
