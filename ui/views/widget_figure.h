#pragma once

#include <QString>
#include <functional>

#include "ui/figures/figure.h"

namespace patchlens {

// A Figure that runs a view's own paint path (views with no PlotKind, such as the embedding
// matrix), so Export… and Copy Image give exactly what the view draws.
class WidgetFigure : public Figure {
 public:
  using Painter = std::function<void(QPainter&, const QRectF&)>;

  WidgetFigure(QString title, QSizeF size, Painter painter);

  QString ownTitle() const override { return m_title; }
  QSizeF preferredSize() const override { return m_size; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QString m_title;
  QSizeF m_size;
  Painter m_painter;
};

}  // namespace patchlens
