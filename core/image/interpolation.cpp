#include "core/image/interpolation.h"

namespace patchlens {

std::optional<Interpolation> parseInterpolation(std::string_view name) {
  if (name == "bicubic") return Interpolation::Bicubic;
  if (name == "bilinear") return Interpolation::Bilinear;
  if (name == "nearest") return Interpolation::Nearest;
  return std::nullopt;
}

std::string interpolationName(Interpolation interp) {
  switch (interp) {
    case Interpolation::Bicubic:
      return "bicubic";
    case Interpolation::Bilinear:
      return "bilinear";
    case Interpolation::Nearest:
      return "nearest";
  }
  return "unknown";
}

}  // namespace patchlens
