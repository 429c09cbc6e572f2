#include "ui/figures/pca_rgb_figure.h"

#include <QFontMetricsF>
#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

namespace {

// A black-to-colour strip, low at the bottom: what one component contributes.
QImage ramp(int component) {
  QImage strip(1, 256, QImage::Format_RGB32);
  for (int i = 0; i < 256; ++i) {
    const int v = 255 - i;
    strip.setPixel(0, i,
                   qRgb(component == 0 ? v : 0, component == 1 ? v : 0, component == 2 ? v : 0));
  }
  return strip;
}

}  // namespace

PcaRgbFigure::PcaRgbFigure(QImage input, const PcaResult& pca, GridSize grid, int patchSize,
                           QString rows)
    : m_input(std::move(input)), m_grid(grid), m_patchSize(patchSize), m_rows(std::move(rows)) {
  m_rgb = rgbRowsToQImage(pcaToRgb(pca), grid.rows, grid.cols);
  m_components = static_cast<int>(std::min<Eigen::Index>(3, pca.projections.cols()));
  for (int i = 0; i < m_components; ++i) {
    m_ratio[static_cast<std::size_t>(i)] = pca.explainedVarianceRatio(i);
    m_range[static_cast<std::size_t>(i)] = minMaxRange(pca.projections.col(i));
  }
}

// As tall as the panels need for the image's aspect ratio (landscape inputs get a lower figure).
QSizeF PcaRgbFigure::preferredSize() const {
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  return {720, 105 + 255 * std::clamp(extentY / std::max(extentX, 1.0), 0.25, 2.0)};
}

QString PcaRgbFigure::ownTitle() const {
  return tr("First three principal components of the %1 as RGB").arg(m_rows);
}

QString PcaRgbFigure::subtitle() const {
  return tr("R, G, B = PC1, PC2, PC3 of the %4 (%1 %, %2 %, %3 % of the "
            "variance), each min–max scaled")
      .arg(m_ratio[0] * 100.0, 0, 'f', 1)
      .arg(m_ratio[1] * 100.0, 0, 'f', 1)
      .arg(m_ratio[2] * 100.0, 0, 'f', 1)
      .arg(m_rows);
}

PanelLayout PcaRgbFigure::layout(const QRectF& area) const {
  using namespace figure_style;
  const QRectF body =
      area.adjusted(kMargin, titleHeight(title(), subtitle(), area.width()), -kMargin, -kMargin);
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec image = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("input"));
  const PanelSpec map = gridPanel(m_grid, tr("PCA → RGB"));
  // The legend: one strip per component, its projection range at both ends.
  const QFontMetricsF fm(tickFont());
  qreal numberWidth = fm.horizontalAdvance(QStringLiteral("PC1"));
  for (int i = 0; i < m_components; ++i) {
    const ValueRange& r = m_range[static_cast<std::size_t>(i)];
    numberWidth = std::max({numberWidth, fm.horizontalAdvance(QString::number(r.lo, 'g', 3)),
                            fm.horizontalAdvance(QString::number(r.hi, 'g', 3))});
  }
  const qreal legendWidth = 3 * (numberWidth + kGap * 4);
  // Side by side on a page; in a tall narrow dock one above the other, whichever gives the
  // larger panels (side by side there, each was a ~50 px stamp at 1366 x 768).
  PanelLayout layout = layoutPanels(body, {image, map}, legendWidth);
  const qreal half = body.height() / 2;
  const PanelLayout top =
      layoutPanels(QRectF(body.left(), body.top(), body.width(), half), {image}, 0.0);
  const PanelLayout bottom =
      layoutPanels(QRectF(body.left(), body.top() + half, body.width(), half), {map}, legendWidth);
  const qreal sideBySide = std::min(layout.plots[0].height(), layout.plots[1].height());
  const qreal stacked = std::min(top.plots[0].height(), bottom.plots[0].height());
  if (stacked > sideBySide + 1.0) {
    layout.plots = {top.plots[0], bottom.plots[0]};
    layout.captions = {top.captions[0], bottom.captions[0]};
    layout.colorbar = bottom.colorbar;
  }
  return layout;
}

void PcaRgbFigure::paint(QPainter& painter, const QRectF& area) const {
  using namespace figure_style;
  paintBackground(painter, area);
  paintTitle(painter, area, title(), subtitle());
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec image = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("input"));
  const PanelSpec map = gridPanel(m_grid, tr("PCA → RGB"));
  const QFontMetricsF fm(tickFont());
  const PanelLayout layout = this->layout(area);

  paintCaption(painter, layout.captions[0], image.caption, true);
  paintCells(painter, layout.plots[0], m_input, false);
  paintAxes(painter, layout.plots[0], image.x, image.y);
  paintCaption(painter, layout.captions[1], map.caption, true);
  paintCells(painter, layout.plots[1], m_rgb);
  paintAxes(painter, layout.plots[1], map.x, map.y);

  painter.save();
  painter.setFont(tickFont());
  painter.setPen(QPen(textColor(), kLineWidth));
  const QRectF legend = layout.colorbar;
  const qreal column = legend.width() / 3;
  for (int i = 0; i < m_components; ++i) {
    const ValueRange& r = m_range[static_cast<std::size_t>(i)];
    const qreal x = legend.left() + i * column;
    const QRectF strip(x + (column - 12) / 2, legend.top() + fm.height(), 12,
                       legend.height() - 3 * fm.height());
    paintCells(painter, strip, ramp(i));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(strip);
    painter.drawText(QRectF(x, legend.top(), column, fm.height()), Qt::AlignCenter,
                     QString::number(r.hi, 'g', 3));
    painter.drawText(QRectF(x, strip.bottom(), column, fm.height()), Qt::AlignCenter,
                     QString::number(r.lo, 'g', 3));
    painter.drawText(QRectF(x, strip.bottom() + fm.height(), column, fm.height()), Qt::AlignCenter,
                     tr("PC%1").arg(i + 1));
  }
  painter.restore();
}

}  // namespace patchlens
