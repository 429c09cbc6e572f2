#include "ui/figures/attention_map_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

AttentionMapFigure::AttentionMapFigure(QString title, QString valueLabel, QImage input,
                                       VectorF values, GridSize grid, int patchSize, Query query,
                                       ColormapId colormap, ColorScale scale)
    : m_title(std::move(title)),
      m_valueLabel(std::move(valueLabel)),
      m_input(std::move(input)),
      m_values(std::move(values)),
      m_grid(grid),
      m_patchSize(patchSize),
      m_query(std::move(query)),
      m_colormap(colormap),
      m_scale(scale) {}

QSizeF AttentionMapFigure::preferredSize() const {
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  return {760, 105 + 290 * std::clamp(extentY / std::max(extentX, 1.0), 0.25, 2.0)};
}

void AttentionMapFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  Eigen::Index at = 0;
  const float top = m_values.size() > 0 ? m_values.maxCoeff(&at) : 0.0f;
  const QString subtitle = tr("%1: %2 · largest %3 at patch (%4, %5) · sum over patches %6")
                               .arg(m_query.role.isEmpty() ? tr("query") : m_query.role)
                               .arg(m_query.name)
                               .arg(top, 0, 'g', 3)
                               .arg(m_grid.cols > 0 ? at / m_grid.cols : 0)
                               .arg(m_grid.cols > 0 ? at % m_grid.cols : 0)
                               .arg(m_values.sum(), 0, 'f', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec image = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("input"));
  const PanelSpec map = gridPanel(m_grid, m_valueLabel);
  const ValueRange range = m_scale.range;
  const ColorbarSpec colorbar{m_colormap, range,
                              m_valueLabel + QStringLiteral(" · ") + m_scale.caption(), false};
  const PanelLayout layout = layoutPanels(body, {image, map}, figureColorbarWidth(colorbar));

  paintCaption(painter, layout.captions[0], image.caption, true);
  paintCells(painter, layout.plots[0], m_input, false);
  if (m_query.row >= 0) {
    const QRectF patch(m_query.col * m_patchSize, m_query.row * m_patchSize, m_patchSize,
                       m_patchSize);
    paintMarker(painter, mapRectToPlot(layout.plots[0], image.x, image.y, patch));
  }
  paintAxes(painter, layout.plots[0], image.x, image.y);
  paintCaption(painter, layout.captions[1], map.caption, true);
  paintCells(painter, layout.plots[1],
             valuesToQImage(m_values, m_grid.rows, m_grid.cols, m_colormap, range));
  if (m_query.row >= 0) {
    paintMarker(painter, mapRectToPlot(layout.plots[1], map.x, map.y,
                                       QRectF(m_query.col, m_query.row, 1, 1)));
  }
  paintAxes(painter, layout.plots[1], map.x, map.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
