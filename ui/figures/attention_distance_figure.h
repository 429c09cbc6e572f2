#pragma once

#include <QCoreApplication>
#include <optional>

#include "core/model/eigen_types.h"
#include "ui/figures/figure.h"

namespace patchlens {

// Mean attention distance against depth (ViT paper, Fig. 7 right): one dot per head and
// block, in input pixels; the selected block and head are marked. The figure dock maps
// clicks back to a block and head with hit().
class AttentionDistanceFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(AttentionDistanceFigure)

 public:
  // distances [depth x heads]; selectedBlock 1..depth (0: none), selectedHead (-1: none).
  AttentionDistanceFigure(RowMatrixF distances, int patchSize, int gridRows, int gridCols,
                          int selectedBlock, int selectedHead);

  QString title() const override;
  QSizeF preferredSize() const override { return {620, 400}; }
  void paint(QPainter& painter, const QRectF& area) const override;

  struct Hit {
    int block = 0;  // 1..depth
    int head = 0;
  };
  // The dot nearest `point` (within a few points) when painted into `area`.
  std::optional<Hit> hit(const QRectF& area, const QPointF& point) const;

 private:
  struct Geometry;
  Geometry geometry(const QRectF& area) const;
  QString subtitle() const;

  RowMatrixF m_distances;
  int m_patchSize;
  int m_gridRows;
  int m_gridCols;
  int m_selectedBlock;
  int m_selectedHead;
};

}  // namespace patchlens
