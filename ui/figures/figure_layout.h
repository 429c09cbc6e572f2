#pragma once

#include <QRectF>
#include <QString>
#include <vector>

#include "core/model/patch_embedding.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

// One panel in a row of panels: its axes, its aspect (plot width / height; <= 0 takes the
// width that is left) and a caption above it.
struct PanelSpec {
  AxisSpec x;
  AxisSpec y;
  double aspect = 1.0;
  QString caption;
};

// The model input (extent: the image padded to whole patches, in pixels) with axes that
// count patch columns and rows, top row first.
PanelSpec imagePanel(double extentX, double extentY, GridSize grid, int patchSize,
                     const QString& caption);
// One cell per patch, axes counting patch columns and rows, top row first.
PanelSpec gridPanel(GridSize grid, const QString& caption);

struct PanelLayout {
  std::vector<QRectF> plots;  // where each panel's data goes (axes around it)
  std::vector<QRectF> captions;
  QRectF colorbar;  // as high as the plots, right of the last one; empty without
};

// Places panels side by side in `area`, keeping every aspect ratio, leaving room for their
// axes and, when colorbarWidth > 0, a colorbar at the right; the row is centred.
PanelLayout layoutPanels(const QRectF& area, const std::vector<PanelSpec>& panels,
                         qreal colorbarWidth);

struct TileLayout {
  std::vector<QRectF> tiles;     // where each tile's image goes
  std::vector<QRectF> captions;  // above each tile; empty rects without captions
  QRectF grid;                   // the tiles' bounding box
  QRectF colorbar;
};

// Small multiples: `count` tiles of aspect `tileAspect` in `columns` columns, each with a
// caption line above it when withCaptions, and an optional colorbar at the right.
TileLayout layoutTiles(const QRectF& area, int count, int columns, double tileAspect,
                       bool withCaptions, qreal colorbarWidth);

}  // namespace patchlens
