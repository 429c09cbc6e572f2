#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>
#include <opencv2/imgcodecs.hpp>

#include "core/analysis/correspondences.h"
#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/model/vision_transformer.h"
#include "tests/common/cli_process.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;
using test::CliResult;
using test::data;
using test::runCli;

namespace {

const char* kModel = "transformer/timm_vit_f32/model.safetensors";              // depth 3
const char* kOtherModel = "transformer/hf_dinov2_reg2_bf16/model.safetensors";  // depth 2
// The fixture images are the model's 64 x 64 input already: no resize, ImageNet's statistics,
// as tests/reference/compare_fixtures.py computes them.
const QStringList kInput = {"--img-size", "64", "--crop-pct", "1", "--norm", "imagenet"};

QStringList twoImages() {
  return {"export",    data("compare/a.png"), "--compare", data("compare/b.png"),
          "--weights", data(kModel)};
}

// rA,cA,rB,cB,similarity rows of a pairs CSV; the header checked.
Eigen::MatrixXd readPairs(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return {};
  const QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
  if (lines.isEmpty() || lines.front() != "rA,cA,rB,cB,similarity") return {};
  Eigen::MatrixXd m(lines.size() - 1, 5);
  for (int i = 1; i < lines.size(); ++i) {
    const QStringList cells = lines[i].split(',');
    if (cells.size() != 5) return {};
    for (int c = 0; c < 5; ++c) m(i - 1, c) = cells[c].toDouble();
  }
  return m;
}

RowMatrixF finalPatchTokens(const VisionTransformer& model, const char* image) {
  PreprocessConfig config;
  config.height = config.width = 64;
  config.cropPct = 1.0;
  config.normalization = *Normalization::parse("imagenet");
  const LoadedImage loaded = loadImage(test::dataPath(image), {});
  const TransformerOutput out = model.forward(preprocess(loaded.rgb, config).tensor);
  return out.final.bottomRows(16);
}

}  // namespace

// patchlens-cli export --compare / --compare-weights (issue 23): the mutual nearest-neighbour
// pairs against numpy (tests/reference/compare_fixtures.py) and against the core at the final
// layer, every two-image and two-model figure in PNG, SVG and PDF, and refusals.
class tst_ExportCompare : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void pairsEqualNumpy();
  void pairsAtFinalLayerEqualTheCore();
  void figuresInEveryFormat_data();
  void figuresInEveryFormat();
  void refusals_data();
  void refusals();

 private:
  QString out(const QString& name) const { return m_dir.filePath(name); }
  QTemporaryDir m_dir;
};

void tst_ExportCompare::initTestCase() {
  QVERIFY(m_dir.isValid());
}

void tst_ExportCompare::pairsEqualNumpy() {
  const QString target = out("pairs.csv");
  const CliResult r = runCli(twoImages() + kInput + QStringList{"--data", "matches", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.startsWith("wrote " + target + ": 7 mutual"), qPrintable(r.out));
  const Eigen::MatrixXd got = readPairs(target);
  const Eigen::MatrixXd expected =
      test::readAnalysesFixture("../compare/cli_pairs.txt")["cli_pairs"];
  QCOMPARE(expected.rows(), Eigen::Index(7));
  QCOMPARE(got.rows(), expected.rows());
  QVERIFY2(got.leftCols(4) == expected.leftCols(4), "pairs or their order differ from numpy");
  QVERIFY((got.col(4) - expected.col(4)).cwiseAbs().maxCoeff() < 1e-5);
}

void tst_ExportCompare::pairsAtFinalLayerEqualTheCore() {
  const auto model = VisionTransformer::load(test::dataPath(kModel));
  QVERIFY(model.has_value());
  const std::vector<PatchMatch> expected = mutualNearestNeighbours(
      finalPatchTokens(*model, "compare/a.png"), finalPatchTokens(*model, "compare/b.png"));
  QVERIFY(!expected.empty());
  const QString target = out("pairs_final.csv");
  const CliResult r = runCli(twoImages() + kInput +
                             QStringList{"--layer", "final", "--data", "matches", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const Eigen::MatrixXd got = readPairs(target);
  QCOMPARE(got.rows(), Eigen::Index(expected.size()));
  for (Eigen::Index i = 0; i < got.rows(); ++i) {
    const PatchMatch& m = expected[std::size_t(i)];
    QCOMPARE(int(got(i, 0)) * 4 + int(got(i, 1)), m.tokenA);
    QCOMPARE(int(got(i, 2)) * 4 + int(got(i, 3)), m.tokenB);
    QVERIFY(std::abs(got(i, 4) - m.similarity) < 1e-6);
  }
}

void tst_ExportCompare::figuresInEveryFormat_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("format");
  QTest::addColumn<QString>("mustSay");  // a text the SVG holds
  const QStringList images = twoImages();
  const QStringList models = {"export",     data("chelsea.png"), "--weights",
                              data(kModel), "--compare-weights", data(kOtherModel)};
  const std::tuple<const char*, QStringList, QString> cases[] = {
      {"matches", images + QStringList{"--plot", "matches"}, "mutual nearest neighbours"},
      {"matches:5 foreground",
       images + QStringList{"--plot", "matches:5", "--layer", "final", "--foreground", "0.3"},
       "foreground patches only"},
      {"joint-pca", images + QStringList{"--plot", "joint-pca", "--layer", "2"}, "Block 2"},
      {"joint-pca foreground",
       images + QStringList{"--plot", "joint-pca", "--layer", "final", "--foreground", "0.5"},
       "foreground patches of both"},
      {"similarity-to", images + QStringList{"--plot", "similarity-to:1,2", "--layer", "1"},
       "best match in B"},
      // Depth 3 beside depth 2: layer 3 -> round(3 * 2 / 3) = 2, block 3 -> block 2.
      {"two models pca", models + QStringList{"--plot", "pca", "--layer", "3"}, "Block 2"},
      {"two models attention", models + QStringList{"--plot", "attention:3"}, "block 2 of 2"},
      {"two models similarity", models + QStringList{"--plot", "similarity:1,1", "--layer", "1"},
       "B: hf_dinov2_reg2_bf16/model.safetensors"},
  };
  for (const auto& [name, args, mustSay] : cases) {
    for (const QString format : {"png", "svg", "pdf"})
      QTest::addRow("%s.%s", name, qPrintable(format)) << args << format << mustSay;
  }
}

void tst_ExportCompare::figuresInEveryFormat() {
  QFETCH(QStringList, args);
  QFETCH(QString, format);
  QFETCH(QString, mustSay);
  QString name = QTest::currentDataTag();
  name.replace(QRegularExpression("[^A-Za-z0-9_.-]"), "_");
  const QString target = out(name);
  const CliResult r = runCli(args + QStringList{"-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.startsWith("wrote " + target), qPrintable(r.out));
  QFile file(target);
  QVERIFY(file.open(QIODevice::ReadOnly));
  const QByteArray bytes = file.readAll();
  if (format == "png") {
    const cv::Mat image = cv::imread(target.toStdString(), cv::IMREAD_COLOR);
    QVERIFY(!image.empty());
    QVERIFY(image.cols > 800 && image.rows > 300);
  } else if (format == "svg") {
    QXmlStreamReader xml(bytes);
    int texts = 0;
    int shapes = 0;
    QString allText;
    while (!xml.atEnd()) {
      if (xml.readNext() != QXmlStreamReader::StartElement) continue;
      if (xml.name() == QLatin1String("text")) {
        ++texts;
        allText += xml.readElementText(QXmlStreamReader::IncludeChildElements) + '\n';
      }
      for (const char* shape : {"path", "image", "rect", "line", "polyline", "polygon"})
        if (xml.name() == QLatin1String(shape)) ++shapes;
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QVERIFY2(texts >= 10, qPrintable(QString::number(texts)));
    QVERIFY(shapes >= 4);
    QVERIFY2(allText.contains(mustSay), qPrintable(allText));
  } else {
    QVERIFY(bytes.startsWith("%PDF"));
    QVERIFY(bytes.trimmed().endsWith("%%EOF"));
    QVERIFY(bytes.size() > 2000);
  }
}

void tst_ExportCompare::refusals_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<int>("exitCode");
  QTest::addColumn<QString>("message");
  const QStringList images = twoImages();
  QTest::newRow("one-image kind") << images + QStringList{"--plot", "pca"} << 2 << "--compare";
  QTest::newRow("two-image kind alone")
      << QStringList{"export", data("compare/a.png"), "--weights", data(kModel), "--plot",
                     "matches"}
      << 2 << "needs --compare B";
  QTest::newRow("pairs need csv") << images +
                                         QStringList{"--data", "matches", "-o", out("pairs.npy")}
                                  << 2 << ".csv";
  QTest::newRow("other data") << images + QStringList{"--data", "embedding"} << 2 << "matches";
  QTest::newRow("both compares") << images + QStringList{"--compare-weights", data(kModel),
                                                         "--plot", "matches"}
                                 << 2 << "--compare-weights";
  QTest::newRow("zero matches") << images + QStringList{"--plot", "matches:0"} << 2 << "at least 1";
  QTest::newRow("bad layer") << images + QStringList{"--plot", "matches", "--layer", "9"} << 2
                             << "--layer";
  QTest::newRow("missing B") << QStringList{"export",    data("compare/a.png"),
                                            "--compare", out("missing.png"),
                                            "--weights", data(kModel),
                                            "--plot",    "matches"}
                             << 1 << "missing.png";
  QTest::newRow("patch outside A")
      << images + QStringList{"--plot", "similarity-to:99,0"} << 1 << "outside A's";
  QTest::newRow("two models, a one-image kind only") << QStringList{"export",
                                                                    data("chelsea.png"),
                                                                    "--weights",
                                                                    data(kModel),
                                                                    "--compare-weights",
                                                                    data(kOtherModel),
                                                                    "--plot",
                                                                    "rollout"}
                                                     << 2 << "pca, similarity:R,C or attention";
  QTest::newRow("compare on forward")
      << QStringList{"forward",    data("chelsea.png"), "--weights",
                     data(kModel), "--compare",         data("compare/b.png")}
      << 2 << "export only";
}

void tst_ExportCompare::refusals() {
  QFETCH(QStringList, args);
  QFETCH(int, exitCode);
  QFETCH(QString, message);
  const QString target = out("refused.png");
  const CliResult r = runCli(args.contains("-o") ? args : args + QStringList{"-o", target});
  QCOMPARE(r.exitCode, exitCode);
  QVERIFY2(r.err.contains(message), qPrintable(r.err));
  QVERIFY(r.err.startsWith(exitCode == 1 ? "patchlens-cli: error: " : "patchlens-cli: "));
  QVERIFY(!QFile::exists(target));
  QVERIFY(!QFile::exists(out("pairs.npy")));
}

QTEST_GUILESS_MAIN(tst_ExportCompare)
#include "tst_export_compare.moc"
