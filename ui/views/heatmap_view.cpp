#include "ui/views/heatmap_view.h"

#include <QFontMetrics>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>

namespace patchlens {

namespace {
constexpr int kMargin = 4;
}

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void HeatmapView::setImage(const QImage& cells, const std::optional<ColorbarSpec>& colorbar) {
  m_cells = cells;
  m_colorbar = colorbar;
  updateGeometry();
  update();
}

void HeatmapView::setTitle(const QString& title) {
  m_title = title;
  update();
}

void HeatmapView::setAxisCaptions(const QString& xCaption, const QString& yCaption) {
  m_xCaption = xCaption;
  m_yCaption = yCaption;
  update();
}

void HeatmapView::setKeepAspect(bool keep) {
  m_keepAspect = keep;
  update();
}

void HeatmapView::setMarkedRow(std::optional<int> row) {
  m_markedRow = row;
  update();
}

void HeatmapView::setMarkedColumn(std::optional<int> column) {
  m_markedColumn = column;
  update();
}

void HeatmapView::setMarkedCell(std::optional<QPoint> cell) {
  m_markedCell = cell;
  update();
}

void HeatmapView::setToolTipProvider(std::function<QString(int, int)> provider) {
  m_toolTipProvider = std::move(provider);
}

void HeatmapView::setAxisTicks(bool ticks) {
  m_axisTicks = ticks;
  update();
}

namespace {

// A round index step (1, 2, 5, 10, 20, 50, …) giving at most `maxTicks` labels over `count`.
int tickStep(int count, int maxTicks) {
  int step = 1;
  for (int decade = 1;; decade *= 10) {
    for (int m : {1, 2, 5}) {
      step = m * decade;
      if (count / step < std::max(1, maxTicks)) return step;
    }
  }
}

}  // namespace

void HeatmapView::setPreferredCellSize(int pixels) {
  m_preferredCellSize = pixels;
  updateGeometry();
}

QRectF HeatmapView::cellsRect(const QRectF& bounds) const {
  const QFontMetricsF fm(font());
  QRectF area = bounds.adjusted(kMargin, kMargin, -kMargin, -kMargin);
  // The top row's tick label (and the colorbar's top number) is centred on the first row:
  // half a line above the cells, which the title must leave free.
  if (!m_title.isEmpty())
    area.setTop(area.top() +
                static_cast<qreal>(titleLines(QFontMetrics(font()), bounds).size()) * fm.height() +
                2 + (m_axisTicks || m_colorbar ? fm.height() / 2 : 0.0));
  if (!m_xCaption.isEmpty()) area.setBottom(area.bottom() - fm.height() - 2);
  if (!m_yCaption.isEmpty()) area.setLeft(area.left() + fm.height() + 2);
  if (m_axisTicks) {
    area.setBottom(area.bottom() - fm.height() - 4);
    area.setLeft(area.left() +
                 fm.horizontalAdvance(QString::number(std::max(m_cells.height(), 1))) + 8);
  }
  if (m_colorbar) area.setRight(area.right() - colorbarWidth(font(), *m_colorbar) - 6);
  if (m_cells.isNull() || area.width() <= 0 || area.height() <= 0) return area;
  if (!m_keepAspect) return area;
  const double scale = std::min(area.width() / m_cells.width(), area.height() / m_cells.height());
  const QSizeF size(m_cells.width() * scale, m_cells.height() * scale);
  return {QPointF(area.left() + (area.width() - size.width()) / 2,
                  area.top() + (area.height() - size.height()) / 2),
          size};
}

QStringList HeatmapView::titleLines(const QFontMetrics& fm, const QRectF& bounds) const {
  // One line, or two split at " · " (then a space) when one is too narrow: the matrix's
  // "Embedding matrix, Block 6: 196 tokens × 768 channels · scale percentile" in a 1024-pixel
  // window; "…" only when two lines are too narrow as well.
  const int width = static_cast<int>(bounds.width()) - 2 * kMargin;
  QStringList lines = colorbarLabelLines(fm, m_title, width);
  if (!lines.join(QString()).contains(QChar(0x2026))) return lines;
  // Narrower still (the inspector's tile beside its top 10): wrapped at spaces, in at most
  // 40 % of the height (up to five lines), before anything is elided.
  QStringList wrapped = wrapWords(fm, m_title, width);
  const qsizetype most = std::clamp<qsizetype>(
      static_cast<qsizetype>(bounds.height() / 2.5 / std::max(fm.height(), 1)), 2, 5);
  if (wrapped.size() > most) return lines;
  for (QString& line : wrapped) line = fm.elidedText(line, Qt::ElideRight, width);
  return wrapped;
}

void HeatmapView::paint(QPainter& painter, const QRectF& bounds) const {
  painter.save();
  const QColor text = palette().color(QPalette::WindowText);
  const QFontMetricsF fm(painter.font());
  const QRectF cells = cellsRect(bounds);
  painter.setPen(text);
  if (!m_title.isEmpty()) {
    const QStringList lines = titleLines(QFontMetrics(painter.font()), bounds);
    for (qsizetype i = 0; i < lines.size(); ++i) {
      const QRectF titleRect(bounds.left() + kMargin,
                             bounds.top() + kMargin + static_cast<qreal>(i) * fm.height(),
                             bounds.width() - 2 * kMargin, fm.height());
      painter.drawText(titleRect, Qt::AlignLeft | Qt::AlignVCenter, lines[i]);
    }
  }
  if (m_cells.isNull()) {
    painter.drawText(cells, Qt::AlignCenter | Qt::TextWordWrap, tr("Nothing to show"));
    painter.restore();
    return;
  }
  // Nearest neighbour: every cell stays a crisp block at any size.
  painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
  painter.drawImage(cells, m_cells);
  const double cw = cells.width() / m_cells.width();
  const double ch = cells.height() / m_cells.height();
  const auto outline = [&](const QRectF& r) {
    painter.setBrush(Qt::NoBrush);
    painter.setPen(QPen(QColor(0, 0, 0, 220), 3));
    painter.drawRect(r);
    painter.setPen(QPen(QColor(255, 220, 0), 1.5));
    painter.drawRect(r);
  };
  if (m_markedRow)
    outline(QRectF(cells.left(), cells.top() + *m_markedRow * ch, cells.width(), ch));
  if (m_markedColumn)
    outline(QRectF(cells.left() + *m_markedColumn * cw, cells.top(), cw, cells.height()));
  if (m_markedCell)
    outline(QRectF(cells.left() + m_markedCell->x() * cw, cells.top() + m_markedCell->y() * ch, cw,
                   ch));
  painter.setPen(text);
  double tickHeight = 0;
  double tickWidth = 0;
  if (m_axisTicks) {
    tickHeight = fm.height() + 4;
    tickWidth = fm.horizontalAdvance(QString::number(m_cells.height())) + 8;
    const int labelWidth = static_cast<int>(fm.horizontalAdvance(QString::number(m_cells.width())));
    const int xStep =
        tickStep(m_cells.width(), static_cast<int>(cells.width() / std::max(labelWidth + 16, 1)));
    for (int x = 0; x < m_cells.width(); x += xStep) {
      const double at = cells.left() + (x + 0.5) * cw;
      painter.drawLine(QPointF(at, cells.bottom()), QPointF(at, cells.bottom() + 3));
      painter.drawText(QRectF(at - 40, cells.bottom() + 3, 80, fm.height()), Qt::AlignCenter,
                       QString::number(x));
    }
    const int yStep =
        tickStep(m_cells.height(), static_cast<int>(cells.height() / (fm.height() * 1.5)));
    for (int y = 0; y < m_cells.height(); y += yStep) {
      const double at = cells.top() + (y + 0.5) * ch;
      painter.drawLine(QPointF(cells.left() - 3, at), QPointF(cells.left(), at));
      painter.drawText(
          QRectF(cells.left() - tickWidth, at - fm.height() / 2, tickWidth - 5, fm.height()),
          Qt::AlignRight | Qt::AlignVCenter, QString::number(y));
    }
  }
  if (!m_xCaption.isEmpty()) {
    painter.drawText(
        QRectF(cells.left(), cells.bottom() + 2 + tickHeight, cells.width(), fm.height()),
        Qt::AlignCenter, m_xCaption);
  }
  if (!m_yCaption.isEmpty()) {
    painter.save();
    painter.translate(cells.left() - 2 - tickWidth, cells.center().y());
    painter.rotate(-90);
    painter.drawText(QRectF(-cells.height() / 2, -fm.height(), cells.height(), fm.height()),
                     Qt::AlignCenter, m_yCaption);
    painter.restore();
  }
  if (m_colorbar) {
    const double width = colorbarWidth(painter.font(), *m_colorbar);
    const QRectF barRect(bounds.right() - kMargin - width, cells.top() - fm.height() / 2, width,
                         cells.height() + fm.height());
    paintColorbar(painter, barRect, *m_colorbar, text);
  }
  painter.restore();
}

std::optional<QPoint> HeatmapView::cellAt(const QPointF& position) const {
  if (m_cells.isNull()) return std::nullopt;
  const QRectF cells = cellsRect(QRectF(rect()));
  if (!cells.contains(position)) return std::nullopt;
  const int column =
      std::clamp(static_cast<int>((position.x() - cells.left()) / cells.width() * m_cells.width()),
                 0, m_cells.width() - 1);
  const int row =
      std::clamp(static_cast<int>((position.y() - cells.top()) / cells.height() * m_cells.height()),
                 0, m_cells.height() - 1);
  return QPoint(column, row);
}

QSize HeatmapView::sizeHint() const {
  if (m_cells.isNull()) return {200, 150};
  const int extra = m_colorbar ? colorbarWidth(font(), *m_colorbar) + 6 : 0;
  return {std::clamp(m_cells.width() * m_preferredCellSize, 60, 480) + extra + 2 * kMargin,
          std::clamp(m_cells.height() * m_preferredCellSize, 60, 400) + fontMetrics().height() * 2 +
              2 * kMargin};
}

QSize HeatmapView::minimumSizeHint() const {
  return {80, 60};
}

void HeatmapView::paintEvent(QPaintEvent* /*event*/) {
  QPainter painter(this);
  paint(painter, QRectF(rect()));
}

void HeatmapView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
  if (const auto cell = cellAt(event->position())) emit cellClicked(cell->y(), cell->x());
}

void HeatmapView::mouseMoveEvent(QMouseEvent* event) {
  const auto cell = cellAt(event->position());
  if (cell && m_toolTipProvider) {
    const QString text = m_toolTipProvider(cell->y(), cell->x());
    setToolTip(text);
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
  } else {
    setToolTip({});
    QToolTip::hideText();
  }
}

}  // namespace patchlens
