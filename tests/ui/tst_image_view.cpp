#include <QPainter>
#include <QPicture>
#include <QtTest>
#include <cstdlib>
#include <memory>

#include "ui/base/colormap.h"
#include "ui/session/session.h"
#include "ui/views/image_view.h"

using namespace patchlens;

namespace {

const QString kChelsea = QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png");

// The view painted into an image of its size through its one paint path.
QImage render(const ImageView& view) {
  QImage image(view.size(), QImage::Format_ARGB32_Premultiplied);
  QPainter painter(&image);
  view.paint(painter, QRectF(image.rect()));
  return image;
}

}  // namespace

// The image view keeps the scene composed at its own size: every change that the scene
// depends on must show in the next paint, and the cached paint must equal a direct one.
class tst_ImageView : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cachedPaintEqualsUncachedPaint();
  void overlayFollowsEveryChange();
  void zoomAndResizeRecompose();
  void gridFollowsThePatchSize();

 private:
  // The colour the view shows at the centre of patch (row, col).
  QColor at(const QImage& shot, int row, int col) const {
    return QColor(shot.pixel(m_view->patchCenter({row, col}).toPoint()));
  }
  QColor expectedChannelColour(int channel, int token) const;

  std::unique_ptr<Session> m_session;
  std::unique_ptr<ImageView> m_view;
};

void tst_ImageView::initTestCase() {
  m_session = std::make_unique<Session>();
  m_view = std::make_unique<ImageView>(m_session.get());
  m_view->resize(600, 500);
  m_view->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
  m_session->openImage(kChelsea);
  QVERIFY(QTest::qWaitFor([&] { return m_session->hasResult() && !m_session->isBusy(); }, 60000));
  m_session->setOverlay(OverlayKind::Channel);
  m_session->setColormapChoice(ColormapId::Viridis);
  m_session->setScaleChoice(ScaleMode::MinMax);
  m_session->setOpacity(1.0);
  m_view->setShowGrid(false);
}

QColor tst_ImageView::expectedChannelColour(int channel, int token) const {
  const Eigen::VectorXf column = m_session->result()->embedding.tokens.col(channel);
  const Rgb8 c =
      Colormap::get(ColormapId::Viridis).map(column(token), column.minCoeff(), column.maxCoeff());
  return QColor(c.r, c.g, c.b);
}

void tst_ImageView::cachedPaintEqualsUncachedPaint() {
  // A picture (a non-raster paint device) takes the direct path; replayed onto an image it
  // must give the pixels the cached path gives.
  m_session->setChannel(7);
  m_view->setShowGrid(true);
  const QImage cached = render(*m_view);
  QPicture picture;
  {
    QPainter painter(&picture);
    m_view->paint(painter, QRectF(m_view->rect()));
  }
  QImage direct(m_view->size(), QImage::Format_ARGB32_Premultiplied);
  {
    QPainter painter(&direct);
    picture.play(&painter);
  }
  m_view->setShowGrid(false);
  int differing = 0;
  const auto far = [](QRgb a, QRgb b) {
    // The cached grid is blended as a layer: its pixels may round one step apart.
    return std::abs(qRed(a) - qRed(b)) > 2 || std::abs(qGreen(a) - qGreen(b)) > 2 ||
           std::abs(qBlue(a) - qBlue(b)) > 2;
  };
  for (int y = 0; y < cached.height(); ++y) {
    for (int x = 0; x < cached.width(); ++x)
      differing += far(cached.pixel(x, y), direct.pixel(x, y));
  }
  // Identical but for pixels on the edges of scaled images (a picture replays in floating
  // point): under 1 % of the view.
  QVERIFY2(differing < cached.width() * cached.height() / 100,
           qPrintable(QString::number(differing)));
}

void tst_ImageView::overlayFollowsEveryChange() {
  // Channel: the patches take the colours of the new channel's values.
  for (const int channel : {3, 400, 3}) {
    m_session->setChannel(channel);
    const QImage shot = render(*m_view);
    for (const int token : {0, 97, 195})
      QCOMPARE(at(shot, token / 14, token % 14), expectedChannelColour(channel, token));
  }
  // Opacity 0: the image alone, no overlay colour left.
  const QImage withOverlay = render(*m_view);
  m_session->setOpacity(0.0);
  const QImage plain = render(*m_view);
  QVERIFY(at(plain, 5, 5) != at(withOverlay, 5, 5));
  m_session->setOpacity(1.0);
  QCOMPARE(at(render(*m_view), 5, 5), at(withOverlay, 5, 5));
  // Grid on: the grid line between two patches is drawn (white over black).
  const QPointF left = m_view->patchCenter({5, 5});
  const QPointF right = m_view->patchCenter({5, 6});
  const QPoint edge(static_cast<int>(std::round((left.x() + right.x()) / 2)),
                    static_cast<int>(left.y()));
  m_view->setShowGrid(true);
  const QImage grid = render(*m_view);
  bool whiteLine = false;
  for (int dx = -2; dx <= 2; ++dx)
    whiteLine = whiteLine || QColor(grid.pixel(edge + QPoint(dx, 0))).lightness() > 200;
  QVERIFY(whiteLine);
  m_view->setShowGrid(false);
}

void tst_ImageView::zoomAndResizeRecompose() {
  m_session->setChannel(11);
  const QImage before = render(*m_view);
  const QPointF centreBefore = m_view->patchCenter({2, 2});
  m_view->zoomIn();
  const QImage zoomed = render(*m_view);
  // The patch moved on screen and the view shows it where it now is, in its colour.
  QVERIFY(m_view->patchCenter({2, 2}) != centreBefore);
  QCOMPARE(at(zoomed, 2, 2), expectedChannelColour(11, 2 * 14 + 2));
  m_view->fitToWindow();
  QCOMPARE(render(*m_view), before);
  m_view->resize(420, 380);
  const QImage small = render(*m_view);
  QCOMPARE(small.size(), QSize(420, 380));
  QCOMPARE(at(small, 13, 0), expectedChannelColour(11, 13 * 14));
  m_view->resize(600, 500);
}

// The grid layer is reused while its geometry holds (the next image of the same size); the
// same view rectangle with another patch size is another grid.
void tst_ImageView::gridFollowsThePatchSize() {
  m_view->setShowGrid(true);
  const auto whiteNear = [](const QImage& shot, QPointF at) {
    for (int dx = -2; dx <= 2; ++dx) {
      const QPoint p(static_cast<int>(std::round(at.x())) + dx, static_cast<int>(at.y()));
      if (QColor(shot.pixel(p)).lightness() > 200) return true;
    }
    return false;
  };
  // Between 16-pixel patches 4 and 5 of row 5 (80 px into the input): a line at P = 16 only.
  const QPointF left = m_view->patchCenter({5, 4});
  const QPointF right = m_view->patchCenter({5, 5});
  const QPointF edge((left.x() + right.x()) / 2, left.y());
  QVERIFY(whiteNear(render(*m_view), edge));

  PipelineConfig config = m_session->config();
  const PipelineConfig before = config;
  config.weights.shape.patchSize = 32;
  m_session->setConfig(config);
  QVERIFY(QTest::qWaitFor([&] { return !m_session->isBusy(); }, 60000));
  QCOMPARE(m_session->result()->embedding.grid.cols, 7);
  const QImage coarse = render(*m_view);
  QVERIFY(!whiteNear(coarse, edge));
  // ... and one between 32-pixel patches 2 and 3 (96 px): at the 16-pixel grid's 5|6 edge.
  const QPointF coarseLeft = m_view->patchCenter({2, 2});
  const QPointF coarseRight = m_view->patchCenter({2, 3});
  QVERIFY(whiteNear(coarse, QPointF((coarseLeft.x() + coarseRight.x()) / 2, coarseLeft.y())));

  m_session->setConfig(before);
  QVERIFY(QTest::qWaitFor([&] { return !m_session->isBusy(); }, 60000));
  QCOMPARE(m_session->result()->embedding.grid.cols, 14);
  QVERIFY(whiteNear(render(*m_view), edge));
  m_view->setShowGrid(false);
}

QTEST_MAIN(tst_ImageView)
#include "tst_image_view.moc"
