#pragma once

#include <QString>

#include "core/analysis/embedding_analysis.h"
#include "core/model/eigen_types.h"

namespace patchlens {

// The one rule that turns a map's values into the span of a colormap, shared by the image
// overlay, the docks and every exported figure (GUI and CLI), so that one value has one
// colour everywhere. The mode is a named part of the session's state (Session::scaleFor)
// and of FigureOptions::scale; every colorbar or title writes it (caption()).
struct ColorScale {
  ScaleMode mode = ScaleMode::MinMax;
  ValueRange range;      // what the colormap spans
  bool uniform = false;  // max - min < 1e-3 |max|: drawn as one flat colour
  float spread = 0.0f;   // max - min of the values

  // The scale of `values` in `mode` (`global`: the range Global uses). A map whose spread is
  // below 1e-3 of its magnitude gets a range centred on it, wide enough that every value
  // takes the middle colour: noise is not stretched over the whole colormap.
  static ColorScale of(ScaleMode mode, const Eigen::Ref<const VectorF>& values, ValueRange global);
  // "scale min/max", or "uniform (range 4e-06)" for a flat map.
  QString caption() const;
};

// A block's attention from one query, [H x N] (row h: head h over the patches): one scale
// over every head's map (and so their mean), in `mode` (Global: over these maps). The overlay
// (any head or the mean), the attention dock and the exports of that block use it, so one
// probability has one colour in all of them.
ColorScale attentionColorScale(ScaleMode mode, const RowMatrixF& headMaps);

// "min/max", "symmetric", "global", "percentile": how captions name a mode.
QString scaleModeName(ScaleMode mode);

}  // namespace patchlens
