#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/analysis/position_similarity.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// The ViT paper's Fig. 7 (centre): for every patch position, a small map of the cosine
// similarity of its position embedding to those of all positions, laid out on the grid.
class PositionSimilarityFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(PositionSimilarityFigure)

 public:
  PositionSimilarityFigure(const PositionSimilarity& similarity, ColormapId colormap);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {600, 580}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_mosaic;
  int m_rows = 0;
  int m_cols = 0;
  int m_cellPixels = 1;  // mosaic pixels per map cell
  ColormapId m_colormap;
};

}  // namespace patchlens
