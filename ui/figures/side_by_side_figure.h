#pragma once

#include <QCoreApplication>
#include <memory>

#include "ui/figures/figure.h"

namespace patchlens {

// Two figures of one image through two models, side by side, each under a band that names
// its model and layer. Each half is painted by its own figure's paint path.
class SideBySideFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(SideBySideFigure)

 public:
  SideBySideFigure(std::unique_ptr<Figure> left, QString leftLabel, std::unique_ptr<Figure> right,
                   QString rightLabel, QString subtitle);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  std::unique_ptr<Figure> m_left;
  std::unique_ptr<Figure> m_right;
  QString m_leftLabel;
  QString m_rightLabel;
  QString m_subtitle;
};

}  // namespace patchlens
