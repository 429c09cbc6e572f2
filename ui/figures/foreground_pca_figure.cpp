#include "ui/figures/foreground_pca_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

ForegroundPcaFigure::ForegroundPcaFigure(QImage input, ForegroundPca pca,
                                         ForegroundPcaOptions options, GridSize grid, int patchSize,
                                         QString shown)
    : m_input(std::move(input)),
      m_pca(std::move(pca)),
      m_options(options),
      m_grid(grid),
      m_patchSize(patchSize),
      m_shown(std::move(shown)) {}

QString ForegroundPcaFigure::shownText(TokenSource source, const QString& layerName, int block) {
  if (source == TokenSource::Tokens) return tr("the foreground tokens, %1").arg(layerName);
  return tr("the %1 of block %2, foreground")
      .arg(QString::fromUtf8(tokenSourceName(source)))
      .arg(block);
}

QString ForegroundPcaFigure::ownTitle() const {
  return tr("DINOv2-style PCA of %1").arg(m_shown);
}

QSizeF ForegroundPcaFigure::preferredSize() const {
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  return {600, 90 + 170 * std::clamp(extentY / std::max(extentX, 1.0), 0.25, 2.0)};
}

void ForegroundPcaFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const VectorF& ratio = m_pca.second.explainedVarianceRatio;
  auto share = [&](int i) { return ratio.size() > i ? ratio(i) * 100.0 : 0.0; };
  const QString subtitle =
      tr("foreground: scaled PC1%1 > %2 (%3 of %4 patches) · RGB = PC1–3 of the foreground "
         "(%5\u00a0%, %6\u00a0%, %7\u00a0%) · background black")
          .arg(m_options.flip ? tr(" flipped") : QString())
          .arg(m_options.threshold, 0, 'f', 2)
          .arg(m_pca.foregroundCount)
          .arg(m_grid.tokens())
          .arg(share(0), 0, 'f', 1)
          .arg(share(1), 0, 'f', 1)
          .arg(share(2), 0, 'f', 1);
  const QRectF body = paintTitle(painter, area, title(), subtitle);
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec image = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("input"));
  const PanelSpec first = gridPanel(m_grid, tr("PC1 of all tokens"));
  const PanelSpec rgb = gridPanel(m_grid, tr("foreground PCA → RGB"));
  // Side by side on a page; in a narrow dock two rows or a column, whichever gives the
  // largest panels (three panels in a row would be too small to read there).
  const std::vector<PanelSpec> panels{image, first, rgb};
  const std::vector<std::vector<std::vector<int>>> arrangements{
      {{0, 1, 2}}, {{0, 1}, {2}}, {{0}, {1}, {2}}};
  PanelLayout layout;
  qreal best = -1.0;
  for (const auto& rows : arrangements) {
    PanelLayout candidate;
    candidate.plots.resize(3);
    candidate.captions.resize(3);
    qreal smallest = 1e9;
    const qreal h = body.height() / static_cast<qreal>(rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const QRectF rowRect(body.left(), body.top() + static_cast<qreal>(r) * h, body.width(), h);
      std::vector<PanelSpec> specs;
      for (const int i : rows[r]) specs.push_back(panels[std::size_t(i)]);
      const PanelLayout one = layoutPanels(rowRect, specs, 0.0);
      for (std::size_t k = 0; k < rows[r].size(); ++k) {
        const auto i = std::size_t(rows[r][k]);
        candidate.plots[i] = one.plots[k];
        candidate.captions[i] = one.captions[k];
        // A panel alone in its row may use the row's width for its caption.
        if (rows[r].size() == 1) {
          candidate.captions[i].setLeft(body.left());
          candidate.captions[i].setRight(body.right());
        }
        smallest = std::min(smallest, one.plots[k].height());
      }
    }
    if (smallest > best + 1.0) {  // a clearly larger panel, else keep the simpler layout
      best = smallest;
      layout = std::move(candidate);
    }
  }
  paintCaption(painter, layout.captions[0], image.caption, true);
  paintCells(painter, layout.plots[0], m_input, false);
  paintAxes(painter, layout.plots[0], image.x, image.y);

  paintCaption(painter, layout.captions[1], first.caption, true);
  paintCells(painter, layout.plots[1],
             valuesToQImage(m_pca.firstComponent, m_grid.rows, m_grid.cols, ColormapId::Gray,
                            ValueRange{0.0f, 1.0f}));
  // The foreground's outline: an edge wherever a foreground cell meets a background one.
  painter.save();
  painter.setPen(QPen(QColor(214, 39, 40), 1.2));
  const QRectF p = layout.plots[1];
  const qreal cw = p.width() / m_grid.cols;
  const qreal ch = p.height() / m_grid.rows;
  auto fg = [&](int r, int c) {
    return r >= 0 && c >= 0 && r < m_grid.rows && c < m_grid.cols &&
           m_pca.foreground[std::size_t(r * m_grid.cols + c)];
  };
  for (int r = 0; r < m_grid.rows; ++r) {
    for (int c = 0; c < m_grid.cols; ++c) {
      if (!fg(r, c)) continue;
      const qreal x0 = p.left() + c * cw, y0 = p.top() + r * ch;
      if (!fg(r - 1, c)) painter.drawLine(QPointF(x0, y0), QPointF(x0 + cw, y0));
      if (!fg(r + 1, c)) painter.drawLine(QPointF(x0, y0 + ch), QPointF(x0 + cw, y0 + ch));
      if (!fg(r, c - 1)) painter.drawLine(QPointF(x0, y0), QPointF(x0, y0 + ch));
      if (!fg(r, c + 1)) painter.drawLine(QPointF(x0 + cw, y0), QPointF(x0 + cw, y0 + ch));
    }
  }
  painter.restore();
  paintAxes(painter, layout.plots[1], first.x, first.y);

  paintCaption(painter, layout.captions[2], rgb.caption, true);
  paintCells(painter, layout.plots[2], rgbRowsToQImage(m_pca.rgb, m_grid.rows, m_grid.cols));
  paintAxes(painter, layout.plots[2], rgb.x, rgb.y);
}

}  // namespace patchlens
