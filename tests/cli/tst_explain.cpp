#include <QtTest>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "core/io/file_bytes.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/zip_members.h"
#include "tests/common/cli_process.h"
#include "tests/common/explain_cases.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

using test::CliResult;
using test::runCli;

using test::relativeError;

QString fixture(const std::string& relative) {
  return test::explainFixture(relative);
}
// A row of explain/cases.tsv, else of explain/families/cases.tsv
// (tests/reference/explain_families_fixtures.py: eva.py, BEiT, Meta DINOv3).
std::vector<std::string> caseRow(const std::string& name) {
  if (auto r = test::explainCase(name); !r.empty()) return r;
  for (auto r : test::readTsv(test::dataPath("explain/families/cases.tsv"))) {
    r.resize(8);
    if (r[0] == name) return r;
  }
  return {};
}
QStringList commonArgs(const std::vector<std::string>& r) {
  return test::explainInputArgs(r);
}

// Every member of an .npz: float arrays parsed, int64 ones kept as (shape, values).
struct NpzContents {
  std::map<std::string, NpyArray> floats;
  std::map<std::string, std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>>> ints;
};

NpzContents readAll(const QString& path) {
  const std::vector<std::uint8_t> bytes = readFileBytes(path.toStdString(), std::uint64_t{1} << 30);
  const ZipMembers zip(bytes, path.toStdString());
  NpzContents out;
  for (const ZipMembers::Member& m : zip.members()) {
    const std::string key = m.name.substr(0, m.name.size() - 4);
    const std::vector<std::uint8_t> data = zip.read(m);
    const std::string text(data.begin(), data.end());
    if (text.find("'descr': '<i8'") != std::string::npos) {
      const std::size_t headerLength = data[8] | (data[9] << 8);
      const std::size_t offset = 10 + headerLength;
      std::vector<std::int64_t> values((data.size() - offset) / 8);
      std::memcpy(values.data(), data.data() + offset, values.size() * 8);
      const std::size_t open = text.find("'shape': (");
      const std::string shape = text.substr(open + 10, text.find(')', open) - open - 10);
      std::vector<std::int64_t> dims;
      for (const QString& d : QString::fromStdString(shape).split(',', Qt::SkipEmptyParts))
        dims.push_back(d.trimmed().toLongLong());
      out.ints[key] = {dims, values};
    } else {
      out.floats.emplace(key, parseNpy(data, key));
    }
  }
  return out;
}

// Exactly the contract's arrays (logits with a head, target, every grad_tokens_L and
// grad_attention_L, gradcam, relevance; class as the only int64 for a class target), each
// within 1e-4 x max|ref| of the torch autograd reference.
void checkContract(const NpzContents& got, const NpzArchive& expected, bool classTarget) {
  int depth = 0;
  while (expected.find("grad_tokens_" + std::to_string(depth + 1))) ++depth;
  QVERIFY(depth >= 2);
  // Exactly the contract's arrays.
  std::vector<std::string> names{"target", "gradcam", "relevance"};
  for (int l = 0; l <= depth; ++l) names.push_back("grad_tokens_" + std::to_string(l));
  for (int l = 1; l <= depth; ++l) names.push_back("grad_attention_" + std::to_string(l));
  const bool hasHead = expected.find("logits") != nullptr;
  if (hasHead) names.push_back("logits");
  QCOMPARE(got.floats.size(), names.size());
  QCOMPARE(got.ints.size(), std::size_t{classTarget ? 1u : 0u});
  for (const std::string& n : names) {
    QVERIFY2(got.floats.count(n), n.c_str());
    const double err = relativeError(got.floats.at(n), expected.read(n));
    QVERIFY2(err < 1e-4, qPrintable(QString("%1: %2").arg(n.c_str()).arg(err)));
  }
}

}  // namespace

// patchlens-cli predict and explain end to end against the torch autograd fixtures of
// tests/reference/explain_fixtures.py: the contract's arrays, names, shapes, dtypes and values,
// the top-K lines, labels, and the refusals.
class TestExplain : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void explainWritesTheContract_data();
  void explainWritesTheContract();
  void predictPrintsTopK_data();
  void predictPrintsTopK();
  void labelsFileNamesTheClasses();
  void noHeadIsRefused();
  void dinov3HasNoHead();
  void evaWithoutGlobalPoolRefused();
  void similarToEqualsAutograd();
  void similarToRefusals_data();
  void similarToRefusals();
  void badRequests_data();
  void badRequests();

 private:
  QTemporaryDir m_dir;
};

void TestExplain::explainWritesTheContract_data() {
  QTest::addColumn<QString>("name");
  const auto rows = test::readTsv(test::dataPath("explain/cases.tsv"));
  QVERIFY2(rows.size() >= 10, "cases.tsv is missing; run tests/reference/make_reference.py");
  for (const auto& r : rows) QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]);
  const auto families = test::readTsv(test::dataPath("explain/families/cases.tsv"));
  QVERIFY2(families.size() >= 8, "explain/families/cases.tsv is missing");
  for (const auto& r : families) QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]);
}

void TestExplain::explainWritesTheContract() {
  QFETCH(QString, name);
  const auto r = caseRow(name.toStdString());
  QVERIFY(!r.empty());
  const QString out = m_dir.filePath(name + ".npz");
  QStringList args = QStringList{"explain"} + commonArgs(r) + QStringList{"-o", out};
  if (!r[5].empty()) args << "--class" << QString::fromStdString(r[5]);
  if (!r[6].empty()) args << "--target" << QString::fromStdString(r[6]);
  const CliResult result = runCli(args);
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  QVERIFY2(result.out.startsWith("wrote " + out), qPrintable(result.out));

  const NpzContents got = readAll(out);
  const NpzArchive expected(fixture(r[3]).toStdString());
  const bool classTarget = r[6].empty();
  checkContract(got, expected, classTarget);
  if (QTest::currentTestFailed()) return;
  QCOMPARE(got.floats.at("target").shape, std::vector<std::int64_t>{});
  if (classTarget) {
    const auto& k = got.ints.at("class");
    QCOMPARE(k.first, std::vector<std::int64_t>{});
    QCOMPARE(k.second, std::vector<std::int64_t>{std::stoll(r[7])});
    // target = logits[K] exactly.
    QCOMPARE(got.floats.at("target").data.at(0),
             got.floats.at("logits").data.at(static_cast<std::size_t>(k.second.at(0))));
  }
}

void TestExplain::predictPrintsTopK_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<int>("top");
  QTest::newRow("torchvision top 3") << "torchvision_head" << 3;
  QTest::newRow("timm ImageNet top 5") << "timm_token_in1k" << 5;
  QTest::newRow("HF id2label, all 4") << "hf_vit_classifier" << 4;
  QTest::newRow("Dinov2 registers") << "hf_dinov2_reg2_classifier" << 2;
  QTest::newRow("distilled") << "timm_deit_distilled" << 5;
  QTest::newRow("avg + fc_norm") << "timm_avg_fc_norm" << 1;
  QTest::newRow("pre_logits") << "torchvision_pre_logits" << 7;
  QTest::newRow("EVA-02 token") << "eva02_clip_rope_swiglu_subln" << 5;
  QTest::newRow("EVA-02 avg + fc_norm") << "eva02_tiny_packed_swiglu" << 3;
  QTest::newRow("RoPE ViT, register, no cls") << "sbb_rope_reg1_gap" << 2;
  QTest::newRow("RoPE-Mixed") << "naver_rope_mixed_ape" << 5;
  QTest::newRow("BEiT avg + fc_norm") << "beit_rel_bias_gamma" << 6;
}

void TestExplain::predictPrintsTopK() {
  QFETCH(QString, name);
  QFETCH(int, top);
  const auto r = caseRow(name.toStdString());
  QVERIFY(!r.empty());
  const QString out = m_dir.filePath("predict-" + name + ".npz");
  const QStringList args = QStringList{"predict"} + commonArgs(r) +
                           QStringList{"--top", QString::number(top), "-o", out};
  const CliResult result = runCli(args);
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  const NpzArchive expected(fixture(r[3]).toStdString());
  const NpyArray logits = expected.read("logits");
  const NpyArray probabilities = expected.read("probabilities");
  std::vector<int> order(logits.data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return logits.data[a] > logits.data[b]; });
  const QStringList lines = result.out.split('\n', Qt::SkipEmptyParts);
  QCOMPARE(lines.size(), top);
  for (int i = 0; i < top; ++i) {
    const QStringList f = lines[i].split('\t');
    QCOMPARE(f.size(), 4);
    QCOMPARE(f[0].toInt(), i + 1);
    QCOMPARE(f[1].toInt(), order[static_cast<std::size_t>(i)]);
    QVERIFY(std::abs(f[3].toDouble() - probabilities.data[order[i]]) < 1e-4);
  }
  if (name == "timm_token_in1k") QCOMPARE(lines[0].split('\t')[2].isEmpty(), false);
  if (name == "hf_vit_classifier")
    QCOMPARE(lines[0].split('\t')[2], QString("label %1").arg(QChar('A' + order[0])));
  if (name == "torchvision_head")
    QCOMPARE(lines[0].split('\t')[2], QString("class %1").arg(order[0]));
  const NpzContents got = readAll(out);
  QCOMPARE(got.floats.size(), std::size_t{2});
  QVERIFY(relativeError(got.floats.at("logits"), logits) < 1e-4);
  QVERIFY(relativeError(got.floats.at("probabilities"), probabilities) < 1e-4);
}

void TestExplain::labelsFileNamesTheClasses() {
  const auto r = caseRow("timm_deit_distilled");
  const QString labels = m_dir.filePath("labels.txt");
  QFile f(labels);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write("zero\none\ntwo\nthree\nfour\n");
  f.close();
  CliResult result = runCli(QStringList{"predict"} + commonArgs(r) +
                            QStringList{"--top", "5", "--labels", labels});
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  const QStringList names{"zero", "one", "two", "three", "four"};
  for (const QString& line : result.out.split('\n', Qt::SkipEmptyParts)) {
    const QStringList fields = line.split('\t');
    QCOMPARE(fields[2], names[fields[1].toInt()]);
  }
  // A file with another count is refused by name.
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write("a\nb\n");
  f.close();
  result = runCli(QStringList{"predict"} + commonArgs(r) + QStringList{"--labels", labels});
  QCOMPARE(result.exitCode, 1);
  QVERIFY2(result.err.startsWith("patchlens-cli: error: " + labels), qPrintable(result.err));
}

void TestExplain::noHeadIsRefused() {
  const auto r = caseRow("timm_clip_similar");
  CliResult result = runCli(QStringList{"predict"} + commonArgs(r));
  QCOMPARE(result.exitCode, 1);
  QCOMPARE(result.out, QString());
  QCOMPARE(result.err.count("patchlens-cli: error: "), 1);
  QVERIFY2(result.err.contains("no classifier head"), qPrintable(result.err));
  const QString out = m_dir.filePath("nohead.npz");
  result = runCli(QStringList{"explain"} + commonArgs(r) + QStringList{"-o", out});
  QCOMPARE(result.exitCode, 1);
  QVERIFY2(result.err.contains("--target similar:"), qPrintable(result.err));
  QVERIFY(!QFile::exists(out));
}

// Meta's DINOv3 layout has no classifier head: predict says so in one line and exits 1;
// explain without a target offers similar:R,C (which the families cases run).
void TestExplain::dinov3HasNoHead() {
  const auto r = caseRow("meta_dinov3_similar");
  QVERIFY(!r.empty());
  CliResult result = runCli(QStringList{"predict"} + commonArgs(r));
  QCOMPARE(result.exitCode, 1);
  QCOMPARE(result.out, QString());
  QCOMPARE(result.err.count('\n'), 1);
  QVERIFY2(result.err.contains("no classifier head") && result.err.contains("DINOv3"),
           qPrintable(result.err));
  const QString out = m_dir.filePath("dinov3.npz");
  result = runCli(QStringList{"explain"} + commonArgs(r) + QStringList{"-o", out});
  QCOMPARE(result.exitCode, 1);
  QVERIFY2(result.err.contains("--target similar:"), qPrintable(result.err));
  QVERIFY(!QFile::exists(out));
}

// eva.py's default pooling differs per architecture and is not tied to fc_norm (PE spatial/lang
// pool the average without one): a config.json without global_pool is refused, never guessed.
void TestExplain::evaWithoutGlobalPoolRefused() {
  const QString folder =
      QString::fromStdString(test::dataPath("explain/families/eva02_tiny_packed_swiglu"));
  const QString copy = m_dir.filePath("eva_no_pool");
  QVERIFY(QDir().mkpath(copy));
  QVERIFY(QFile::copy(folder + "/model.pth", copy + "/model.pth"));
  QFile in(folder + "/config.json");
  QVERIFY(in.open(QIODevice::ReadOnly));
  QJsonObject config = QJsonDocument::fromJson(in.readAll()).object();
  QVERIFY(config.contains("global_pool"));
  config.remove("global_pool");
  QFile out(copy + "/config.json");
  QVERIFY(out.open(QIODevice::WriteOnly));
  out.write(QJsonDocument(config).toJson());
  out.close();
  const CliResult result =
      runCli({"predict", "--tensor", folder + "/input.npy", "--weights", copy + "/model.pth"});
  QCOMPARE(result.exitCode, 1);
  QCOMPARE(result.out, QString());
  QCOMPARE(result.err.count("error:"), 1);  // one error line (after the preprocessing note)
  QVERIFY2(result.err.contains("no global_pool"), qPrintable(result.err));
}

// --target similar-to B: cos(pooled A, pooled B) with B a constant, against torch autograd
// (and torchvision's own module) in tests/data/explain/torchvision_similar_to.
void TestExplain::similarToEqualsAutograd() {
  const QString out = m_dir.filePath("similar-to.npz");
  const CliResult result =
      runCli({"explain", "--tensor", fixture("torchvision_similar_to/input.npy"), "--weights",
              fixture("torchvision_similar_to/model.safetensors"), "--heads", "4", "--target",
              "similar-to", fixture("torchvision_similar_to/input_b.npy"), "-o", out});
  QVERIFY2(result.exitCode == 0, qPrintable(result.err));
  QVERIFY2(result.out.contains("pooled final embedding (class token) to " +
                               fixture("torchvision_similar_to/input_b.npy")),
           qPrintable(result.out));
  const NpzArchive expected(fixture("torchvision_similar_to/expected.npz").toStdString());
  checkContract(readAll(out), expected, false);
}

void TestExplain::similarToRefusals_data() {
  QTest::addColumn<QStringList>("extra");
  QTest::addColumn<int>("exitCode");
  QTest::addColumn<QString>("message");
  QTest::newRow("no image") << QStringList{"--target", "similar-to"} << 2 << "needs an IMAGE";
  QTest::newRow("with a class") << QStringList{"--class", "1", "--target", "similar-to",
                                               fixture("torchvision_similar_to/input_b.npy")}
                                << 2 << "either --class";
  QTest::newRow("missing B") << QStringList{"--target", "similar-to", m_dir.filePath("none.npy")}
                             << 1 << "none.npy";
}

void TestExplain::similarToRefusals() {
  QFETCH(QStringList, extra);
  QFETCH(int, exitCode);
  QFETCH(QString, message);
  const QString out = m_dir.filePath("similar-to-bad.npz");
  const CliResult result = runCli(
      QStringList{"explain", "--tensor", fixture("torchvision_similar_to/input.npy"), "--weights",
                  fixture("torchvision_similar_to/model.safetensors"), "--heads", "4"} +
      extra + QStringList{"-o", out});
  QCOMPARE(result.exitCode, exitCode);
  QCOMPARE(result.err.count('\n'), 1);
  QVERIFY2(result.err.contains(message), qPrintable(result.err));
  QVERIFY(!QFile::exists(out));
}

void TestExplain::badRequests_data() {
  QTest::addColumn<QStringList>("extra");
  QTest::addColumn<int>("exitCode");
  QTest::newRow("class past the head") << QStringList{"--class", "10"} << 2;
  QTest::newRow("target outside the grid") << QStringList{"--target", "similar:4,0"} << 2;
  QTest::newRow("bad target") << QStringList{"--target", "patch:1,1"} << 2;
  QTest::newRow("class and target") << QStringList{"--class", "1", "--target", "similar:0,0"} << 2;
}

void TestExplain::badRequests() {
  QFETCH(QStringList, extra);
  QFETCH(int, exitCode);
  const auto r = caseRow("torchvision_head");
  const QString out = m_dir.filePath("bad.npz");
  const CliResult result =
      runCli(QStringList{"explain"} + commonArgs(r) + extra + QStringList{"-o", out});
  QCOMPARE(result.exitCode, exitCode);
  QCOMPARE(result.err.count('\n'), 1);
  QVERIFY(!QFile::exists(out));
}

QTEST_GUILESS_MAIN(TestExplain)
#include "tst_explain.moc"
