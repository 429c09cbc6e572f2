#include <unistd.h>

#include <QXmlStreamReader>
#include <QtTest>
#include <charconv>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/model/patch_embedding.h"
#include "core/model/pipeline.h"
#include "core/weights/npy_array.h"
#include "tests/common/cli_process.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

using test::CliResult;
using test::data;
using test::runCli;

// The embedding and weights of the sample as the core computes them with the CLI's defaults.
struct Reference {
  Embedding embedding;
  PatchWeights weights;
};

Reference computeReference() {
  const PipelineConfig config;
  const LoadedImage image = loadImage(test::dataPath("chelsea.png"), config.loadOptions());
  Reference r;
  r.weights = resolveWeights(config.weights);
  const PreprocessResult pre = preprocess(image.rgb, preprocessFor(config.preprocess, r.weights));
  r.embedding = PatchEmbedding(r.weights).forward(pre.tensor, config.remainder);
  return r;
}

std::vector<std::vector<float>> readCsv(const QString& path) {
  std::vector<std::vector<float>> rows;
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return rows;
  while (!file.atEnd()) {
    const QByteArray line = file.readLine().trimmed();
    if (line.isEmpty()) continue;
    std::vector<float> row;
    for (const QByteArray& cell : line.split(',')) {
      float v = 0;
      std::from_chars(cell.constData(), cell.constData() + cell.size(), v);
      row.push_back(v);
    }
    rows.push_back(row);
  }
  return rows;
}

double maxAbsDiff(const std::vector<float>& a, const float* b, std::size_t n) {
  if (a.size() != n) return 1e30;
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  return worst;
}

// Share of pixels that are not (nearly) white.
double inkFraction(const cv::Mat& bgr) {
  if (bgr.empty()) return 0.0;
  int ink = 0;
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      if (p[0] < 240 || p[1] < 240 || p[2] < 240) ++ink;
    }
  }
  return static_cast<double>(ink) / (bgr.rows * bgr.cols);
}

}  // namespace

// patchlens-cli export end to end: every plot kind in every format, the data exports
// against the core's numbers, and the failure contract (exit status, message, no file).
class TestExport : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void everyPlotKindInEveryFormat_data();
  void everyPlotKindInEveryFormat();
  void pngHonoursSizeAndScale();
  void dataRoundTrips_data();
  void dataRoundTrips();
  void badRequestsExitTwo_data();
  void badRequestsExitTwo();
  void unfitRequestsExitOneAndLeaveNoFile_data();
  void unfitRequestsExitOneAndLeaveNoFile();
  void unwritableDirectoryLeavesNoFile_data();
  void unwritableDirectoryLeavesNoFile();
  void failureKeepsAnExistingOutput();

 private:
  QTemporaryDir m_dir;
  Reference m_reference;
  QString out(const QString& name) const { return m_dir.filePath(name); }
};

namespace {
// Every file in `dir`, hidden ones (temporary files) included.
QStringList filesIn(const QString& dir) {
  return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::System);
}
}  // namespace

void TestExport::initTestCase() {
  QVERIFY(m_dir.isValid());
  m_reference = computeReference();
}

void TestExport::everyPlotKindInEveryFormat_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QStringList>("extra");
  QTest::addColumn<QString>("format");
  // posembed needs weights that carry position embeddings: a 4 x 4 timm fixture.
  const QStringList timm{"--weights", data("weights/timm_vit_f32.safetensors"), "--img-size", "64"};
  const std::vector<std::pair<QString, QStringList>> kinds{
      {"channel:5", {}},
      {"token:3,7", {}},
      {"token-line:3,7", {}},
      {"channels:0-63", {}},
      {"filters", {}},
      {"filter-pca", {}},
      {"pca", {}},
      {"similarity:7,7", {}},
      {"posembed", timm},
      {"histogram", {}},
      {"reconstruction", {}},
      {"reconstruction:8", {}},
      {"channel:3", {"--colormap", "viridis"}}};
  for (const auto& [kind, extra] : kinds) {
    for (const QString format : {"png", "svg", "pdf"}) {
      QTest::addRow("%s.%s%s", qPrintable(kind), qPrintable(format),
                    extra.isEmpty() ? "" : " (options)")
          << kind << extra << format;
    }
  }
}

void TestExport::everyPlotKindInEveryFormat() {
  QFETCH(QString, kind);
  QFETCH(QStringList, extra);
  QFETCH(QString, format);
  QString name = kind;
  name.replace(':', '_').replace(',', '_');
  const QString target = out(name + "." + format);
  QStringList args{"export", data("chelsea.png"), "--plot", kind, "-o", target};
  if (format == "png")
    args << "--width"
         << "400"
         << "--height"
         << "300"
         << "--scale"
         << "1.5";
  const CliResult r = runCli(args + extra);
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY(r.out.startsWith("wrote " + target));
  QFile file(target);
  QVERIFY(file.open(QIODevice::ReadOnly));
  const QByteArray bytes = file.readAll();

  if (format == "png") {
    const cv::Mat image = cv::imread(target.toStdString(), cv::IMREAD_COLOR);
    QCOMPARE(image.cols, 600);
    QCOMPARE(image.rows, 450);
    QVERIFY(inkFraction(image) > 0.05);
  } else if (format == "svg") {
    QXmlStreamReader xml(bytes);
    int texts = 0;
    int strokes = 0;
    int images = 0;
    QStringList words;
    while (!xml.atEnd()) {
      if (xml.readNext() != QXmlStreamReader::StartElement) continue;
      const auto element = xml.name();
      if (element == QLatin1String("text")) {
        ++texts;
        words << xml.readElementText();
      } else if (element == QLatin1String("path") || element == QLatin1String("line") ||
                 element == QLatin1String("polyline") || element == QLatin1String("rect")) {
        ++strokes;
      } else if (element == QLatin1String("image")) {
        ++images;
      }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    // Title, tick numbers and axis labels are text; frames and ticks are vector strokes.
    QVERIFY2(texts >= 5, qPrintable(QString::number(texts)));
    QVERIFY2(strokes >= 3, qPrintable(QString::number(strokes)));
    QVERIFY(words.join(' ').contains(QRegularExpression("\\d")));
  } else {
    QVERIFY(bytes.startsWith("%PDF"));
    const QString pdftoppm = QStandardPaths::findExecutable("pdftoppm");
    if (pdftoppm.isEmpty()) QSKIP("pdftoppm (poppler-utils) is not installed");
    const QString prefix = out(name + "_page");
    QCOMPARE(QProcess::execute(pdftoppm, {"-png", "-r", "30", "-f", "1", "-l", "1", "-singlefile",
                                          target, prefix}),
             0);
    const cv::Mat page = cv::imread((prefix + ".png").toStdString(), cv::IMREAD_COLOR);
    QVERIFY(!page.empty());
    QVERIFY2(inkFraction(page) > 0.05, qPrintable(QString::number(inkFraction(page))));
    QFile::remove(prefix + ".png");
  }
  QFile::remove(target);
}

void TestExport::pngHonoursSizeAndScale() {
  // The default size is the figure's own at 2 pixels per point; --dpi 72 is one per point.
  const CliResult r1 =
      runCli({"export", data("chelsea.png"), "--plot", "channel:0", "-o", out("a.png")});
  QCOMPARE(r1.exitCode, 0);
  const cv::Mat a = cv::imread(out("a.png").toStdString());
  const CliResult r2 = runCli(
      {"export", data("chelsea.png"), "--plot", "channel:0", "--dpi", "72", "-o", out("b.png")});
  QCOMPARE(r2.exitCode, 0);
  const cv::Mat b = cv::imread(out("b.png").toStdString());
  QVERIFY(!a.empty() && !b.empty());
  QCOMPARE(a.cols, 2 * b.cols);
  QCOMPARE(a.rows, 2 * b.rows);
}

void TestExport::dataRoundTrips_data() {
  QTest::addColumn<QString>("what");
  QTest::addColumn<QString>("suffix");
  for (const char* what : {"embedding", "token:3,7", "channel:5", "filters"}) {
    for (const char* suffix : {"npy", "csv"})
      QTest::addRow("%s.%s", what, suffix) << QString(what) << QString(suffix);
  }
}

void TestExport::dataRoundTrips() {
  QFETCH(QString, what);
  QFETCH(QString, suffix);
  const QString target = out("data." + suffix);
  const CliResult r = runCli({"export", data("chelsea.png"), "--data", what, "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));

  const RowMatrixF& tokens = m_reference.embedding.tokens;
  std::vector<std::int64_t> shape;
  std::vector<float> expected;
  int csvRows = 0;
  if (what == "embedding") {
    shape = {tokens.rows(), tokens.cols()};
    expected.assign(tokens.data(), tokens.data() + tokens.size());
    csvRows = static_cast<int>(tokens.rows());
  } else if (what == "token:3,7") {
    const int t = m_reference.embedding.tokenIndex(3, 7);
    shape = {tokens.cols()};
    for (Eigen::Index c = 0; c < tokens.cols(); ++c) expected.push_back(tokens(t, c));
    csvRows = 1;
  } else if (what == "channel:5") {
    const GridSize g = m_reference.embedding.grid;
    shape = {g.rows, g.cols};
    for (Eigen::Index t = 0; t < tokens.rows(); ++t) expected.push_back(tokens(t, 5));
    csvRows = g.rows;
  } else {
    const PatchWeights& w = m_reference.weights;
    shape = {w.embedDim, w.inChannels, w.patchSize, w.patchSize};
    expected.assign(w.weight.data(), w.weight.data() + w.weight.size());
    csvRows = w.embedDim;
  }
  // Same core code on the same machine: equal up to float rounding of a threaded GEMM.
  const double tolerance = 1e-5;
  if (suffix == "npy") {
    const NpyArray a = readNpy(target.toStdString());
    QCOMPARE(a.shape, shape);
    QVERIFY(maxAbsDiff(a.data, expected.data(), expected.size()) <= tolerance);
  } else {
    const auto rows = readCsv(target);
    QCOMPARE(static_cast<int>(rows.size()), csvRows);
    std::vector<float> flat;
    for (const auto& row : rows) {
      QCOMPARE(row.size(), expected.size() / static_cast<std::size_t>(csvRows));
      flat.insert(flat.end(), row.begin(), row.end());
    }
    QVERIFY(maxAbsDiff(flat, expected.data(), expected.size()) <= tolerance);
  }
  QFile::remove(target);
}

void TestExport::badRequestsExitTwo_data() {
  QTest::addColumn<QStringList>("args");
  const QString image = data("chelsea.png");
  QTest::newRow("unknown kind") << QStringList{"export", image, "--plot", "bogus", "-o", "x.png"};
  QTest::newRow("channel without K")
      << QStringList{"export", image, "--plot", "channel", "-o", "x.png"};
  QTest::newRow("token not a number")
      << QStringList{"export", image, "--plot", "token:a,1", "-o", "x.png"};
  QTest::newRow("reversed range") << QStringList{"export",       image, "--plot",
                                                 "channels:9-3", "-o",  "x.png"};
  QTest::newRow("too many channels")
      << QStringList{"export", image, "--plot", "channels:0-64", "-o", "x.png"};
  QTest::newRow("unknown format") << QStringList{"export", image, "--plot", "pca", "-o", "x.bmp"};
  QTest::newRow("unknown colormap")
      << QStringList{"export", image, "--plot", "pca", "--colormap", "jet", "-o", "x.png"};
  QTest::newRow("plot and data") << QStringList{"export", image,       "--plot", "pca",
                                                "--data", "embedding", "-o",     "x.png"};
  QTest::newRow("neither") << QStringList{"export", image, "-o", "x.png"};
  QTest::newRow("no output") << QStringList{"export", image, "--plot", "pca"};
  QTest::newRow("data as png") << QStringList{"export",    image, "--data",
                                              "embedding", "-o",  "x.png"};
  QTest::newRow("unknown data") << QStringList{"export", image, "--data", "tokens", "-o", "x.npy"};
  QTest::newRow("bad scale") << QStringList{"export",  image, "--plot", "pca",
                                            "--scale", "0",   "-o",     "x.png"};
  QTest::newRow("huge png") << QStringList{"export", image,     "--plot", "pca", "--width",
                                           "1000",   "--scale", "20",     "-o",  "x.png"};
}

void TestExport::badRequestsExitTwo() {
  QFETCH(QStringList, args);
  const QTemporaryDir dir(out("usage-XXXXXX"));
  for (QString& a : args) {
    if (a.startsWith("x.")) a = dir.filePath(a);
  }
  const CliResult r = runCli(args);
  QCOMPARE(r.exitCode, 2);
  QVERIFY2(r.err.startsWith("patchlens-cli: usage: "), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  QCOMPARE(filesIn(dir.path()), QStringList());
}

void TestExport::unfitRequestsExitOneAndLeaveNoFile_data() {
  QTest::addColumn<QStringList>("request");
  QTest::addColumn<QString>("suffix");
  QTest::addColumn<QString>("reason");
  QTest::newRow("channel out of range") << QStringList{"--plot", "channel:768"} << "png"
                                        << "out of range";
  QTest::newRow("patch outside the grid") << QStringList{"--plot", "similarity:14,0"} << "svg"
                                          << "outside the";
  QTest::newRow("no position embedding") << QStringList{"--plot", "posembed"} << "pdf"
                                         << "position embedding";
  QTest::newRow("data channel out of range") << QStringList{"--data", "channel:999"} << "npy"
                                             << "out of range";
  QTest::newRow("data token outside") << QStringList{"--data", "token:0,99"} << "csv"
                                      << "outside the";
}

void TestExport::unfitRequestsExitOneAndLeaveNoFile() {
  QFETCH(QStringList, request);
  QFETCH(QString, suffix);
  QFETCH(QString, reason);
  const QTemporaryDir dir(out("unfit-XXXXXX"));
  const QString target = dir.filePath("never." + suffix);
  const CliResult r =
      runCli(QStringList{"export", data("chelsea.png")} + request + QStringList{"-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.startsWith("patchlens-cli: error: "), qPrintable(r.err));
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  QCOMPARE(filesIn(dir.path()), QStringList());
}

void TestExport::unwritableDirectoryLeavesNoFile_data() {
  QTest::addColumn<QString>("where");
  QTest::addColumn<QStringList>("request");
  QTest::addColumn<QString>("reason");
  for (const char* suffix : {"png", "svg", "pdf"}) {
    QTest::addRow("missing dir, %s", suffix) << "missing" << QStringList{"--plot", "pca"} << suffix;
    QTest::addRow("read-only dir, %s", suffix)
        << "readonly" << QStringList{"--plot", "pca"} << suffix;
  }
  QTest::newRow("missing dir, npy") << "missing" << QStringList{"--data", "embedding"} << "npy";
  QTest::newRow("not a dir, png") << "notadir" << QStringList{"--plot", "histogram"} << "png";
  QTest::newRow("not a dir, csv") << "notadir" << QStringList{"--data", "filters"} << "csv";
  QTest::newRow("read-only dir, csv") << "readonly" << QStringList{"--data", "embedding"} << "csv";
}

void TestExport::unwritableDirectoryLeavesNoFile() {
  QFETCH(QString, where);
  QFETCH(QStringList, request);
  QFETCH(QString, reason);  // the suffix, in this table
  QString dir = out("no/such/dir");
  if (where == "notadir") {
    dir = out("plain-file");
    QFile f(dir);
    QVERIFY(f.open(QIODevice::WriteOnly));
  }
  if (where == "readonly") {
    dir = out("readonly");
    QVERIFY(QDir().mkpath(dir));
    QVERIFY(QFile::setPermissions(dir, QFile::ReadOwner | QFile::ExeOwner));
    // root writes anywhere; then there is no read-only directory to test with.
    if (::access(QFile::encodeName(dir).constData(), W_OK) == 0) {
      QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
      QSKIP("running as root: permissions do not make a directory read-only");
    }
  }
  const QString target = dir + "/figure." + reason;
  const CliResult r =
      runCli(QStringList{"export", data("chelsea.png")} + request + QStringList{"-o", target});
  QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.startsWith("patchlens-cli: error: " + target + ": "), qPrintable(r.err));
  const char* why = where == "readonly"  ? "writ"
                    : where == "notadir" ? "plain-file"
                                         : "does not exist";
  QVERIFY2(r.err.contains(why), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  QVERIFY(!QFile::exists(target));
  if (where == "readonly") QCOMPARE(filesIn(dir), QStringList());
}

void TestExport::failureKeepsAnExistingOutput() {
  const QTemporaryDir dir(out("keep-XXXXXX"));
  for (const QString suffix : {"png", "svg", "pdf", "npy"}) {
    const QString target = dir.filePath("keep." + suffix);
    {
      QFile f(target);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("precious");
    }
    const QStringList request = suffix == "npy" ? QStringList{"--data", "channel:9999"}
                                                : QStringList{"--plot", "channel:9999"};
    QCOMPARE(
        runCli(QStringList{"export", data("chelsea.png")} + request + QStringList{"-o", target})
            .exitCode,
        1);
    QFile f(target);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), QByteArray("precious"));
  }
  QCOMPARE(filesIn(dir.path()), (QStringList{"keep.npy", "keep.pdf", "keep.png", "keep.svg"}));
}

QTEST_GUILESS_MAIN(TestExport)
#include "tst_export.moc"
