#pragma once

#include <string>
#include <vector>

#include "core/model/transformer_config.h"

namespace patchlens {

// Which tensors of a checkpoint the encoder does not need, per family, and which tensor names
// betray a family PatchLens does not run (RoPE, relative position bias, SwiGLU, ...). Both are
// data (family_tensor_rules.cpp): readTransformer consumes every tensor it understands and
// refuses any other by name.

// The reason `name` (the full tensor name; `prefix` is the family's prefix, "vit." etc.) is
// known to be unused by the encoder of `readerFamily` (a weight_keys family name), or empty.
std::string knownUnusedReason(const std::string& readerFamily, const std::string& prefix,
                              const std::string& name);

// When some tensor names mark a family PatchLens does not run: one sentence naming the first such
// tensor, the family it looks like, its marker tensors and why it is refused; else empty.
std::string lookalikeRefusal(const std::string& readerFamily,
                             const std::vector<std::string>& tensorNames);

// The names grouped by reason, in first-seen order.
std::vector<UnusedTensors> groupUnused(
    const std::vector<std::pair<std::string, std::string>>& nameAndReason);

}  // namespace patchlens
