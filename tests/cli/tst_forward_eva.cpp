#include <QtTest>

#include "tests/common/cli_process.h"
#include "tests/common/reference_compare.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

QString fixture(const QString& relative) {
  return QString::fromStdString(test::dataPath("eva/" + relative.toStdString()));
}

}  // namespace

// patchlens-cli forward --attention and info on timm eva.py checkpoints (tests/data/eva, from
// timm's own Eva): EVA-02 CLIP, Naver RoPE-Mixed with absolute positions and EVA-02 enormous's
// post-norm blocks, at the native grid
// and a non-square one; predict against eva.py's own logits; a file with a tensor eva.py does not
// have exits 1, naming it.
class TestForwardEva : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void forwardWithAttentionMatches_data();
  void forwardWithAttentionMatches();
  void predictMatchesTimmHead_data();
  void predictMatchesTimmHead();
  void predictRefusesMapHeadByName();
  void infoNamesFamilyAndUnused();
  void foreignTensorExitsOne();

 private:
  QTemporaryDir m_dir;
};

void TestForwardEva::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("grid");
  for (const char* model : {"eva02_base_clip", "naver_rope_mixed_ape", "eva02_enormous"}) {
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

void TestForwardEva::predictMatchesTimmHead_data() {
  QTest::addColumn<QString>("model");
  for (const char* model :
       {"eva02_tiny", "eva02_base_clip", "eva_giant", "sbb_rope_reg1", "naver_rope_axial",
        "naver_rope_mixed_ape", "pe_spatial_tiny", "pe_lang_gigantic", "eva02_enormous"})
    QTest::newRow(model) << model;
}

// The logits of eva.py's own forward (head on fc_norm(avg) or norm(x)[:, 0]) on the 3x5 input.
void TestForwardEva::predictMatchesTimmHead() {
  QFETCH(QString, model);
  const QString target = m_dir.filePath(model + "_logits.npz");
  const test::CliResult r =
      test::runCli({"predict", "--tensor", fixture(model + "/input_3x5.npy"), "--weights",
                    fixture(model + "/model.pth"), "--top", "3", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const NpyArray got = NpzArchive(target.toStdString()).read("logits");
  const NpyArray want = readNpy(fixture(model + "/logits_3x5.npy").toStdString());
  QCOMPARE(got.shape, want.shape);
  const double err = test::relativeError(got, want);
  QVERIFY2(err <= 1e-4, qPrintable(QString("logits: %1 x max|ref|").arg(err)));
}

void TestForwardEva::predictRefusesMapHeadByName() {
  const test::CliResult r =
      test::runCli({"predict", "--tensor", fixture("pe_core_tiny/input_4x4.npy"), "--weights",
                    fixture("pe_core_tiny/model.pth")});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("attn_pool"), qPrintable(r.err));
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
