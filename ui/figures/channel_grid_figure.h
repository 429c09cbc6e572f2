#pragma once

#include <QCoreApplication>

#include "core/analysis/embedding_analysis.h"
#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// Small multiples: channels first..last (at most 64) each as a map over the patch grid, on
// one shared colour scale so that they can be compared.
class ChannelGridFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(ChannelGridFigure)

 public:
  ChannelGridFigure(const RowMatrixF& tokens, GridSize grid, int first, int last,
                    ColormapId colormap, ValueRange range);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {640, 640}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  RowMatrixF m_maps;  // [channels x N]: row i is channel first + i
  GridSize m_grid;
  int m_first;
  int m_last;
  ColormapId m_colormap;
  ValueRange m_range;
};

}  // namespace patchlens
