#pragma once

#include <QRectF>
#include <QSizeF>
#include <QString>

class QPainter;

namespace patchlens {

// A publication figure (title, axes, plot, colorbar) with one paint path: the widget on
// screen and FigureExporter (PNG, SVG, PDF) both call paint(). Figure units are points
// (1/72 inch); fonts are sized in the same units, so a figure looks the same at any scale.
class Figure {
 public:
  virtual ~Figure() = default;

  // The title paint() writes: the figure's own, then what it was computed at when that is not
  // in it already (", Block 6": the layer of `--layer 6`), so that every export names it.
  QString title() const {
    return m_context.isEmpty() ? ownTitle() : ownTitle() + QStringLiteral(", ") + m_context;
  }
  void setContext(const QString& context) { m_context = context; }
  const QString& context() const { return m_context; }
  // The size the figure is designed for, in points.
  virtual QSizeF preferredSize() const = 0;
  // Draws the whole figure into `area`, background included.
  virtual void paint(QPainter& painter, const QRectF& area) const = 0;

 protected:
  Figure() = default;
  Figure(const Figure&) = default;
  Figure& operator=(const Figure&) = default;
  virtual QString ownTitle() const = 0;

 private:
  QString m_context;
};

}  // namespace patchlens
