#include "ui/views/image_view.h"

#include <QContextMenuEvent>
#include <QCursor>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPaintEngine>
#include <QPainter>
#include <QPointer>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "ui/session/explain_session.h"
#include "ui/views/figure_menu.h"
#include "ui/views/widget_figure.h"

namespace patchlens {

namespace {

constexpr double kZoomStep = 1.25;
constexpr double kMinZoom = 0.05;
constexpr double kMaxZoom = 64.0;
constexpr double kFitMargin = 8.0;

// A dark line under a light one: the grid stays visible on light and dark images.
void drawContrastLine(QPainter& painter, const QLineF& line) {
  painter.setPen(QPen(QColor(0, 0, 0, 150), 3));
  painter.drawLine(line);
  painter.setPen(QPen(QColor(255, 255, 255, 210), 1));
  painter.drawLine(line);
}

void drawContrastRect(QPainter& painter, const QRectF& rect, const QColor& color, double width) {
  painter.setBrush(Qt::NoBrush);
  painter.setPen(QPen(QColor(0, 0, 0, 200), width + 2.5));
  painter.drawRect(rect);
  painter.setPen(QPen(color, width));
  painter.drawRect(rect);
}

}  // namespace

ImageView::ImageView(Session* session, QWidget* parent) : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("imageView"));
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(200, 200);
  setAccessibleName(tr("Image with patch grid"));
  connect(session, &Session::resultChanged, this, &ImageView::onResultChanged);
  connect(session, &Session::selectionChanged, this, qOverload<>(&QWidget::update));
  connect(session, &Session::overlayChanged, this, qOverload<>(&QWidget::update));
  connect(session, &Session::channelChanged, this, qOverload<>(&QWidget::update));
  // The hover text follows what is drawn: a key that switches the overlay (or the query,
  // head, layer) under a still mouse must not leave the last mouse move's text behind.
  const auto refreshToolTip = [this] {
    if (!m_hover || !m_session->result()) return;
    const QString text = toolTipFor(*m_hover);
    setToolTip(text);
    if (QToolTip::isVisible() && !text.isEmpty()) QToolTip::showText(QCursor::pos(), text, this);
  };
  connect(session, &Session::overlayChanged, this, refreshToolTip);
  connect(session, &Session::attentionChanged, this, refreshToolTip);
  connect(session, &Session::resultChanged, this, refreshToolTip);
}

void ImageView::setShowGrid(bool show) {
  if (show == m_showGrid) return;
  m_showGrid = show;
  update();
  emit showGridChanged(show);
}

void ImageView::setShowOriginal(bool show) {
  if (show == m_showOriginal) return;
  m_showOriginal = show;
  m_fit = true;
  applyFit();
  emit showOriginalChanged(show);
}

void ImageView::zoomIn() {
  setZoomAt(m_zoom * kZoomStep, QRectF(rect()).center());
}
void ImageView::zoomOut() {
  setZoomAt(m_zoom / kZoomStep, QRectF(rect()).center());
}

void ImageView::fitToWindow() {
  m_fit = true;
  applyFit();
}

const QImage* ImageView::currentImage() const {
  const auto& result = m_session->result();
  if (!result) return nullptr;
  return m_showOriginal ? &result->original : &result->input;
}

QRectF ImageView::currentImageRect() const {
  const auto& result = m_session->result();
  if (!result) return {};
  // The original is shown from a display-sized copy, in original-image pixel coordinates.
  return QRectF(QPointF(),
                m_showOriginal ? QSizeF(result->sourceSize) : QSizeF(result->input.size()));
}

QRectF ImageView::patchRectInImage(PatchPos pos) const {
  const auto& result = m_session->result();
  if (!result) return {};
  return m_showOriginal ? result->sourceRect(pos) : QRectF(result->inputRect(pos));
}

QRectF ImageView::gridRectInImage() const {
  const auto& result = m_session->result();
  if (!result) return {};
  const GridSize grid = result->embedding.grid;
  const QRectF first = patchRectInImage({0, 0});
  const QRectF last = patchRectInImage({grid.rows - 1, grid.cols - 1});
  return first.united(last);
}

QTransform ImageView::imageToWidget() const {
  return QTransform(m_zoom, 0, 0, m_zoom, m_offset.x(), m_offset.y());
}

void ImageView::setZoomAt(double zoom, const QPointF& anchor) {
  zoom = std::clamp(zoom, kMinZoom, kMaxZoom);
  if (zoom == m_zoom) return;
  // Keep the image point under the anchor where it is.
  m_offset = anchor - (anchor - m_offset) * (zoom / m_zoom);
  m_zoom = zoom;
  m_fit = false;
  update();
  emit zoomChanged(m_zoom);
}

void ImageView::applyFit() {
  const QRectF image = currentImageRect();
  if (!image.isEmpty()) {
    const double available = std::min((width() - 2 * kFitMargin) / image.width(),
                                      (height() - 2 * kFitMargin) / image.height());
    m_zoom = std::clamp(available, kMinZoom, kMaxZoom);
    m_offset =
        QPointF((width() - image.width() * m_zoom) / 2, (height() - image.height() * m_zoom) / 2);
    emit zoomChanged(m_zoom);
  }
  update();
}

void ImageView::onResultChanged() {
  const QSize size = currentImageRect().size().toSize();
  // A new image of another size is fitted again; a recompute of the same one keeps the view.
  if (size != m_lastImageSize) m_fit = true;
  m_lastImageSize = size;
  m_hover.reset();
  if (m_fit) applyFit();
  update();
}

QPointF ImageView::patchCenter(PatchPos pos) const {
  return imageToWidget().mapRect(patchRectInImage(pos)).center();
}

std::optional<PatchPos> ImageView::patchAt(const QPointF& position) const {
  const auto& result = m_session->result();
  if (!result) return std::nullopt;
  const QPointF p = imageToWidget().inverted().map(position);
  const GridSize grid = result->embedding.grid;
  const QRectF gridRect = gridRectInImage();
  if (!gridRect.contains(p)) return std::nullopt;
  // The grid is an axis-aligned affine image of the input grid in both modes.
  const int col = static_cast<int>((p.x() - gridRect.left()) / gridRect.width() * grid.cols);
  const int row = static_cast<int>((p.y() - gridRect.top()) / gridRect.height() * grid.rows);
  return PatchPos{std::clamp(row, 0, grid.rows - 1), std::clamp(col, 0, grid.cols - 1)};
}

QString ImageView::toolTipFor(PatchPos pos) const {
  const auto& result = m_session->result();
  if (!result) return {};
  const int token = result->embedding.tokenIndex(pos.row, pos.col);
  const QRectF box = result->sourceRect(pos);
  // "patch 105 = tokens_L row 106", or "key of patch 105 = k_6 token 106" for a block's keys.
  QString text = tr("Patch row %1, col %2 · %3")
                     .arg(pos.row)
                     .arg(pos.col)
                     .arg(m_session->patchTokenName(token));
  text += QLatin1Char('\n') + tr("Original pixels: x %1–%2, y %3–%4")
                                  .arg(box.left(), 0, 'f', 1)
                                  .arg(box.right(), 0, 'f', 1)
                                  .arg(box.top(), 0, 'f', 1)
                                  .arg(box.bottom(), 0, 'f', 1);
  const OverlayMap& map = m_session->overlayMap();
  if (map.isRgb) {
    const auto& proj = result->pca.projections;
    QStringList parts;
    for (Eigen::Index c = 0; c < proj.cols(); ++c)
      parts << tr("PC%1 %2").arg(c + 1).arg(proj(token, c), 0, 'g', 4);
    // What is drawn, named as the overlay's caption names it ("Keys, block 6 · PCA → RGB …").
    text += QLatin1Char('\n') + tr("%1: %2").arg(map.quantity, parts.join(QStringLiteral(", ")));
  } else if (map.values.size() > token) {
    const QString value = map.integerValues ? QString::number(static_cast<int>(map.values(token)))
                                            : QString::number(map.values(token), 'g', 4);
    // What the overlay draws without its colour-scale caption (" · scale min/max": the
    // colorbar's): "attention rollout through 12 blocks from cls: 0.004" (defect 17).
    text += QLatin1Char('\n') + tr("%1: %2").arg(map.quantity, value);
  }
  return text;
}

void ImageView::drawImageLayer(QPainter& painter) const {
  const QImage* image = currentImage();
  const auto& result = m_session->result();
  const QTransform toWidget = imageToWidget();
  // Crisp pixels when zoomed in: nearest neighbour, no smoothing.
  painter.setRenderHint(QPainter::SmoothPixmapTransform, m_zoom < 1.0);
  if (!image->isNull()) {
    painter.drawImage(toWidget.mapRect(currentImageRect()), *image);
  } else {
    // The display copy of a new original follows the first result: meanwhile the model
    // input stands in, where its pixels came from.
    painter.drawImage(toWidget.mapRect(result->sourceInputBox()), result->input);
  }
}

void ImageView::drawOverlayAndGrid(QPainter& painter) const {
  drawOverlay(painter);
  drawGridAndInputBox(painter);
}

void ImageView::drawOverlay(QPainter& painter) const {
  const auto& result = m_session->result();
  const QTransform toWidget = imageToWidget();
  const QRectF gridRect = toWidget.mapRect(gridRectInImage());
  const OverlayMap& map = m_session->overlayMap();
  if (!map.empty() && m_session->opacity() > 0.0) {
    painter.save();
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    painter.setOpacity(m_session->opacity());
    const QPaintEngine* engine = painter.paintEngine();
    const GridSize cells = result->embedding.grid;
    if (engine && engine->type() == QPaintEngine::Raster && map.image.width() == cells.cols &&
        map.image.height() == cells.rows) {
      // Pixels: one solid fill per patch, edges on the grid lines' pixels. The raster engine
      // blends solid rectangles several times faster than it scales an image with opacity,
      // which was most of a channel change's repaint.
      const auto edge = [](double from, double length, int i, int n) {
        return static_cast<int>(std::round(from + length * i / n));
      };
      for (int r = 0; r < cells.rows; ++r) {
        const int top = edge(gridRect.top(), gridRect.height(), r, cells.rows);
        const int bottom = edge(gridRect.top(), gridRect.height(), r + 1, cells.rows);
        for (int c = 0; c < cells.cols; ++c) {
          const int left = edge(gridRect.left(), gridRect.width(), c, cells.cols);
          const int right = edge(gridRect.left(), gridRect.width(), c + 1, cells.cols);
          painter.fillRect(QRect(QPoint(left, top), QPoint(right - 1, bottom - 1)),
                           map.image.pixelColor(c, r));
        }
      }
    } else {
      painter.drawImage(gridRect, map.image);  // SVG and PDF keep one vector-scaled image
    }
    painter.restore();
  }
}

void ImageView::drawGridAndInputBox(QPainter& painter) const {
  const auto& result = m_session->result();
  const QTransform toWidget = imageToWidget();
  const QRectF gridRect = toWidget.mapRect(gridRectInImage());
  painter.setRenderHint(QPainter::Antialiasing, false);
  const GridSize grid = result->embedding.grid;
  if (m_showGrid) {
    for (int c = 0; c <= grid.cols; ++c) {
      const double x = std::round(gridRect.left() + gridRect.width() * c / grid.cols);
      drawContrastLine(painter, QLineF(x, gridRect.top(), x, gridRect.bottom()));
    }
    for (int r = 0; r <= grid.rows; ++r) {
      const double y = std::round(gridRect.top() + gridRect.height() * r / grid.rows);
      drawContrastLine(painter, QLineF(gridRect.left(), y, gridRect.right(), y));
    }
  }
  if (m_showOriginal) {
    // The model input's footprint in the original: the crop (or resize / pad) box.
    const QRectF inputBox = result->sourceInputBox();
    drawContrastRect(painter, toWidget.mapRect(inputBox), QColor(255, 150, 0), 2);
  }
}

bool ImageView::drawSceneFromCache(QPainter& painter, const QRectF& bounds) const {
  // Only for pixels (screen, grab, raster images) drawn 1:1; SVG and PDF exports keep
  // vector grid lines and draw the scene directly.
  const QPaintEngine* engine = painter.paintEngine();
  if (!engine || engine->type() != QPaintEngine::Raster || !painter.transform().isIdentity() ||
      bounds.isEmpty())
    return false;
  const auto& result = m_session->result();
  const QImage* image = currentImage();
  const qreal ratio = painter.device()->devicePixelRatioF();
  LayerKey key;
  key.image = image->isNull() ? result->input.cacheKey() : image->cacheKey();
  key.imageRect =
      imageToWidget().mapRect(image->isNull() ? result->sourceInputBox() : currentImageRect());
  key.bounds = bounds;
  key.pixelRatio = ratio;
  key.original = m_showOriginal;
  const QSize pixels = (bounds.size() * ratio).toSize();
  const auto target = [&](QImage& layer) {
    if (layer.size() != pixels) {
      layer = QImage(pixels, QImage::Format_ARGB32_Premultiplied);
      layer.setDevicePixelRatio(ratio);
    }
  };
  if (!(m_baseKey == key) || m_base.isNull()) {
    target(m_base);
    QPainter p(&m_base);
    p.translate(-bounds.topLeft());
    p.fillRect(bounds, QColor(58, 58, 62));
    drawImageLayer(p);
    m_baseKey = key;
    m_composedKey = LayerKey{};
  }
  const OverlayMap& map = m_session->overlayMap();
  key.overlay = map.image.cacheKey();
  key.opacity = m_session->opacity();
  key.grid = m_showGrid;
  if (!(m_composedKey == key) || m_composed.isNull()) {
    target(m_composed);
    QPainter p(&m_composed);
    p.setCompositionMode(QPainter::CompositionMode_Source);
    p.drawImage(QPointF(), m_base);
    p.setCompositionMode(QPainter::CompositionMode_SourceOver);
    p.translate(-bounds.topLeft());
    p.setClipRect(bounds);
    drawOverlay(p);
    // The grid depends on where it lands, not on the pixels under it: the next image of the
    // same size (a dataset, a reopen) reuses it.
    LayerKey gridKey = key;
    gridKey.image = 0;
    gridKey.imageRect = QRectF();
    gridKey.overlay = 0;
    gridKey.opacity = 0;
    gridKey.gridCells = QSize(result->embedding.grid.cols, result->embedding.grid.rows);
    gridKey.gridRect = imageToWidget().mapRect(gridRectInImage());
    gridKey.inputBox = imageToWidget().mapRect(result->sourceInputBox());
    if (m_showGrid || m_showOriginal) {  // else the layer holds nothing to blend
      if (!(m_gridKey == gridKey) || m_gridLayer.isNull()) {
        target(m_gridLayer);
        m_gridLayer.fill(Qt::transparent);
        QPainter g(&m_gridLayer);
        g.translate(-bounds.topLeft());
        drawGridAndInputBox(g);
        m_gridKey = gridKey;
      }
      p.drawImage(bounds.topLeft(), m_gridLayer);
    }
    m_composedKey = key;
  }
  painter.drawImage(bounds.topLeft(), m_composed);
  return true;
}

void ImageView::paint(QPainter& painter, const QRectF& bounds) const {
  painter.save();
  const QImage* image = currentImage();
  const auto& result = m_session->result();
  if (!image || !result) {
    painter.fillRect(bounds, QColor(58, 58, 62));
    painter.setPen(Qt::white);
    painter.drawText(bounds, Qt::AlignCenter, tr("Open an image (Ctrl+O) or drop one here"));
    painter.restore();
    return;
  }
  painter.setClipRect(bounds);
  if (!drawSceneFromCache(painter, bounds)) {
    painter.fillRect(bounds, QColor(58, 58, 62));
    drawImageLayer(painter);
    drawOverlayAndGrid(painter);
  }
  const QTransform toWidget = imageToWidget();
  painter.setRenderHint(QPainter::Antialiasing, false);
  if (m_hover && !(m_session->selection() && *m_session->selection() == *m_hover)) {
    drawContrastRect(painter, toWidget.mapRect(patchRectInImage(*m_hover)), QColor(255, 255, 255),
                     1.5);
  }
  if (const auto selected = m_session->selection()) {
    drawContrastRect(painter, toWidget.mapRect(patchRectInImage(*selected)), QColor(255, 220, 0),
                     2.5);
  }
  painter.restore();
}

void ImageView::paintEvent(QPaintEvent* /*event*/) {
  QPainter painter(this);
  paint(painter, QRectF(rect()));
}

void ImageView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  if (m_fit) applyFit();
}

void ImageView::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  if (steps == 0.0) return;
  setZoomAt(m_zoom * std::pow(kZoomStep, steps), event->position());
  event->accept();
}

void ImageView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton && event->button() != Qt::MiddleButton)
    return QWidget::mousePressEvent(event);
  m_pressed = true;
  m_panning = event->button() == Qt::MiddleButton;
  m_pressPos = event->position();
  m_pressOffset = m_offset;
  setFocus(Qt::MouseFocusReason);
}

void ImageView::mouseMoveEvent(QMouseEvent* event) {
  if (m_pressed) {
    const QPointF delta = event->position() - m_pressPos;
    if (!m_panning && delta.manhattanLength() > 4) m_panning = true;
    if (m_panning) {
      m_offset = m_pressOffset + delta;
      m_fit = false;
      setCursor(Qt::ClosedHandCursor);
      update();
      return;
    }
  }
  const auto hover = patchAt(event->position());
  if (hover != m_hover) {
    m_hover = hover;
    update();
  }
  const QString text = hover ? toolTipFor(*hover) : QString();
  setToolTip(text);
  if (text.isEmpty()) {
    QToolTip::hideText();
  } else {
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
  }
}

void ImageView::mouseReleaseEvent(QMouseEvent* event) {
  if (!m_pressed) return QWidget::mouseReleaseEvent(event);
  const bool wasPanning = m_panning;
  m_pressed = false;
  m_panning = false;
  unsetCursor();
  if (!wasPanning && event->button() == Qt::LeftButton) {
    if (const auto pos = patchAt(event->position())) m_session->setSelection(*pos);
  }
}

void ImageView::leaveEvent(QEvent* event) {
  QWidget::leaveEvent(event);
  if (m_hover) {
    m_hover.reset();
    update();
  }
}

void ImageView::keyPressEvent(QKeyEvent* event) {
  switch (event->key()) {
    case Qt::Key_Left:
      m_session->moveSelection(0, -1);
      break;
    case Qt::Key_Right:
      m_session->moveSelection(0, 1);
      break;
    case Qt::Key_Up:
      m_session->moveSelection(-1, 0);
      break;
    case Qt::Key_Down:
      m_session->moveSelection(1, 0);
      break;
    case Qt::Key_Escape:
      m_session->clearSelection();
      break;
    default:
      QWidget::keyPressEvent(event);
      return;
  }
  event->accept();
}

void ImageView::contextMenuEvent(QContextMenuEvent* event) {
  // Export… / Copy Image of what the overlay shows: its publication figure where there is
  // one, else this view's own paint path. The press that opened the menu selected nothing.
  const auto sel = m_session->selection();
  QString kind;
  switch (m_session->overlay()) {
    case OverlayKind::Channel:
      kind = QStringLiteral("channel:%1").arg(m_session->channel());
      break;
    case OverlayKind::Pca:
      kind = QStringLiteral("pca");
      break;
    case OverlayKind::Similarity:
      if (sel) kind = QStringLiteral("similarity:%1,%2").arg(sel->row).arg(sel->col);
      break;
    case OverlayKind::Attention:
      // The figure `export --plot attention:L[,H] --query ...` draws (query and head as shown).
      if (m_session->hasTransformer()) {
        kind = QStringLiteral("attention:%1").arg(m_session->currentBlock());
        if (m_session->head() >= 0) kind += QStringLiteral(",%1").arg(m_session->head());
      }
      break;
    case OverlayKind::Rollout:
      if (m_session->hasTransformer()) kind = QStringLiteral("rollout");
      break;
    case OverlayKind::GradCam:
    case OverlayKind::Relevance:
      // The explained class by number: the figure `export --plot gradcam:K` draws.
      if (const auto& e = m_session->explain()->explanation(); e && e->classIndex >= 0)
        kind = QStringLiteral("%1:%2").arg(overlayKindKey(m_session->overlay())).arg(e->classIndex);
      break;
    default:
      break;
  }
  FigureMenu::Builder builder;
  if (!kind.isEmpty()) {
    builder = FigureMenu::builderFor(m_session, kind);
  } else {
    const QPointer<const ImageView> self(this);
    const QSizeF size = this->size();
    builder = [self, size]() -> std::shared_ptr<const Figure> {
      if (!self) return nullptr;
      return std::make_shared<WidgetFigure>(tr("Image view"), size,
                                            [self](QPainter& painter, const QRectF& area) {
                                              if (self) self->paint(painter, area);
                                            });
    };
  }
  FigureMenu::show(this, m_session, kind, builder, event->globalPos());
}

}  // namespace patchlens
