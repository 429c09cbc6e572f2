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

// patchlens-cli forward --attention and info on a Meta DINOv3 .pth and Hugging Face's
// DINOv3ViTModel layout (tests/data/dinov3, from facebookresearch/dinov3's own code): every
// array against the reference, at the native grid and a non-square one; a file with a tensor the
// reader does not know exits 1, naming it.
class TestForwardDinov3 : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void forwardWithAttentionMatches_data();
  void forwardWithAttentionMatches();
  void infoNamesRopeFamily();
  void unknownTensorExitsOne();
  void infoNamesHfFamily();
  void hfUnknownTensorExitsOne();

 private:
  QTemporaryDir m_dir;
};

void TestForwardDinov3::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("grid");
  QTest::newRow("Meta native 4x4") << "meta_vit_reg4_pth"
                                   << "model.pth"
                                   << "4x4";
  QTest::newRow("Meta non-square 6x5") << "meta_vit_reg4_pth"
                                       << "model.pth"
                                       << "6x5";
  QTest::newRow("timm SwiGLU port native 4x4") << "timm_port_swiglu_pth"
                                               << "model.pth"
                                               << "4x4";
  QTest::newRow("timm SwiGLU port non-square 5x3") << "timm_port_swiglu_pth"
                                                   << "model.pth"
                                                   << "5x3";
  QTest::newRow("HF native 4x4") << "hf_vit_reg4"
                                 << "model.safetensors"
                                 << "4x4";
  QTest::newRow("HF non-square 3x5") << "hf_vit_reg4"
                                     << "model.safetensors"
                                     << "3x5";
  QTest::newRow("HF gated 5x3") << "hf_vit_gated"
                                << "model.safetensors"
                                << "5x3";
}

void TestForwardDinov3::forwardWithAttentionMatches() {
  QFETCH(QString, model);
  QFETCH(QString, weights);
  QFETCH(QString, grid);
  const QString target = m_dir.filePath(model + "_" + grid + ".npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture(model + "/input_" + grid + ".npy"), "--weights",
                    fixture(model + "/" + weights), "-o", target, "--attention"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  test::compareNpzWithReference(target.toStdString(),
                                fixture(model + "/expected_" + grid + ".npz").toStdString());
}

void TestForwardDinov3::infoNamesRopeFamily() {
  const test::CliResult r = test::runCli({"info", fixture("meta_vit_reg4_pth/model.pth")});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("Meta DINOv3 (4 storage tokens, RoPE)"), qPrintable(r.out));
  QVERIFY2(r.out.contains("cls, reg 1, reg 2, reg 3, reg 4"), qPrintable(r.out));
}

void TestForwardDinov3::infoNamesHfFamily() {
  const test::CliResult r = test::runCli({"info", fixture("hf_vit_reg4/model.safetensors")});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("HF DINOv3ViTModel (4 registers, RoPE)"), qPrintable(r.out));
  QVERIFY2(r.out.contains("cls, reg 1, reg 2, reg 3, reg 4"), qPrintable(r.out));
  QVERIFY2(r.out.contains("embeddings.mask_token"), qPrintable(r.out));  // known unused
}

void TestForwardDinov3::hfUnknownTensorExitsOne() {
  const QString target = m_dir.filePath("refused_hf.npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture("meta_vit_reg4_pth/input_4x4.npy"), "--weights",
                    fixture("bad/hf_extra_tensor/model.safetensors"), "-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("tensor 'layer.0.attention.q_norm.weight' is not part of the Hugging "
                          "Face DINOv3ViTModel layout"),
           qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
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
