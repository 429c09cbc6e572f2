#include "ui/figures/token_line_figure.h"

#include <QFontMetricsF>
#include <QPainter>
#include <QPolygonF>
#include <algorithm>

#include "core/analysis/embedding_analysis.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

namespace {
// matplotlib's first colour (tab:blue), what readers of these plots are used to.
const QColor kLineColor(31, 119, 180);
constexpr int kNamedChannels = 3;
}  // namespace

TokenLineFigure::TokenLineFigure(VectorF token, int row, int col)
    : m_token(std::move(token)), m_row(row), m_col(col) {}

QString TokenLineFigure::ownTitle() const {
  return tr("Token (%1, %2): value of every channel").arg(m_row).arg(m_col);
}

void TokenLineFigure::paint(QPainter& painter, const QRectF& area) const {
  using namespace figure_style;
  paintBackground(painter, area);
  const VectorStats stats = vectorStats(m_token);
  const QString subtitle = tr("%1 channels · mean %2 · std %3 · L2 norm %4")
                               .arg(m_token.size())
                               .arg(stats.mean, 0, 'g', 3)
                               .arg(stats.std, 0, 'g', 3)
                               .arg(stats.l2, 0, 'g', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  const int count = static_cast<int>(m_token.size());
  // 5 % headroom above and below, and the zero line always in view.
  const double lo = std::min(0.0, static_cast<double>(stats.min));
  const double hi = std::max(0.0, static_cast<double>(stats.max));
  const double pad = (hi > lo ? hi - lo : 1.0) * 0.08;
  PanelSpec panel{valueAxis(tr("channel"), -0.5, std::max(count - 1, 1) + 0.5, 9),
                  valueAxis(tr("value"), lo - pad, hi + pad, 7),
                  0.0,
                  {}};
  const PanelLayout layout = layoutPanels(body, {panel}, 0.0);
  const QRectF plot = layout.plots.front();

  painter.save();
  painter.setClipRect(plot);
  painter.setPen(QPen(QColor(150, 150, 150), kLineWidth, Qt::DashLine));
  painter.drawLine(mapToPlot(plot, panel.x, panel.y, panel.x.lo, 0.0),
                   mapToPlot(plot, panel.x, panel.y, panel.x.hi, 0.0));
  QPolygonF line;
  line.reserve(count);
  for (int i = 0; i < count; ++i) line << mapToPlot(plot, panel.x, panel.y, i, m_token(i));
  painter.setPen(QPen(kLineColor, 1.0, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  painter.drawPolyline(line);

  // Name the few channels that stand out most, where a reader's eye goes first.
  painter.setFont(tickFont());
  const QFontMetricsF fm(tickFont());
  for (const int i : topByMagnitude(m_token, kNamedChannels)) {
    const QPointF p = mapToPlot(plot, panel.x, panel.y, i, m_token(i));
    painter.setPen(Qt::NoPen);
    painter.setBrush(QColor(214, 39, 40));
    painter.drawEllipse(p, 2.5, 2.5);
    const QString text = tr("ch %1").arg(i);
    const qreal w = fm.horizontalAdvance(text) + 2;
    QRectF label(p.x() - w / 2, m_token(i) >= 0 ? p.y() - fm.height() - 3 : p.y() + 3, w,
                 fm.height());
    // Keep the label inside the plot.
    label.moveLeft(std::clamp(label.left(), plot.left() + 2, plot.right() - w - 2));
    label.moveTop(std::clamp(label.top(), plot.top() + 1, plot.bottom() - fm.height() - 1));
    painter.setPen(textColor());
    painter.drawText(label, Qt::AlignCenter, text);
  }
  painter.restore();
  paintAxes(painter, plot, panel.x, panel.y);
}

}  // namespace patchlens
