#include <QFile>
#include <QImage>
#include <QRegularExpression>
#include <QtTest>

#include "core/weights/npz_archive.h"
#include "tests/common/cli_process.h"
#include "tests/common/explain_cases.h"

using namespace patchlens;

namespace {

using test::CliResult;
using test::runCli;

// The classes the fixtures explain: the top one (cases.tsv's last column) and a chosen one.
struct ClassCase {
  const char* row;
  const char* name;  // the cases.tsv case
  int classIndex;    // -1: the default (top) class
};

const ClassCase kClassCases[] = {
    {"timm top", "timm_token_in1k", -1},
    {"torchvision class 3", "torchvision_head_class3", 3},
    {"HF ViT top", "hf_vit_classifier", -1},
    {"distilled top", "timm_deit_distilled", -1},
    {"Dinov2 top", "hf_dinov2_reg2_classifier", -1},
};

// The first number after `marker` in `text` (the SVG's subtitle), NaN when absent.
double numberAfter(const QString& text, const QString& marker) {
  const qsizetype at = text.indexOf(marker);
  if (at < 0) return std::nan("");
  static const QRegularExpression number(QStringLiteral("^-?[0-9.]+(e[-+]?[0-9]+)?"));
  return number.match(text.mid(at + marker.size())).captured(0).toDouble();
}

QString readText(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QString::fromUtf8(f.readAll());
}

}  // namespace

// `patchlens-cli export --plot prediction|gradcam|relevance` and `--data explain` against the
// torch autograd fixtures of tests/reference/explain_fixtures.py.
class TestExportExplain : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void dataExplainEqualsTheReference_data();
  void dataExplainEqualsTheReference();
  void mapFiguresNameTheClassAndShowItsValues_data();
  void mapFiguresNameTheClassAndShowItsValues();
  void predictionFigureIsValidInEveryFormat_data();
  void predictionFigureIsValidInEveryFormat();
  void refusals_data();
  void refusals();

 private:
  QTemporaryDir m_dir;
};

void TestExportExplain::dataExplainEqualsTheReference_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("data");
  for (const ClassCase& c : kClassCases)
    QTest::newRow(c.row) << c.name
                         << (c.classIndex < 0 ? QString("explain")
                                              : QString("explain:%1").arg(c.classIndex));
  QTest::newRow("CLIP similar:1,2") << "timm_clip_similar"
                                    << "explain";
}

void TestExportExplain::dataExplainEqualsTheReference() {
  QFETCH(QString, name);
  QFETCH(QString, data);
  const auto r = test::explainCase(name.toStdString());
  QVERIFY(!r.empty());
  const QString out = m_dir.filePath(name + "-data.npz");
  QStringList args =
      QStringList{"export"} + test::explainInputArgs(r) + QStringList{"--data", data, "-o", out};
  if (!r[6].empty()) args << "--target" << QString::fromStdString(r[6]);
  const CliResult result = runCli(args);
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  // Read back with NpzArchive: the int64 `class` member included (issue 22's reader fix).
  const NpzArchive got(out.toStdString());
  const NpzArchive expected(test::explainFixture(r[3]).toStdString());
  int compared = 0;
  for (const TensorInfo& t : expected.tensors()) {
    if (t.name == "probabilities") continue;  // predict's, not explain's
    QVERIFY2(got.find(t.name), t.name.c_str());
    const double err = test::relativeError(got.read(t.name), expected.read(t.name));
    QVERIFY2(err <= 1e-4, qPrintable(QString("%1: %2").arg(t.name.c_str()).arg(err)));
    ++compared;
  }
  QVERIFY(compared >= 7);
  if (r[6].empty()) {
    QCOMPARE(got.readData("class").data, std::vector<float>{std::stof(r[7])});
  } else {
    QVERIFY(!got.find("class"));
  }
}

void TestExportExplain::mapFiguresNameTheClassAndShowItsValues_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("kind");  // gradcam / relevance
  QTest::addColumn<int>("classIndex");
  for (const ClassCase& c : kClassCases) {
    for (const char* kind : {"gradcam", "relevance"})
      QTest::addRow("%s %s", c.row, kind) << c.name << kind << c.classIndex;
  }
}

void TestExportExplain::mapFiguresNameTheClassAndShowItsValues() {
  QFETCH(QString, name);
  QFETCH(QString, kind);
  QFETCH(int, classIndex);
  const auto r = test::explainCase(name.toStdString());
  QVERIFY(!r.empty());
  const QString out = m_dir.filePath(name + "-" + kind + ".svg");
  const QString plot = classIndex < 0 ? kind : QString("%1:%2").arg(kind).arg(classIndex);
  const CliResult result = runCli(QStringList{"export"} + test::explainInputArgs(r) +
                                  QStringList{"--plot", plot, "-o", out});
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  const QString svg = readText(out);
  QVERIFY(svg.contains("<svg"));
  // The title names the class (the expected one: cases.tsv) and the layer (2 blocks).
  const int expectedClass = std::stoi(r[7]);
  const QString title = kind == "gradcam" ? QString("Grad-CAM · class %1").arg(expectedClass)
                                          : QString("Relevance · class %1").arg(expectedClass);
  // stdout repeats the title the figure paints.
  QVERIFY2(result.out.contains(title), qPrintable(result.out));
  QVERIFY2(result.out.contains(kind == "gradcam" ? "· Block 2)" : "· Blocks 1–2)"),
           qPrintable(result.out));
  // The subtitle's largest value, its patch and the sum are the reference map's.
  const NpyArray ref =
      NpzArchive(test::explainFixture(r[3]).toStdString()).read(kind.toStdString());
  QCOMPARE(ref.shape.size(), std::size_t{2});
  const auto top = std::max_element(ref.data.begin(), ref.data.end());
  const auto at = static_cast<int>(top - ref.data.begin());
  double sum = 0;
  for (float v : ref.data) sum += v;
  const double largest = numberAfter(svg, "largest ");
  QVERIFY2(std::abs(largest - *top) <= 5e-3 * std::abs(*top) + 1e-12,
           qPrintable(QString("%1 vs %2").arg(largest).arg(*top)));
  const auto cols = static_cast<int>(ref.shape[1]);
  QVERIFY2(svg.contains(QString("at patch (%1, %2)").arg(at / cols).arg(at % cols)),
           qPrintable(svg.mid(svg.indexOf("largest "), 60)));
  QVERIFY(std::abs(numberAfter(svg, "sum over patches ") - sum) <= 1e-3 + 1e-4 * std::abs(sum));
}

void TestExportExplain::predictionFigureIsValidInEveryFormat_data() {
  QTest::addColumn<QString>("suffix");
  QTest::newRow("png") << "png";
  QTest::newRow("svg") << "svg";
  QTest::newRow("pdf") << "pdf";
}

void TestExportExplain::predictionFigureIsValidInEveryFormat() {
  QFETCH(QString, suffix);
  const auto r = test::explainCase("timm_token_in1k");
  const QString out = m_dir.filePath("prediction." + suffix);
  const CliResult result = runCli(QStringList{"export"} + test::explainInputArgs(r) +
                                  QStringList{"--plot", "prediction:3", "-o", out});
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  QVERIFY2(result.out.contains("Prediction: class " + QString::fromStdString(r[7])),
           qPrintable(result.out));
  QFile f(out);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray bytes = f.readAll();
  if (suffix == "png") {
    QVERIFY(bytes.startsWith("\x89PNG\r\n\x1a\n"));
    QImage image;
    QVERIFY(image.loadFromData(bytes, "PNG"));
    QVERIFY(image.width() > 400 && image.height() > 100);
  } else if (suffix == "svg") {
    QVERIFY(bytes.contains("<svg"));
    QVERIFY(bytes.contains(QString("Prediction: class %1").arg(r[7].c_str()).toUtf8()));
    QVERIFY(bytes.contains("top 3 of 1000 classes"));
  } else {
    QVERIFY(bytes.startsWith("%PDF-"));
    QVERIFY(bytes.trimmed().endsWith("%%EOF"));
  }
}

void TestExportExplain::refusals_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QStringList>("extra");
  QTest::addColumn<int>("exitCode");
  QTest::addColumn<QString>("message");
  QTest::newRow("no head: gradcam")
      << "timm_clip_similar" << QStringList{"--plot", "gradcam", "-o", "x.png"} << 1
      << "no classifier head";
  QTest::newRow("no head: prediction")
      << "timm_clip_similar" << QStringList{"--plot", "prediction", "-o", "x.png"} << 1
      << "no classifier head";
  QTest::newRow("class out of range")
      << "torchvision_head" << QStringList{"--plot", "relevance:99", "-o", "x.png"} << 2
      << "classes (0..";
  QTest::newRow("--tensor with a patch plot")
      << "torchvision_head" << QStringList{"--plot", "pca", "-o", "x.png"} << 2 << "--tensor";
  QTest::newRow("bad explain class")
      << "torchvision_head" << QStringList{"--data", "explain:x", "-o", "x.npz"} << 2
      << "explain:K";
}

void TestExportExplain::refusals() {
  QFETCH(QString, name);
  QFETCH(QStringList, extra);
  QFETCH(int, exitCode);
  QFETCH(QString, message);
  const auto r = test::explainCase(name.toStdString());
  extra.replace(extra.size() - 1, m_dir.filePath(extra.last()));
  const CliResult result = runCli(QStringList{"export"} + test::explainInputArgs(r) + extra);
  QCOMPARE(result.exitCode, exitCode);
  QVERIFY2(result.err.contains(message), qPrintable(result.err));
  QCOMPARE(result.err.count('\n'), 1);
  QVERIFY(!QFile::exists(extra.last()));
}

QTEST_GUILESS_MAIN(TestExportExplain)
#include "tst_export_explain.moc"
