#include <QtTest>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/error.h"
#include "core/model/resource_plan.h"
#include "core/weights/config_values.h"
#include "core/weights/weight_loader.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string corpusPath(const std::string& file) {
  return test::dataPath("bad/weights/" + file);
}

}  // namespace

// The malformed-weight corpus (tests/data/bad/weights, listed with the refusal each file must
// get in expected.tsv): every file is refused with an Error naming the file and that reason.
class TestBadWeights : public QObject {
  Q_OBJECT

 private slots:
  void corpusIsCompleteAndLarge();
  void refusedWithItsReason_data();
  void refusedWithItsReason();
  void inspectRefusesOrExplains_data();
  void inspectRefusesOrExplains();
  void validatorRules_data();
  void validatorRules();
  void jsonIntegersAreExact();
  void forwardPlanCountsTokensAndAttention();
};

void TestBadWeights::corpusIsCompleteAndLarge() {
  const auto rows = test::readTsv(corpusPath("expected.tsv"));
  QVERIFY2(rows.size() >= 25,
           "expected.tsv is missing or small; run tests/reference/make_reference.py");
  std::set<std::string> listed;
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{2});
    QVERIFY2(listed.insert(r[0]).second, r[0].c_str());
  }
  for (const auto& entry : std::filesystem::directory_iterator(test::dataPath("bad/weights"))) {
    const std::string name = entry.path().filename().string();
    if (name == "expected.tsv") continue;
    QVERIFY2(listed.count(name), ("not in expected.tsv: " + name).c_str());
  }
}

void TestBadWeights::refusedWithItsReason_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  for (const auto& r : test::readTsv(corpusPath("expected.tsv"))) {
    if (r.size() != 2) continue;
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
  }
}

void TestBadWeights::refusedWithItsReason() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = corpusPath(file.toStdString());
  try {
    const PatchWeights w = loadPatchWeights(path);
    QFAIL(qPrintable("accepted: D = " + QString::number(w.embedDim)));
  } catch (const Error& e) {
    QCOMPARE(e.file(), path);
    // what() is what users read: control characters from the file are escaped there.
    QVERIFY2(std::string(e.what()).find(reason.toStdString()) != std::string::npos, e.what());
    QVERIFY(std::string(e.what()).rfind(path + ": ", 0) == 0);
  }
}

void TestBadWeights::inspectRefusesOrExplains_data() {
  refusedWithItsReason_data();
}

// `info` either refuses a broken container with the same reason or lists the tensors and says
// why none can be used.
void TestBadWeights::inspectRefusesOrExplains() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = corpusPath(file.toStdString());
  try {
    const WeightFileInfo info = inspectWeightFile(path);
    QVERIFY(!info.usable);
    const std::string usage = printable(info.usage);  // as `info` prints it
    QVERIFY2(usage.find(reason.toStdString()) != std::string::npos, usage.c_str());
  } catch (const Error& e) {
    QCOMPARE(e.file(), path);
    // what() is what users read: control characters from the file are escaped there.
    QVERIFY2(std::string(e.what()).find(reason.toStdString()) != std::string::npos, e.what());
  }
}

// The one validator every source of a model setting goes through (config_values.h): the
// value back when it is valid, else the reason, by hand from the stated ranges.
void TestBadWeights::validatorRules_data() {
  QTest::addColumn<QString>("rule");
  QTest::addColumn<double>("value");
  QTest::addColumn<QString>("reason");  // empty: accepted
  const double nan = std::numeric_limits<double>::quiet_NaN();
  QTest::newRow("heads 12") << "heads" << 12.0 << "";
  QTest::newRow("heads 4.5") << "heads" << 4.5 << "h 4.5 is not an integer";
  QTest::newRow("heads 4294967300")
      << "heads" << 4294967300.0 << "h 4294967300 is not from 1 to 4096";
  QTest::newRow("heads 0") << "heads" << 0.0 << "h 0 is not from 1 to 4096";
  QTest::newRow("heads nan") << "heads" << nan << "h nan is not an integer";
  QTest::newRow("side 16384") << "side" << 16384.0 << "";
  QTest::newRow("side 16385") << "side" << 16385.0 << "h 16385 is not from 1 to 16384";
  QTest::newRow("crop 0.875") << "crop" << 0.875 << "";
  QTest::newRow("crop 1") << "crop" << 1.0 << "";
  QTest::newRow("crop 1e-300") << "crop" << 1e-300 << "h 1e-300 is not in [0.05, 1]";
  QTest::newRow("crop 1.5") << "crop" << 1.5 << "h 1.5 is not in [0.05, 1]";
  QTest::newRow("eps 1e-12") << "eps" << 1e-12 << "";
  QTest::newRow("eps -1e-3") << "eps" << -1e-3 << "h -0.001 is not positive";
  QTest::newRow("eps 0") << "eps" << 0.0 << "h 0 is not positive";
  QTest::newRow("eps 1e-60") << "eps" << 1e-60 << "h 1e-60 is not in";
  QTest::newRow("eps inf") << "eps" << std::numeric_limits<double>::infinity()
                           << "h inf is not a finite number";
  QTest::newRow("std 0.229") << "std" << 0.229 << "";
  QTest::newRow("std subnormal") << "std" << 1e-40 << "h 1e-40 is not in [1e-06, 1000000]";
  QTest::newRow("std -1") << "std" << -1.0 << "h -1 is not positive";
  QTest::newRow("mean nan") << "mean" << nan << "h nan is not a finite number";
  QTest::newRow("mean 0.485") << "mean" << 0.485 << "";
}

void TestBadWeights::validatorRules() {
  QFETCH(QString, rule);
  QFETCH(double, value);
  QFETCH(QString, reason);
  std::string got;
  try {
    if (rule == "heads") QCOMPARE(headCount(value, "h"), static_cast<int>(value));
    if (rule == "side") QCOMPARE(imageSide(value, "h"), static_cast<int>(value));
    if (rule == "crop") QCOMPARE(cropPct(value, "h"), value);
    if (rule == "eps") QCOMPARE(layerNormEps(value, "h"), static_cast<float>(value));
    if (rule == "std") QCOMPARE(normStd(value, "h"), static_cast<float>(value));
    if (rule == "mean") QCOMPARE(normMean(value, "h"), static_cast<float>(value));
  } catch (const ConfigValueError& e) {
    got = e.what();
  }
  if (reason.isEmpty()) {
    QVERIFY2(got.empty(), got.c_str());
  } else {
    QVERIFY2(got.rfind(reason.toStdString(), 0) == 0, got.c_str());
  }
  // Activations: the names the encoder runs, anything else by name.
  QCOMPARE(checkedActivation("gelu_pytorch_tanh", "a"), std::string("gelu_pytorch_tanh"));
  QVERIFY_THROWS_EXCEPTION(ConfigValueError, checkedActivation("relu", "hidden_act"));
}

// JSON integers are compared as integers: 2^63 + 1 or 2^64 - 1 never round into range; a
// JSON float 12.0 is the integer 12 (Python's json writes 12.0 for a float field).
void TestBadWeights::jsonIntegersAreExact() {
  QCOMPARE(exactInteger(nlohmann::json(12), 1, 4096, "h"), std::int64_t{12});
  QCOMPARE(exactInteger(nlohmann::json(12.0), 1, 4096, "h"), std::int64_t{12});
  QVERIFY_THROWS_EXCEPTION(
      ConfigValueError,
      exactInteger(nlohmann::json(std::uint64_t{18446744073709551615u}), 1, 4096, "h"));
  QVERIFY_THROWS_EXCEPTION(ConfigValueError, exactInteger(nlohmann::json("12"), 1, 4096, "h"));
  QVERIFY_THROWS_EXCEPTION(ConfigValueError, exactInteger(nlohmann::json(true), 1, 4096, "h"));
}

// The plan of a ViT-B/16 forward at 224 by hand: T = 197, attention 12 heads x 197^2 floats,
// weights 86 M floats give ~330 MiB; at 4096 x 4096, T = 65,537 and the attention alone is
// 12 x 65537^2 x 4 B = 192 GiB: refused, naming the option.
void TestBadWeights::forwardPlanCountsTokensAndAttention() {
  TransformerConfig c;
  c.embedDim = 768;
  c.depth = 12;
  c.numHeads = 12;
  c.mlpDim = 3072;
  c.classToken = true;
  c.positionPrefixRows = 1;
  c.nativeGridRows = c.nativeGridCols = 14;
  c.patchSize = 16;
  c.inChannels = 3;
  const ResourcePlan small = forwardPlan(c, 14, 14, false, false);
  QCOMPARE(small.tokens, std::int64_t{197});
  QCOMPARE(small.attentionBytes, 12.0 * 197 * 197 * 4);
  QVERIFY(small.weightBytes > 85e6 * 4 && small.weightBytes < 88e6 * 4);
  QCOMPARE(small.outputBytes, (13.0 + 1.0) * 197 * 768 * 4 + 196.0 * 768 * 4);
  checkResourcePlan(small, {}, "vit.pth");  // fits the defaults
  const ResourcePlan large = forwardPlan(c, 256, 256, false, false);
  QCOMPARE(large.tokens, std::int64_t{65537});
  QCOMPARE(large.attentionBytes, 12.0 * 65537 * 65537 * 4);
  try {
    checkResourcePlan(large, {0, std::uint64_t{1} << 40}, "vit.pth");
    QFAIL("a 192 GiB attention was not refused");
  } catch (const Error& e) {
    const std::string why = e.reason();
    QVERIFY2(why.find("65537 tokens, attention") != std::string::npos, why.c_str());
    QVERIFY2(why.find("--max-memory-mb N raises it") != std::string::npos, why.c_str());
  }
  // The output limit is checked too, and named.
  const ResourcePlan kept = forwardPlan(c, 64, 64, true, false);
  try {
    checkResourcePlan(kept, {std::uint64_t{1} << 40, std::uint64_t{256} << 20}, "vit.pth");
    QFAIL("the kept attention was not refused");
  } catch (const Error& e) {
    QVERIFY2(e.reason().find("--max-output-mb N raises it") != std::string::npos, e.what());
  }
}

QTEST_GUILESS_MAIN(TestBadWeights)
#include "tst_bad_weights.moc"
