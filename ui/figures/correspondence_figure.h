#pragma once

#include <QCoreApplication>

#include "core/model/eigen_types.h"
#include "ui/base/colormap.h"
#include "ui/figures/compared_image.h"
#include "ui/figures/figure.h"

namespace patchlens {

// One patch of image A and its cosine similarity over every patch of image B, with the best
// match marked in B (`similarity-to:R,C`).
class CorrespondenceFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(CorrespondenceFigure)

 public:
  // `similarity`: [B's patches], of A's patch (row, col).
  CorrespondenceFigure(ComparedImage a, ComparedImage b, int row, int col, VectorF similarity,
                       QString layerName, ColormapId colormap);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  ComparedImage m_a;
  ComparedImage m_b;
  int m_row;
  int m_col;
  VectorF m_similarity;
  QString m_layerName;
  ColormapId m_colormap;
};

}  // namespace patchlens
