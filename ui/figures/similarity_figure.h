#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// Cosine similarity of every token to one reference token, beside the image with the
// reference patch marked.
class SimilarityFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(SimilarityFigure)

 public:
  SimilarityFigure(QImage input, VectorF similarity, GridSize grid, int patchSize, int row, int col,
                   ColormapId colormap);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_input;
  VectorF m_similarity;
  GridSize m_grid;
  int m_patchSize;
  int m_row;
  int m_col;
  ColormapId m_colormap;
};

}  // namespace patchlens
