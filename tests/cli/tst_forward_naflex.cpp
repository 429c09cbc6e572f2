#include <QImage>
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
  void patchViewsTakeTheLinearExactly();
  void imageRunsAtTheGridAsked();
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

// info's patch view names the Linear, never the 4-D position grid taken for a kernel; embed takes
// the Linear through the encoder's reader (its columns permuted into the conv's order) and gives
// timm's patch embedding.
void TestForwardNaflex::patchViewsTakeTheLinearExactly() {
  const QString weights = fixture("siglip2_base/model.safetensors");
  const test::CliResult info = test::runCli({"info", weights});
  QVERIFY2(info.exitCode == 0, qPrintable(info.err));
  QVERIFY2(info.out.contains("tensor 'embeds.proj.weight' [32, 192] is timm's NaFlexVit Linear"),
           qPrintable(info.out));
  // The encoder is described all the same: family, grid, the MAP head known unused.
  QVERIFY2(info.out.contains("transformer: timm NaFlexViT (SigLIP 2 NaFlex, 4x6 position grid "
                             "resized bicubic), depth 2, 4 heads"),
           qPrintable(info.out));
  QVERIFY2(info.out.contains("resized per image (bicubic, antialias)"), qPrintable(info.out));
  QVERIFY2(info.out.contains("attn_pool.latent"), qPrintable(info.out));
  QVERIFY2(info.out.contains("attention-pool (MAP) head"), qPrintable(info.out));
  const QString embedded = m_dir.filePath("e.npy");
  const test::CliResult embed =
      test::runCli({"embed", "--tensor", fixture("siglip2_base/input_3x5.npy"), "--weights",
                    weights, "-o", embedded});
  QVERIFY2(embed.exitCode == 0, qPrintable(embed.err));
  const NpyArray got = readNpy(embedded.toStdString());
  const NpyArray expected =
      NpzArchive(fixture("siglip2_base/expected_3x5.npz").toStdString()).read("patch_embedding");
  QCOMPARE(got.shape, expected.shape);
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(got.data[i] - expected.data[i])));
    scale = std::max(scale, static_cast<double>(std::abs(expected.data[i])));
  }
  QVERIFY2(worst <= 1e-5 * scale, qPrintable(QString::number(worst / scale)));
}

// An image runs at the grid --img-size HxW gives (timm's NCHW path at that size): 24x40 -> 3x5.
void TestForwardNaflex::imageRunsAtTheGridAsked() {
  const QString image = m_dir.filePath("image.png");
  QImage picture(70, 40, QImage::Format_RGB888);
  picture.fill(QColor(90, 160, 30));
  QVERIFY(picture.save(image));
  const QString target = m_dir.filePath("image.npz");
  const test::CliResult r =
      test::runCli({"forward", image, "--weights", fixture("siglip2_base/model.safetensors"),
                    "--img-size", "24x40", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const NpyArray final = NpzArchive(target.toStdString()).read("final");
  QCOMPARE(final.shape, (std::vector<std::int64_t>{15, 32}));
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
