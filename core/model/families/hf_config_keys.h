#pragma once

#include <string>

namespace patchlens {

// PretrainedConfig's own keys (transformers configuration_utils.py) that leave a vision model's
// forward as it is: names, versions, the dtype of the saved weights (PatchLens computes in
// float32 as from_pretrained does by default), output switches, labels of a head the encoder has
// not. The Hugging Face readers (DINOv3ViTModel, Siglip2VisionModel) accept these in config.json
// and refuse any key they neither read nor list as without effect.
bool isHfConfigBookkeeping(const std::string& key);

}  // namespace patchlens
