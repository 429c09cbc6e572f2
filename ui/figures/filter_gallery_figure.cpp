#include "ui/figures/filter_gallery_figure.h"

#include <QPainter>

#include "core/analysis/filter_analysis.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

namespace {
constexpr int kSeparator = 1;  // image pixels between two tiles
}  // namespace

FilterGalleryFigure::FilterGalleryFigure(const PatchWeights& weights)
    : m_shape(heatmapTileShape(weights.embedDim)),
      m_filters(weights.embedDim),
      m_patchSize(weights.patchSize),
      m_inChannels(weights.inChannels),
      m_description(toQString(weights.description)) {
  std::vector<QImage> tiles;
  tiles.reserve(static_cast<std::size_t>(m_filters));
  for (int k = 0; k < m_filters; ++k) tiles.push_back(toQImage(tileToRgb8(filterTile(weights, k))));
  m_mosaic = mosaic(tiles, m_shape.cols, kSeparator, Qt::white);
}

QString FilterGalleryFigure::ownTitle() const {
  return tr("All %1 filters of the patch embedding").arg(m_filters);
}

void FilterGalleryFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const QString subtitle = tr("%1 × %2 px, C = %3 · each filter scaled to ±max|w|, grey = 0 · %4")
                               .arg(m_patchSize)
                               .arg(m_patchSize)
                               .arg(m_inChannels)
                               .arg(m_description);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  // Axes in mosaic pixels; ticks at tile centres name the filter index.
  const double unit = m_patchSize + kSeparator;
  AxisSpec x = indexAxis(tr("column (add to the row's first filter)"), m_shape.cols, unit,
                         m_mosaic.width(), 9);
  AxisSpec y = indexAxis(tr("first filter of the row"), m_shape.rows, unit, m_mosaic.height(), 9);
  for (AxisTick& t : y.ticks) t.label = QString::number(t.label.toInt() * m_shape.cols);
  y.inverted = true;
  const PanelSpec panel{x, y, static_cast<double>(m_mosaic.width()) / m_mosaic.height(), {}};
  const ColorbarSpec colorbar{ColormapId::Gray, ValueRange{-1.0f, 1.0f},
                              tr("w / max|w| of the filter"), false};
  const PanelLayout layout = layoutPanels(body, {panel}, figureColorbarWidth(colorbar));
  paintCells(painter, layout.plots.front(), m_mosaic);
  paintAxes(painter, layout.plots.front(), panel.x, panel.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
