#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace patchlens {

// Resampling filters, named as in PIL / torchvision.
enum class Interpolation { Bicubic, Bilinear, Nearest };

std::optional<Interpolation> parseInterpolation(std::string_view name);
std::string interpolationName(Interpolation interp);

}  // namespace patchlens
