#include <sys/stat.h>

#include <QProcess>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/weights/npy_array.h"
#include "tests/common/cli_process.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

using test::CliResult;
using test::runCli;

const QString kWeights =
    QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"));

// Images in `dir` named img00.png.. with different content (a gradient shifted per image).
void writeImages(const QString& dir, int count) {
  QDir().mkpath(dir);
  for (int i = 0; i < count; ++i) {
    cv::Mat image(36, 40 + i % 3, CV_8UC3);
    for (int y = 0; y < image.rows; ++y)
      for (int x = 0; x < image.cols; ++x)
        image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * y + i) % 256),
                                              static_cast<uchar>((y * 5 + i * 17) % 256),
                                              static_cast<uchar>((x * 7 + i * 31) % 256));
    const QString path = QString("%1/img%2.png").arg(dir).arg(i, 2, 10, QChar('0'));
    QVERIFY(cv::imwrite(path.toStdString(), image));
  }
}

QStringList npyFiles(const QString& dir) {
  return QDir(dir).entryList({"img*.npy"}, QDir::Files, QDir::Name);
}

QByteArray contents(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// (inode, mtime in ns): a file rewritten by rename gets a new inode.
std::pair<ino_t, long long> identity(const QString& path) {
  struct stat st {};
  if (::stat(path.toLocal8Bit().constData(), &st) != 0) return {0, 0};
  return {st.st_ino, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
}

}  // namespace

// batch --layer/--pool (a ViT encoder's features per image, stacked with an index),
// --shard K/N (deterministic parts of the sorted list) and --resume (after a kill).
class TestBatchFeatures : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    writeImages(m_dir.filePath("images"), 11);
  }
  void shardsCoverEveryImageOnce();
  void pooledFeaturesEqualForwardTokens_data();
  void pooledFeaturesEqualForwardTokens();
  void resumeAfterAKillLosesNothing();
  void badFeatureRequests();

 private:
  QTemporaryDir m_dir;
};

void TestBatchFeatures::shardsCoverEveryImageOnce() {
  const QString images = m_dir.filePath("images");
  const QStringList all = QDir(images).entryList({"*.png"}, QDir::Files, QDir::Name);
  QCOMPARE(all.size(), 11);
  for (const int n : {1, 2, 3, 7, 13}) {
    std::map<QString, int> seen;
    QStringList order;
    for (int k = 1; k <= n; ++k) {
      const QString out = m_dir.filePath(QString("shards-%1/%2").arg(n).arg(k));
      const CliResult r = runCli({"batch", images, "-o", out, "--shard",
                                  QString("%1/%2").arg(k).arg(n), "--img-size", "32"});
      QVERIFY2(r.exitCode == 0, qPrintable(r.err + r.out));
      for (const QString& f : npyFiles(out)) {
        ++seen[f];
        order << f;
      }
    }
    QCOMPARE(static_cast<int>(seen.size()), 11);
    for (const auto& [file, times] : seen) QVERIFY2(times == 1, qPrintable(file));
    // Parts in K order are the sorted list: a scheduler's shards concatenate in order.
    QStringList sorted = order;
    sorted.sort();
    QCOMPARE(order, sorted);
  }
}

void TestBatchFeatures::pooledFeaturesEqualForwardTokens_data() {
  QTest::addColumn<QString>("layer");
  QTest::addColumn<QString>("pool");
  QTest::newRow("layer 2, cls") << "2"
                                << "cls";
  QTest::newRow("final, mean") << "final"
                               << "mean";
  QTest::newRow("layer 1, none") << "1"
                                 << "none";
}

void TestBatchFeatures::pooledFeaturesEqualForwardTokens() {
  QFETCH(QString, layer);
  QFETCH(QString, pool);
  const QString images = m_dir.filePath("images");
  const QString out = m_dir.filePath("pooled-" + layer + pool);
  const CliResult r = runCli({"batch", images, "--weights", kWeights, "--layer", layer, "--pool",
                              pool, "--img-size", "64", "-o", out, "--threads", "2"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err + r.out));
  const QStringList pngs = QDir(images).entryList({"*.png"}, QDir::Files, QDir::Name);
  std::optional<NpyArray> stacked;
  QStringList indexLines;
  if (pool != "none") {
    stacked = readNpy(QDir(out).filePath("features.npy").toStdString());
    QCOMPARE(stacked->shape, (std::vector<std::int64_t>{11, 48}));
    indexLines = QString::fromUtf8(contents(QDir(out).filePath("index.csv")))
                     .split('\n', Qt::SkipEmptyParts);
    QCOMPARE(indexLines.size(), 12);
    QCOMPARE(indexLines[0], QString("path,row"));
  }
  for (int i = 0; i < pngs.size(); ++i) {
    const QString forwardOut = m_dir.filePath("forward.npy");
    const CliResult f = runCli({"forward", QDir(images).filePath(pngs[i]), "--weights", kWeights,
                                "--layer", layer, "--img-size", "64", "-o", forwardOut});
    QVERIFY2(f.exitCode == 0, qPrintable(f.err));
    const NpyArray tokens = readNpy(forwardOut.toStdString());  // [T, D], cls first
    QCOMPARE(tokens.shape.size(), std::size_t{2});
    const std::int64_t t = tokens.shape[0], d = tokens.shape[1];
    QCOMPARE(t, std::int64_t{1 + 16});  // cls + a 4 x 4 grid at 64 x 64
    std::vector<double> expected;
    if (pool == "cls") {
      expected.assign(tokens.data.begin(), tokens.data.begin() + d);
    } else if (pool == "mean") {
      expected.assign(static_cast<std::size_t>(d), 0.0);
      for (std::int64_t row = 1; row < t; ++row)
        for (std::int64_t c = 0; c < d; ++c)
          expected[static_cast<std::size_t>(c)] +=
              tokens.data[static_cast<std::size_t>(row * d + c)] / static_cast<double>(t - 1);
    } else {
      expected.assign(tokens.data.begin(), tokens.data.end());
    }
    const NpyArray got =
        readNpy(QDir(out).filePath(QFileInfo(pngs[i]).completeBaseName() + ".npy").toStdString());
    QCOMPARE(got.data.size(), expected.size());
    double scale = 0;
    for (double v : expected) scale = std::max(scale, std::abs(v));
    QVERIFY(scale > 0.1);
    for (std::size_t c = 0; c < expected.size(); ++c) {
      QVERIFY2(
          std::abs(got.data[c] - expected[c]) <= 1e-5 * scale,
          qPrintable(
              QString("%1 [%2]: %3 vs %4").arg(pngs[i]).arg(c).arg(got.data[c]).arg(expected[c])));
      if (stacked) QCOMPARE(stacked->data[static_cast<std::size_t>(i) * 48 + c], got.data[c]);
    }
    if (stacked) QCOMPARE(indexLines[i + 1], QString("%1,%2").arg(pngs[i]).arg(i));
  }
}

// A run killed part-way, then outputs damaged by hand (one truncated, one garbage, one gone):
// --resume redoes exactly those and keeps every other one untouched, and the result equals
// an uninterrupted run byte for byte.
void TestBatchFeatures::resumeAfterAKillLosesNothing() {
  const QString images = m_dir.filePath("many");
  writeImages(images, 40);
  const QStringList common = {"--weights", kWeights,     "--layer", "final",     "--pool",
                              "mean",      "--img-size", "96",      "--threads", "1"};
  const QString whole = m_dir.filePath("whole");
  const CliResult baseline = runCli(QStringList{"batch", images, "-o", whole} + common);
  QVERIFY2(baseline.exitCode == 0, qPrintable(baseline.err + baseline.out));
  QCOMPARE(npyFiles(whole).size(), 40);

  // Kill the run as soon as its first output is there (or after it finished: the damage
  // below still leaves work to redo).
  const QString out = m_dir.filePath("resumed");
  QProcess run;
  run.setProgram(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"));
  run.setArguments(QStringList{"batch", images, "-o", out} + common);
  run.start();
  QVERIFY(run.waitForStarted());
  QElapsedTimer timer;
  timer.start();
  while (npyFiles(out).isEmpty() && run.state() != QProcess::NotRunning && timer.elapsed() < 60000)
    QThread::msleep(2);
  run.kill();
  run.waitForFinished();
  QStringList present = npyFiles(out);
  qInfo("killed after %lld files", static_cast<long long>(present.size()));
  if (present.size() < 5) {
    // Too quick to catch: finish the outputs of the first few by copying the baseline's.
    QDir().mkpath(out);
    for (int i = 0; i < 5; ++i) {
      const QString name = QString("img%1.npy").arg(i, 2, 10, QChar('0'));
      QFile::remove(QDir(out).filePath(name));
      QVERIFY(QFile::copy(QDir(whole).filePath(name), QDir(out).filePath(name)));
    }
    present = npyFiles(out);
  }
  // Damage three: truncated, garbage, removed.
  {
    QFile truncated(QDir(out).filePath(present[0]));
    QVERIFY(truncated.resize(truncated.size() / 2));
    QFile garbage(QDir(out).filePath(present[1]));
    QVERIFY(garbage.open(QIODevice::WriteOnly | QIODevice::Truncate));
    garbage.write("not an npy file");
  }
  QVERIFY(QFile::remove(QDir(out).filePath(present[2])));
  std::map<QString, std::pair<ino_t, long long>> kept;
  for (int i = 3; i < present.size(); ++i)
    kept[present[i]] = identity(QDir(out).filePath(present[i]));

  const CliResult resumed = runCli(QStringList{"batch", images, "-o", out, "--resume"} + common);
  QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err + resumed.out));
  QVERIFY2(resumed.out.contains(QString("kept %1 outputs").arg(kept.size())),
           qPrintable(resumed.out));
  QVERIFY2(resumed.out.contains(QString("embedded %1 of %1").arg(40 - kept.size())),
           qPrintable(resumed.out));
  QCOMPARE(npyFiles(out), npyFiles(whole));
  for (const QString& f : npyFiles(whole)) {
    QVERIFY2(contents(QDir(out).filePath(f)) == contents(QDir(whole).filePath(f)), qPrintable(f));
    if (kept.count(f))
      QVERIFY2(identity(QDir(out).filePath(f)) == kept[f], qPrintable(f + " was redone"));
  }
  QCOMPARE(contents(QDir(out).filePath("features.npy")),
           contents(QDir(whole).filePath("features.npy")));
  QCOMPARE(contents(QDir(out).filePath("index.csv")), contents(QDir(whole).filePath("index.csv")));
}

void TestBatchFeatures::badFeatureRequests() {
  const QString images = m_dir.filePath("images");
  const QString out = m_dir.filePath("bad");
  QCOMPARE(runCli({"batch", images, "-o", out, "--pool", "mean"}).exitCode, 2);  // no --layer
  QCOMPARE(runCli({"batch", images, "-o", out, "--shard", "0/3"}).exitCode, 2);
  QCOMPARE(runCli({"batch", images, "-o", out, "--shard", "4/3"}).exitCode, 2);
  QCOMPARE(runCli({"batch", images, "-o", out, "--shard", "3"}).exitCode, 2);
  QCOMPARE(runCli({"batch", images, "-o", out, "--pool", "max", "--layer", "1"}).exitCode, 2);
  // An initializer has no encoder to take --layer from; the fixture has 3 blocks.
  const CliResult r = runCli({"batch", images, "-o", out, "--layer", "1"});
  QCOMPARE(r.exitCode, 2);
  QVERIFY2(r.err.contains("--weights FILE"), qPrintable(r.err));
  const CliResult deep =
      runCli({"batch", images, "-o", out, "--weights", kWeights, "--layer", "9"});
  QCOMPARE(deep.exitCode, 2);
  QVERIFY2(deep.err.contains("--layer needs 0..3"), qPrintable(deep.err));
  // A budget refusal too; none of them leaves even the output directory behind.
  const CliResult budget = runCli(
      {"batch", images, "-o", out, "--weights", kWeights, "--layer", "1", "--max-memory-mb", "1"});
  QCOMPARE(budget.exitCode, 1);
  QCOMPARE(budget.err.count("error:"), 1);
  QVERIFY2(!QFileInfo::exists(out), "a refused batch created its output directory");
}

QTEST_GUILESS_MAIN(TestBatchFeatures)
#include "tst_batch_features.moc"
