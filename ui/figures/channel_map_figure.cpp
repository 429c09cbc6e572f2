#include "ui/figures/channel_map_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

ChannelMapFigure::ChannelMapFigure(QImage input, VectorF map, GridSize grid, int patchSize,
                                   int channel, ColormapId colormap, ValueRange range,
                                   double opacity)
    : m_input(std::move(input)),
      m_map(std::move(map)),
      m_grid(grid),
      m_patchSize(patchSize),
      m_channel(channel),
      m_colormap(colormap),
      m_range(range),
      m_opacity(opacity) {}

// As tall as the panels need for the image's aspect ratio (landscape inputs get a lower figure).
QSizeF ChannelMapFigure::preferredSize() const {
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  return {480, 100 + 340 * std::clamp(extentY / std::max(extentX, 1.0), 0.25, 2.0)};
}

QString ChannelMapFigure::ownTitle() const {
  return tr("Channel %1 over the image").arg(m_channel);
}

void ChannelMapFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const VectorStats stats = vectorStats(m_map);
  const QString subtitle = tr("%1 × %2 patches, map at %3 % opacity · min %4 · mean %5 · max %6")
                               .arg(m_grid.rows)
                               .arg(m_grid.cols)
                               .arg(qRound(m_opacity * 100))
                               .arg(stats.min, 0, 'g', 3)
                               .arg(stats.mean, 0, 'g', 3)
                               .arg(stats.max, 0, 'g', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  // Data coordinates are model-input pixels, so image and patch grid line up whatever the
  // remainder policy did to the edges.
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec panel = imagePanel(extentX, extentY, m_grid, m_patchSize, {});
  const ColorbarSpec colorbar{m_colormap, m_range, tr("value of channel %1").arg(m_channel), false};
  const PanelLayout layout = layoutPanels(body, {panel}, figureColorbarWidth(colorbar));
  const QRectF plot = layout.plots.front();

  // The image padded to the extent (black where the grid runs past it), the map blended over.
  QImage canvas(static_cast<int>(extentX), static_cast<int>(extentY), QImage::Format_RGB32);
  canvas.fill(Qt::black);
  {
    QPainter p(&canvas);
    p.drawImage(QPointF(0, 0), m_input);
  }
  const QRectF gridRect(0, 0, m_grid.cols * m_patchSize, m_grid.rows * m_patchSize);
  const QImage cells = valuesToQImage(m_map, m_grid.rows, m_grid.cols, m_colormap, m_range);
  paintCells(painter, plot, blendCells(canvas, cells, gridRect, m_opacity), false);
  paintAxes(painter, plot, panel.x, panel.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
