#include "ui/figures/similarity_figure.h"

#include <QPainter>
#include <algorithm>

#include "core/analysis/embedding_analysis.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

SimilarityFigure::SimilarityFigure(QImage input, VectorF similarity, GridSize grid, int patchSize,
                                   int row, int col, ColormapId colormap)
    : m_input(std::move(input)),
      m_similarity(std::move(similarity)),
      m_grid(grid),
      m_patchSize(patchSize),
      m_row(row),
      m_col(col),
      m_colormap(colormap) {}

// As tall as the panels need for the image's aspect ratio (landscape inputs get a lower figure).
QSizeF SimilarityFigure::preferredSize() const {
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  return {760, 105 + 290 * std::clamp(extentY / std::max(extentX, 1.0), 0.25, 2.0)};
}

QString SimilarityFigure::ownTitle() const {
  return tr("Cosine similarity of every token to token (%1, %2)").arg(m_row).arg(m_col);
}

void SimilarityFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  // The reference token is 1 against itself; the others say more.
  VectorF others = m_similarity;
  others(m_row * m_grid.cols + m_col) = others.minCoeff();
  const QString subtitle = tr("highest other token %1 · mean %2 · lowest %3")
                               .arg(others.maxCoeff(), 0, 'f', 3)
                               .arg(m_similarity.mean(), 0, 'f', 3)
                               .arg(m_similarity.minCoeff(), 0, 'f', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec image = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("input"));
  const PanelSpec map = gridPanel(m_grid, tr("similarity"));
  // Cosine similarity lives in [-1, 1]: a fixed scale makes figures comparable.
  const ValueRange range{-1.0f, 1.0f};
  const ColorbarSpec colorbar{m_colormap, range, tr("cosine similarity"), false};
  const PanelLayout layout = layoutPanels(body, {image, map}, figureColorbarWidth(colorbar));

  paintCaption(painter, layout.captions[0], image.caption, true);
  paintCells(painter, layout.plots[0], m_input, false);
  const QRectF patch(m_col * m_patchSize, m_row * m_patchSize, m_patchSize, m_patchSize);
  paintMarker(painter, mapRectToPlot(layout.plots[0], image.x, image.y, patch));
  paintAxes(painter, layout.plots[0], image.x, image.y);

  paintCaption(painter, layout.captions[1], map.caption, true);
  paintCells(painter, layout.plots[1],
             valuesToQImage(m_similarity, m_grid.rows, m_grid.cols, m_colormap, range));
  paintMarker(painter, mapRectToPlot(layout.plots[1], map.x, map.y, QRectF(m_col, m_row, 1, 1)));
  paintAxes(painter, layout.plots[1], map.x, map.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
