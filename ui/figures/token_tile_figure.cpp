#include "ui/figures/token_tile_figure.h"

#include <QPainter>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

TokenTileFigure::TokenTileFigure(QImage patch, VectorF token, int row, int col, ColormapId colormap,
                                 ValueRange range)
    : m_patch(std::move(patch)),
      m_token(std::move(token)),
      m_row(row),
      m_col(col),
      m_shape(heatmapTileShape(static_cast<int>(m_token.size()))),
      m_colormap(colormap),
      m_range(range) {}

QString TokenTileFigure::ownTitle() const {
  return tr("Token (%1, %2) as a heatmap").arg(m_row).arg(m_col);
}

void TokenTileFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const VectorStats stats = vectorStats(m_token);
  const QString subtitle =
      tr("%1 channels as %2 × %3, row by row · min %4 · mean %5 · max %6 · L2 %7")
          .arg(m_token.size())
          .arg(m_shape.rows)
          .arg(m_shape.cols)
          .arg(stats.min, 0, 'g', 3)
          .arg(stats.mean, 0, 'g', 3)
          .arg(stats.max, 0, 'g', 3)
          .arg(stats.l2, 0, 'g', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  PanelSpec patch{hiddenAxis(0, 1), hiddenAxis(0, 1), 1.0,
                  tr("patch (%1, %2)").arg(m_row).arg(m_col)};
  // The y axis names the channel each row starts with, so that a cell can be found by index.
  AxisSpec y = indexAxis(tr("first channel of the row"), m_shape.rows, 1.0, m_shape.rows, 8);
  for (AxisTick& t : y.ticks) t.label = QString::number(t.label.toInt() * m_shape.cols);
  y.inverted = true;
  PanelSpec tile{
      indexAxis(tr("column (add to the row's first channel)"), m_shape.cols, 1.0, m_shape.cols, 9),
      y, static_cast<double>(m_shape.cols) / m_shape.rows, tr("token")};
  const ColorbarSpec colorbar{m_colormap, m_range, tr("value"), false};
  const PanelLayout layout = layoutPanels(body, {patch, tile}, figureColorbarWidth(colorbar));

  const QRectF patchPlot = layout.plots[0];
  paintCaption(painter, layout.captions[0], patch.caption, true);
  paintCells(painter, patchPlot, m_patch);  // P x P pixels: shown as sharp squares
  paintAxes(painter, patchPlot, patch.x, patch.y);

  const QRectF tilePlot = layout.plots[1];
  paintCaption(painter, layout.captions[1], tile.caption, true);
  paintCells(painter, tilePlot,
             valuesToQImage(m_token, m_shape.rows, m_shape.cols, m_colormap, m_range));
  paintAxes(painter, tilePlot, tile.x, tile.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
