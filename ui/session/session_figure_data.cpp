#include "ui/session/session_figure_data.h"

#include "ui/session/session.h"
#include "ui/views/qt_conversions.h"

namespace patchlens {

FigureData figureDataFor(const ComputeResult& result) {
  FigureData data;
  data.input = result.input;
  data.tensor = result.tensor;
  data.normalization = result.config.preprocess.normalization;
  data.remainder = result.config.remainder;
  data.weights = result.weights;
  data.embedding = result.embedding;  // the tokens of the layer on screen
  // The layer on screen, so exports say it and refuse what only layer 0 has (reconstruction).
  data.trace = result.trace;
  data.layer = result.trace ? result.layerIndex : 0;
  return data;
}

FigureOptions figureOptionsFor(const Session& session, const PlotKind& kind) {
  FigureOptions options;
  OverlayKind overlay = OverlayKind::Channel;  // the overlay that draws this kind on screen
  switch (kind.type) {
    case PlotType::Channel:
    case PlotType::Channels:
    case PlotType::Token:
    case PlotType::Histogram:
      overlay = OverlayKind::Channel;
      break;
    case PlotType::Similarity:
      overlay = OverlayKind::Similarity;
      break;
    default:
      // Filters, PCA, position embedding, reconstruction (magma error map, as its dock
      // draws it): fixed styles.
      return options;
  }
  options.colormap = session.colormapFor(overlay);
  options.scale = session.scaleFor(overlay);
  if (session.result()) options.global = session.result()->global;
  options.opacity = session.opacity();
  return options;
}

QString describeFigureOptions(const FigureOptions& options) {
  QStringList parts;
  if (options.colormap) parts << toQString(Colormap::get(*options.colormap).name());
  if (options.scale) parts << QObject::tr("scale %1").arg(scaleModeKey(*options.scale));
  if (options.opacity) parts << QObject::tr("opacity %1 %").arg(qRound(*options.opacity * 100));
  return parts.isEmpty() ? QObject::tr("the figure's own style")
                         : parts.join(QStringLiteral(" · "));
}

}  // namespace patchlens
