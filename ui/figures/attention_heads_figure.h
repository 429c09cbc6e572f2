#pragma once

#include <QCoreApplication>
#include <optional>

#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "ui/base/color_scale.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

// Small multiples: what one query attends to in every head of one block, plus the mean over
// heads, on one shared colour scale (attentionColorScale: the overlay's and the exports'); each
// title gives the head's mean attention distance. The attention dock draws it on screen and
// hit-tests clicks with headAt().
class AttentionHeadsFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(AttentionHeadsFigure)

 public:
  // maps [H x N] (row h = head h over the patches), distances [H] in pixels.
  AttentionHeadsFigure(RowMatrixF maps, VectorF distances, GridSize grid, QString layerName,
                       QString queryName, int queryRow, int queryCol, int selectedHead,
                       ColormapId colormap, ColorScale scale);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;
  // Where everything goes in `area`, computed in one place: paint() draws from it and the
  // dock's mouse handler hit-tests with it. tiles.tiles[h] is head h, the last one the mean.
  struct Layout {
    QRectF body;
    TileLayout tiles;
    ColorbarSpec colorbar;
  };
  Layout layout(const QRectF& area) const;
  // The head under `point` of a layout: 0..H-1, -1 for the mean tile, nullopt outside every
  // tile and caption.
  std::optional<int> headAt(const Layout& layout, const QPointF& point) const;
  std::optional<int> headAt(const QRectF& area, const QPointF& point) const {
    return headAt(layout(area), point);
  }
  const RowMatrixF& maps() const { return m_maps; }

 private:
  QString subtitle() const;

  RowMatrixF m_maps;
  VectorF m_distances;
  GridSize m_grid;
  QString m_layerName;
  QString m_queryName;
  int m_queryRow;
  int m_queryCol;
  int m_selectedHead;  // -1: the mean
  ColormapId m_colormap;
  ColorScale m_scale;
};

}  // namespace patchlens
