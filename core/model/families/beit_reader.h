#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// BEiT / BEiT v2 / data2vec-vision, told by a relative position bias table in either naming:
// timm beit.py (`blocks.N.attn.relative_position_bias_table` or the shared
// `rel_pos_bias.relative_position_bias_table`; keysFamily "timm ViT/DeiT/DINOv2") or HF
// BeitModel / Data2VecVisionModel (`beit.` / `data2vec_vision.` +
// `encoder.layer.N.attention.attention.relative_position_bias.relative_position_bias_table` or
// the shared `encoder.relative_position_bias.*`; keysFamily "Hugging Face ViT").
bool isBeitLayout(const TensorSource& source, const std::string& keysFamily,
                  const std::string& prefix);

// The canonical weights with the bias tables (per block and/or shared), q / v biases (k bias
// 0), LayerScale gamma_1/2 or lambda_1/2, cls, the optional absolute pos_embed, the final norm
// when there is one (timm global_pool='' / HF use_mean_pooling=False). Every tensor is consumed,
// checked (relative_position_index equal to beit.py's) or on the BEiT known-unused list
// (family_tensor_rules.cpp); anything else is refused by name. Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readBeit(const TensorSource& source,
                                                   const std::string& path,
                                                   const std::string& keysFamily,
                                                   const std::string& prefix,
                                                   const TransformerLoadOptions& options);

}  // namespace patchlens
