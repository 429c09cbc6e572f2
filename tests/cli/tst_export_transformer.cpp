#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>

#include "core/analysis/attention_mask.h"
#include "core/analysis/attention_rollout.h"
#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/model/pipeline.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/cli_process.h"
#include "tests/common/patch_only_weights.h"

using namespace patchlens;
using test::CliResult;
using test::data;
using test::runCli;

namespace {

const char* kModel = "transformer/timm_vit_f32/model.safetensors";

// Share of pixels that are not (nearly) white.
double inkFraction(const cv::Mat& bgr) {
  int ink = 0;
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      if (p[0] < 240 || p[1] < 240 || p[2] < 240) ++ink;
    }
  }
  return bgr.empty() ? 0.0 : static_cast<double>(ink) / (bgr.rows * bgr.cols);
}

}  // namespace

// patchlens-cli export with a whole ViT (issue 12): every transformer plot kind in PNG, SVG
// and PDF, --layer on token plots, the tokens:L / attention:L data against the core's own
// forward, and clear refusals.
class tst_ExportTransformer : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void everyKindInEveryFormat_data();
  void everyKindInEveryFormat();
  void dataEqualsTheCoreForward_data();
  void dataEqualsTheCoreForward();
  void refusals_data();
  void refusals();
  void attentionMaskDataIsDinosMask_data();
  void attentionMaskDataIsDinosMask();
  void attentionCsvHasAHeader();
  void maskFigureNamesItsThreshold();

 private:
  QString out(const QString& name) const { return m_dir.filePath(name); }
  QTemporaryDir m_dir;
  TransformerOutput m_reference;
  std::vector<std::vector<RowMatrixF>> m_attention;
};

void tst_ExportTransformer::initTestCase() {
  QVERIFY(m_dir.isValid());
  test::writePatchOnlyWeights(m_dir.filePath("patch_only.safetensors").toStdString());
  // The same chain as the CLI's defaults, then the core's forward, independently of it.
  const PipelineConfig config;
  const auto model = VisionTransformer::load(test::dataPath(kModel));
  QVERIFY(model.has_value());
  const LoadedImage image = loadImage(test::dataPath("chelsea.png"), config.loadOptions());
  const PreprocessResult pre =
      preprocess(image.rgb, preprocessFor(config.preprocess, model->patchWeights()));
  m_reference = model->forward(pre.tensor, [this](int, const std::vector<RowMatrixF>& heads) {
    m_attention.push_back(heads);
  });
  QCOMPARE(int(m_attention.size()), model->config().depth);
}

void tst_ExportTransformer::everyKindInEveryFormat_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QStringList>("extra");
  QTest::addColumn<QString>("format");
  const std::pair<const char*, QStringList> kinds[] = {
      {"attention:2", {}},
      {"attention:3,1", {"--query", "5,6"}},
      {"attention:1", {"--query", "cls"}},
      {"attention-heads:2", {"--query", "7,7"}},
      {"attention-mask:3", {}},
      {"attention-mask:1:0.3", {"--query", "7,7"}},
      {"rollout", {}},
      {"attention-distance", {"--layer", "2"}},
      {"token-norms", {}},
      {"pca", {"--layer", "final", "--foreground", "0.4"}},
      {"pca", {"--layer", "2", "--foreground", "0.6", "--foreground-flip"}},
      {"channel:5", {"--layer", "3"}},
      {"similarity:3,4", {"--layer", "1"}},
  };
  for (const auto& [kind, extra] : kinds) {
    for (const QString format : {"png", "svg", "pdf"}) {
      QTest::addRow("%s %s.%s", kind, qPrintable(extra.join(' ')), qPrintable(format))
          << QString(kind) << extra << format;
    }
  }
}

void tst_ExportTransformer::everyKindInEveryFormat() {
  QFETCH(QString, kind);
  QFETCH(QStringList, extra);
  QFETCH(QString, format);
  QString name = kind + extra.join('_');
  name.replace(QRegularExpression("[^A-Za-z0-9_.-]"), "_");
  const QString target = out(name + "." + format);
  const CliResult r = runCli(QStringList{"export", data("chelsea.png"), "--weights", data(kModel),
                                         "--plot", kind, "-o", target} +
                             extra);
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY(r.out.startsWith("wrote " + target));
  QFile file(target);
  QVERIFY(file.open(QIODevice::ReadOnly));
  const QByteArray bytes = file.readAll();
  if (format == "png") {
    const cv::Mat image = cv::imread(target.toStdString(), cv::IMREAD_COLOR);
    QVERIFY(!image.empty());
    QVERIFY2(inkFraction(image) > 0.05, qPrintable(QString::number(inkFraction(image))));
  } else if (format == "svg") {
    QXmlStreamReader xml(bytes);
    int texts = 0;
    int shapes = 0;
    while (!xml.atEnd()) {
      if (xml.readNext() != QXmlStreamReader::StartElement) continue;
      if (xml.name() == QLatin1String("text")) ++texts;
      for (const char* shape : {"path", "image", "rect", "line", "polyline", "polygon"})
        if (xml.name() == QLatin1String(shape)) ++shapes;
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QVERIFY2(texts >= 5, qPrintable(QString::number(texts)));
    QVERIFY(shapes >= 3);
  } else {
    QVERIFY(bytes.startsWith("%PDF"));
    QVERIFY(bytes.trimmed().endsWith("%%EOF"));
    QVERIFY(bytes.size() > 2000);
  }
}

void tst_ExportTransformer::dataEqualsTheCoreForward_data() {
  QTest::addColumn<QString>("what");
  QTest::newRow("tokens:0") << "tokens:0";
  QTest::newRow("tokens:2") << "tokens:2";
  QTest::newRow("tokens:final") << "tokens:final";
  QTest::newRow("attention:1") << "attention:1";
  QTest::newRow("attention:3") << "attention:3";
}

void tst_ExportTransformer::dataEqualsTheCoreForward() {
  QFETCH(QString, what);
  const QString target = out(QString(what).replace(':', '_') + ".npy");
  const CliResult r = runCli(
      {"export", data("chelsea.png"), "--weights", data(kModel), "--data", what, "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const NpyArray a = readNpy(target.toStdString());
  // Issue 21: the "wrote" line gives the array's shape.
  QString shape;
  for (const std::int64_t d : a.shape) shape += (shape.isEmpty() ? "" : ", ") + QString::number(d);
  QVERIFY2(r.out.startsWith("wrote " + target + ": " + what + " float32 [" + shape + "] of "),
           qPrintable(r.out));
  const QString layer = what.section(':', 1);
  if (what.startsWith("tokens")) {
    const RowMatrixF& expected =
        layer == "final" ? m_reference.final : m_reference.tokens[std::size_t(layer.toInt())];
    QCOMPARE(a.shape, (std::vector<std::int64_t>{expected.rows(), expected.cols()}));
    const Eigen::Map<const RowMatrixF> got(a.data.data(), expected.rows(), expected.cols());
    QVERIFY((got - expected).cwiseAbs().maxCoeff() == 0.0f);  // the same code, the same input
  } else {
    const auto& heads = m_attention[std::size_t(layer.toInt() - 1)];
    const Eigen::Index t = heads.front().rows();
    QCOMPARE(a.shape, (std::vector<std::int64_t>{std::int64_t(heads.size()), t, t}));
    for (std::size_t h = 0; h < heads.size(); ++h) {
      const Eigen::Map<const RowMatrixF> got(a.data.data() + h * t * t, t, t);
      QVERIFY((got - heads[h]).cwiseAbs().maxCoeff() == 0.0f);
      // Each row a softmax distribution.
      QVERIFY((got.rowwise().sum().array() - 1.0f).abs().maxCoeff() < 1e-5f);
    }
  }
}

void tst_ExportTransformer::refusals_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<int>("exitCode");
  QTest::addColumn<QString>("message");
  const QString model = data(kModel);
  const QString patchOnly = m_dir.filePath("patch_only.safetensors");
  QTest::newRow("patch-only weights")
      << QStringList{"--weights", patchOnly, "--plot", "rollout"} << 1 << "only a patch embedding";
  QTest::newRow("patch-only --layer")
      << QStringList{"--weights", patchOnly, "--plot", "channel:0", "--layer", "1"} << 1
      << "--layer needs a transformer";
  QTest::newRow("initializer") << QStringList{"--plot", "token-norms"} << 1
                               << "only a patch embedding";
  QTest::newRow("block out of range")
      << QStringList{"--weights", model, "--plot", "attention:9"} << 1 << "does not exist";
  QTest::newRow("head out of range")
      << QStringList{"--weights", model, "--plot", "attention:1,7"} << 1 << "head 7";
  QTest::newRow("no such prefix token")
      << QStringList{"--weights", model, "--plot", "rollout", "--query", "reg 2"} << 1
      << "no 'reg 2' token";
  QTest::newRow("query outside the grid")
      << QStringList{"--weights", model, "--plot", "rollout", "--query", "40,1"} << 1 << "outside";
  QTest::newRow("bad layer") << QStringList{"--weights", model, "--plot", "pca", "--layer", "x"}
                             << 2 << "--layer";
  QTest::newRow("foreground needs pca")
      << QStringList{"--weights", model, "--plot", "rollout", "--foreground", "0.5"} << 2
      << "--foreground";
  QTest::newRow("mass threshold above 1")
      << QStringList{"--weights", model, "--plot", "attention-mask:1:1.5"} << 2 << "(0, 1]";
  QTest::newRow("mass threshold 0")
      << QStringList{"--weights", model, "--plot", "attention-mask:1:0"} << 2 << "(0, 1]";
  QTest::newRow("mask block out of range")
      << QStringList{"--weights", model, "--plot", "attention-mask:4"} << 1 << "does not exist";
  QTest::newRow("mask data as npy")
      << QStringList{"--weights", model, "--data", "attention-mask:1"} << 2 << "writes .npz";
  QTest::newRow("reconstruction past layer 0")
      << QStringList{"--weights", model, "--plot", "reconstruction", "--layer", "1"} << 1
      << "exists only at --layer patch, not at --layer 1";
}

void tst_ExportTransformer::refusals() {
  QFETCH(QStringList, args);
  QFETCH(int, exitCode);
  QFETCH(QString, message);
  const QString target = out("refused.png");
  const CliResult r = runCli(QStringList{"export", data("chelsea.png"), "-o", target} + args);
  QCOMPARE(r.exitCode, exitCode);
  QVERIFY2(r.err.contains(message), qPrintable(r.err));
  QVERIFY(r.err.startsWith(exitCode == 1 ? "patchlens-cli: error: " : "patchlens-cli: "));
  QVERIFY(!QFile::exists(target));
}

void tst_ExportTransformer::attentionMaskDataIsDinosMask_data() {
  QTest::addColumn<int>("block");
  QTest::addColumn<QString>("threshold");  // empty: the default 0.6
  QTest::newRow("block 3") << 3 << QString();
  QTest::newRow("block 1 at 0.3") << 1 << QStringLiteral("0.3");
}

// --data attention-mask:L[:T]: DINO's arrays (attentions, th_attn [H, rows*P, cols*P]) of the
// class token at block L, equal to core attentionMasks (tested against DINO's torch code in
// tst_attention_mask) on the core's own forward of the same input, upsampled by P = 16.
void tst_ExportTransformer::attentionMaskDataIsDinosMask() {
  QFETCH(int, block);
  QFETCH(QString, threshold);
  const QString what = QStringLiteral("attention-mask:%1").arg(block) +
                       (threshold.isEmpty() ? QString() : ":" + threshold);
  const QString target = out(QStringLiteral("mask_%1.npz").arg(block));
  const CliResult r = runCli(
      {"export", data("chelsea.png"), "--weights", data(kModel), "--data", what, "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const auto& heads = m_attention[std::size_t(block - 1)];
  const int rows = 14, cols = 14, p = 16;  // chelsea through the 224 x 224 defaults
  QCOMPARE(heads.front().rows(), Eigen::Index(1 + rows * cols));
  const float t = threshold.isEmpty() ? 0.6f : threshold.toFloat();
  const AttentionMasks m = attentionMasks(heads, 0, 1, rows, cols, t);
  const QString shape =
      QStringLiteral("[%1, %2, %3]").arg(heads.size()).arg(rows * p).arg(cols * p);
  QVERIFY2(r.out.contains("attentions and th_attn float32 " + shape), qPrintable(r.out));
  const NpzArchive npz(target.toStdString());
  const NpyArray maps = npz.read("attentions");
  const NpyArray masks = npz.read("th_attn");
  const std::vector<std::int64_t> expectedShape{std::int64_t(heads.size()), rows * p, cols * p};
  QCOMPARE(maps.shape, expectedShape);
  QCOMPARE(masks.shape, expectedShape);
  const Eigen::Index plane = Eigen::Index(rows) * p * cols * p;
  for (Eigen::Index h = 0; h < Eigen::Index(heads.size()); ++h) {
    const RowMatrixF mapPixels = upsampleNearest(m.maps.row(h).transpose(), rows, cols, p);
    const RowMatrixF maskPixels = upsampleNearest(m.masks.row(h).transpose(), rows, cols, p);
    QVERIFY(Eigen::Map<const RowMatrixF>(maps.data.data() + h * plane, rows * p, cols * p) ==
            mapPixels);
    QVERIFY(Eigen::Map<const RowMatrixF>(masks.data.data() + h * plane, rows * p, cols * p) ==
            maskPixels);
    // The kept patches hold at least T of the head's patch mass, and dropping the smallest kept
    // one would fall below it (DINO's rule, checked on the exported arrays).
    const VectorF row = m.maps.row(h).transpose();
    const float total = row.sum();
    float kept = 0, smallest = 1;
    for (Eigen::Index i = 0; i < row.size(); ++i) {
      if (m.masks(h, i) > 0.5f) {
        kept += row(i);
        smallest = std::min(smallest, row(i));
      }
    }
    QVERIFY2(kept / total >= t - 1e-5f, qPrintable(QString::number(kept / total)));
    QVERIFY2((kept - smallest) / total < t + 1e-5f, qPrintable(QString::number(kept / total)));
  }
}

// attention:L as CSV names its columns (issue 21, defect 19).
void tst_ExportTransformer::attentionCsvHasAHeader() {
  const QString target = out("attention_2.csv");
  const CliResult r = runCli({"export", data("chelsea.png"), "--weights", data(kModel), "--data",
                              "attention:2", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("float32 [3, 197, 197]"), qPrintable(r.out));
  QFile f(target);
  QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
  const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
  QCOMPARE(lines.size(), qsizetype(1 + 3 * 197));
  const QList<QByteArray> header = lines.front().split(',');
  QCOMPARE(header.size(), qsizetype(2 + 197));
  QCOMPARE(header[0], QByteArray("head"));
  QCOMPARE(header[1], QByteArray("query"));
  QCOMPARE(header[2], QByteArray("key0"));
  QCOMPARE(header.last(), QByteArray("key196"));
  // Line 1 + 197 + 5: head 1, query 5; its values are the core's attention.
  const QList<QByteArray> cells = lines[1 + 197 + 5].split(',');
  QCOMPARE(cells[0], QByteArray("1"));
  QCOMPARE(cells[1], QByteArray("5"));
  const RowMatrixF& head1 = m_attention[1][1];
  for (int k = 0; k < 197; ++k) QCOMPARE(cells[2 + k].toFloat(), head1(5, k));
}

// The mask figure's title names the block and its subtitle the threshold.
void tst_ExportTransformer::maskFigureNamesItsThreshold() {
  const QString target = out("mask.svg");
  const CliResult r = runCli({"export", data("chelsea.png"), "--weights", data(kModel), "--plot",
                              "attention-mask:2:0.45", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.startsWith("wrote " + target + ": attention-mask:2:0.45"), qPrintable(r.out));
  QFile f(target);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QString svg = QString::fromUtf8(f.readAll());
  QVERIFY2(svg.contains("<title>Attention masks, block 2</title>"), qPrintable(svg.left(600)));
  QVERIFY(svg.contains("top 45 %"));
}

QTEST_GUILESS_MAIN(tst_ExportTransformer)
#include "tst_export_transformer.moc"
