#include "ui/views/figure_widget.h"

#include <QClipboard>
#include <QContextMenuEvent>
#include <QGuiApplication>
#include <QPainter>
#include <algorithm>

#include "ui/figures/export_dialog.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_exporter.h"
#include "ui/views/figure_menu.h"

namespace patchlens {

namespace {
// Copies are rendered at 2 pixels per point: sharp when pasted into slides or documents.
constexpr qreal kCopyScale = 2.0;
// On screen a figure is laid out at full text size down to this share of its designed size.
constexpr qreal kMinimumShare = 0.5;
}  // namespace

FigureWidget::FigureWidget(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setContextMenuPolicy(Qt::DefaultContextMenu);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void FigureWidget::setFigure(std::shared_ptr<const Figure> figure, const QString& kindName) {
  m_figure = std::move(figure);
  m_kindName = kindName;
  if (m_figure) m_placeholder.clear();
  update();
}

void FigureWidget::setPlaceholder(const QString& text) {
  m_figure.reset();
  m_kindName.clear();
  m_placeholder = text;
  update();
}

QSize FigureWidget::sizeHint() const {
  if (!m_figure) return {320, 240};
  return m_figure->preferredSize().toSize();
}

QSize FigureWidget::minimumSizeHint() const {
  return {160, 120};
}

void FigureWidget::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  if (!m_figure) {
    painter.fillRect(rect(), palette().window());
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
                     m_placeholder);
    return;
  }
  const Placement place = placement();
  if (!place.valid()) return;
  painter.setRenderHint(QPainter::Antialiasing, true);
  painter.setRenderHint(QPainter::TextAntialiasing, true);
  painter.scale(place.scale, place.scale);
  m_figure->paint(painter, place.area);
}

FigureWidget::Placement FigureWidget::placement() const {
  if (!m_figure) return {};
  // Figure units are points, drawn at the screen's size (fonts as large as the rest of the
  // window) and laid out for the widget's own shape: a dock gets a figure made for the dock,
  // not a page shrunk into it. Only a widget too small for half the designed size scales down.
  const QSizeF preferred = m_figure->preferredSize();
  const qreal screenScale = logicalDpiY() / 72.0;
  const qreal fit = std::min(width() / (kMinimumShare * preferred.width()),
                             height() / (kMinimumShare * preferred.height()));
  Placement place;
  place.scale = std::max<qreal>(0, std::min(screenScale, fit));
  if (place.valid()) place.area = QRectF(0, 0, width() / place.scale, height() / place.scale);
  return place;
}

void FigureWidget::contextMenuEvent(QContextMenuEvent* event) {
  const std::shared_ptr<const Figure> figure = m_figure;
  FigureMenu::show(
      this, m_session, m_kindName, [figure] { return figure; }, event->globalPos());
}

void FigureWidget::exportFigure() {
  if (m_figure) exportFigure(m_session, m_figure, m_kindName, window());
}

void FigureWidget::copyImage() const {
  if (m_figure) copyImage(*m_figure);
}

void FigureWidget::exportFigure(Session* session, std::shared_ptr<const Figure> figure,
                                const QString& kindName, QWidget* parent) {
  auto* dialog = new ExportDialog(session, parent);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setFixedFigure(std::move(figure), kindName);
  dialog->open();
}

void FigureWidget::copyImage(const Figure& figure) {
  QImage image = FigureExporter::renderToImage(figure, figure.preferredSize(), kCopyScale);
  image.setDevicePixelRatio(1.0);  // pasted at its pixel size
  QGuiApplication::clipboard()->setImage(image);
}

}  // namespace patchlens
