#include "ui/base/colormap.h"

#include <cmath>
#include <utility>

#include "ui/base/colormap_tables.h"

namespace patchlens {

namespace {

struct Entry {
  ColormapId id;
  const char* name;
  const colormap_tables::Lut* lut;
  bool diverging;
};

constexpr std::array kEntries{
    Entry{ColormapId::Viridis, "viridis", &colormap_tables::kViridisLut, false},
    Entry{ColormapId::Magma, "magma", &colormap_tables::kMagmaLut, false},
    Entry{ColormapId::Inferno, "inferno", &colormap_tables::kInfernoLut, false},
    Entry{ColormapId::Plasma, "plasma", &colormap_tables::kPlasmaLut, false},
    Entry{ColormapId::Cividis, "cividis", &colormap_tables::kCividisLut, false},
    Entry{ColormapId::Turbo, "turbo", &colormap_tables::kTurboLut, false},
    Entry{ColormapId::Gray, "gray", &colormap_tables::kGrayLut, false},
    Entry{ColormapId::RdBu, "RdBu_r", &colormap_tables::kRdBuRLut, true},
    Entry{ColormapId::Coolwarm, "coolwarm", &colormap_tables::kCoolwarmLut, true},
};

const Entry& entry(ColormapId id) {
  return kEntries[static_cast<std::size_t>(id)];
}

}  // namespace

const Colormap& Colormap::get(ColormapId id) {
  // A lambda inside the member function may call the private constructor.
  static const auto maps = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<Colormap, sizeof...(I)>{Colormap(kEntries[I].id, kEntries[I].lut)...};
  }
  (std::make_index_sequence<kEntries.size()>{});
  return maps[static_cast<std::size_t>(id)];
}

const std::vector<ColormapId>& Colormap::all() {
  static const std::vector<ColormapId> ids = [] {
    std::vector<ColormapId> result;
    for (const Entry& e : kEntries) result.push_back(e.id);
    return result;
  }();
  return ids;
}

std::optional<ColormapId> Colormap::parse(std::string_view name) {
  for (const Entry& e : kEntries) {
    if (name == e.name) return e.id;
  }
  if (name == "RdBu" || name == "rdbu") return ColormapId::RdBu;
  return std::nullopt;
}

std::string Colormap::name() const {
  return entry(m_id).name;
}

bool Colormap::isDiverging() const {
  return entry(m_id).diverging;
}

Rgb8 Colormap::at(double t) const {
  int index = 0;
  if (!std::isnan(t)) {
    // matplotlib: xa = x * N, then values == 1.0 go to N - 1, out-of-range are clipped.
    const double scaled = std::floor(t * 256.0);
    index = scaled < 0.0 ? 0 : (scaled > 255.0 ? 255 : static_cast<int>(scaled));
  }
  const auto& c = (*m_lut)[static_cast<std::size_t>(index)];
  return {c[0], c[1], c[2]};
}

Rgb8 Colormap::map(double value, double lo, double hi) const {
  const double span = hi - lo;
  return at(span > 0.0 ? (value - lo) / span : 0.5);
}

}  // namespace patchlens
