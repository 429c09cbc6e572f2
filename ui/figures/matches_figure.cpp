#include "ui/figures/matches_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

MatchesFigure::MatchesFigure(ComparedImage a, ComparedImage b, std::vector<PatchMatch> shown,
                             int mutualCount, QString layerName, QString restriction,
                             ColormapId colormap)
    : m_a(std::move(a)),
      m_b(std::move(b)),
      m_shown(std::move(shown)),
      m_mutualCount(mutualCount),
      m_layerName(std::move(layerName)),
      m_restriction(std::move(restriction)),
      m_colormap(colormap) {}

QSizeF MatchesFigure::preferredSize() const {
  const double aspect = std::max(m_a.extentY() / std::max(m_a.extentX(), 1.0),
                                 m_b.extentY() / std::max(m_b.extentX(), 1.0));
  return {820, 110 + 330 * std::clamp(aspect, 0.25, 2.0)};
}

QString MatchesFigure::ownTitle() const {
  if (static_cast<int>(m_shown.size()) == m_mutualCount)
    return tr("Patch correspondences: all %1 mutual nearest neighbours").arg(m_mutualCount);
  return tr("Patch correspondences: the %1 best of %2 mutual nearest neighbours")
      .arg(m_shown.size())
      .arg(m_mutualCount);
}

void MatchesFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  QString subtitle = tr("%1 · cosine similarity of the patch tokens of %2 and %3")
                         .arg(m_layerName, m_a.name, m_b.name);
  if (!m_restriction.isEmpty()) subtitle += QStringLiteral(" · ") + m_restriction;
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  // The colours span the similarities drawn, so that the K best are told apart.
  ValueRange range{0.0f, 1.0f};
  if (!m_shown.empty()) {
    range = {m_shown.back().similarity, m_shown.front().similarity};
    if (!(range.hi > range.lo)) range = {range.lo - 0.01f, range.hi + 0.01f};
  }
  const ColorbarSpec colorbar{m_colormap, range, tr("cosine similarity"), false};
  const PanelSpec panelA = m_a.imagePanel(tr("A: %1").arg(m_a.name));
  const PanelSpec panelB = m_b.imagePanel(tr("B: %1").arg(m_b.name));
  const PanelLayout layout = layoutPanels(body, {panelA, panelB}, figureColorbarWidth(colorbar));

  paintCaption(painter, layout.captions[0], panelA.caption, true);
  paintCells(painter, layout.plots[0], m_a.input, false);
  paintAxes(painter, layout.plots[0], panelA.x, panelA.y);
  paintCaption(painter, layout.captions[1], panelB.caption, true);
  paintCells(painter, layout.plots[1], m_b.input, false);
  paintAxes(painter, layout.plots[1], panelB.x, panelB.y);

  painter.save();
  painter.setRenderHint(QPainter::Antialiasing, true);
  // Weakest first, so that the best matches lie on top.
  for (auto it = m_shown.rbegin(); it != m_shown.rend(); ++it) {
    const QPointF ca = m_a.patchCentre(it->tokenA);
    const QPointF cb = m_b.patchCentre(it->tokenB);
    const QPointF pa = mapToPlot(layout.plots[0], panelA.x, panelA.y, ca.x(), ca.y());
    const QPointF pb = mapToPlot(layout.plots[1], panelB.x, panelB.y, cb.x(), cb.y());
    const QColor colour = colormapColor(m_colormap, it->similarity, range);
    painter.setPen(QPen(colour, 1.3));
    painter.drawLine(pa, pb);
    painter.setPen(QPen(Qt::black, 0.5));
    painter.setBrush(colour);
    painter.drawEllipse(pa, 2.2, 2.2);
    painter.drawEllipse(pb, 2.2, 2.2);
  }
  painter.restore();
  if (m_shown.empty()) {
    paintCaption(
        painter,
        QRectF(body.left(), body.bottom() - captionHeight(), body.width(), captionHeight()),
        tr("no mutual nearest neighbours"));
  }
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
