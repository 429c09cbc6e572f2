#include <QtTest>
#include <cmath>

#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/cli_process.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

QString fixture(const QString& relative) {
  return QString::fromStdString(test::dataPath("dinov3/" + relative.toStdString()));
}

}  // namespace

// patchlens-cli forward --attention and info on a Meta DINOv3 .pth (tests/data/dinov3, from
// facebookresearch/dinov3's own code): every array against the reference, at the native grid
// and a non-square one; a file with a tensor the reader does not know exits 1, naming it.
class TestForwardDinov3 : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void forwardWithAttentionMatches_data();
  void forwardWithAttentionMatches();
  void infoNamesRopeFamily();
  void unknownTensorExitsOne();

 private:
  QTemporaryDir m_dir;
};

void TestForwardDinov3::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("grid");
  QTest::newRow("native 4x4") << "4x4";
  QTest::newRow("non-square 6x5") << "6x5";
}

void TestForwardDinov3::forwardWithAttentionMatches() {
  QFETCH(QString, grid);
  const QString target = m_dir.filePath("dinov3_" + grid + ".npz");
  const test::CliResult r = test::runCli(
      {"forward", "--tensor", fixture("meta_vit_reg4_pth/input_" + grid + ".npy"), "--weights",
       fixture("meta_vit_reg4_pth/model.pth"), "-o", target, "--attention"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  test::compareNpzWithReference(
      target.toStdString(), fixture("meta_vit_reg4_pth/expected_" + grid + ".npz").toStdString());
}

void TestForwardDinov3::infoNamesRopeFamily() {
  const test::CliResult r = test::runCli({"info", fixture("meta_vit_reg4_pth/model.pth")});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("Meta DINOv3 (4 storage tokens, RoPE)"), qPrintable(r.out));
  QVERIFY2(r.out.contains("cls, reg 1, reg 2, reg 3, reg 4"), qPrintable(r.out));
}

void TestForwardDinov3::unknownTensorExitsOne() {
  const QString target = m_dir.filePath("refused.npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture("meta_vit_reg4_pth/input_4x4.npy"), "--weights",
                    fixture("bad/extra_tensor.pth"), "-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("tensor 'blocks.1.attn.q_norm.weight' is not part of the DINOv3 layout"),
           qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
}

QTEST_GUILESS_MAIN(TestForwardDinov3)
#include "tst_forward_dinov3.moc"
