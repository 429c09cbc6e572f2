#pragma once

#include <memory>
#include <vector>

#include "core/model/patch_embedding.h"
#include "core/model/transformer_block.h"
#include "core/model/transformer_config.h"

namespace patchlens {

struct RopeEmbedding;         // core/model/position/rope_embedding.h
struct RelativePositionBias;  // core/model/position/relative_position_bias.h

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
  // RoPE families (DINOv3): q and k of the patches rotated in every block; null otherwise.
  std::shared_ptr<const RopeEmbedding> rope;
  // Read with TransformerLoadOptions::shapesOnly: a description, not a runnable model.
  bool shapesOnly = false;
  // BEiT's use_shared_rel_pos_bias: one table added in every block (beside any per-block
  // TransformerBlock::relativeBias); null otherwise.
  std::shared_ptr<const RelativePositionBias> sharedRelativeBias;
};

}  // namespace patchlens
