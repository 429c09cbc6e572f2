#include <QtTest>

#include "tests/common/cli_process.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

QString fixture(const QString& relative) {
  return QString::fromStdString(test::dataPath("eva/" + relative.toStdString()));
}

}  // namespace

// patchlens-cli forward --attention and info on timm eva.py checkpoints (tests/data/eva, from
// timm's own Eva): EVA-02 CLIP and Naver RoPE-Mixed with absolute positions, at the native grid
// and a non-square one; a file with a tensor eva.py does not have exits 1, naming it.
class TestForwardEva : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void forwardWithAttentionMatches_data();
  void forwardWithAttentionMatches();
  void infoNamesFamilyAndUnused();
  void foreignTensorExitsOne();

 private:
  QTemporaryDir m_dir;
};

void TestForwardEva::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("grid");
  for (const char* model : {"eva02_base_clip", "naver_rope_mixed_ape"}) {
    QTest::newRow((std::string(model) + " native 4x4").c_str()) << model << "4x4";
    QTest::newRow((std::string(model) + " non-square 3x5").c_str()) << model << "3x5";
  }
}

void TestForwardEva::forwardWithAttentionMatches() {
  QFETCH(QString, model);
  QFETCH(QString, grid);
  const QString target = m_dir.filePath(model + "_" + grid + ".npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture(model + "/input_" + grid + ".npy"), "--weights",
                    fixture(model + "/model.pth"), "-o", target, "--attention"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  test::compareNpzWithReference(target.toStdString(),
                                fixture(model + "/expected_" + grid + ".npz").toStdString());
}

void TestForwardEva::infoNamesFamilyAndUnused() {
  const test::CliResult r = test::runCli({"info", fixture("eva02_tiny/model.pth")});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("timm EVA-02 (RoPE + absolute positions, SwiGLU)"), qPrintable(r.out));
  QVERIFY2(r.out.contains("fc_norm.weight"), qPrintable(r.out));  // known unused, with reason
}

void TestForwardEva::foreignTensorExitsOne() {
  const QString target = m_dir.filePath("refused.npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture("naver_rope_axial/input_4x4.npy"), "--weights",
                    fixture("bad/naver_rope_axial/model.pth"), "-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("tensor 'rope.freqs' is not part of the timm eva.py layout"),
           qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
}

QTEST_GUILESS_MAIN(TestForwardEva)
#include "tst_forward_eva.moc"
