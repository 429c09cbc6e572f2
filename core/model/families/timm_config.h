#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace patchlens {

// timm's config.json beside the weights (architecture, model_args, pretrained_cfg), or an empty
// object when there is none, it is larger than 4 MiB or it is no JSON object.
nlohmann::json readTimmConfig(const std::string& weightsPath);

}  // namespace patchlens
