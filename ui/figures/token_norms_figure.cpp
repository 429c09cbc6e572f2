#include "ui/figures/token_norms_figure.h"

#include <QPainter>
#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

TokenNormsFigure::TokenNormsFigure(RowMatrixF norms, std::vector<std::string> prefixNames,
                                   int selectedLayer, ColormapId colormap)
    : m_norms(std::move(norms)),
      m_prefixNames(std::move(prefixNames)),
      m_selectedLayer(selectedLayer),
      m_colormap(colormap) {}

QString TokenNormsFigure::ownTitle() const {
  return tr("L2 norm of every token across depth");
}

TokenNormsFigure::Layout TokenNormsFigure::layout(const QRectF& area) const {
  const int tokens = static_cast<int>(m_norms.rows());
  const int layers = static_cast<int>(m_norms.cols());
  float lo = std::numeric_limits<float>::max();
  float hi = std::numeric_limits<float>::lowest();
  Eigen::Index topToken = 0;
  float top = hi;
  for (Eigen::Index r = 0; r < m_norms.rows(); ++r) {
    for (Eigen::Index c = 0; c < m_norms.cols(); ++c) {
      const float v = m_norms(r, c);
      if (std::isnan(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const float last = m_norms(r, m_norms.cols() - 1 > 0 ? m_norms.cols() - 2 : 0);
    if (!std::isnan(last) && last > top) {
      top = last;
      topToken = r;
    }
  }
  if (lo > hi) lo = hi = 0.0f;
  const int prefix = static_cast<int>(m_prefixNames.size());
  const QString topName = topToken < prefix
                              ? QString::fromStdString(m_prefixNames[std::size_t(topToken)])
                              : tr("patch %1").arg(topToken - prefix);
  Layout g;
  g.subtitle =
      tr("%1 tokens (%2 prefix first) × %3 layers · largest norm before the final norm: %4 (%5)")
          .arg(tokens)
          .arg(prefix)
          .arg(layers)
          .arg(topName)
          .arg(top, 0, 'f', 1);
  AxisSpec x{tr("layer"), 0.0, double(layers), false, true, {}};
  const int step = std::max(1, layers / 10);
  for (int l = 0; l < layers; ++l) {
    QString label = l == 0                ? tr("PE")
                    : l == 1              ? tr("in")
                    : l == layers - 1     ? tr("norm")
                    : (l - 1) % step == 0 ? QString::number(l - 1)
                                          : QString();
    if (!label.isEmpty()) x.ticks.push_back({l + 0.5, label});
  }
  AxisSpec y{tr("token"), 0.0, double(tokens), true, true, {}};
  for (int i = 0; i < prefix; ++i)
    y.ticks.push_back({i + 0.5, QString::fromStdString(m_prefixNames[std::size_t(i)])});
  const int patches = tokens - prefix;
  const int patchStep = std::max(1, patches / 8);
  for (int i = 0; i < patches; i += patchStep) {
    if (prefix > 0 && i * 1.0 < tokens / 40.0) continue;  // keep room for the prefix names
    y.ticks.push_back({prefix + i + 0.5, QString::number(i)});
  }
  g.panel = PanelSpec{x, y, 0.0, {}};
  g.colorbar =
      ColorbarSpec{m_colormap, ValueRange{lo, hi > lo ? hi : lo + 1.0f}, tr("L2 norm"), false};
  const QRectF body =
      area.adjusted(figure_style::kMargin, titleHeight(title(), g.subtitle, area.width()),
                    -figure_style::kMargin, -figure_style::kMargin);
  const PanelLayout panels = layoutPanels(body, {g.panel}, figureColorbarWidth(g.colorbar));
  g.plot = panels.plots.front();
  g.colorbarRect = panels.colorbar;
  return g;
}

std::optional<int> TokenNormsFigure::layerAt(const QRectF& area, const QPointF& point) const {
  const Layout g = layout(area);
  const int layers = static_cast<int>(m_norms.cols());
  if (layers == 0 || !g.plot.contains(point)) return std::nullopt;
  return std::clamp(static_cast<int>((point.x() - g.plot.left()) / g.plot.width() * layers), 0,
                    layers - 1);
}

void TokenNormsFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const int tokens = static_cast<int>(m_norms.rows());
  const int layers = static_cast<int>(m_norms.cols());
  const int prefix = static_cast<int>(m_prefixNames.size());
  const Layout g = layout(area);
  paintTitle(painter, area, title(), g.subtitle);
  const QRectF plot = g.plot;
  const ColorbarSpec& colorbar = g.colorbar;
  QImage cells(layers, tokens, QImage::Format_RGB32);
  for (int r = 0; r < tokens; ++r) {
    for (int c = 0; c < layers; ++c) {
      const float v = m_norms(r, c);
      cells.setPixelColor(
          c, r,
          std::isnan(v) ? QColor(200, 200, 200) : colormapColor(m_colormap, v, colorbar.range));
    }
  }
  paintCells(painter, plot, cells);
  painter.save();
  painter.setBrush(Qt::NoBrush);
  if (prefix > 0) {
    // A line between the prefix tokens and the patches.
    painter.setPen(QPen(Qt::white, 1.0));
    const qreal yLine = plot.top() + plot.height() * prefix / tokens;
    painter.drawLine(QPointF(plot.left(), yLine), QPointF(plot.right(), yLine));
  }
  if (m_selectedLayer >= 0 && m_selectedLayer < layers) {
    painter.setPen(QPen(QColor(214, 39, 40), 1.5));
    const qreal w = plot.width() / layers;
    painter.drawRect(QRectF(plot.left() + m_selectedLayer * w, plot.top(), w, plot.height()));
  }
  painter.restore();
  paintAxes(painter, plot, g.panel.x, g.panel.y);
  paintFigureColorbar(painter, g.colorbarRect, colorbar);
}

}  // namespace patchlens
