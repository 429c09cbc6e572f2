#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patchlens {

// The colormaps PatchLens offers; the tables are matplotlib's, byte for byte.
enum class ColormapId { Viridis, Magma, Inferno, Plasma, Cividis, Turbo, Gray, RdBu, Coolwarm };

struct Rgb8 {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
  bool operator==(const Rgb8&) const = default;
};

// A 256-entry lookup table with matplotlib's indexing (t * 256, clipped to 0..255).
class Colormap {
 public:
  static const Colormap& get(ColormapId id);
  static const std::vector<ColormapId>& all();
  static std::optional<ColormapId> parse(std::string_view name);

  ColormapId id() const { return m_id; }
  // Matplotlib's name ("viridis", "RdBu_r", ...), also used in settings.
  std::string name() const;
  // Zero-centred maps are the default for signed values.
  bool isDiverging() const;

  // t in [0, 1]; NaN maps to the lowest colour.
  Rgb8 at(double t) const;
  // The colour of `value` when [lo, hi] spans the map.
  Rgb8 map(double value, double lo, double hi) const;

 private:
  Colormap(ColormapId id, const std::array<std::array<std::uint8_t, 3>, 256>* lut)
      : m_id(id), m_lut(lut) {}
  ColormapId m_id;
  const std::array<std::array<std::uint8_t, 3>, 256>* m_lut;
};

}  // namespace patchlens
