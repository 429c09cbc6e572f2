#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/analysis/patch_reconstruction.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// What the embedding keeps of the image: the input, the patches recovered from the tokens
// (optionally from their top-k principal components only) and the error of every patch.
class ReconstructionFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(ReconstructionFigure)

 public:
  ReconstructionFigure(QImage input, const PatchReconstruction& reconstruction, int embedDim,
                       ColormapId colormap);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_input;
  QImage m_output;
  VectorF m_patchError;
  GridSize m_grid;
  int m_patchSize;
  int m_components;
  int m_rank;
  int m_embedDim;
  double m_relativeError;
  ColormapId m_colormap;
};

}  // namespace patchlens
