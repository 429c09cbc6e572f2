#pragma once

#include <array>
#include <cstdint>

namespace patchlens::colormap_tables {

// 256 RGB entries of one matplotlib colormap (generated, see ui/views/generate_colormaps.py).
using Lut = std::array<std::array<std::uint8_t, 3>, 256>;

extern const Lut kViridisLut;
extern const Lut kMagmaLut;
extern const Lut kInfernoLut;
extern const Lut kPlasmaLut;
extern const Lut kCividisLut;
extern const Lut kTurboLut;
extern const Lut kGrayLut;
extern const Lut kRdBuRLut;
extern const Lut kCoolwarmLut;

}  // namespace patchlens::colormap_tables
