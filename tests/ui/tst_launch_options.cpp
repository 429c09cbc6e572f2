#include <QLabel>
#include <QProcess>
#include <QProcessEnvironment>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include "core/model/vision_transformer.h"
#include "tests/common/test_support.h"
#include "ui/launch_options.h"
#include "ui/main_window.h"
#include "ui/session/session.h"

using namespace patchlens;

// `patchlens --help` and `--version` answer without a display: run in an environment with
// neither DISPLAY, WAYLAND_DISPLAY nor QT_QPA_PLATFORM, where a QApplication would abort.
// `--heads N` (as the CLI's) parses, refuses what the CLI refuses, and overrides the heads
// of the fixture ViT (3 heads in its config.json) in the session, said in the status bar.
class tst_LaunchOptions : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void answersWithoutDisplay_data();
  void answersWithoutDisplay();
  void parsesHeads_data();
  void parsesHeads();
  void headsOverrideTheModel_data();
  void headsOverrideTheModel();
  void startsOnTheUsersImage();
  void badFirstImageShowsItsErrorOverAnEmptyView_data();
  void badFirstImageShowsItsErrorOverAnEmptyView();
  void truncatedJpegWarningNamesTheFileInTheBanner();
  void refusesWhatTheModelDoesNotHave_data();
  void refusesWhatTheModelDoesNotHave();
  void refusesAnUnknownDock();
  void badUsageExitsTwo();
  void queryNamesAsDocumented_data();
  void queryNamesAsDocumented();
};

void tst_LaunchOptions::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_launch_options"));
}

void tst_LaunchOptions::answersWithoutDisplay_data() {
  QTest::addColumn<QString>("argument");
  QTest::addColumn<QString>("expected");
  QTest::newRow("--help") << QStringLiteral("--help") << QStringLiteral("--screenshot");
  QTest::newRow("-h") << QStringLiteral("-h") << QStringLiteral("Usage:");
  QTest::newRow("--help names --heads")
      << QStringLiteral("--help") << QStringLiteral("--heads <N>");
  QTest::newRow("--version") << QStringLiteral("--version")
                             << QStringLiteral("PatchLens " PATCHLENS_VERSION);
  QTest::newRow("-v") << QStringLiteral("-v") << QStringLiteral(PATCHLENS_VERSION);
}

void tst_LaunchOptions::answersWithoutDisplay() {
  QFETCH(QString, argument);
  QFETCH(QString, expected);
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE"})
    env.remove(QString::fromLatin1(name));
  QProcess process;
  process.setProcessEnvironment(env);
  process.start(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens"), {argument});
  QVERIFY(process.waitForFinished(30000));
  const QString out = QString::fromUtf8(process.readAllStandardOutput());
  const QString err = QString::fromUtf8(process.readAllStandardError());
  QCOMPARE(process.exitStatus(), QProcess::NormalExit);
  QVERIFY2(process.exitCode() == 0, qPrintable(err));
  QVERIFY2(out.contains(expected), qPrintable(out));
  QVERIFY2(!err.contains(QStringLiteral("platform plugin")), qPrintable(err));
}

void tst_LaunchOptions::parsesHeads_data() {
  QTest::addColumn<QStringList>("arguments");
  QTest::addColumn<int>("heads");  // 0: no override; -1: refused
  QTest::newRow("absent") << QStringList{} << 0;
  QTest::newRow("--heads 6") << QStringList{"--heads", "6"} << 6;
  QTest::newRow("--heads=1") << QStringList{"--heads=1"} << 1;
  QTest::newRow("--heads 1024") << QStringList{"--heads", "1024"} << 1024;
  QTest::newRow("--heads 0") << QStringList{"--heads", "0"} << -1;
  QTest::newRow("--heads -3") << QStringList{"--heads", "-3"} << -1;
  QTest::newRow("--heads 1025") << QStringList{"--heads", "1025"} << -1;
  QTest::newRow("--heads six") << QStringList{"--heads", "six"} << -1;
}

void tst_LaunchOptions::parsesHeads() {
  QFETCH(QStringList, arguments);
  QFETCH(int, heads);
  QString error;
  const auto options = parseLaunchOptions(QStringList{"patchlens"} + arguments, &error);
  if (heads < 0) {
    QVERIFY(!options);
    QCOMPARE(error, QStringLiteral("--heads wants N in 1..1024"));
    return;
  }
  QVERIFY2(options, qPrintable(error));
  QCOMPARE(options->heads, heads);
}

void tst_LaunchOptions::headsOverrideTheModel_data() {
  QTest::addColumn<int>("heads");     // --heads (0: none)
  QTest::addColumn<int>("expected");  // -1: refused (the width 48 is not a multiple)
  QTest::newRow("from config.json") << 0 << 3;
  QTest::newRow("--heads 1") << 1 << 1;
  QTest::newRow("--heads 6") << 6 << 6;
  QTest::newRow("--heads 5") << 5 << -1;
}

void tst_LaunchOptions::headsOverrideTheModel() {
  QFETCH(int, heads);
  QFETCH(int, expected);
  QSettings().clear();
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  QStringList arguments{
      "patchlens", QString::fromStdString(test::dataPath("chelsea.png")), "--weights",
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"))};
  if (heads > 0) arguments << "--heads" << QString::number(heads);
  QString error;
  const auto options = parseLaunchOptions(arguments, &error);
  QVERIFY2(options, qPrintable(error));
  if (expected < 0) {
    QVERIFY(!applyLaunchOptions(window, *options, &error));
    QVERIFY2(error.startsWith(QStringLiteral("--heads 5: ")) &&
                 error.contains(QStringLiteral("do not divide the width 48")),
             qPrintable(error));
    return;
  }
  QVERIFY2(applyLaunchOptions(window, *options, &error), qPrintable(error));
  Session* session = window.session();
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy() && session->hasTransformer(); }, 60000));
  QCOMPARE(session->result()->trace->heads, expected);
  QCOMPARE(session->result()->model->config().numHeads, expected);
  QCOMPARE(int(session->result()->trace->attentionOf(1).size()), expected);
  // The status bar says where the head count comes from when --heads set it.
  QString status;
  for (const QLabel* label : window.statusBar()->findChildren<QLabel*>()) status += label->text();
  const QString said = QStringLiteral("%1 heads (--heads)").arg(expected);
  QCOMPARE(status.contains(said), heads > 0);
}

// Issue 21: `patchlens IMAGE --weights W` computes nothing on the bundled sample.
void tst_LaunchOptions::startsOnTheUsersImage() {
  QSettings().clear();
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  Session* session = window.session();
  QStringList shown;
  connect(session, &Session::resultChanged, this, [&] {
    if (session->result()) shown << session->result()->imagePath;
  });
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  QString error;
  const auto options = parseLaunchOptions(
      {"patchlens", image, "--weights",
       QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"))},
      &error);
  QVERIFY2(options, qPrintable(error));
  QVERIFY2(applyLaunchOptions(window, *options, &error), qPrintable(error));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  QVERIFY(session->hasTransformer());
  QVERIFY(!shown.isEmpty());
  for (const QString& path : shown) QCOMPARE(path, image);
}

void tst_LaunchOptions::badFirstImageShowsItsErrorOverAnEmptyView_data() {
  QTest::addColumn<bool>("withWeights");
  QTest::newRow("image only") << false;
  QTest::newRow("image and --weights") << true;
}

// A bad first image: its error in the banner, nothing on screen (no sample in its place).
void tst_LaunchOptions::badFirstImageShowsItsErrorOverAnEmptyView() {
  QFETCH(bool, withWeights);
  QSettings().clear();
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  Session* session = window.session();
  const QString image = QString::fromStdString(test::dataPath("bad/images/empty.png"));
  QStringList arguments{"patchlens", image};
  if (withWeights)
    arguments << "--weights"
              << QString::fromStdString(
                     test::dataPath("transformer/timm_vit_f32/model.safetensors"));
  QString error;
  const auto options = parseLaunchOptions(arguments, &error);
  QVERIFY2(options, qPrintable(error));
  QVERIFY(!applyLaunchOptions(window, *options, &error));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  QVERIFY(!session->hasResult());
  QVERIFY2(error.contains(QStringLiteral("empty.png")), qPrintable(error));
  const auto* banner = window.findChild<QLabel*>(QStringLiteral("errorBanner"));
  QVERIFY(banner);
  QVERIFY2(banner->isVisible() && banner->text().contains(QStringLiteral("empty.png")),
           qPrintable(banner->text()));
  QVERIFY2(!banner->text().contains(QStringLiteral("previous state")), qPrintable(banner->text()));
}

// A warning about an image that did load stays in the banner (not a status line that
// vanishes after 10 s) and names the file.
void tst_LaunchOptions::truncatedJpegWarningNamesTheFileInTheBanner() {
  QSettings().clear();
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  const QString image =
      QString::fromStdString(test::dataPath("bad/warnings/jpeg_truncated_progressive_eoi.jpg"));
  QString error;
  const auto options = parseLaunchOptions({"patchlens", image}, &error);
  QVERIFY2(options, qPrintable(error));
  QVERIFY2(applyLaunchOptions(window, *options, &error), qPrintable(error));
  QVERIFY(QTest::qWaitFor([&] { return !window.session()->isBusy(); }, 60000));
  QVERIFY(window.session()->hasResult());
  const auto* banner = window.findChild<QLabel*>(QStringLiteral("errorBanner"));
  QVERIFY(banner);
  QVERIFY2(banner->isVisible(), qPrintable(banner->text()));
  QVERIFY2(banner->text().contains(QStringLiteral("jpeg_truncated_progressive_eoi.jpg")) &&
               banner->text().contains(QStringLiteral("corrupt")),
           qPrintable(banner->text()));
}

void tst_LaunchOptions::refusesWhatTheModelDoesNotHave_data() {
  QTest::addColumn<QStringList>("arguments");
  QTest::addColumn<QString>("expected");  // in the error
  // The fixture ViT: 3 heads, 3 blocks.
  QTest::newRow("--head 3") << QStringList{"--head", "3"}
                            << QStringLiteral("--head 3: the model has 3 heads (0..2");
  QTest::newRow("--head -2") << QStringList{"--head", "-2"} << QStringLiteral("--head -2");
  QTest::newRow("--select 14,0") << QStringList{"--select", "14,0"}
                                 << QStringLiteral("--select 14,0 is outside the");
  QTest::newRow("--hover 0,99") << QStringList{"--hover", "0,99"}
                                << QStringLiteral("--hover 0,99 is outside");
  QTest::newRow("--layer 4") << QStringList{"--layer", "4"} << QStringLiteral("--layer");
  QTest::newRow("--query reg 1") << QStringList{"--query", "reg 1"}
                                 << QStringLiteral("no 'reg 1' token");
  QTest::newRow("--query 99,99") << QStringList{"--query", "99,99"}
                                 << QStringLiteral("is outside the");
}

// Issue 21: what the model or image does not have is refused by name (bad usage), not
// clamped or ignored.
void tst_LaunchOptions::refusesWhatTheModelDoesNotHave() {
  QFETCH(QStringList, arguments);
  QFETCH(QString, expected);
  QSettings().clear();
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  QString error;
  const auto options = parseLaunchOptions(
      QStringList{
          "patchlens", QString::fromStdString(test::dataPath("chelsea.png")), "--weights",
          QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"))} +
          arguments,
      &error);
  QVERIFY2(options, qPrintable(error));
  bool badUsage = false;
  QVERIFY(!applyLaunchOptions(window, *options, &error, nullptr, &badUsage));
  QVERIFY(badUsage);
  QVERIFY2(error.contains(expected), qPrintable(error));
}

void tst_LaunchOptions::refusesAnUnknownDock() {
  QString error;
  QVERIFY(!parseLaunchOptions({"patchlens", "--dock", "bogus"}, &error));
  QVERIFY2(error.startsWith(QStringLiteral("unknown dock bogus")) &&
               error.contains(QStringLiteral("attention-distance")),
           qPrintable(error));
  for (const QString& name : dockNames())
    QVERIFY2(parseLaunchOptions({"patchlens", "--dock", name}, &error), qPrintable(error));
}

// The real executable: refused options exit 2 with one line on stderr.
void tst_LaunchOptions::badUsageExitsTwo() {
  QTemporaryDir dir;
  for (const QStringList& extra : {QStringList{"--head", "12"}, QStringList{"--select", "14,0"},
                                   QStringList{"--dock", "bogus"}}) {
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens"),
                  QStringList{QString::fromStdString(test::dataPath("chelsea.png")), "--weights",
                              QString::fromStdString(
                                  test::dataPath("transformer/timm_vit_f32/model.safetensors")),
                              "--screenshot", dir.filePath(QStringLiteral("shot.png"))} +
                      extra);
    QVERIFY(process.waitForFinished(60000));
    const QString err = QString::fromUtf8(process.readAllStandardError());
    QVERIFY2(process.exitCode() == 2, qPrintable(extra.join(' ') + ": " + err));
    // One line of ours (Qt may add its own environment warnings before it).
    QCOMPARE(err.count(QStringLiteral("patchlens: error: ")), 1);
    QVERIFY2(err.trimmed().section('\n', -1).startsWith(QStringLiteral("patchlens: error: ")),
             qPrintable(err));
    QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("shot.png"))));
  }
}

void tst_LaunchOptions::queryNamesAsDocumented_data() {
  QTest::addColumn<QString>("query");
  QTest::addColumn<int>("token");  // -1: refused
  QTest::newRow("cls") << QStringLiteral("cls") << 0;
  QTest::newRow("CLS") << QStringLiteral("CLS") << 0;
  QTest::newRow("reg 1") << QStringLiteral("reg 1") << 1;
  QTest::newRow("reg:2") << QStringLiteral("reg:2") << 2;
  QTest::newRow("REG4") << QStringLiteral("REG4") << 4;
  QTest::newRow("reg 0") << QStringLiteral("reg 0") << -1;
  QTest::newRow("1,2 (a patch)") << QStringLiteral("1,2") << -2;  // patch (1, 2)
}

// `--query reg N` as the help says (DINOv2 with 4 registers: cls, reg 1..reg 4).
void tst_LaunchOptions::queryNamesAsDocumented() {
  QFETCH(QString, query);
  QFETCH(int, token);
  QSettings().clear();
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  QString error;
  const auto options = parseLaunchOptions(
      {"patchlens", QString::fromStdString(test::dataPath("chelsea.png")), "--weights",
       QString::fromStdString(test::dataPath("transformer/timm_dinov2_reg4_f16/model.safetensors")),
       "--heads", "4", "--query", query},
      &error);
  QVERIFY2(options, qPrintable(error));
  bool badUsage = false;
  const bool applied = applyLaunchOptions(window, *options, &error, nullptr, &badUsage);
  if (token == -1) {
    QVERIFY(!applied && badUsage);
    QVERIFY2(error.contains(QStringLiteral("reg 1, reg 2, reg 3, reg 4")), qPrintable(error));
    return;
  }
  QVERIFY2(applied, qPrintable(error));
  const LayerTrace& trace = *window.session()->result()->trace;
  QCOMPARE(trace.prefixTokens, 5);
  QCOMPARE(window.session()->queryToken(),
           token == -2 ? trace.prefixTokens + 1 * trace.gridCols + 2 : token);
}

QTEST_MAIN(tst_LaunchOptions)
#include "tst_launch_options.moc"
