#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace patchlens {

// Per-channel (x - mean) / std applied after scaling pixels to [0, 1].
struct Normalization {
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f};
  std::array<float, 3> std{0.5f, 0.5f, 0.5f};
  std::string name = "inception";

  // inception | imagenet | clip | none | "m,m,m/s,s,s"; nullopt when unparsable or a std <= 0.
  static std::optional<Normalization> parse(std::string_view text);
};

}  // namespace patchlens
