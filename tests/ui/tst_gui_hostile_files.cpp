#include <QMimeData>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <memory>
#include <vector>

#include "core/weights/weight_loader.h"
#include "tests/common/test_support.h"
#include "ui/main_window.h"
#include "ui/panels/patch_inspector.h"
#include "ui/session/session.h"

using namespace patchlens;

namespace {

const QString kChelsea = QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png");

enum class Route { OpenImage, OpenWeights, Drop };

}  // namespace

Q_DECLARE_METATYPE(Route)

// Every hostile file of tests/data/bad/ through the GUI's loader (File > Open, Open Weights,
// drag and drop): the window shows an error naming the file and the reason, and the image,
// embedding, selection and channel shown before stay as they were.
class tst_GuiHostileFiles : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void refusedWithMessage_data();
  void refusedWithMessage();
  void budgetRefusalInBanner();
  void cleanupTestCase();

 private:
  void addManifest(const std::string& folder, Route route, const char* prefix);

  std::unique_ptr<MainWindow> m_window;
  std::shared_ptr<const ComputeResult> m_before;
  QTemporaryDir m_dir;
  std::vector<qint64> m_times;
};

void tst_GuiHostileFiles::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1200, 800);
  m_window->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  Session* session = m_window->session();
  m_window->openImage(kChelsea);
  QTRY_VERIFY_WITH_TIMEOUT(!session->isBusy() && session->hasResult(), 30000);
  session->setSelection({3, 4});
  session->setChannel(5);
  m_before = session->result();
}

void tst_GuiHostileFiles::cleanupTestCase() {
  if (!m_times.empty()) {
    std::sort(m_times.begin(), m_times.end());
    qInfo("request -> error shown: median %lld ms, max %lld ms over %zu files",
          m_times[m_times.size() / 2], m_times.back(), m_times.size());
  }
  m_window.reset();
  // Every hostile file went through this one process: its peak memory is theirs too.
  QFile status(QStringLiteral("/proc/self/status"));
  if (status.open(QIODevice::ReadOnly) && !qEnvironmentVariableIsSet("PATCHLENS_NO_RLIMIT")) {
    const QString text = QString::fromLatin1(status.readAll());
    const QRegularExpressionMatch m =
        QRegularExpression(QStringLiteral("VmHWM:\\s+(\\d+) kB")).match(text);
    QVERIFY(m.hasMatch());
    const qint64 peakMb = m.captured(1).toLongLong() / 1024;
    qInfo("peak RSS after all hostile files: %lld MB", peakMb);
    QVERIFY2(peakMb < 512, qPrintable(QString("peak RSS %1 MB").arg(peakMb)));
  }
}

void tst_GuiHostileFiles::addManifest(const std::string& folder, Route route, const char* prefix) {
  for (const auto& row : test::readTsv(test::dataPath(folder + "/expected.tsv"))) {
    const QString file = QString::fromStdString(test::dataPath(folder + "/" + row[0]));
    QTest::addRow("%s %s/%s", prefix, folder.c_str(), row[0].c_str())
        << route << file << QString::fromStdString(row[1]);
  }
}

void tst_GuiHostileFiles::refusedWithMessage_data() {
  QTest::addColumn<Route>("route");
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  addManifest("bad/images", Route::OpenImage, "open");
  addManifest("bad/weights", Route::OpenWeights, "weights");
  addManifest("bad/outputs", Route::OpenWeights, "weights");
  // Drag and drop judges a file by its content: weight files go to the weights.
  addManifest("bad/weights", Route::Drop, "drop");
  for (const auto& row : test::readTsv(test::dataPath("bad/images/expected.tsv"))) {
    const std::string path = test::dataPath("bad/images/" + row[0]);
    // A NumPy or ZIP file named .png is taken for weights when dropped: the weight reader's
    // reason then, only the file name is checked.
    const QString reason = looksLikeWeightFile(path) ? QString() : QString::fromStdString(row[1]);
    QTest::addRow("drop bad/images/%s", row[0].c_str())
        << Route::Drop << QString::fromStdString(path) << reason;
  }
  // Files only the running system can make (as in tests/cli/tst_hostile_files.cpp).
  QDir(m_dir.path()).mkdir(QStringLiteral("folder.png"));
  QTest::newRow("open directory named .png")
      << Route::OpenImage << m_dir.filePath(QStringLiteral("folder.png")) << "is a directory";
  QFile::link(m_dir.filePath(QStringLiteral("loop-b.png")),
              m_dir.filePath(QStringLiteral("loop-a.png")));
  QFile::link(m_dir.filePath(QStringLiteral("loop-a.png")),
              m_dir.filePath(QStringLiteral("loop-b.png")));
  QTest::newRow("open symlink loop")
      << Route::OpenImage << m_dir.filePath(QStringLiteral("loop-a.png")) << "symbolic links";
  QFile::link(m_dir.filePath(QStringLiteral("nowhere.png")),
              m_dir.filePath(QStringLiteral("dangling.png")));
  QTest::newRow("open dangling symlink")
      << Route::OpenImage << m_dir.filePath(QStringLiteral("dangling.png")) << "no such file";
  {
    QFile sparse(m_dir.filePath(QStringLiteral("huge.png")));
    if (sparse.open(QIODevice::WriteOnly)) sparse.resize(qint64{2} << 30);  // 2 GiB of holes
  }
  QTest::newRow("open 2 GiB file")
      << Route::OpenImage << m_dir.filePath(QStringLiteral("huge.png")) << "larger than the limit";
  QTest::newRow("open device") << Route::OpenImage << QStringLiteral("/dev/zero")
                               << "not a regular file";
}

void tst_GuiHostileFiles::refusedWithMessage() {
  QFETCH(Route, route);
  QFETCH(QString, file);
  QFETCH(QString, reason);
  QVERIFY(m_window);
  Session* session = m_window->session();
  QVERIFY(!session->isBusy());
  QSignalSpy errors(session, &Session::errorOccurred);
  QSignalSpy results(session, &Session::resultChanged);

  QElapsedTimer timer;
  qint64 shownAfterMs = -1;  // when the window showed the error (QTRY polls every 50 ms)
  QObject context;
  connect(session, &Session::errorOccurred, &context, [&] { shownAfterMs = timer.elapsed(); });
  timer.start();
  switch (route) {
    case Route::OpenImage:
      m_window->openImage(file);
      break;  // File > Open with this path
    case Route::OpenWeights:
      m_window->openWeights(file);
      break;
    case Route::Drop: {
      QMimeData mime;
      mime.setUrls({QUrl::fromLocalFile(file)});
      const QPoint pos = m_window->rect().center();
      QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QApplication::sendEvent(m_window.get(), &enter);
      QVERIFY(enter.isAccepted());
      QDropEvent drop(QPointF(pos), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QApplication::sendEvent(m_window.get(), &drop);
      break;
    }
  }
  // A hang bound, not a time limit (the times are reported).
  QTRY_VERIFY_WITH_TIMEOUT(errors.count() >= 1 && !session->isBusy(), 20000);
  const qint64 ms = shownAfterMs;
  m_times.push_back(ms);
  qInfo("%lld ms", ms);

  const QString message = m_window->errorText();
  QCOMPARE(errors.count(), 1);
  QCOMPARE(results.count(), 0);
  QVERIFY2(message.contains(reason), qPrintable(message));
  QVERIFY2(message.contains(QFileInfo(file).fileName()), qPrintable(message));
  // The previous image, embedding, selection and channel are still what the window shows.
  QCOMPARE(session->result(), m_before);
  QCOMPARE(session->result()->imagePath, kChelsea);
  QCOMPARE(session->selection(), std::optional(PatchPos{3, 4}));
  QCOMPARE(session->channel(), 5);
  QCOMPARE(m_window->inspector()->shownToken(), 3 * 14 + 4);
  QCOMPARE(session->config().weights.source, std::string("xavier"));
  QCOMPARE(session->config().weights.shape.embedDim, 768);
}

// A model over --max-memory-mb: the plan's one line in the error banner (naming the file,
// the limit and the option), and the banner's "previous state is kept" true: the encoder's plan
// is checked before the new weights' patch embedding is published, so the image, embedding,
// weights and config shown before are still what the window shows. With
// PATCHLENS_BANNER_SCREENSHOT set, the 1366 x 768 window is saved there (tools/screenshots.sh).
void tst_GuiHostileFiles::budgetRefusalInBanner() {
  Session* session = m_window->session();
  QVERIFY(!session->isBusy());
  m_window->resize(1366, 768);
  PipelineConfig config = session->config();
  config.maxMemoryBytes = std::uint64_t{1} << 20;  // --max-memory-mb 1
  session->setConfig(config);
  QTRY_VERIFY_WITH_TIMEOUT(!session->isBusy(), 20000);
  const std::shared_ptr<const ComputeResult> before = session->result();
  QVERIFY(before);
  QCOMPARE(before->weights->embedDim, 768);  // xavier: the patch embedding only
  QSignalSpy errors(session, &Session::errorOccurred);
  QSignalSpy results(session, &Session::resultChanged);
  const QString weights =
      QStringLiteral(PATCHLENS_TEST_DATA "/transformer/timm_vit_f32/model.safetensors");
  m_window->openWeights(weights);
  QTRY_VERIFY_WITH_TIMEOUT(errors.count() >= 1 && !session->isBusy(), 20000);
  const QString message = m_window->errorText();
  QVERIFY2(message.contains(QStringLiteral("over the memory limit of 1 MiB")) &&
               message.contains(QStringLiteral("--max-memory-mb N raises it")) &&
               message.contains(QStringLiteral("model.safetensors")) &&
               message.contains(QStringLiteral("The previous state is kept")),
           qPrintable(message));
  // Nothing of the refused weights was published: no result, the same one on screen.
  QCOMPARE(results.count(), 0);
  QCOMPARE(session->result(), before);
  QCOMPARE(session->result()->imagePath, kChelsea);
  QCOMPARE(session->result()->weights->embedDim, 768);
  QCOMPARE(session->config().weights.source, std::string("xavier"));
  QVERIFY(!session->hasTransformer());
  if (const QString shot = qEnvironmentVariable("PATCHLENS_BANNER_SCREENSHOT"); !shot.isEmpty()) {
    QTest::qWait(200);  // the banner's layout settles
    QVERIFY(m_window->grab().save(shot));
  }
  config.maxMemoryBytes = 0;
  session->setConfig(config);
  QTRY_VERIFY_WITH_TIMEOUT(!session->isBusy(), 20000);
}

QTEST_MAIN(tst_GuiHostileFiles)
#include "tst_gui_hostile_files.moc"
