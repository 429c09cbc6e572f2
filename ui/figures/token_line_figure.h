#pragma once

#include <QCoreApplication>

#include "core/model/eigen_types.h"
#include "ui/figures/figure.h"

namespace patchlens {

// One token as a line over its channel index, with the zero line and the strongest
// channels named.
class TokenLineFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(TokenLineFigure)

 public:
  TokenLineFigure(VectorF token, int row, int col);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {640, 380}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  VectorF m_token;
  int m_row;
  int m_col;
};

}  // namespace patchlens
