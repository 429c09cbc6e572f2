#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Hugging Face's DINOv3 (transformers >= 4.56, DINOv3ViTModel, config.json model_type
// "dinov3_vit"): embeddings.{cls_token, mask_token, register_tokens, patch_embeddings},
// layer.N.{norm1, attention.{q,k,v,o}_proj, layer_scale1.lambda1, norm2, mlp.{up,down}_proj or
// mlp.{gate,up,down}_proj, layer_scale2.lambda1}, norm. True, with `prefix` set (the text before
// "embeddings.patch_embeddings.weight"), when the tensor names say so: the patch-embedding conv
// beside a layer scale, a split q projection or the register tokens under the same prefix; or
// when config.json beside the file says model_type "dinov3_vit".
bool isHfDinov3Layout(const TensorSource& source, const std::string& path, std::string& prefix);

// The canonical weights plus RoPE as modeling_dinov3_vit.py computes it (inv_freq recomputed in
// float32 from config.json's rope_theta; the file holds no RoPE tensor). config.json beside the
// file is required (heads, rope_theta, eps, hidden_act, use_gated_mlp): without it, or with a
// setting PatchLens does not run, or with a tensor the layout does not have, refused by name.
// Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readHfDinov3(const TensorSource& source,
                                                       const std::string& path,
                                                       const std::string& prefix,
                                                       const TransformerLoadOptions& options);

}  // namespace patchlens
