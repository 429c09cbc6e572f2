#include <QFile>
#include <QMimeData>
#include <QProcess>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

#include "core/image/image_loader.h"
#include "core/model/patch_embedding.h"
#include "core/model/pipeline.h"
#include "ui/base/colormap.h"
#include "ui/main_window.h"
#include "ui/panels/patch_inspector.h"
#include "ui/session/session.h"
#include "ui/views/colorbar.h"
#include "ui/views/image_view.h"

using namespace patchlens;

namespace {

const QString kChelsea = QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png");
const QString kCoffee = QStringLiteral(PATCHLENS_TEST_DATA "/coffee.png");

// The embedding the core computes for an image with the default pipeline, independently
// of the GUI's session.
Embedding coreEmbedding(const QString& path) {
  const PipelineConfig config;
  const PatchWeights weights = resolveWeights(config.weights);
  const LoadedImage image = loadImage(path.toStdString(), config.load);
  const PreprocessResult prep = preprocess(image.rgb, preprocessFor(config.preprocess, weights));
  return PatchEmbedding(weights).forward(prep.tensor, config.remainder);
}

}  // namespace

// The main window driven like a user: open, click, hover, keys, overlays, drop, errors,
// settings.
class tst_MainWindow : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void init();
  void cleanup();
  void clickShowsTokenInInspector_data();
  void clickShowsTokenInInspector();
  void hoverShowsTooltip();
  void arrowKeysMoveSelection();
  void channelChangeColoursOverlay();
  void dropLoadsFile();
  void badImageKeepsPreviousState();
  void badWeightsKeepPreviousState();
  void optionsSurviveRecreatingWindow();
  void screenshotCommandLine();

 private:
  std::unique_ptr<MainWindow> makeWindow();
  bool loadAndWait(MainWindow& window, const QString& path);

  std::unique_ptr<MainWindow> m_window;
};

void tst_MainWindow::initTestCase() {
  // Keep the user's settings out of it: QSettings goes to ~/.qttest in test mode.
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_main_window"));
}

void tst_MainWindow::init() {
  QSettings().clear();
  m_window = makeWindow();
}

void tst_MainWindow::cleanup() {
  m_window.reset();
}

std::unique_ptr<MainWindow> tst_MainWindow::makeWindow() {
  auto window = std::make_unique<MainWindow>();
  window->resize(1400, 900);
  window->show();
  if (!QTest::qWaitForWindowExposed(window.get())) return nullptr;
  return window;
}

bool tst_MainWindow::loadAndWait(MainWindow& window, const QString& path) {
  window.openImage(path);
  Session* session = window.session();
  return QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasResult() && session->result()->imagePath == path;
      },
      30000);
}

void tst_MainWindow::clickShowsTokenInInspector_data() {
  QTest::addColumn<int>("row");
  QTest::addColumn<int>("col");
  QTest::newRow("top-left") << 0 << 0;
  QTest::newRow("centre") << 7 << 7;
  QTest::newRow("row 13, col 5") << 13 << 5;
  QTest::newRow("row 2, col 11") << 2 << 11;
}

void tst_MainWindow::clickShowsTokenInInspector() {
  QFETCH(int, row);
  QFETCH(int, col);
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  ImageView* view = m_window->imageView();
  QTest::mouseClick(view, Qt::LeftButton, {}, view->patchCenter({row, col}).toPoint());
  const int cols = m_window->session()->result()->embedding.grid.cols;
  QCOMPARE(cols, 14);
  QCOMPARE(m_window->inspector()->shownToken(), row * cols + col);
  QVERIFY(m_window->inspector()->headerText().contains(
      QStringLiteral("patch %1 ").arg(row * cols + col)));

  const Embedding expected = coreEmbedding(kChelsea);
  const Eigen::VectorXf shown = m_window->inspector()->shownVector();
  QCOMPARE(shown.size(), Eigen::Index{768});
  const Eigen::VectorXf core = expected.tokens.row(expected.tokenIndex(row, col)).transpose();
  QVERIFY2(shown == core, "the inspector shows exactly the core's row");
}

void tst_MainWindow::hoverShowsTooltip() {
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  m_window->session()->setOverlay(OverlayKind::Norm);
  ImageView* view = m_window->imageView();
  // A move event straight to the view: QTest::mouseMove goes through QCursor::setPos,
  // which the offscreen platform maps with an offset.
  const QPointF centre = view->patchCenter({2, 3});
  QMouseEvent move(QEvent::MouseMove, centre, view->mapToGlobal(centre), Qt::NoButton, Qt::NoButton,
                   Qt::NoModifier);
  QApplication::sendEvent(view, &move);
  QTRY_COMPARE(view->hovered(), std::optional(PatchPos{2, 3}));
  const QString tip = view->toolTip();
  QVERIFY2(tip.contains(QStringLiteral("row 2, col 3")), qPrintable(tip));
  QVERIFY2(tip.contains(QStringLiteral("patch 31")), qPrintable(tip));
  // The pixel box in the original: crop of 451 x 300 -> 248 short side, scale 300/248.
  QVERIFY2(tip.contains(QStringLiteral("Original pixels")), qPrintable(tip));
  const QRectF box = m_window->session()->result()->sourceRect({2, 3});
  QVERIFY2(tip.contains(QString::number(box.left(), 'f', 1)), qPrintable(tip));
  const float norm = m_window->session()->result()->norms(31);
  QVERIFY2(tip.contains(QStringLiteral("L2 norm: %1").arg(QString::number(norm, 'g', 4))),
           qPrintable(tip));
}

void tst_MainWindow::arrowKeysMoveSelection() {
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  ImageView* view = m_window->imageView();
  Session* session = m_window->session();
  QTest::mouseClick(view, Qt::LeftButton, {}, view->patchCenter({5, 5}).toPoint());
  QCOMPARE(session->selection(), std::optional(PatchPos{5, 5}));
  QSignalSpy spy(session, &Session::selectionChanged);
  QTest::keyClick(view, Qt::Key_Right);
  QCOMPARE(session->selection(), std::optional(PatchPos{5, 6}));
  QTest::keyClick(view, Qt::Key_Down);
  QCOMPARE(session->selection(), std::optional(PatchPos{6, 6}));
  QTest::keyClick(view, Qt::Key_Left);
  QTest::keyClick(view, Qt::Key_Left);
  QCOMPARE(session->selection(), std::optional(PatchPos{6, 4}));
  QTest::keyClick(view, Qt::Key_Up);
  QCOMPARE(session->selection(), std::optional(PatchPos{5, 4}));
  QCOMPARE(spy.count(), 5);
  QCOMPARE(m_window->inspector()->shownToken(), 5 * 14 + 4);
  // The selection stops at the edge.
  session->setSelection({0, 13});
  QTest::keyClick(view, Qt::Key_Up);
  QTest::keyClick(view, Qt::Key_Right);
  QCOMPARE(session->selection(), std::optional(PatchPos{0, 13}));
  QTest::keyClick(view, Qt::Key_Escape);
  QVERIFY(!session->selection());
  QCOMPARE(m_window->inspector()->shownToken(), -1);
}

void tst_MainWindow::channelChangeColoursOverlay() {
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  Session* session = m_window->session();
  session->setOverlay(OverlayKind::Channel);
  session->setColormapChoice(ColormapId::Viridis);
  session->setScaleChoice(ScaleMode::MinMax);
  session->setOpacity(1.0);  // the overlay alone, no blending with the image
  const RowMatrixF& tokens = session->result()->embedding.tokens;
  ImageView* view = m_window->imageView();

  for (const int channel : {5, 300}) {
    session->setChannel(channel);
    // The colorbar names the channel and the colour scale (issue 21).
    QCOMPARE(m_window->colorbar()->spec()->label,
             QStringLiteral("channel %1 · scale min/max").arg(channel));
    const QImage shot = view->grab().toImage();
    const double dpr = shot.devicePixelRatio();
    const Eigen::VectorXf column = tokens.col(channel);
    Eigen::Index lowest = 0;
    Eigen::Index highest = 0;
    column.minCoeff(&lowest);
    column.maxCoeff(&highest);
    const auto pixelAt = [&](Eigen::Index token) {
      const QPointF centre =
          view->patchCenter({static_cast<int>(token / 14), static_cast<int>(token % 14)});
      return QColor(shot.pixel((centre * dpr).toPoint()));
    };
    // The smallest value is viridis' first entry, the largest its last (matplotlib bytes).
    QCOMPARE(pixelAt(lowest), QColor(68, 1, 84));
    QCOMPARE(pixelAt(highest), QColor(253, 231, 36));
    // Any other patch: the table entry of its value.
    for (const Eigen::Index token : {Eigen::Index{0}, Eigen::Index{100}, Eigen::Index{195}}) {
      const Rgb8 expected = Colormap::get(ColormapId::Viridis)
                                .map(column(token), column.minCoeff(), column.maxCoeff());
      QCOMPARE(pixelAt(token), QColor(expected.r, expected.g, expected.b));
    }
  }
}

void tst_MainWindow::dropLoadsFile() {
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  QMimeData mime;
  mime.setUrls({QUrl::fromLocalFile(kCoffee)});
  const QPoint pos =
      m_window->imageView()->mapTo(m_window.get(), m_window->imageView()->rect().center());
  QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(m_window.get(), &enter);
  QVERIFY(enter.isAccepted());
  QDropEvent drop(QPointF(pos), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(m_window.get(), &drop);
  Session* session = m_window->session();
  QTRY_VERIFY_WITH_TIMEOUT(!session->isBusy() && session->result()->imagePath == kCoffee, 30000);
  QCOMPARE(session->result()->sourceSize, QSize(600, 400));
  QCOMPARE(session->result()->original.size(), QSize(600, 400));  // small enough to show whole
  QVERIFY(m_window->recentFiles().contains(QFileInfo(kCoffee).absoluteFilePath()));
}

void tst_MainWindow::badImageKeepsPreviousState() {
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  Session* session = m_window->session();
  session->setSelection({3, 4});
  const auto before = session->result();
  QTemporaryDir dir;
  const QString bad = dir.filePath(QStringLiteral("not_an_image.png"));
  QFile file(bad);
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write("this is not a PNG at all");
  file.close();
  QSignalSpy errors(session, &Session::errorOccurred);
  m_window->openImage(bad);
  QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 30000);
  QVERIFY(!session->isBusy());
  QVERIFY2(m_window->errorText().contains(QStringLiteral("not_an_image.png")),
           qPrintable(m_window->errorText()));
  QCOMPARE(session->result(), before);  // the same result object: nothing was replaced
  QCOMPARE(session->result()->imagePath, kChelsea);
  QCOMPARE(session->selection(), std::optional(PatchPos{3, 4}));
  QCOMPARE(m_window->inspector()->shownToken(), 3 * 14 + 4);
  // The next good load clears the error.
  QVERIFY(loadAndWait(*m_window, kCoffee));
  QVERIFY(m_window->errorText().isEmpty());
}

void tst_MainWindow::badWeightsKeepPreviousState() {
  QVERIFY(m_window);
  QVERIFY(loadAndWait(*m_window, kChelsea));
  Session* session = m_window->session();
  const auto before = session->result();
  QTemporaryDir dir;
  const QString bad = dir.filePath(QStringLiteral("broken.safetensors"));
  QFile file(bad);
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
  file.close();
  QSignalSpy errors(session, &Session::errorOccurred);
  m_window->openWeights(bad);
  QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 30000);
  QVERIFY(!m_window->errorText().isEmpty());
  QCOMPARE(session->result(), before);
  QCOMPARE(session->config().weights.source, std::string("xavier"));
}

void tst_MainWindow::optionsSurviveRecreatingWindow() {
  QVERIFY(m_window);
  {
    Session* session = m_window->session();
    session->setOverlay(OverlayKind::Pca);
    session->setColormapChoice(ColormapId::Magma);
    session->setScaleChoice(ScaleMode::Percentile);
    session->setOpacity(0.35);
    session->setChannel(42);
    PipelineConfig config = session->config();
    config.preprocess.cropPct = 0.875;
    config.preprocess.normalization = *Normalization::parse("imagenet");
    config.weights.source = "dct";
    session->setConfig(config);
    m_window->imageView()->setShowGrid(false);
  }
  m_window.reset();  // the window writes its settings when it goes away
  m_window = makeWindow();
  QVERIFY(m_window);
  Session* session = m_window->session();
  QCOMPARE(session->overlay(), OverlayKind::Pca);
  QCOMPARE(session->colormapChoice(), std::optional(ColormapId::Magma));
  QCOMPARE(session->scaleChoice(), std::optional(ScaleMode::Percentile));
  QCOMPARE(session->opacity(), 0.35);
  QCOMPARE(session->channel(), 42);
  QCOMPARE(session->config().preprocess.cropPct, 0.875);
  QCOMPARE(session->config().preprocess.normalization.name, std::string("imagenet"));
  QCOMPARE(session->config().weights.source, std::string("dct"));
  QVERIFY(!m_window->imageView()->showGrid());
}

void tst_MainWindow::screenshotCommandLine() {
  const QString exe = QStringLiteral(PATCHLENS_BIN_DIR "/patchlens");
  if (!QFileInfo::exists(exe)) QSKIP("the patchlens executable is not built");
  QTemporaryDir dir;
  const QString out = dir.filePath(QStringLiteral("shot.png"));
  QProcess process;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  process.setProcessEnvironment(env);
  process.start(exe,
                {kChelsea, QStringLiteral("--select"), QStringLiteral("7,7"),
                 QStringLiteral("--overlay"), QStringLiteral("channel:5"), QStringLiteral("--size"),
                 QStringLiteral("1200x800"), QStringLiteral("--screenshot"), out});
  QVERIFY(process.waitForFinished(60000));
  QCOMPARE(process.exitCode(), 0);
  const QImage shot(out);
  QCOMPARE(shot.size(), QSize(1200, 800));

  // A bad image: exit status 1 and one line on stderr naming the file.
  process.start(exe, {QStringLiteral("/nonexistent/x.png"), QStringLiteral("--screenshot"), out});
  QVERIFY(process.waitForFinished(60000));
  QCOMPARE(process.exitCode(), 1);
  QVERIFY(process.readAllStandardError().contains("x.png"));
}

QTEST_MAIN(tst_MainWindow)
#include "tst_main_window.moc"
