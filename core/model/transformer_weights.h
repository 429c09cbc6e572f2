#pragma once

#include <memory>
#include <vector>

#include "core/model/patch_embedding.h"
#include "core/model/transformer_block.h"
#include "core/model/transformer_config.h"

namespace patchlens {

// Every weight of a ViT encoder in the canonical layout (transformer_families.cpp fills it from
// any family's checkpoint; vision_transformer.cpp runs it). Immutable once built.
struct TransformerWeights {
  TransformerConfig config;
  std::shared_ptr<const PatchEmbedding> patchEmbedding;
  RowMatrixF prefixTokens;     // [prefix x D]: cls, dist, registers in token order
  RowMatrixF positions;        // [positionPrefixRows + native N x D], empty when none
  LayerNormWeights preNorm;    // used when config.preNorm
  LayerNormWeights finalNorm;  // used when config.finalNorm
  std::vector<TransformerBlock> blocks;
};

}  // namespace patchlens
