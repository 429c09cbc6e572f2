#include "ui/figures/channel_grid_figure.h"

#include <QPainter>
#include <cmath>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

ChannelGridFigure::ChannelGridFigure(const RowMatrixF& tokens, GridSize grid, int first, int last,
                                     ColormapId colormap, ValueRange range)
    : m_maps(tokens.middleCols(first, last - first + 1).transpose()),
      m_grid(grid),
      m_first(first),
      m_last(last),
      m_colormap(colormap),
      m_range(range) {}

QString ChannelGridFigure::ownTitle() const {
  return tr("Channels %1–%2 as maps over the patch grid").arg(m_first).arg(m_last);
}

void ChannelGridFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const int count = static_cast<int>(m_maps.rows());
  const QString subtitle =
      tr("each tile: %1 × %2 patches, row 0 at the top · one colour scale for all")
          .arg(m_grid.rows)
          .arg(m_grid.cols);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  const ColorbarSpec colorbar{m_colormap, m_range, tr("channel value"), false};
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
  const TileLayout layout =
      layoutTiles(body, count, columns, static_cast<double>(m_grid.cols) / m_grid.rows, true,
                  figureColorbarWidth(colorbar));
  painter.save();
  painter.setPen(QPen(figure_style::textColor(), 0.5));
  painter.setBrush(Qt::NoBrush);
  for (int i = 0; i < count; ++i) {
    paintCaption(painter, layout.captions[i], tr("ch %1").arg(m_first + i));
    const VectorF map = m_maps.row(i).transpose();
    paintCells(painter, layout.tiles[i],
               valuesToQImage(map, m_grid.rows, m_grid.cols, m_colormap, m_range));
    painter.drawRect(layout.tiles[i]);
  }
  painter.restore();
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
