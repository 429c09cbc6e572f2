#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Meta's DINOv3 ViT state dict (facebookresearch/dinov3, DinoVisionTransformer): cls_token,
// storage_tokens, mask_token, patch_embed.proj, rope_embed.periods, blocks.N.{norm1,
// attn.qkv (+ bias_mask), attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}, norm.
bool isDinov3Layout(const TensorSource& source, const std::string& prefix);

// timm's DINOv3 port (eva.py): blocks.0.gamma_1, no pos_embed / rope.freqs, and timm's
// config.json beside the file naming a "*_dinov3*" architecture (the file alone cannot tell
// its RoPE). readDinov3 reads it too.
bool isTimmDinov3Port(const TensorSource& source, const std::string& path,
                      const std::string& prefix);

// timm's EVA family (EVA-02, RoPE-ViT, timm's DINOv3 port: gamma_1, q_bias / v_bias, q_proj,
// fc1_g, rope.freqs; RoPE recomputed from the architecture, not stored) without the config.json
// that names its architecture (families/eva_reader.h reads it with one): throws Error(path, ...)
// naming the tensor, since reading it as a plain timm ViT would drop LayerScale and RoPE.
void refuseTimmEvaLayout(const TensorSource& source, const std::string& path,
                         const std::string& prefix);

// The canonical weights plus the RoPE description. Every tensor under `prefix` must be one
// the forward uses (or mask_token / local_cls_norm, unused at inference): anything else, and the
// SwiGLU MLP of S+/H+/7B, is refused by name. Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readDinov3(const TensorSource& source,
                                                     const std::string& path,
                                                     const std::string& prefix,
                                                     const TransformerLoadOptions& options);

}  // namespace patchlens
