#include <QtTest>
#include <string>

#include "core/analysis/attention_mask.h"
#include "core/io/error.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npz_archive.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

using namespace patchlens;

// Issue 21: DINO's per-head attention masks (visualize_attention.py: the class token's
// attention per head, the patches holding the top 60 % of the mass, upsampled to pixels with
// nearest). References: tests/data/dino_attention/masks.npz, DINO's own torch lines run by
// tests/reference/dino_attention_fixtures.py, and a hand computation.
class tst_AttentionMask : public QObject {
  Q_OBJECT

 private slots:
  void handComputedCase();
  void equalsDinosCode_data();
  void equalsDinosCode();
  void fromOurForwardEqualsDinoOnPyTorchsAttention_data();
  void fromOurForwardEqualsDinoOnPyTorchsAttention();
  void refusesWhatItCannotThreshold();
};

namespace {

std::vector<RowMatrixF> headsOf(const NpyArray& a) {
  const auto t = static_cast<Eigen::Index>(a.shape[1]);
  std::vector<RowMatrixF> heads;
  for (std::int64_t h = 0; h < a.shape[0]; ++h)
    heads.emplace_back(Eigen::Map<const RowMatrixF>(a.data.data() + h * t * t, t, t));
  return heads;
}

// [H, rows*P, cols*P] of `masks` or `maps` upsampled head by head, against a reference array.
void compareUpsampled(const RowMatrixF& perPatch, int rows, int cols, int p, const NpyArray& ref,
                      float tolerance) {
  QCOMPARE(ref.shape.size(), std::size_t{3});
  QCOMPARE(ref.shape[0], std::int64_t(perPatch.rows()));
  QCOMPARE(ref.shape[1], std::int64_t(rows * p));
  QCOMPARE(ref.shape[2], std::int64_t(cols * p));
  const Eigen::Index plane = Eigen::Index{rows} * p * cols * p;
  for (Eigen::Index h = 0; h < perPatch.rows(); ++h) {
    const VectorF row = perPatch.row(h).transpose();
    const RowMatrixF pixels = upsampleNearest(row, rows, cols, p);
    const Eigen::Map<const RowMatrixF> expected(ref.data.data() + h * plane, rows * p, cols * p);
    const float err = (pixels - expected).cwiseAbs().maxCoeff();
    QVERIFY2(err <= tolerance, qPrintable(QStringLiteral("head %1: error %2").arg(h).arg(err)));
  }
}

}  // namespace

void tst_AttentionMask::handComputedCase() {
  // The class token's attention to 4 patches (2 x 2): 0.1, 0.4, 0.2, 0.3. Ascending 0.1 (p0),
  // 0.2 (p2), 0.3 (p3), 0.4 (p1); cumulative 0.1, 0.3, 0.6, 1.0; kept where > 1 - 0.6 = 0.4:
  // p3 and p1 (70 % of the mass; a descending "<= 0.6" rule would keep p1 alone).
  RowMatrixF a = RowMatrixF::Constant(5, 5, 0.2f);
  a.row(0) << 0.0f, 0.1f, 0.4f, 0.2f, 0.3f;
  const AttentionMasks m = attentionMasks({a}, 0, 1, 2, 2, 0.6f);
  RowMatrixF expected(1, 4);
  expected << 0, 1, 0, 1;
  QCOMPARE(m.masks, expected);
  QCOMPARE(m.maps(0, 1), 0.4f);
  // Threshold 0.3: kept > 0.7: p1 only. Threshold 1: every patch with mass (> 0).
  QCOMPARE(attentionMassMask(m.maps, 0.3f), (RowMatrixF(1, 4) << 0, 1, 0, 0).finished());
  QCOMPARE(attentionMassMask(m.maps, 1.0f), (RowMatrixF(1, 4) << 1, 1, 1, 1).finished());
  // The mass is normalised over the patches only: the same row with a prefix share of 0.5.
  RowMatrixF scaled = m.maps * 0.5f;
  QCOMPARE(attentionMassMask(scaled, 0.6f), expected);
  // Nearest upsampling by 2: patch (0, 1) covers pixels (0..1, 2..3).
  const RowMatrixF pixels = upsampleNearest(m.masks.row(0).transpose(), 2, 2, 2);
  QCOMPARE(pixels.rows(), Eigen::Index{4});
  QCOMPARE(pixels(0, 0), 0.0f);
  QCOMPARE(pixels(1, 3), 1.0f);
  QCOMPARE(pixels(3, 2), 1.0f);
  QCOMPARE(pixels(2, 1), 0.0f);
}

void tst_AttentionMask::equalsDinosCode_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("threshold");
  QTest::newRow("tiny 0.6") << "tiny"
                            << "0.6";
  for (const char* t : {"0.6", "0.3", "0.9"}) QTest::addRow("random %s", t) << "random" << t;
  QTest::newRow("timm block 1") << "timm_block1"
                                << "0.6";
  QTest::newRow("timm block 3") << "timm_block3"
                                << "0.6";
}

void tst_AttentionMask::equalsDinosCode() {
  QFETCH(QString, name);
  QFETCH(QString, threshold);
  const NpzArchive ref(test::dataPath("dino_attention/masks.npz"));
  const std::string n = name.toStdString();
  const NpyArray grid = ref.readData(n + "_grid");
  const int rows = static_cast<int>(grid.data[0]);
  const int cols = static_cast<int>(grid.data[1]);
  const int p = static_cast<int>(grid.data[2]);
  const auto heads = headsOf(ref.read(n + "_attention"));
  const AttentionMasks m = attentionMasks(heads, 0, 1, rows, cols, threshold.toFloat());
  // The masks exactly, the maps as the attention they are cut from.
  compareUpsampled(m.masks, rows, cols, p, ref.read(n + "_th_attn_" + threshold.toStdString()),
                   0.0f);
  compareUpsampled(m.maps, rows, cols, p, ref.read(n + "_attentions"), 0.0f);
  // Some patches kept, not all (the fixture is not degenerate).
  QVERIFY(m.masks.sum() > 0.0f);
  QVERIFY(m.masks.sum() < static_cast<float>(m.masks.size()));
}

void tst_AttentionMask::fromOurForwardEqualsDinoOnPyTorchsAttention_data() {
  QTest::addColumn<int>("block");
  QTest::newRow("block 1") << 1;
  QTest::newRow("block 3") << 3;
}

// Our encoder's attention (timm_vit_f32 on its 4 x 4 fixture input) through attentionMasks
// gives DINO's masks of PyTorch's attention.
void tst_AttentionMask::fromOurForwardEqualsDinoOnPyTorchsAttention() {
  QFETCH(int, block);
  const std::string dir = test::dataPath("transformer/timm_vit_f32/");
  const auto vit = VisionTransformer::load(dir + "model.safetensors");
  QVERIFY(vit.has_value());
  std::vector<RowMatrixF> ours;
  vit->forward(test::readChwInput(dir + "input_4x4.npy"),
               [&](int b, const std::vector<RowMatrixF>& heads) {
                 if (b == block) ours = heads;
               });
  QCOMPARE(ours.size(), std::size_t{3});
  const AttentionMasks m = attentionMasks(ours, 0, 1, 4, 4, 0.6f);
  const NpzArchive ref(test::dataPath("dino_attention/masks.npz"));
  const std::string n = "timm_block" + std::to_string(block);
  compareUpsampled(m.masks, 4, 4, 16, ref.read(n + "_th_attn_0.6"), 0.0f);
  compareUpsampled(m.maps, 4, 4, 16, ref.read(n + "_attentions"), 1e-5f);
}

void tst_AttentionMask::refusesWhatItCannotThreshold() {
  RowMatrixF maps(1, 3);
  maps << 0.2f, 0.3f, 0.5f;
  for (const float t : {0.0f, -0.1f, 1.5f}) {
    QVERIFY_THROWS_EXCEPTION(Error, attentionMassMask(maps, t));
  }
  RowMatrixF zero = RowMatrixF::Zero(1, 3);
  try {
    attentionMassMask(zero, 0.6f);
    QFAIL("a head without mass over the patches was thresholded");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("no mass"), e.reason().c_str());
  }
  QVERIFY_THROWS_EXCEPTION(Error, upsampleNearest(maps.row(0).transpose(), 2, 2, 4));
}

QTEST_APPLESS_MAIN(tst_AttentionMask)
#include "tst_attention_mask.moc"
