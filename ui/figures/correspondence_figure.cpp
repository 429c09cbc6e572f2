#include "ui/figures/correspondence_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

CorrespondenceFigure::CorrespondenceFigure(ComparedImage a, ComparedImage b, int row, int col,
                                           VectorF similarity, QString layerName,
                                           ColormapId colormap)
    : m_a(std::move(a)),
      m_b(std::move(b)),
      m_row(row),
      m_col(col),
      m_similarity(std::move(similarity)),
      m_layerName(std::move(layerName)),
      m_colormap(colormap) {}

QSizeF CorrespondenceFigure::preferredSize() const {
  const double aspect = std::max(m_a.extentY() / std::max(m_a.extentX(), 1.0),
                                 m_b.extentY() / std::max(m_b.extentX(), 1.0));
  return {960, 110 + 260 * std::clamp(aspect, 0.25, 2.0)};
}

QString CorrespondenceFigure::ownTitle() const {
  return tr("Cosine similarity of A's patch (%1, %2) to every patch of B").arg(m_row).arg(m_col);
}

void CorrespondenceFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  Eigen::Index best = 0;
  const float bestValue = m_similarity.size() > 0 ? m_similarity.maxCoeff(&best) : 0.0f;
  const int bestToken = static_cast<int>(best);  // the first maximum: the lower index on ties
  const int cols = std::max(m_b.grid.cols, 1);
  const QString subtitle =
      tr("%1 · best match in B: patch (%2, %3), similarity %4 · mean %5")
          .arg(m_layerName)
          .arg(bestToken / cols)
          .arg(bestToken % cols)
          .arg(bestValue, 0, 'f', 3)
          .arg(m_similarity.size() > 0 ? m_similarity.mean() : 0.0f, 0, 'f', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  const ValueRange range{-1.0f, 1.0f};  // cosine similarity: a fixed scale compares figures
  const ColorbarSpec colorbar{m_colormap, range, tr("cosine similarity"), false};
  const PanelSpec inputA = m_a.imagePanel(tr("A: %1").arg(m_a.name));
  const PanelSpec inputB = m_b.imagePanel(tr("B: %1").arg(m_b.name));
  const PanelSpec map = gridPanel(m_b.grid, tr("similarity over B"));
  const PanelLayout layout =
      layoutPanels(body, {inputA, inputB, map}, figureColorbarWidth(colorbar));

  paintCaption(painter, layout.captions[0], inputA.caption, true);
  paintCells(painter, layout.plots[0], m_a.input, false);
  paintMarker(painter, mapRectToPlot(layout.plots[0], inputA.x, inputA.y,
                                     m_a.patchRect(m_row * m_a.grid.cols + m_col)));
  paintAxes(painter, layout.plots[0], inputA.x, inputA.y);

  paintCaption(painter, layout.captions[1], inputB.caption, true);
  paintCells(painter, layout.plots[1], m_b.input, false);
  paintMarker(painter,
              mapRectToPlot(layout.plots[1], inputB.x, inputB.y, m_b.patchRect(bestToken)));
  paintAxes(painter, layout.plots[1], inputB.x, inputB.y);

  paintCaption(painter, layout.captions[2], map.caption, true);
  paintCells(painter, layout.plots[2],
             valuesToQImage(m_similarity, m_b.grid.rows, m_b.grid.cols, m_colormap, range));
  paintMarker(painter, mapRectToPlot(layout.plots[2], map.x, map.y,
                                     QRectF(bestToken % cols, bestToken / cols, 1, 1)));
  paintAxes(painter, layout.plots[2], map.x, map.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
