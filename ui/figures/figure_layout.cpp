#include "ui/figures/figure_layout.h"

#include <QCoreApplication>
#include <algorithm>
#include <cmath>

namespace patchlens {

using namespace figure_style;

PanelLayout layoutPanels(const QRectF& area, const std::vector<PanelSpec>& panels,
                         qreal colorbarWidth) {
  PanelLayout layout;
  if (panels.empty()) return layout;
  std::vector<QMarginsF> margins;
  qreal horizontal = 0.0;
  qreal top = 0.0;
  qreal bottom = 0.0;
  double fixedAspect = 0.0;
  int fillers = 0;
  for (const PanelSpec& p : panels) {
    QMarginsF m = axisMargins(p.x, p.y);
    if (!p.caption.isEmpty()) m.setTop(std::max(m.top(), captionHeight() + kGap));
    margins.push_back(m);
    horizontal += m.left() + m.right() + kGap * 2;
    top = std::max(top, m.top());
    bottom = std::max(bottom, m.bottom());
    if (p.aspect > 0)
      fixedAspect += p.aspect;
    else
      ++fillers;
  }
  const qreal colorbarRoom = colorbarWidth > 0 ? colorbarWidth + kGap * 2 : 0.0;
  const qreal width = std::max(area.width() - horizontal - colorbarRoom, 10.0);
  const qreal availableHeight = std::max(area.height() - top - bottom, 10.0);
  qreal height = availableHeight;
  if (fillers == 0 && fixedAspect > 0) height = std::min(availableHeight, width / fixedAspect);
  const qreal fillWidth =
      fillers > 0 ? std::max((width - fixedAspect * height) / fillers, 10.0) : 0.0;

  qreal total = horizontal + colorbarRoom;
  std::vector<qreal> widths;
  for (const PanelSpec& p : panels) {
    widths.push_back(p.aspect > 0 ? p.aspect * height : fillWidth);
    total += widths.back();
  }
  qreal x = area.left() + std::max((area.width() - total) / 2, 0.0);
  const qreal y = area.top() + top + (availableHeight - height) / 2;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    x += kGap + margins[i].left();
    layout.plots.emplace_back(x, y, widths[i], height);
    const qreal captionTop = y - margins[i].top();
    layout.captions.emplace_back(x - kGap * 4, captionTop, widths[i] + kGap * 8,
                                 y - captionTop - kGap);
    x += widths[i] + margins[i].right() + kGap;
  }
  if (colorbarWidth > 0) layout.colorbar = QRectF(x + kGap * 2, y, colorbarWidth, height);
  return layout;
}

TileLayout layoutTiles(const QRectF& area, int count, int columns, double tileAspect,
                       bool withCaptions, qreal colorbarWidth) {
  TileLayout layout;
  if (count <= 0) return layout;
  columns = std::clamp(columns, 1, count);
  const int rows = (count + columns - 1) / columns;
  const qreal caption = withCaptions ? captionHeight() : 0.0;
  const qreal gap = withCaptions ? kGap * 1.5 : kGap;
  const qreal colorbarRoom = colorbarWidth > 0 ? colorbarWidth + kGap * 3 : 0.0;
  const qreal availableWidth = area.width() - colorbarRoom - gap * (columns - 1);
  const qreal availableHeight = area.height() - (caption + gap) * rows;
  qreal tileHeight = std::min(availableHeight / rows, availableWidth / columns / tileAspect);
  tileHeight = std::max(tileHeight, 2.0);
  const qreal tileWidth = tileHeight * tileAspect;
  const qreal gridWidth = tileWidth * columns + gap * (columns - 1);
  const qreal gridHeight = (tileHeight + caption) * rows + gap * (rows - 1);
  const qreal left = area.left() + std::max((area.width() - gridWidth - colorbarRoom) / 2, 0.0);
  const qreal top = area.top() + std::max((area.height() - gridHeight) / 2, 0.0);
  for (int i = 0; i < count; ++i) {
    const int r = i / columns;
    const int c = i % columns;
    const qreal x = left + c * (tileWidth + gap);
    const qreal y = top + r * (tileHeight + caption + gap);
    layout.captions.emplace_back(x - gap / 2, y, tileWidth + gap, caption);
    layout.tiles.emplace_back(x, y + caption, tileWidth, tileHeight);
  }
  layout.grid = QRectF(left, top, gridWidth, gridHeight);
  if (colorbarWidth > 0) {
    // Beside the tiles, not the captions: the strip spans first tile top to last tile bottom.
    layout.colorbar =
        QRectF(left + gridWidth + kGap * 3, top + caption, colorbarWidth, gridHeight - caption);
  }
  return layout;
}

PanelSpec imagePanel(double extentX, double extentY, GridSize grid, int patchSize,
                     const QString& caption) {
  PanelSpec panel{indexAxis(QCoreApplication::translate("Figure", "patch column"), grid.cols,
                            patchSize, extentX, 8),
                  indexAxis(QCoreApplication::translate("Figure", "patch row"), grid.rows,
                            patchSize, extentY, 8),
                  extentX / extentY, caption};
  panel.y.inverted = true;
  return panel;
}

PanelSpec gridPanel(GridSize grid, const QString& caption) {
  PanelSpec panel{
      indexAxis(QCoreApplication::translate("Figure", "patch column"), grid.cols, 1.0, grid.cols,
                8),
      indexAxis(QCoreApplication::translate("Figure", "patch row"), grid.rows, 1.0, grid.rows, 8),
      static_cast<double>(grid.cols) / grid.rows, caption};
  panel.y.inverted = true;
  return panel;
}

}  // namespace patchlens
