#include "ui/figures/figure_data.h"

namespace patchlens {

std::string layerSpec(const LayerTrace* trace, int layer) {
  if (!trace || layer <= 0) return "patch";
  if (layer >= trace->depth + 2) return "final";
  return std::to_string(layer - 1);
}

ColormapId signedColormap(const FigureOptions& options) {
  return options.colormap.value_or(ColormapId::RdBu);
}

ColormapId sequentialColormap(const FigureOptions& options) {
  return options.colormap.value_or(ColormapId::Viridis);
}

ValueRange rangeForColormap(ColormapId colormap, const Eigen::Ref<const VectorF>& values) {
  const ScaleMode mode =
      Colormap::get(colormap).isDiverging() ? ScaleMode::Symmetric : ScaleMode::MinMax;
  return scaleRange(mode, values, ValueRange{});
}

ValueRange rangeForOptions(ColormapId colormap, const Eigen::Ref<const VectorF>& values,
                           const FigureOptions& options) {
  if (!options.scale) return rangeForColormap(colormap, values);
  return scaleRange(*options.scale, values, options.global);
}

}  // namespace patchlens
