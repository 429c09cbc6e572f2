#include "ui/figures/position_similarity_figure.h"

#include <QPainter>
#include <algorithm>
#include <vector>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

namespace {
constexpr int kSeparator = 1;
constexpr int kTilePixels = 14;  // at least this many mosaic pixels per small map
const ValueRange kRange{-1.0f, 1.0f};
}  // namespace

PositionSimilarityFigure::PositionSimilarityFigure(const PositionSimilarity& similarity,
                                                   ColormapId colormap)
    : m_rows(similarity.gridRows), m_cols(similarity.gridCols), m_colormap(colormap) {
  // Small grids get several pixels per cell, so that the separators stay thin beside them.
  m_cellPixels = std::max(1, kTilePixels / std::max(m_rows, m_cols));
  std::vector<QImage> tiles;
  for (int i = 0; i < similarity.positions(); ++i) {
    const QImage tile = matrixToQImage(similarity.map(i), colormap, kRange);
    tiles.push_back(
        tile.scaled(tile.size() * m_cellPixels, Qt::IgnoreAspectRatio, Qt::FastTransformation));
  }
  m_mosaic = mosaic(tiles, m_cols, kSeparator, Qt::white);
}

QString PositionSimilarityFigure::ownTitle() const {
  return tr("Similarity of the position embeddings");
}

void PositionSimilarityFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const QString subtitle =
      tr("tile (r, c): cosine similarity of position (r, c) to every position of the %1 × %2 grid")
          .arg(m_rows)
          .arg(m_cols);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  AxisSpec x = indexAxis(tr("input patch column"), m_cols, m_cols * m_cellPixels + kSeparator,
                         m_mosaic.width(), 8);
  AxisSpec y = indexAxis(tr("input patch row"), m_rows, m_rows * m_cellPixels + kSeparator,
                         m_mosaic.height(), 8);
  y.inverted = true;
  const PanelSpec panel{x, y, static_cast<double>(m_mosaic.width()) / m_mosaic.height(), {}};
  const ColorbarSpec colorbar{m_colormap, kRange, tr("cosine similarity"), false};
  const PanelLayout layout = layoutPanels(body, {panel}, figureColorbarWidth(colorbar));
  paintCells(painter, layout.plots.front(), m_mosaic);
  paintAxes(painter, layout.plots.front(), panel.x, panel.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
