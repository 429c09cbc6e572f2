#pragma once

#include <QCoreApplication>
#include <optional>

#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "ui/figures/figure.h"
#include "ui/views/colormap.h"

namespace patchlens {

// Small multiples: what one query attends to in every head of one block, plus the mean over
// heads, on one shared colour scale; each title gives the head's mean attention distance.
// The attention dock draws it on screen and hit-tests clicks with headAt().
class AttentionHeadsFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(AttentionHeadsFigure)

 public:
  // maps [H x N] (row h = head h over the patches), distances [H] in pixels.
  AttentionHeadsFigure(RowMatrixF maps, VectorF distances, GridSize grid, QString layerName,
                       QString queryName, int queryRow, int queryCol, int selectedHead,
                       ColormapId colormap);

  QString title() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;
  // The head under `point` when the figure is painted into `area`: 0..H-1, -1 for the mean
  // tile, nullopt outside every tile.
  std::optional<int> headAt(const QRectF& area, const QPointF& point) const;
  const RowMatrixF& maps() const { return m_maps; }

 private:
  struct Geometry;
  Geometry geometry(const QRectF& area) const;
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
};

}  // namespace patchlens
