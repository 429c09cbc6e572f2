#include <QtTest>

#include "core/weights/npy_array.h"
#include "tests/common/cli_process.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

using test::CliResult;
using test::data;
using test::runCli;

double relativeError(const NpyArray& actual, const NpyArray& expected) {
  float maxDiff = 0, maxRef = 0;
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    maxDiff = std::max(maxDiff, std::abs(actual.data[i] - expected.data[i]));
    maxRef = std::max(maxRef, std::abs(expected.data[i]));
  }
  return static_cast<double>(maxDiff / maxRef);
}

}  // namespace

// patchlens-cli end to end through QProcess: outputs, exit codes, messages, atomicity.
class TestCli : public QObject {
  Q_OBJECT

 private slots:
  void embedSampleEqualsTorch();
  void embedFromTensorEqualsTorch();
  void preprocessWritesTheModelInput();
  void everyInitializerWorks_data();
  void everyInitializerWorks();
  void csvOutputHasOneLinePerToken();
  void infoDescribesAnImage();
  void usageErrorsExitTwo_data();
  void usageErrorsExitTwo();
  void badInputExitsOneAndLeavesNoFile_data();
  void badInputExitsOneAndLeavesNoFile();
  void failureKeepsAnExistingOutput();
  void helpPerSubcommand();
  void batchGoesOnPastABadFile();
  void batchEqualsEmbedOnJpegs();

 private:
  QTemporaryDir m_dir;
  QString out(const QString& name) const { return m_dir.filePath(name); }
};

void TestCli::embedSampleEqualsTorch() {
  const CliResult r = runCli({"embed", data("chelsea.png"), "-o", out("y.npy")});
  QCOMPARE(r.exitCode, 0);
  QVERIFY(r.out.contains("[196, 768]"));
  const NpyArray y = readNpy(out("y.npy").toStdString());
  QCOMPARE(y.shape, (std::vector<std::int64_t>{196, 768}));
  const NpyArray expected =
      readNpy(test::dataPath("reference/embed/vitb16_chelsea_xavier0_output.npy"));
  QVERIFY(relativeError(y, expected) <= 1e-5);
}

void TestCli::embedFromTensorEqualsTorch() {
  const CliResult r =
      runCli({"embed", "--tensor", data("reference/preprocess/chelsea_tensor_inception.npy"), "-o",
              out("t.npy"), "--threads", "1"});
  QCOMPARE(r.exitCode, 0);
  const NpyArray expected =
      readNpy(test::dataPath("reference/embed/vitb16_chelsea_xavier0_output.npy"));
  QVERIFY(relativeError(readNpy(out("t.npy").toStdString()), expected) <= 1e-5);
}

void TestCli::preprocessWritesTheModelInput() {
  const CliResult r =
      runCli({"preprocess", data("chelsea.png"), "-o", out("x.npy"), "--norm", "imagenet"});
  QCOMPARE(r.exitCode, 0);
  const NpyArray x = readNpy(out("x.npy").toStdString());
  const NpyArray expected =
      readNpy(test::dataPath("reference/preprocess/chelsea_tensor_imagenet.npy"));
  QCOMPARE(x.shape, (std::vector<std::int64_t>{3, 224, 224}));
  QCOMPARE(x.data, expected.data);
}

void TestCli::everyInitializerWorks_data() {
  QTest::addColumn<QStringList>("options");
  QTest::addColumn<int>("tokens");
  QTest::addColumn<int>("dim");
  QTest::newRow("xavier") << QStringList{"--weights", "xavier", "--seed", "3"} << 196 << 768;
  QTest::newRow("xavier-normal") << QStringList{"--weights", "xavier-normal"} << 196 << 768;
  QTest::newRow("torch-default") << QStringList{"--weights", "torch-default"} << 196 << 768;
  QTest::newRow("dct") << QStringList{"--weights", "dct"} << 196 << 768;
  QTest::newRow("p14 d384 img 336x224")
      << QStringList{"--patch-size", "14", "--embed-dim", "384", "--img-size", "336x224"} << 24 * 16
      << 384;
  QTest::newRow("p32 squash") << QStringList{"--patch-size=32", "--resize=squash", "--embed-dim=64"}
                              << 49 << 64;
}

void TestCli::everyInitializerWorks() {
  QFETCH(QStringList, options);
  QFETCH(int, tokens);
  QFETCH(int, dim);
  const CliResult r =
      runCli(QStringList{"embed", data("coffee.png"), "-o", out("i.npy")} + options);
  QCOMPARE(r.exitCode, 0);
  const NpyArray y = readNpy(out("i.npy").toStdString());
  QCOMPARE(y.shape, (std::vector<std::int64_t>{tokens, dim}));
  float maxAbs = 0;
  for (float v : y.data) maxAbs = std::max(maxAbs, std::abs(v));
  QVERIFY(maxAbs > 0.0f && std::isfinite(maxAbs));
}

void TestCli::csvOutputHasOneLinePerToken() {
  QCOMPARE(runCli({"embed", data("chelsea.png"), "-o", out("y.csv"), "--embed-dim", "32"}).exitCode,
           0);
  QCOMPARE(
      runCli({"embed", data("chelsea.png"), "-o", out("y32.npy"), "--embed-dim", "32"}).exitCode,
      0);
  const NpyArray npy = readNpy(out("y32.npy").toStdString());
  QFile f(out("y.csv"));
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
  QCOMPARE(lines.size(), 196);
  for (int t = 0; t < 196; ++t) {
    const QStringList cells = lines[t].split(',');
    QCOMPARE(cells.size(), 32);
    for (int d = 0; d < 32; ++d)
      QCOMPARE(cells[d].toFloat(), npy.data[static_cast<std::size_t>(t * 32 + d)]);
  }
}

void TestCli::infoDescribesAnImage() {
  const CliResult r = runCli({"info", data("chelsea.png")});
  QCOMPARE(r.exitCode, 0);
  QVERIFY(r.out.contains("PNG, 451 x 300"));
  QVERIFY(r.out.contains("451x300 -> 372x248, model input at (74, 12)"));
  QVERIFY(r.out.contains("14 x 14 = 196 tokens"));
}

void TestCli::usageErrorsExitTwo_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("message");
  QTest::newRow("no command") << QStringList{} << "no command";
  QTest::newRow("unknown command") << QStringList{"frobnicate"} << "unknown command";
  QTest::newRow("unknown option") << QStringList{"embed", "a.png", "-o", "y.npy", "--bogus"}
                                  << "unknown option";
  QTest::newRow("missing -o") << QStringList{"embed", "a.png"} << "needs -o";
  QTest::newRow("bad extension") << QStringList{"embed", "a.png", "-o", "y.txt"} << ".npy or .csv";
  QTest::newRow("bad number") << QStringList{"embed", "a.png",        "-o",
                                             "y.npy", "--patch-size", "16px"}
                              << "--patch-size";
  QTest::newRow("bad norm") << QStringList{"embed", "a.png", "-o", "y.npy", "--norm", "0.5/0.5"}
                            << "--norm";
  QTest::newRow("value missing") << QStringList{"embed", "a.png", "-o"} << "needs a value";
  QTest::newRow("two inputs") << QStringList{"embed", "a.png", "b.png", "-o", "y.npy"}
                              << "exactly one";
}

void TestCli::usageErrorsExitTwo() {
  QFETCH(QStringList, args);
  QFETCH(QString, message);
  const CliResult r = runCli(args);
  QCOMPARE(r.exitCode, 2);
  QVERIFY2(r.err.contains(message), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
}

void TestCli::badInputExitsOneAndLeavesNoFile_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  QTest::newRow("missing image") << QStringList{"embed", "/nonexistent/a.png"}
                                 << "/nonexistent/a.png"
                                 << "no such file";
  QTest::newRow("directory") << QStringList{"embed", data("images")} << data("images")
                             << "is a directory";
  QTest::newRow("not an image") << QStringList{"embed", data("reference/embed/cases.tsv")}
                                << data("reference/embed/cases.tsv") << "not an image";
  QTest::newRow("dct too wide") << QStringList{"embed", data("chelsea.png"), "--weights",
                                               "dct",   "--embed-dim",       "1000"}
                                << "dct"
                                << "embed dim <= C*P*P";
  QTest::newRow("bad tensor") << QStringList{"embed", "--tensor", data("npy/arange_le_f4.npy")}
                              << data("npy/arange_le_f4.npy")
                              << "has 2 channels but the patch embedding expects 3";
  QTest::newRow("missing weights")
      << QStringList{"embed", data("chelsea.png"), "--weights", "/nope.safetensors"}
      << "/nope.safetensors"
      << "no such file";
}

void TestCli::badInputExitsOneAndLeavesNoFile() {
  QFETCH(QStringList, args);
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const QString target = out("never.npy");
  const CliResult r = runCli(args + QStringList{"-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.startsWith("patchlens-cli: error: " + file + ": "), qPrintable(r.err));
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  QVERIFY(!QFile::exists(target));
  QCOMPARE(QDir(m_dir.path()).entryList(QDir::Files | QDir::Hidden).filter("tmp").size(), 0);
}

void TestCli::failureKeepsAnExistingOutput() {
  const QString target = out("keep.npy");
  {
    QFile f(target);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("precious");
  }
  QCOMPARE(runCli({"embed", "/nonexistent.png", "-o", target}).exitCode, 1);
  QFile f(target);
  QVERIFY(f.open(QIODevice::ReadOnly));
  QCOMPARE(f.readAll(), QByteArray("precious"));
  // Writing into a directory that does not exist is a clear error too.
  const CliResult r = runCli({"embed", data("chelsea.png"), "-o", out("no/such/dir/y.npy")});
  QCOMPARE(r.exitCode, 1);
  QVERIFY(r.err.contains("does not exist"));
}

void TestCli::helpPerSubcommand() {
  for (const QString& cmd : {QString("info"), QString("preprocess"), QString("embed")}) {
    const CliResult r = runCli({cmd, "--help"});
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.out.startsWith("usage: patchlens-cli " + cmd));
    QVERIFY(r.out.contains("--weights"));
  }
  const CliResult general = runCli({"--help"});
  QCOMPARE(general.exitCode, 0);
  QVERIFY(general.out.contains("commands:"));
}

void TestCli::batchEqualsEmbedOnJpegs() {
  // batch reads JPEGs through the fused decode (only the pixels under the crop, banded
  // resize); embed through the whole image. Same tokens, bit for bit, for 4:2:0, progressive
  // 4:2:2, gray, CMYK and an EXIF-turned file, on 1 and 2 workers.
  QTemporaryDir in;
  const QStringList names = {"chelsea_q90_420", "coffee_q90_422_progressive", "chelsea_gray_q90",
                             "chelsea_cmyk_q90", "orientation_6"};
  for (const QString& n : names)
    QVERIFY(QFile::copy(data(qPrintable("images/jpeg/" + n + ".jpg")), in.filePath(n + ".jpg")));
  for (const char* threads : {"1", "2"}) {
    const QString outDir = m_dir.filePath(QString("fused-") + threads);
    const CliResult r = runCli({"batch", in.path(), "-o", outDir, "--threads", threads});
    QCOMPARE(r.exitCode, 0);
    for (const QString& n : names) {
      const QString single = out(n + "-" + threads + ".npy");
      QCOMPARE(runCli({"embed", in.filePath(n + ".jpg"), "-o", single}).exitCode, 0);
      const NpyArray whole = readNpy(single.toStdString());
      const NpyArray fused = readNpy((outDir + "/" + n + ".npy").toStdString());
      QCOMPARE(fused.shape, whole.shape);
      QVERIFY2(fused.data == whole.data, qPrintable(n));
    }
  }
}

void TestCli::batchGoesOnPastABadFile() {
  QTemporaryDir in;
  QVERIFY(QDir(in.path()).mkpath("nested"));
  QVERIFY(QFile::copy(data("chelsea.png"), in.filePath("cat.png")));
  QVERIFY(QFile::copy(data("images/rgb.jpg"), in.filePath("nested/cup.jpg")));
  QVERIFY(QFile::copy(data("bad/images/png_truncated.png"), in.filePath("broken.png")));
  {
    QFile notes(in.filePath("notes.txt"));
    QVERIFY(notes.open(QIODevice::WriteOnly));
    notes.write("not an image, not a candidate\n");
  }
  const QString outDir = m_dir.filePath("batch-out");
  const CliResult r = runCli({"batch", in.path(), "-o", outDir, "-r", "--threads", "2"});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("1 of 3 images failed"), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  QVERIFY(r.out.contains(in.filePath("broken.png") + ": corrupt or truncated PNG"));
  // The good ones are written, and equal what `embed` writes for the same image.
  const NpyArray cat = readNpy((outDir + "/cat.npy").toStdString());
  const NpyArray expected =
      readNpy(test::dataPath("reference/embed/vitb16_chelsea_xavier0_output.npy"));
  QVERIFY(relativeError(cat, expected) <= 1e-5);
  QCOMPARE(readNpy((outDir + "/nested/cup.npy").toStdString()).shape,
           (std::vector<std::int64_t>{196, 768}));
  QVERIFY(!QFile::exists(outDir + "/broken.npy"));
  QVERIFY(!QFile::exists(outDir + "/notes.npy"));
  // --plot draws figures next to the embeddings, by the export code.
  const CliResult plotted = runCli({"batch", in.path(), "-o", m_dir.filePath("plots"), "--plot",
                                    "pca", "--plot", "channel:5", "--embed-dim", "64"});
  QCOMPARE(plotted.exitCode, 1);  // broken.png is still there
  const cv::Mat pca = cv::imread(m_dir.filePath("plots/cat-pca.png").toStdString());
  const cv::Mat channel = cv::imread(m_dir.filePath("plots/cat-channel-5.png").toStdString());
  QVERIFY(!pca.empty() && pca.cols > 200);
  QVERIFY(!channel.empty() && channel.rows > 200);
  QVERIFY(!QFile::exists(m_dir.filePath("plots/broken-pca.png")));
  QCOMPARE(runCli({"batch", in.path(), "-o", m_dir.filePath("x"), "--plot", "bogus:1"}).exitCode,
           2);
  // Without -r the nested folder is not visited; all good now -> exit 0.
  QFile::remove(in.filePath("broken.png"));
  const CliResult flat = runCli({"batch", in.path(), "-o", m_dir.filePath("flat")});
  QCOMPARE(flat.exitCode, 0);
  QVERIFY(flat.out.contains("embedded 1 of 1 images"));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
