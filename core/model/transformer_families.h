#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Converts a checkpoint of any supported family (timm, Hugging Face ViT/DINOv2/CLIP/SigLIP,
// OpenAI CLIP, torchvision, Google npz) into the canonical block layout, as timm's
// checkpoint_filter_fn does. Returns null with *whyNot set when the file holds only a patch
// embedding; throws Error(path, ...) naming a missing or mis-shaped tensor.
std::shared_ptr<const TransformerWeights> readTransformer(const TensorSource& source,
                                                          const std::string& path,
                                                          const TransformerLoadOptions& options,
                                                          std::string* whyNot);

// Why the encoder of this weight file is refused, told from its tensor names alone (a RoPE,
// relative-bias or SwiGLU family: family_tensor_rules.cpp), or empty. Cheap (no tensor is
// read): `embed`, which needs only the patch embedding, warns with it.
std::string encoderRefusalByName(const TensorSource& source, const std::string& path,
                                 const WeightLoadOptions& patch);

// The heads a standard ViT of this width has (384 -> 6, 768 -> 12, 1024 -> 16, 1280 -> 16,
// 1536 -> 24), 0 for any other width.
int standardHeadsForWidth(int width);

}  // namespace patchlens
