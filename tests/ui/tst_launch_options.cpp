#include <QProcess>
#include <QProcessEnvironment>
#include <QtTest>

// `patchlens --help` and `--version` answer without a display: run in an environment with
// neither DISPLAY, WAYLAND_DISPLAY nor QT_QPA_PLATFORM, where a QApplication would abort.
class tst_LaunchOptions : public QObject {
  Q_OBJECT

 private slots:
  void answersWithoutDisplay_data();
  void answersWithoutDisplay();
};

void tst_LaunchOptions::answersWithoutDisplay_data() {
  QTest::addColumn<QString>("argument");
  QTest::addColumn<QString>("expected");
  QTest::newRow("--help") << QStringLiteral("--help") << QStringLiteral("--screenshot");
  QTest::newRow("-h") << QStringLiteral("-h") << QStringLiteral("Usage:");
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

QTEST_GUILESS_MAIN(tst_LaunchOptions)
#include "tst_launch_options.moc"
