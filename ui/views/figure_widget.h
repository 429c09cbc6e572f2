#pragma once

#include <QRectF>
#include <QString>
#include <QWidget>
#include <memory>

namespace patchlens {

class Figure;
class Session;

// Shows any Figure on screen through its one paint path (Figure::paint, the same code the
// exporter runs), scaled to fit; right-click offers Export… and Copy image.
class FigureWidget : public QWidget {
  Q_OBJECT

 public:
  explicit FigureWidget(Session* session, QWidget* parent = nullptr);

  // `kindName` is the PlotKind name of the figure ("filter-pca"), for the export dialog.
  void setFigure(std::shared_ptr<const Figure> figure, const QString& kindName = {});
  const std::shared_ptr<const Figure>& figure() const { return m_figure; }
  QString kindName() const { return m_kindName; }
  // Shown instead of a figure (while computing, or why there is none).
  void setPlaceholder(const QString& text);
  QString placeholder() const { return m_placeholder; }

  // The context menu's two actions, callable directly.
  void exportFigure();
  void copyImage() const;
  // The same two for any figure (views that draw themselves but export a figure).
  static void exportFigure(Session* session, std::shared_ptr<const Figure> figure,
                           const QString& kindName, QWidget* parent);
  static void copyImage(const Figure& figure);

  // Where the figure sits in the widget: paintEvent and every mouse handler use this one
  // mapping (figure points = widget pixels / scale), so a click lands on what is drawn.
  struct Placement {
    qreal scale = 0;  // widget pixels per figure point; 0: nothing drawn
    QRectF area;      // the figure's area in figure points
    bool valid() const { return scale > 0; }
    QPointF toFigure(const QPointF& widget) const { return widget / scale; }
    QPointF toWidget(const QPointF& figure) const { return figure * scale; }
    QRectF toWidget(const QRectF& figure) const {
      return {figure.topLeft() * scale, figure.size() * scale};
    }
  };
  Placement placement() const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void contextMenuEvent(QContextMenuEvent* event) override;

 private:
  Session* m_session;
  std::shared_ptr<const Figure> m_figure;
  QString m_kindName;
  QString m_placeholder;
};

}  // namespace patchlens
