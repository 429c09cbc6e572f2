#pragma once

#include <QImage>
#include <QPointF>
#include <QRectF>
#include <QTransform>
#include <QWidget>
#include <optional>

#include "ui/session/session.h"

class QPainter;

namespace patchlens {

// The central view: the model input (or the original image with the crop box), the
// patch grid, the overlay, hover and selection. Zoom with the wheel, pan by dragging.
class ImageView : public QWidget {
  Q_OBJECT

 public:
  explicit ImageView(Session* session, QWidget* parent = nullptr);

  bool showGrid() const { return m_showGrid; }
  void setShowGrid(bool show);
  bool showOriginal() const { return m_showOriginal; }
  void setShowOriginal(bool show);

  double zoom() const { return m_zoom; }
  void zoomIn();
  void zoomOut();
  void fitToWindow();

  // The one paint path (screen and export), in widget coordinates.
  void paint(QPainter& painter, const QRectF& bounds) const;

  // Geometry in widget coordinates, for hit tests and tests.
  QPointF patchCenter(PatchPos pos) const;
  std::optional<PatchPos> patchAt(const QPointF& position) const;
  QString toolTipFor(PatchPos pos) const;
  std::optional<PatchPos> hovered() const { return m_hover; }

  QSize sizeHint() const override { return {760, 760}; }

 signals:
  void showGridChanged(bool show);
  void showOriginalChanged(bool show);
  void zoomChanged(double zoom);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void contextMenuEvent(QContextMenuEvent* event) override;

 private:
  const QImage* currentImage() const;
  QRectF currentImageRect() const;  // in image coordinates (original pixels for the original)
  QRectF patchRectInImage(PatchPos pos) const;  // in current-image pixels
  QRectF gridRectInImage() const;
  QTransform imageToWidget() const;
  void setZoomAt(double zoom, const QPointF& anchor);
  void applyFit();
  void onResultChanged();
  // The scene without hover and selection: image, overlay, grid, crop box.
  void drawImageLayer(QPainter& painter) const;
  void drawOverlayAndGrid(QPainter& painter) const;
  void drawOverlay(QPainter& painter) const;
  void drawGridAndInputBox(QPainter& painter) const;
  bool drawSceneFromCache(QPainter& painter, const QRectF& bounds) const;

  Session* m_session;
  bool m_showGrid = true;
  bool m_showOriginal = false;
  bool m_fit = true;
  double m_zoom = 1.0;
  QPointF m_offset;  // widget position of image pixel (0, 0)
  std::optional<PatchPos> m_hover;
  QPointF m_pressPos;
  QPointF m_pressOffset;
  bool m_pressed = false;
  bool m_panning = false;
  QSize m_lastImageSize;

  // What a cached layer was drawn for: when any of it differs, the layer is drawn again.
  struct LayerKey {
    qint64 image = 0;  // QImage::cacheKey of the image shown
    QRectF imageRect;  // where it lands (zoom, pan, view size)
    QRectF bounds;     // the painted area
    qreal pixelRatio = 0;
    qint64 overlay = 0;  // overlay image (channel, kind, colormap, scale, selection)
    double opacity = -1.0;
    bool grid = false;
    bool original = false;
    QRectF gridRect;  // grid layer only: where the grid and the crop box land
    QRectF inputBox;
    QSize gridCells;  // grid layer only: columns x rows
    bool operator==(const LayerKey&) const = default;
  };
  // The view at its own size, so that a repaint is one blit: m_base holds the image
  // scaled into the view (redrawn on resize, zoom, pan or a new image), m_composed adds
  // the overlay, grid and crop box (redrawn from m_base when those change, e.g. the
  // channel). Hover and selection are drawn over it on every paint.
  mutable QImage m_base;
  mutable QImage m_composed;
  // The grid and crop box alone on transparent pixels (redrawn on resize, zoom or pan):
  // one blend per channel change instead of 30 wide-pen lines, each of which Qt 6's raster
  // engine splits over its thread pool (a wake-up and a wait per line).
  mutable QImage m_gridLayer;
  mutable LayerKey m_gridKey;
  mutable LayerKey m_baseKey;
  mutable LayerKey m_composedKey;
};

}  // namespace patchlens
