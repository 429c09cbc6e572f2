#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/weights/patch_weights.h"

namespace patchlens {

// Ways to fill an untrained patch embedding (see design.md, "Initializers").
enum class Initializer {
  Xavier,        // Glorot uniform on the [D x C*P*P] view, bias 0 (MAE / PatchEmbed write-up)
  XavierNormal,  // Glorot normal on the same view, bias 0
  TorchDefault,  // nn.Conv2d's reset_parameters: kaiming_uniform(a=sqrt(5)), bias
                 // U(+-1/sqrt(fan_in))
  Dct,           // opponent colour x 2-D DCT-II basis, lowest frequencies first; no randomness
};

std::optional<Initializer> parseInitializer(std::string_view name);
std::string initializerName(Initializer init);

// Shapes of an untrained layer.
struct LayerShape {
  int embedDim = 768;
  int inChannels = 3;
  int patchSize = 16;
};

// Throws Error when the shape is impossible (non-positive, or D > C*P*P for dct).
PatchWeights makeInitializedWeights(Initializer init, const LayerShape& shape, std::uint64_t seed);

}  // namespace patchlens
