#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// timm's eva.py family (class Eva) other than the DINOv3 port: EVA / EVA-02 (and their CLIP
// towers), timm's SBB RoPE ViTs and Naver's RoPE-ViT (axial and mixed). What the tensors do not
// say (heads, RoPE temperature, grid indexing and offset, ref_feat_shape, LayerNorm eps) comes
// from timm's config.json beside the file: its registered architecture's arguments (eva.py),
// overridden by its model_args. True when that config.json names such an architecture.
bool isTimmEvaArchitecture(const std::string& path);

// The canonical weights plus RoPE. Every tensor under `prefix` is consumed or known unused at
// inference (head, fc_norm, attn_pool, MIM mask_token / lm_head); anything else, and every
// option PatchLens does not run exactly (post-norm blocks, rotate-half 'cat' RoPE, gated
// attention, Perception Encoder for now, ...), is refused by name. Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readEva(const TensorSource& source,
                                                  const std::string& path,
                                                  const std::string& prefix,
                                                  const TransformerLoadOptions& options);

}  // namespace patchlens
