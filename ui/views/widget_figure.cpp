#include "ui/views/widget_figure.h"

#include <QPainter>

namespace patchlens {

WidgetFigure::WidgetFigure(QString title, QSizeF size, Painter painter)
    : m_title(std::move(title)), m_size(size), m_painter(std::move(painter)) {}

void WidgetFigure::paint(QPainter& painter, const QRectF& area) const {
  painter.fillRect(area, Qt::white);
  if (m_painter) m_painter(painter, area);
}

}  // namespace patchlens
