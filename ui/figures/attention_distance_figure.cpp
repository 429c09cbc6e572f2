#include "ui/figures/attention_distance_figure.h"

#include <QPainter>
#include <algorithm>
#include <cmath>

#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

namespace {
const QColor kDotColor(31, 119, 180);
const QColor kSelectedColor(214, 39, 40);
}  // namespace

AttentionDistanceFigure::AttentionDistanceFigure(RowMatrixF distances, int patchSize, int gridRows,
                                                 int gridCols, int selectedBlock, int selectedHead)
    : m_distances(std::move(distances)),
      m_patchSize(patchSize),
      m_gridRows(gridRows),
      m_gridCols(gridCols),
      m_selectedBlock(selectedBlock),
      m_selectedHead(selectedHead) {}

QString AttentionDistanceFigure::ownTitle() const {
  return tr("Mean attention distance of every head against depth");
}

AttentionDistanceFigure::Layout AttentionDistanceFigure::layout(const QRectF& area) const {
  const int depth = static_cast<int>(m_distances.rows());
  // The y axis spans 0 to the image diagonal's reach, so layers are comparable across images.
  const double diagonal =
      m_patchSize * std::sqrt(double(m_gridRows * m_gridRows + m_gridCols * m_gridCols));
  const double top = std::max(m_distances.size() > 0 ? double(m_distances.maxCoeff()) * 1.08 : 1.0,
                              diagonal * 0.5);
  Layout g;
  g.panel = PanelSpec{valueAxis(tr("network depth (block)"), 0.4, depth + 0.6, std::min(depth, 12)),
                      valueAxis(tr("mean distance (px)"), 0.0, top, 7),
                      0.0,
                      {}};
  // The title's room as if a head were selected (the longest subtitle): a click that selects
  // one must not move the dots (under Xvfb the second click of a pair missed its dot by 10 px).
  const QRectF body =
      area.adjusted(figure_style::kMargin, titleHeight(title(), subtitle(true), area.width()),
                    -figure_style::kMargin, -figure_style::kMargin);
  g.plot = layoutPanels(body, {g.panel}, 0.0).plots.front();
  g.dotRadius = kDotRadius;
  for (int b = 0; b < depth; ++b)
    for (int h = 0; h < m_distances.cols(); ++h)
      g.dots.push_back(mapToPlot(g.plot, g.panel.x, g.panel.y, b + 1, m_distances(b, h)));
  return g;
}

QString AttentionDistanceFigure::subtitle(bool longest) const {
  const int depth = static_cast<int>(m_distances.rows());
  const int heads = static_cast<int>(m_distances.cols());
  QString text = tr("%1 blocks × %2 heads · one dot per head · patch %3 px, grid %4 × %5")
                     .arg(depth)
                     .arg(heads)
                     .arg(m_patchSize)
                     .arg(m_gridRows)
                     .arg(m_gridCols);
  if (longest && depth > 0 && heads > 0) {
    // As long as any selection's line (the last block and head, the largest distance), the
    // same whatever is selected.
    text += tr(" · selected: block %1, head %2 = %3 px")
                .arg(depth)
                .arg(heads - 1)
                .arg(m_distances.maxCoeff(), 0, 'f', 1);
  } else if (m_selectedBlock >= 1 && m_selectedBlock <= depth && m_selectedHead >= 0 &&
             m_selectedHead < heads) {
    text += tr(" · selected: block %1, head %2 = %3 px")
                .arg(m_selectedBlock)
                .arg(m_selectedHead)
                .arg(m_distances(m_selectedBlock - 1, m_selectedHead), 0, 'f', 1);
  }
  return text;
}

void AttentionDistanceFigure::paint(QPainter& painter, const QRectF& area) const {
  using namespace figure_style;
  paintBackground(painter, area);
  const int depth = static_cast<int>(m_distances.rows());
  const int heads = static_cast<int>(m_distances.cols());
  paintTitle(painter, area, title(), subtitle());
  const Layout g = layout(area);
  painter.save();
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setClipRect(
      g.plot.adjusted(-kDotRadius * 2, -kDotRadius * 2, kDotRadius * 2, kDotRadius * 2));
  if (m_selectedBlock >= 1 && m_selectedBlock <= depth) {
    // The selected layer as a band behind its dots.
    const QPointF a = mapToPlot(g.plot, g.panel.x, g.panel.y, m_selectedBlock - 0.4, g.panel.y.hi);
    const QPointF b = mapToPlot(g.plot, g.panel.x, g.panel.y, m_selectedBlock + 0.4, g.panel.y.lo);
    painter.fillRect(QRectF(a, b), QColor(255, 200, 120, 90));
  }
  // The mean over heads as a line.
  QPolygonF mean;
  for (int b = 0; b < depth; ++b)
    mean << mapToPlot(g.plot, g.panel.x, g.panel.y, b + 1, m_distances.row(b).mean());
  painter.setPen(QPen(QColor(150, 150, 150), kLineWidth, Qt::DashLine));
  painter.drawPolyline(mean);
  painter.setPen(QPen(Qt::white, 0.4));
  painter.setBrush(kDotColor);
  for (const QPointF& dot : g.dots) painter.drawEllipse(dot, kDotRadius, kDotRadius);
  if (m_selectedBlock >= 1 && m_selectedBlock <= depth && m_selectedHead >= 0 &&
      m_selectedHead < heads) {
    painter.setPen(QPen(kSelectedColor, 1.6));
    painter.setBrush(Qt::NoBrush);
    painter.drawEllipse(
        g.dots[static_cast<std::size_t>((m_selectedBlock - 1) * heads + m_selectedHead)],
        kDotRadius * 2.2, kDotRadius * 2.2);
  }
  painter.restore();
  paintAxes(painter, g.plot, g.panel.x, g.panel.y);
}

std::optional<AttentionDistanceFigure::Hit> AttentionDistanceFigure::hit(
    const Layout& g, const QPointF& point) const {
  const int heads = static_cast<int>(m_distances.cols());
  if (heads == 0) return std::nullopt;
  const auto hitOf = [heads](std::size_t i) {
    return Hit{static_cast<int>(i) / heads + 1, static_cast<int>(i) % heads};
  };
  // The last dot drawn over the point is the one the reader sees there.
  for (std::size_t i = g.dots.size(); i-- > 0;) {
    const QPointF d = g.dots[i] - point;
    if (std::hypot(d.x(), d.y()) <= g.dotRadius) return hitOf(i);
  }
  std::optional<Hit> best;
  qreal bestDistance = kHitRadius;
  for (std::size_t i = 0; i < g.dots.size(); ++i) {
    const QPointF d = g.dots[i] - point;
    const qreal distance = std::hypot(d.x(), d.y());
    if (distance < bestDistance) {
      bestDistance = distance;
      best = hitOf(i);
    }
  }
  return best;
}

}  // namespace patchlens
