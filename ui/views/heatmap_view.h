#pragma once

#include <QImage>
#include <QStringList>
#include <QWidget>
#include <functional>
#include <optional>

#include "ui/views/colorbar.h"

class QFontMetrics;
class QPainter;

namespace patchlens {

// A grid of coloured cells (one image pixel per cell) with an optional title, axis
// captions, colorbar, marked row / column / cell, and click-to-select.
class HeatmapView : public QWidget {
  Q_OBJECT

 public:
  explicit HeatmapView(QWidget* parent = nullptr);

  void setImage(const QImage& cells, const std::optional<ColorbarSpec>& colorbar = std::nullopt);
  const QImage& image() const { return m_cells; }
  void setTitle(const QString& title);
  QString title() const { return m_title; }
  void setAxisCaptions(const QString& xCaption, const QString& yCaption);
  // false stretches the cells to the widget (the N x D matrix); true keeps them square.
  void setKeepAspect(bool keep);
  void setMarkedRow(std::optional<int> row);
  void setMarkedColumn(std::optional<int> column);
  void setMarkedCell(std::optional<QPoint> cell);  // x = column, y = row
  void setToolTipProvider(std::function<QString(int row, int column)> provider);
  void setPreferredCellSize(int pixels);
  // Index tick labels along both axes (0, a round step, …): for large grids such as the
  // N x D matrix, where a reader needs to find token 120 or channel 300.
  void setAxisTicks(bool ticks);

  // The one paint path (screen and export): draws into `bounds`.
  void paint(QPainter& painter, const QRectF& bounds) const;
  // Where the cells land inside `bounds`.
  QRectF cellsRect(const QRectF& bounds) const;
  // The title as painted in `bounds`: one line, or two when one is too narrow.
  QStringList titleLines(const QFontMetrics& fm, const QRectF& bounds) const;
  // The cell under a widget position, if any (x = column, y = row).
  std::optional<QPoint> cellAt(const QPointF& position) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void cellClicked(int row, int column);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  QImage m_cells;
  std::optional<ColorbarSpec> m_colorbar;
  QString m_title;
  QString m_xCaption;
  QString m_yCaption;
  bool m_keepAspect = true;
  std::optional<int> m_markedRow;
  std::optional<int> m_markedColumn;
  std::optional<QPoint> m_markedCell;
  std::function<QString(int, int)> m_toolTipProvider;
  int m_preferredCellSize = 8;
  bool m_axisTicks = false;
};

}  // namespace patchlens
