#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Hugging Face's SigLIP 2 NaFlex (transformers modeling_siglip2.py): Siglip2VisionModel, or a
// whole Siglip2Model (its text tower beside it), both under vision_model.: embeddings.
// patch_embedding a Linear [D, C*P*P] over patches flattened (ph, pw, c), embeddings.
// position_embedding.weight [S*S, D], encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj,
// layer_norm2, mlp.fc1, mlp.fc2}, post_layernorm, head.* (MAP). True when the file has that
// Linear at vision_model.embeddings.patch_embedding.weight.
bool isHfSiglip2Layout(const TensorSource& source);

// The same canonical weights timm's NaFlexVit reader produces (readNaflexEncoder over HF's
// names): the position grid resized per image as Siglip2VisionEmbeddings.
// resize_positional_embeddings does (F.interpolate bilinear, align_corners=False, antialias=True;
// at the native size that is the identity). config.json beside the file is required (model_type
// siglip2 or siglip2_vision_model): every key read, checked against the tensors, known to have no
// effect on the tokens, or refused by name; the MAP head, the text tower, logit_scale and
// logit_bias are known unused. Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readHfSiglip2(const TensorSource& source,
                                                        const std::string& path,
                                                        const TransformerLoadOptions& options);

}  // namespace patchlens
