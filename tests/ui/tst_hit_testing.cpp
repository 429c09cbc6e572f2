#include <QSettings>
#include <QStandardPaths>
#include <QtTest>
#include <cmath>
#include <memory>
#include <tuple>
#include <utility>

#include "tests/common/test_support.h"
#include "ui/figures/attention_distance_figure.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/main_window.h"
#include "ui/panels/attention_panel.h"
#include "ui/panels/depth_figure_panel.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"

using namespace patchlens;

// Issue 21: a click selects what is drawn under it. The fixture ViT opened with 12 heads
// (D = 48, so 4 channels a head) in the main window at laptop and desktop sizes; every head
// tile of the attention dock and every dot of the attention-distance dock is clicked at its
// centre and at its four corners inset 1 px, and the session's selection is compared with
// the tile or dot. The tile frame the selection paints red is also found in the grabbed
// pixels around the click: what the mouse handler chose is what the screen shows. CMake runs
// the suite a second time under QT_SCALE_FACTOR=1.5.
class tst_HitTesting : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cleanup();
  void headTilesSelectTheHeadDrawn_data() { sizes(); }
  void headTilesSelectTheHeadDrawn();
  void distanceDotsSelectTheDotDrawn_data() { sizes(); }
  void distanceDotsSelectTheDotDrawn();
  // A click that selects a dot adds "selected: block B, head H = D px" to the subtitle; the
  // dots must stay where they were (the next click aims at what was drawn before).
  void distanceDotsStayPutWhenSelected();

 private:
  static void sizes() {
    QTest::addColumn<QSize>("size");
    QTest::addRow("1366x768") << QSize(1366, 768);
    QTest::addRow("1024x700") << QSize(1024, 700);
    QTest::addRow("1920x1080") << QSize(1920, 1080);
  }
  bool openModel(const QSize& size);
  // The centre and the four corners of a widget rectangle, inset 1 px.
  static QList<QPoint> probes(const QRectF& r) {
    const int left = static_cast<int>(std::ceil(r.left() + 1));
    const int right = static_cast<int>(std::floor(r.right() - 1));
    const int top = static_cast<int>(std::ceil(r.top() + 1));
    const int bottom = static_cast<int>(std::floor(r.bottom() - 1));
    return {r.center().toPoint(), {left, top}, {right, top}, {left, bottom}, {right, bottom}};
  }
  TransformerViews* views() const { return TransformerViews::of(*m_window); }

  std::unique_ptr<MainWindow> m_window;
};

void tst_HitTesting::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_hit_testing"));
}

void tst_HitTesting::cleanup() {
  m_window.reset();
}

bool tst_HitTesting::openModel(const QSize& size) {
  QSettings().clear();
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(size);
  m_window->show();
  if (!QTest::qWaitForWindowExposed(m_window.get())) return false;
  Session* session = m_window->session();
  session->setHeadsOverride(12);
  m_window->openWeights(
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors")));
  if (!QTest::qWaitFor([&] { return !session->isBusy(); }, 60000)) return false;
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  m_window->openImage(image);
  return QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasTransformer() &&
               session->result()->imagePath == image && session->currentAttention();
      },
      60000);
}

void tst_HitTesting::headTilesSelectTheHeadDrawn() {
  QFETCH(QSize, size);
  QVERIFY(openModel(size));
  Session* session = m_window->session();
  QCOMPARE(session->result()->trace->heads, 12);
  QVERIFY(views()->raiseDock(QStringLiteral("attention")));
  AttentionPanel* panel = views()->attentionPanel();
  FigureWidget* widget = panel->figureWidget();
  QVERIFY(QTest::qWaitFor([&] { return widget->isVisible() && panel->figure(); }, 5000));
  QCoreApplication::processEvents();
  const int heads = 12;
  for (int tile = 0; tile <= heads; ++tile) {
    const int expected = tile == heads ? -1 : tile;
    for (int probe = 0; probe < 5; ++probe) {
      // Start from another head so that every click must change the selection.
      session->setHead(expected == 3 ? 4 : 3);
      QCoreApplication::processEvents();
      const FigureWidget::Placement place = widget->placement();
      QVERIFY(place.valid());
      const auto layout = panel->figure()->layout(place.area);
      QCOMPARE(static_cast<int>(layout.tiles.tiles.size()), heads + 1);
      const QRectF rect = place.toWidget(layout.tiles.tiles[std::size_t(tile)]);
      QVERIFY2(rect.width() >= 8 && rect.height() >= 8,
               qPrintable(QStringLiteral("tile %1 is %2 x %3 px")
                              .arg(tile)
                              .arg(rect.width())
                              .arg(rect.height())));
      QVERIFY(widget->rect().contains(rect.toAlignedRect().adjusted(1, 1, -1, -1)));
      const QPoint at = probes(rect)[probe];
      QTest::mouseClick(widget, Qt::LeftButton, {}, at);
      QVERIFY2(session->head() == expected,
               qPrintable(QStringLiteral("tile %1, probe %2 at (%3, %4): selected head %5")
                              .arg(tile)
                              .arg(probe)
                              .arg(at.x())
                              .arg(at.y())
                              .arg(session->head())));
      if (probe != 0) continue;
      // The red frame of the selected tile surrounds the click in the pixels on screen.
      QCoreApplication::processEvents();
      const QImage image = widget->grab().toImage();
      const qreal dpr = image.devicePixelRatio();
      const QPoint c(qRound(at.x() * dpr), qRound(at.y() * dpr));
      const auto red = [&](int x, int y) {
        const QColor p = image.pixelColor(x, y);
        return p.red() > 150 && p.green() < 110 && p.blue() < 110;
      };
      const auto walk = [&](int dx, int dy) {
        for (int x = c.x(), y = c.y(); x >= 0 && y >= 0 && x < image.width() && y < image.height();
             x += dx, y += dy) {
          if (red(x, y)) return std::abs(x - c.x()) + std::abs(y - c.y());
        }
        return -1;
      };
      const int halfWidth = qRound(rect.width() * dpr / 2),
                halfHeight = qRound(rect.height() * dpr / 2);
      for (const auto& [dx, dy, half] :
           {std::tuple{-1, 0, halfWidth}, std::tuple{1, 0, halfWidth},
            std::tuple{0, -1, halfHeight}, std::tuple{0, 1, halfHeight}}) {
        const int d = walk(dx, dy);
        QVERIFY2(d >= 0 && std::abs(d - half) <= qMax(3, half / 10),
                 qPrintable(QStringLiteral("tile %1: red frame %2 px from the centre towards "
                                           "(%3, %4), the tile's half size is %5 px")
                                .arg(tile)
                                .arg(d)
                                .arg(dx)
                                .arg(dy)
                                .arg(half)));
      }
    }
  }
}

void tst_HitTesting::distanceDotsStayPutWhenSelected() {
  RowMatrixF distances(12, 12);
  for (int b = 0; b < 12; ++b)
    for (int h = 0; h < 12; ++h)
      distances(b, h) = 60.0f + 5.0f * static_cast<float>(b) + 3.5f * static_cast<float>(h);
  const AttentionDistanceFigure none(distances, 16, 14, 14, -1, -1);
  int compared = 0;
  for (const auto& [block, head] : {std::pair{1, 0}, std::pair{6, 4}, std::pair{12, 11}}) {
    const AttentionDistanceFigure selected(distances, 16, 14, 14, block, head);
    for (int width = 200; width <= 640; width += 10) {
      for (const int height : {200, 300, 420}) {
        const QRectF area(0, 0, width, height);
        const auto a = none.layout(area);
        const auto b = selected.layout(area);
        QVERIFY2(a.plot == b.plot, qPrintable(QStringLiteral("%1 x %2, block %3 head %4: plot "
                                                             "top %5 without, %6 with")
                                                  .arg(width)
                                                  .arg(height)
                                                  .arg(block)
                                                  .arg(head)
                                                  .arg(a.plot.top())
                                                  .arg(b.plot.top())));
        ++compared;
      }
    }
  }
  QCOMPARE(compared, 3 * 45 * 3);
}

void tst_HitTesting::distanceDotsSelectTheDotDrawn() {
  QFETCH(QSize, size);
  QVERIFY(openModel(size));
  Session* session = m_window->session();
  const int heads = session->result()->trace->heads;
  const int depth = session->result()->trace->depth;
  QCOMPARE(heads, 12);
  QVERIFY(views()->raiseDock(QStringLiteral("attention-distance")));
  DepthFigurePanel* panel = views()->distancePanel();
  FigureWidget* widget = panel->figureWidget();
  QVERIFY(QTest::qWaitFor([&] { return widget->isVisible() && widget->figure(); }, 5000));
  int checkedPixels = 0;
  for (int block = 1; block <= depth; ++block) {
    for (int head = 0; head < heads; ++head) {
      for (int probe = 0; probe < 5; ++probe) {
        // Select another dot first: the click must move the selection.
        session->setLayer(block == 1 ? 3 : 2);
        session->setHead(head == 0 ? 1 : 0);
        QCoreApplication::processEvents();
        const auto* figure = dynamic_cast<const AttentionDistanceFigure*>(widget->figure().get());
        QVERIFY(figure);
        const FigureWidget::Placement place = widget->placement();
        QVERIFY(place.valid());
        const AttentionDistanceFigure::Layout layout = figure->layout(place.area);
        QCOMPARE(static_cast<int>(layout.dots.size()), depth * heads);
        const std::size_t index = std::size_t((block - 1) * heads + head);
        const QPointF centre = place.toWidget(layout.dots[index]);
        const qreal radius = layout.dotRadius * place.scale;
        const QPoint at =
            probes(QRectF(centre - QPointF(radius, radius), QSizeF(2 * radius, 2 * radius)))[probe];
        // What the screen shows at `at`: the last dot drawn over it, else the nearest dot.
        std::size_t shown = index;
        bool covered = false;
        qreal nearest = 1e9;
        for (std::size_t i = 0; i < layout.dots.size(); ++i) {
          const QPointF d = place.toWidget(layout.dots[i]) - QPointF(at);
          const qreal distance = std::hypot(d.x(), d.y());
          if (distance <= radius) {
            shown = i;
            covered = true;
          } else if (!covered && distance < nearest) {
            nearest = distance;
            shown = i;
          }
        }
        QTest::mouseClick(widget, Qt::LeftButton, {}, at);
        const int wantedBlock = int(shown) / heads + 1;
        const int wantedHead = int(shown) % heads;
        QVERIFY2(session->currentBlock() == wantedBlock && session->head() == wantedHead,
                 qPrintable(QStringLiteral("dot block %1 head %2, probe %3 at (%4, %5): "
                                           "selected block %6 head %7, drawn there: block %8 "
                                           "head %9")
                                .arg(block)
                                .arg(head)
                                .arg(probe)
                                .arg(at.x())
                                .arg(at.y())
                                .arg(session->currentBlock())
                                .arg(session->head())
                                .arg(wantedBlock)
                                .arg(wantedHead)));
        if (probe != 0 || shown != index) continue;
        // A dot nothing else is drawn near: its centre pixel is the dot's blue.
        bool alone = true;
        for (std::size_t i = 0; i < layout.dots.size(); ++i) {
          const QPointF d = place.toWidget(layout.dots[i]) - centre;
          if (i != index && std::hypot(d.x(), d.y()) < 3 * radius) alone = false;
        }
        if (!alone) continue;
        session->setHead(head == 0 ? 1 : 0);  // no selection ring near this dot
        session->setLayer(block == 1 ? 3 : 2);
        QCoreApplication::processEvents();
        const QImage image = widget->grab().toImage();
        const qreal dpr = image.devicePixelRatio();
        const QColor p = image.pixelColor(qRound(centre.x() * dpr), qRound(centre.y() * dpr));
        QVERIFY2(std::abs(p.red() - 31) < 40 && std::abs(p.green() - 119) < 40 &&
                     std::abs(p.blue() - 180) < 40,
                 qPrintable(QStringLiteral("dot block %1 head %2: pixel %3 at its centre")
                                .arg(block)
                                .arg(head)
                                .arg(p.name())));
        ++checkedPixels;
      }
    }
  }
  QVERIFY2(checkedPixels >= 1, qPrintable(QString::number(checkedPixels)));
}

QTEST_MAIN(tst_HitTesting)
#include "tst_hit_testing.moc"
