#include "ui/views/figure_widget.h"

#include <QClipboard>
#include <QContextMenuEvent>
#include <QGuiApplication>
#include <QMenu>
#include <QPainter>
#include <algorithm>

#include "ui/figures/export_dialog.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_exporter.h"

namespace patchlens {

namespace {
// Copies are rendered at 2 pixels per point: sharp when pasted into slides or documents.
constexpr qreal kCopyScale = 2.0;
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
  // Figure units are points: scale so the figure's designed size fits, then let it lay out
  // in the remaining aspect ratio (text keeps its size relative to the plots).
  const QSizeF preferred = m_figure->preferredSize();
  const qreal scale = std::min(width() / preferred.width(), height() / preferred.height());
  if (scale <= 0) return;
  painter.setRenderHint(QPainter::Antialiasing, true);
  painter.setRenderHint(QPainter::TextAntialiasing, true);
  painter.scale(scale, scale);
  m_figure->paint(painter, QRectF(0, 0, width() / scale, height() / scale));
}

void FigureWidget::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  QAction* exportAct = menu.addAction(tr("&Export…"), this, [this] { exportFigure(); });
  QAction* copyAct = menu.addAction(tr("&Copy Image"), this, [this] { copyImage(); });
  exportAct->setEnabled(m_figure != nullptr);
  copyAct->setEnabled(m_figure != nullptr);
  menu.exec(event->globalPos());
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
