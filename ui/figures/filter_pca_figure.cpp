#include "ui/figures/filter_pca_figure.h"

#include <QFontMetricsF>
#include <QPainter>
#include <numeric>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

FilterPcaFigure::FilterPcaFigure(const FilterPca& pca, int filters)
    : m_filters(filters), m_patchSize(pca.patchSize) {
  for (int i = 0; i < pca.components(); ++i) {
    m_tiles.push_back(toQImage(tileToRgb8(pca.componentTile(i))));
    m_ratios.push_back(pca.pca.explainedVarianceRatio(i));
  }
}

QString FilterPcaFigure::ownTitle() const {
  return tr("%1 principal components of %2 filters").arg(m_tiles.size()).arg(m_filters);
}

void FilterPcaFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const double total = std::accumulate(m_ratios.begin(), m_ratios.end(), 0.0);
  const QString subtitle = tr("%1 × %2 px, ±max|loading| · %3 % of the variance")
                               .arg(m_patchSize)
                               .arg(m_patchSize)
                               .arg(total * 100.0, 0, 'f', 1);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  const ColorbarSpec colorbar{ColormapId::Gray, ValueRange{-1.0f, 1.0f},
                              tr("loading / max|loading|"), false};
  const int count = static_cast<int>(m_tiles.size());
  // As many columns as give the largest tiles in this area: seven on a page (as in the paper
  // for its 28 components), four in a tall, narrow dock.
  const qreal barWidth = figureColorbarWidth(colorbar);
  TileLayout layout;
  qreal best = -1;
  for (int columns = 1; columns <= std::min(count, 8); ++columns) {
    TileLayout candidate = layoutTiles(body, count, columns, 1.0, true, barWidth);
    const qreal side = candidate.tiles.empty() ? 0.0 : candidate.tiles.front().width();
    if (side > best + 0.5) {
      best = side;
      layout = std::move(candidate);
    }
  }
  painter.save();
  painter.setPen(QPen(figure_style::textColor(), 0.5));
  painter.setBrush(Qt::NoBrush);
  for (int i = 0; i < count; ++i) {
    // "PC12 · 3.4 %" where it fits, else "PC12" (the subtitle gives the total share).
    const QString full =
        tr("PC%1 · %2 %").arg(i + 1).arg(m_ratios[static_cast<std::size_t>(i)] * 100.0, 0, 'f', 1);
    const bool fits = QFontMetricsF(figure_style::labelFont()).horizontalAdvance(full) <=
                      layout.captions[i].width();
    paintCaption(painter, layout.captions[i], fits ? full : tr("PC%1").arg(i + 1));
    paintCells(painter, layout.tiles[i], m_tiles[static_cast<std::size_t>(i)]);
    painter.drawRect(layout.tiles[i]);
  }
  painter.restore();
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
