#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/model/transformer_config.h"
#include "core/weights/patch_weights.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

struct TransformerWeights;

// Which transformer to read from a weight file.
struct TransformerLoadOptions {
  int heads = 0;            // --heads: > 0 overrides metadata, sidecar and guess
  WeightLoadOptions patch;  // --key / --bias-key for the patch embedding
};

// Everything one forward pass produces. Token order: cls, dist, registers, then the patches
// in row-major grid order.
struct TransformerOutput {
  int gridRows = 0, gridCols = 0;  // patch grid of this input; N = rows * cols
  RowMatrixF patchEmbedding;       // [N x D]
  std::vector<RowMatrixF>
      tokens;        // depth + 1 entries [T x D]: [0] input to block 1, [l] output of block l
  RowMatrixF final;  // [T x D], final norm applied (timm forward_features)
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
  // a missing or mis-shaped block tensor. Heads: options.heads > 0 wins, else metadata/sidecar,
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
  TransformerOutput forward(const ChwTensor& input, const AttentionObserver& observer = {}) const;

  explicit VisionTransformer(std::shared_ptr<const TransformerWeights> weights);

 private:
  std::shared_ptr<const TransformerWeights> m_weights;
};

}  // namespace patchlens
