#include <QtTest>
#include <filesystem>
#include <set>

#include "core/io/error.h"
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

QTEST_GUILESS_MAIN(TestBadWeights)
#include "tst_bad_weights.moc"
