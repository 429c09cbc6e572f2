#include <QtTest>

#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/cli_process.h"
#include "tests/common/reference_arrays.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

QString fixture(const QString& relative) {
  return QString::fromStdString(test::dataPath("beit/" + relative.toStdString()));
}

}  // namespace

// patchlens-cli forward --attention and info on BEiT files (tests/data/beit, from timm's own
// beit.py; HF names by the conversion script's renames): every array against the reference; a
// foreign tensor and another grid exit 1, naming why.
class TestForwardBeit : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void forwardWithAttentionMatches_data();
  void forwardWithAttentionMatches();
  void infoNamesRelativeBias();
  void predictMatchesHead_data();
  void predictMatchesHead();
  void refusalsExitOne_data();
  void refusalsExitOne();

 private:
  QTemporaryDir m_dir;
};

void TestForwardBeit::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("weights");
  QTest::newRow("timm shared + abs pos") << "timm_shared_pth"
                                         << "model.pth";
  QTest::newRow("HF BeitModel") << "hf_beit"
                                << "pytorch_model.bin";
}

void TestForwardBeit::forwardWithAttentionMatches() {
  QFETCH(QString, model);
  QFETCH(QString, weights);
  const QString target = m_dir.filePath(model + ".npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture(model + "/input_4x4.npy"), "--weights",
                    fixture(model + "/" + weights), "-o", target, "--attention"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const NpzArchive got(target.toStdString());
  const NpzArchive expected(fixture(model + "/expected_4x4.npz").toStdString());
  QCOMPARE(got.tensors().size(), expected.tensors().size());
  for (const TensorInfo& t : expected.tensors()) {
    const NpyArray a = got.read(t.name);
    const NpyArray e = expected.read(t.name);
    QCOMPARE(a.shape, e.shape);
    const bool attention = t.name.rfind("attention_", 0) == 0;
    const double err = test::arrayError(a.data.data(), e.data, !attention);
    QVERIFY2(err <= (attention ? 1e-5 : 1e-4),
             qPrintable(QString("%1: %2").arg(QString::fromStdString(t.name)).arg(err)));
  }
}

void TestForwardBeit::predictMatchesHead_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("weights");
  QTest::newRow("timm Beit, avg + fc_norm") << "timm_rel_pth"
                                            << "model.pth";
  QTest::newRow("HF BeitForImageClassification, mean pooling") << "hf_beit"
                                                               << "pytorch_model.bin";
}

// The logits of timm's own Beit (fc_norm of the patch mean, head) on each folder's 4x4 input;
// hf_beit is that model renamed, whose BeitPooler with use_mean_pooling computes the same.
void TestForwardBeit::predictMatchesHead() {
  QFETCH(QString, model);
  QFETCH(QString, weights);
  const QString target = m_dir.filePath(model + "_logits.npz");
  const test::CliResult r =
      test::runCli({"predict", "--tensor", fixture(model + "/input_4x4.npy"), "--weights",
                    fixture(model + "/" + weights), "--top", "3", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QCOMPARE(r.out.count('\n'), 3);
  const NpyArray got = NpzArchive(target.toStdString()).read("logits");
  const NpyArray want = readNpy(fixture(model + "/logits_4x4.npy").toStdString());
  QCOMPARE(got.shape, want.shape);
  const double err = test::relativeError(got, want);
  QVERIFY2(err <= 1e-4, qPrintable(QString("logits: %1 x max|ref|").arg(err)));
}

void TestForwardBeit::infoNamesRelativeBias() {
  const test::CliResult r = test::runCli({"info", fixture("hf_data2vec/pytorch_model.bin")});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("HF Data2VecVisionModel (relative position bias, shared)"),
           qPrintable(r.out));
  QVERIFY2(r.out.contains("relative position bias: shared, 4x4 grid (other grids refused)"),
           qPrintable(r.out));
  QVERIFY2(r.out.contains("position embedding: absolute learned, 4 x 4 grid"), qPrintable(r.out));
}

void TestForwardBeit::refusalsExitOne_data() {
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("reason");
  QTest::newRow("foreign tensor")
      << "timm_rel_pth/input_4x4.npy"
      << "bad/extra_tensor.pth"
      << "tensor 'blocks.1.attn.q_norm.weight' is not understood by the BEiT reader";
  QTest::newRow("another grid") << "bad/input_3x4.npy"
                                << "timm_rel_pth/model.pth"
                                << "relative position bias was trained for a 4x4 grid";
}

void TestForwardBeit::refusalsExitOne() {
  QFETCH(QString, input);
  QFETCH(QString, weights);
  QFETCH(QString, reason);
  const QString target = m_dir.filePath("refused.npz");
  const test::CliResult r = test::runCli(
      {"forward", "--tensor", fixture(input), "--weights", fixture(weights), "-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
}

QTEST_GUILESS_MAIN(TestForwardBeit)
#include "tst_forward_beit.moc"
