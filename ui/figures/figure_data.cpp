#include "ui/figures/figure_data.h"

namespace patchlens {

std::string layerSpec(const LayerTrace* trace, int layer) {
  if (!trace || layer <= 0) return "patch";
  if (layer >= trace->depth + 2) return "final";
  return std::to_string(layer - 1);
}

std::string layerTitle(const FigureData& data) {
  if (!data.trace) return "Patch embedding";
  if (data.source == TokenSource::Tokens) return data.trace->layerName(data.layer);
  return std::string(tokenSourceTitle(data.source)) + ", block " + std::to_string(data.layer - 1);
}

ColormapId signedColormap(const FigureOptions& options) {
  return options.colormap.value_or(ColormapId::RdBu);
}

ColormapId sequentialColormap(const FigureOptions& options) {
  return options.colormap.value_or(ColormapId::Viridis);
}

ValueRange rangeForColormap(ColormapId colormap, const Eigen::Ref<const VectorF>& values) {
  return colorScaleFor(colormap, values, FigureOptions{}).range;
}

ScaleMode scaleModeFor(ColormapId colormap, const FigureOptions& options) {
  if (options.scale) return *options.scale;
  return Colormap::get(colormap).isDiverging() ? ScaleMode::Symmetric : ScaleMode::MinMax;
}

ColorScale colorScaleFor(ColormapId colormap, const Eigen::Ref<const VectorF>& values,
                         const FigureOptions& options) {
  return ColorScale::of(scaleModeFor(colormap, options), values, options.global);
}

ValueRange rangeForOptions(ColormapId colormap, const Eigen::Ref<const VectorF>& values,
                           const FigureOptions& options) {
  return colorScaleFor(colormap, values, options).range;
}

}  // namespace patchlens
