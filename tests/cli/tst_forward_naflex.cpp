#include <QtTest>

#include "tests/common/cli_process.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

QString fixture(const QString& relative) {
  return QString::fromStdString(test::dataPath("naflex/" + relative.toStdString()));
}

}  // namespace

// patchlens-cli forward --attention and info on timm naflexvit.py checkpoints (tests/data/naflex,
// from timm's own NaFlexVit): SigLIP 2 NaFlex and a MAP + register model, at the native 4x6 grid
// and resized to 3x5 and 5x5; a file with a tensor naflexvit.py does not have exits 1, naming it.
class TestForwardNaflex : public QObject {
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

void TestForwardNaflex::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("grid");
  for (const char* model : {"siglip2_base", "map_reg1"}) {
    for (const char* grid : {"4x6", "3x5", "5x5"})
      QTest::newRow((std::string(model) + " " + grid).c_str()) << model << grid;
  }
}

void TestForwardNaflex::forwardWithAttentionMatches() {
  QFETCH(QString, model);
  QFETCH(QString, grid);
  const QString target = m_dir.filePath(model + "_" + grid + ".npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture(model + "/input_" + grid + ".npy"), "--weights",
                    fixture(model + "/model.safetensors"), "-o", target, "--attention"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  test::compareNpzWithReference(target.toStdString(),
                                fixture(model + "/expected_" + grid + ".npz").toStdString());
}

void TestForwardNaflex::infoNamesFamilyAndUnused() {
  const test::CliResult r = test::runCli({"info", fixture("siglip2_base/model.safetensors")});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("timm NaFlexViT (SigLIP 2 NaFlex, 4x6 position grid resized bicubic)"),
           qPrintable(r.out));
  QVERIFY2(r.out.contains("attn_pool.latent"), qPrintable(r.out));  // known unused, with reason
  QVERIFY2(r.out.contains("attention-pool (MAP) head"), qPrintable(r.out));
}

void TestForwardNaflex::foreignTensorExitsOne() {
  const QString target = m_dir.filePath("refused.npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture("siglip2_base/input_3x5.npy"), "--weights",
                    fixture("bad/siglip2_base/model.safetensors"), "-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains(
               "tensor 'blocks.0.attn.q_norm.weight' is not part of the timm naflexvit.py layout"),
           qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
}

QTEST_GUILESS_MAIN(TestForwardNaflex)
#include "tst_forward_naflex.moc"
