#include "ui/figures/histogram_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

HistogramFigure::HistogramFigure(Histogram histogram, VectorStats stats, int rows, int cols,
                                 ColormapId colormap, ValueRange colorRange)
    : m_histogram(std::move(histogram)),
      m_stats(stats),
      m_rows(rows),
      m_cols(cols),
      m_colormap(colormap),
      m_colorRange(colorRange) {}

QString HistogramFigure::ownTitle() const {
  return tr("Histogram of the embedding values");
}

void HistogramFigure::paint(QPainter& painter, const QRectF& area) const {
  using namespace figure_style;
  paintBackground(painter, area);
  const QString subtitle = tr("%1 × %2 = %3 values in %4 bins · mean %5 · std %6 · min %7 · max %8")
                               .arg(m_rows)
                               .arg(m_cols)
                               .arg(static_cast<qlonglong>(m_rows) * m_cols)
                               .arg(m_histogram.counts.size())
                               .arg(m_stats.mean, 0, 'g', 3)
                               .arg(m_stats.std, 0, 'g', 3)
                               .arg(m_stats.min, 0, 'g', 3)
                               .arg(m_stats.max, 0, 'g', 3);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  const std::int64_t highest =
      m_histogram.counts.empty()
          ? 1
          : std::max<std::int64_t>(
                1, *std::max_element(m_histogram.counts.begin(), m_histogram.counts.end()));
  const double lo = m_histogram.edges.front();
  const double hi = m_histogram.edges.back();
  const PanelSpec panel{valueAxis(tr("value"), lo, hi, 9),
                        valueAxis(tr("count"), 0.0, static_cast<double>(highest) * 1.08, 6),
                        0.0,
                        {}};
  const PanelLayout layout = layoutPanels(body, {panel}, 0.0);
  const QRectF plot = layout.plots.front();

  painter.save();
  painter.setClipRect(plot);
  painter.setPen(Qt::NoPen);
  for (std::size_t i = 0; i < m_histogram.counts.size(); ++i) {
    const double left = m_histogram.edges[i];
    const double right = m_histogram.edges[i + 1];
    const double count = static_cast<double>(m_histogram.counts[i]);
    if (count <= 0) continue;
    painter.setBrush(colormapColor(m_colormap, (left + right) / 2, m_colorRange));
    painter.drawRect(QRectF(mapToPlot(plot, panel.x, panel.y, left, count),
                            mapToPlot(plot, panel.x, panel.y, right, 0.0)));
  }
  // The mean and +-1 std, where a reader looks for the spread.
  const auto vertical = [&](double value, Qt::PenStyle style) {
    painter.setPen(QPen(textColor(), kLineWidth, style));
    painter.drawLine(mapToPlot(plot, panel.x, panel.y, value, panel.y.lo),
                     mapToPlot(plot, panel.x, panel.y, value, panel.y.hi));
  };
  vertical(m_stats.mean, Qt::SolidLine);
  vertical(m_stats.mean - m_stats.std, Qt::DashLine);
  vertical(m_stats.mean + m_stats.std, Qt::DashLine);
  painter.setFont(tickFont());
  painter.setPen(textColor());
  painter.drawText(plot.adjusted(kGap * 2, kGap, -kGap * 2, 0), Qt::AlignRight | Qt::AlignTop,
                   tr("solid: mean\ndashed: mean ± std"));
  painter.restore();
  paintAxes(painter, plot, panel.x, panel.y);
}

}  // namespace patchlens
