#include "ui/figures/prediction_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

PredictionFigure::PredictionFigure(std::vector<Entry> top, int classes, QString labelsSource,
                                   int selected)
    : m_top(std::move(top)),
      m_classes(classes),
      m_labelsSource(std::move(labelsSource)),
      m_selected(selected) {}

QString PredictionFigure::ownTitle() const {
  if (m_top.empty()) return tr("Prediction");
  const Entry& first = m_top.front();
  return tr("Prediction: class %1 %2 (%3 %)")
      .arg(first.classIndex)
      .arg(first.label)
      .arg(100.0 * first.probability, 0, 'f', 1);
}

QSizeF PredictionFigure::preferredSize() const {
  return {620, 110 + 26.0 * static_cast<double>(std::max<std::size_t>(m_top.size(), 1))};
}

void PredictionFigure::paint(QPainter& painter, const QRectF& area) const {
  using namespace figure_style;
  paintBackground(painter, area);
  const QString subtitle = tr("top %1 of %2 classes · softmax of the logits · labels: %3")
                               .arg(m_top.size())
                               .arg(m_classes)
                               .arg(m_labelsSource);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  const int rows = static_cast<int>(m_top.size());
  AxisSpec y = hiddenAxis(0.0, std::max(rows, 1));
  y.visible = true;
  y.inverted = true;
  for (int r = 0; r < rows; ++r) {
    const Entry& e = m_top[static_cast<std::size_t>(r)];
    QString text = QStringLiteral("%1 %2").arg(e.classIndex).arg(e.label);
    if (text.size() > 40) text = text.left(39) + QChar(0x2026);
    y.ticks.push_back({r + 0.5, text});
  }
  const PanelSpec panel{valueAxis(tr("probability"), 0.0, 1.0, 6), y, 0.0, {}};
  const PanelLayout layout = layoutPanels(body, {panel}, 0.0);
  const QRectF plot = layout.plots.front();
  painter.save();
  painter.setClipRect(plot);
  painter.setFont(tickFont());
  for (int r = 0; r < rows; ++r) {
    const Entry& e = m_top[static_cast<std::size_t>(r)];
    const QRectF bar(mapToPlot(plot, panel.x, panel.y, 0.0, r + 0.2),
                     mapToPlot(plot, panel.x, panel.y, e.probability, r + 0.8));
    const bool selected = e.classIndex == m_selected;
    painter.setPen(Qt::NoPen);
    painter.setBrush(selected ? QColor(0xd9, 0x5f, 0x02) : QColor(0x4c, 0x72, 0xb0));
    painter.drawRect(bar.normalized());
    painter.setPen(textColor());
    const QRectF label(bar.normalized().right() + kGap, bar.normalized().top(), plot.width(),
                       bar.normalized().height());
    painter.drawText(label, Qt::AlignLeft | Qt::AlignVCenter,
                     QStringLiteral("%1 %").arg(100.0 * e.probability, 0, 'f', 2));
  }
  painter.restore();
  paintAxes(painter, plot, panel.x, panel.y);
}

}  // namespace patchlens
