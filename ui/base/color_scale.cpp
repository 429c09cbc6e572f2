#include "ui/base/color_scale.h"

#include <QCoreApplication>
#include <algorithm>
#include <cmath>

namespace patchlens {

namespace {
// A map flatter than this share of its magnitude is uniform (issue 21: the class token's
// attention at block 1 spans 0.005074-0.005078).
constexpr float kUniformShare = 1e-3f;
}  // namespace

ColorScale ColorScale::of(ScaleMode mode, const Eigen::Ref<const VectorF>& values,
                          ValueRange global) {
  ColorScale scale;
  scale.mode = mode;
  scale.range = scaleRange(mode, values, global);
  if (values.size() == 0) return scale;
  const float lo = values.minCoeff();
  const float hi = values.maxCoeff();
  scale.spread = hi - lo;
  const float magnitude = std::max(std::abs(lo), std::abs(hi));
  if (magnitude > 0.0f && scale.spread < kUniformShare * magnitude) {
    scale.uniform = true;
    // A span of 2 |max| with the values at the centre of the colormap's middle entry (t =
    // 128.5 / 256): they are at most 2.5e-4 from it, well inside that entry (1/256 wide).
    const float mid = 0.5f * (lo + hi);
    const float span = 2.0f * magnitude;
    const float centre = 128.5f / 256.0f;
    scale.range = {mid - centre * span, mid + (1.0f - centre) * span};
  }
  return scale;
}

QString ColorScale::caption() const {
  if (uniform)
    return QCoreApplication::translate("ColorScale", "uniform (range %1)")
        .arg(static_cast<double>(spread), 0, 'g', 2);
  return QCoreApplication::translate("ColorScale", "scale %1").arg(scaleModeName(mode));
}

ColorScale attentionColorScale(ScaleMode mode, const RowMatrixF& headMaps) {
  const Eigen::Map<const VectorF> all(headMaps.data(), headMaps.size());
  return ColorScale::of(mode, all, minMaxRange(all));
}

QString scaleModeName(ScaleMode mode) {
  switch (mode) {
    case ScaleMode::MinMax:
      return QCoreApplication::translate("ColorScale", "min/max");
    case ScaleMode::Symmetric:
      return QCoreApplication::translate("ColorScale", "symmetric ±max|v|");
    case ScaleMode::Global:
      return QCoreApplication::translate("ColorScale", "global");
    case ScaleMode::Percentile:
      return QCoreApplication::translate("ColorScale", "percentile 2-98");
  }
  return {};
}

}  // namespace patchlens
