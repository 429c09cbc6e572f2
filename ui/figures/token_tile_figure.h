#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/analysis/embedding_analysis.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// One token (all D channels of one patch) folded into a rows x cols heatmap tile, beside
// the patch it was computed from.
class TokenTileFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(TokenTileFigure)

 public:
  TokenTileFigure(QImage patch, VectorF token, int row, int col, ColormapId colormap,
                  ValueRange range);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {640, 340}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_patch;
  VectorF m_token;
  int m_row;
  int m_col;
  TileShape m_shape;
  ColormapId m_colormap;
  ValueRange m_range;
};

}  // namespace patchlens
