#include <QtTest>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/model/position/rope_embedding.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/npz_writer.h"
#include "core/weights/tensor_source_factory.h"
#include "tests/common/reference_compare.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("dinov3/" + file);
}

}  // namespace

// DINOv3 (Meta's .pth names) against facebookresearch/dinov3's own DinoVisionTransformer
// (tests/data/dinov3, tests/reference/dinov3_fixtures.py): RoPE on the patches, storage
// tokens, the masked k bias, LayerScale, at the native grid and a non-square one. timm's port
// (dinov3_timm_fixtures.py) and Hugging Face's DINOv3ViTModel names (dinov3_hf_fixtures.py: its
// RoPE from config.json's rope_theta, inv_freq multiplied) through the same cases.tsv.
class TestDinov3 : public QObject {
  Q_OBJECT

 private slots:
  void matchesDinov3Code_data();
  void matchesDinov3Code();
  void ropeMatchesDinov3RopeApply();
  void ropeByHand();
  void refusesByName_data();
  void refusesByName();
  void headsOptionMustAgreeWithPeriods();
  void hfInverseFrequenciesByHand();
  void hfDetectedByNamesUnderAPrefix();
  void hfTrainOnlyRopeSettingsAccepted();
  void hfHeadsOptionMustAgreeWithConfig();
};

void TestDinov3::matchesDinov3Code_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<int>("headsOption");
  QTest::addColumn<QString>("family");
  QTest::addColumn<QString>("headsSource");
  QTest::addColumn<int>("heads");
  QTest::addColumn<int>("depth");
  const auto rows = test::readTsv(fixture("cases.tsv"));
  QVERIFY2(rows.size() >= 2, "cases.tsv is missing; run tests/reference/dinov3_fixtures.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{9});
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << std::stoi(r[4])
                                << QString::fromStdString(r[5]) << QString::fromStdString(r[6])
                                << std::stoi(r[7]) << std::stoi(r[8]);
  }
}

void TestDinov3::matchesDinov3Code() {
  QFETCH(QString, weights);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(int, headsOption);
  QFETCH(QString, family);
  QFETCH(QString, headsSource);
  QFETCH(int, heads);
  QFETCH(int, depth);

  TransformerLoadOptions options;
  options.heads = headsOption;
  std::string whyNot;
  const auto vit = VisionTransformer::load(fixture(weights.toStdString()), options, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  const TransformerConfig& c = vit->config();
  QCOMPARE(QString::fromStdString(c.family), family);
  QCOMPARE(QString::fromStdString(c.headsSource), headsSource);
  QCOMPARE(c.numHeads, heads);
  QCOMPARE(c.depth, depth);
  // cls + the registers, as many as the reference's tokens_0 holds before the patches (4 in most
  // cases, none in hf_vit_reg0).
  const NpyArray image = readNpy(fixture(input.toStdString()));
  const std::int64_t patches = (image.shape[1] / c.patchSize) * (image.shape[2] / c.patchSize);
  const NpyArray tokens0 = NpzArchive(fixture(expected.toStdString())).read("tokens_0");
  QCOMPARE(static_cast<std::int64_t>(c.prefixTokens()), tokens0.shape[0] - patches);
  QCOMPARE(c.registerTokens, c.prefixTokens() - 1);
  QVERIFY(!c.hasPositionEmbedding);

  test::compareForwardWithReference(*vit, fixture(input.toStdString()),
                                    fixture(expected.toStdString()), heads, depth);
}

// The RoPE module alone against dinov3's RopePositionEmbedding(H=3, W=5) and rope_apply.
void TestDinov3::ropeMatchesDinov3RopeApply() {
  const NpzArchive ref(fixture("rope_3x5.npz"));
  RopeEmbedding rope;
  rope.periods = ref.read("periods").data;
  rope.prefixTokens = 2;
  const int dh = rope.headDim();
  const NpyArray sin = ref.read("sin"), cos = ref.read("cos");  // [15 x dh]
  QCOMPARE(static_cast<int>(sin.shape[1]), dh);
  const RopeGrid grid(rope, 3, 5);
  for (Eigen::Index n = 0; n < 15; ++n) {
    for (int t = 0; t < dh; ++t) {  // dinov3's tables tile the first half twice
      const float s = sin.data[static_cast<std::size_t>(n * dh + t)];
      const float c = cos.data[static_cast<std::size_t>(n * dh + t)];
      QVERIFY(std::abs(grid.sin()(n, t % (dh / 2)) - s) <= 1e-6f);
      QVERIFY(std::abs(grid.cos()(n, t % (dh / 2)) - c) <= 1e-6f);
    }
  }
  const NpyArray x = ref.read("x"), rotated = ref.read("rotated");  // [heads x 15 x dh]
  const int heads = static_cast<int>(x.shape[0]);
  const int width = heads * dh;
  RowMatrixF qkv = RowMatrixF::Random(2 + 15, 3 * width);
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < 15; ++n)
      for (int t = 0; t < dh; ++t) {
        const float v = x.data[static_cast<std::size_t>((h * 15 + n) * dh + t)];
        qkv(2 + n, h * dh + t) = v;          // q
        qkv(2 + n, width + h * dh + t) = v;  // k
      }
  const RowMatrixF before = qkv;
  grid.apply(qkv, heads);
  QVERIFY(qkv.topRows(2) == before.topRows(2));              // prefix tokens: not rotated
  QVERIFY(qkv.rightCols(width) == before.rightCols(width));  // v: untouched
  float worst = 0;
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < 15; ++n)
      for (int t = 0; t < dh; ++t) {
        const float want = rotated.data[static_cast<std::size_t>((h * 15 + n) * dh + t)];
        worst = std::max({worst, std::abs(qkv(2 + n, h * dh + t) - want),
                          std::abs(qkv(2 + n, width + h * dh + t) - want)});
      }
  QVERIFY2(worst <= 1e-5f, qPrintable(QString("rotated q/k: max error %1").arg(worst)));
}

// By hand: one head of dim 8 (periods 3 and 2) on a 1 x 2 grid. The row coordinate is
// 2 * 0.5 - 1 = 0 (angle 0: t = 0, 1 unrotated), the column coordinates -0.5 and +0.5 give
// angles -+pi/3 (t = 2, period 3) and -+pi/2 (t = 3, period 2); rotate-half pairs t, t + 4.
void TestDinov3::ropeByHand() {
  RopeEmbedding rope;
  rope.periods = {3.0f, 2.0f};  // head dim 8: pairs (t, t + 4); t = 0, 1 the row, 2, 3 the column
  const RopeGrid grid(rope, 1, 2);
  RowMatrixF qkv = RowMatrixF::Zero(2, 24);
  const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int n = 0; n < 2; ++n)
    for (int t = 0; t < 8; ++t) qkv(n, t) = x[t];
  grid.apply(qkv, 1);
  // Patch 0: column angles 2 pi (-0.5) / 3 and 2 pi (-0.5) / 2 = -pi/3, -pi/2.
  const float c3 = 0.5f, s3 = -std::sqrt(3.0f) / 2;
  const float want0[8] = {1, 2, 3 * c3 - 7 * s3, 4 * 0 - 8 * -1,
                          5, 6, 7 * c3 + 3 * s3, 8 * 0 + 4 * -1};
  const float want1[8] = {1, 2, 3 * c3 + 7 * s3, 4 * 0 - 8 * 1,
                          5, 6, 7 * c3 - 3 * s3, 8 * 0 + 4 * 1};
  for (int t = 0; t < 8; ++t) {
    QVERIFY2(std::abs(qkv(0, t) - want0[t]) <= 1e-5f, qPrintable(QString("patch 0, %1").arg(t)));
    QVERIFY2(std::abs(qkv(1, t) - want1[t]) <= 1e-5f, qPrintable(QString("patch 1, %1").arg(t)));
  }
  RopeEmbedding maxed = rope;  // "max": both axes over max(H, W) = 2, row coordinate -0.5
  maxed.normalize = RopeEmbedding::Normalize::Max;
  const RopeGrid g2(maxed, 1, 2);
  QVERIFY(std::abs(g2.cos()(0, 0) - std::cos(2 * 3.14159265f * -0.5f / 3)) <= 1e-6f);
}

void TestDinov3::refusesByName_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  for (const auto& r : test::readTsv(fixture("bad/expected.tsv")))
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
}

void TestDinov3::refusesByName() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = fixture("bad/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path);
    QFAIL("loaded a DINOv3 file PatchLens cannot run exactly");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

void TestDinov3::headsOptionMustAgreeWithPeriods() {
  TransformerLoadOptions options;
  options.heads = 8;
  try {
    (void)VisionTransformer::load(fixture("meta_vit_reg4_pth/model.pth"), options);
    QFAIL("--heads 8 accepted against periods that fix 4 heads");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("disagrees"), e.what());
  }
}

// By hand: HF's angles (2 pi c) * inv_freq equal Meta's 2 pi c / period for inv_freq = 1 / period
// (to float rounding), and the table is the one ropeByHand checks.
void TestDinov3::hfInverseFrequenciesByHand() {
  RopeEmbedding meta;
  meta.periods = {3.0f, 2.0f};
  RopeEmbedding hf;
  hf.inverseFrequencies = {1.0f / 3.0f, 0.5f};
  QCOMPARE(hf.headDim(), 8);
  const RopeGrid a(meta, 2, 3), b(hf, 2, 3);
  QVERIFY((a.sin() - b.sin()).cwiseAbs().maxCoeff() <= 1e-6f);
  QVERIFY((a.cos() - b.cos()).cwiseAbs().maxCoeff() <= 1e-6f);
  // Patch (0, 2) of 2 x 3: row coordinate 2 * 0.25 - 1 = -0.5, column 2 * (2.5 / 3) - 1 = 2 / 3.
  const float twoPi = 2.0f * 3.14159265f;
  QVERIFY(std::abs(b.sin()(2, 0) - std::sin(twoPi * -0.5f / 3.0f)) <= 1e-6f);
  QVERIFY(std::abs(b.sin()(2, 3) - std::sin(twoPi * (2.0f / 3.0f) * 0.5f)) <= 1e-6f);
}

// A DINOv3ViTModel saved inside a wrapper ("dinov3." before every name) is still told by its
// names; its config.json beside it. The numbers are the unprefixed file's.
void TestDinov3::hfDetectedByNamesUnderAPrefix() {
  QTemporaryDir dir;
  const std::string copy = dir.filePath("model.npz").toStdString();
  const auto source = openTensorSource(fixture("hf_vit_reg4/model.safetensors"));
  NpzWriter writer(copy);
  for (const TensorInfo& t : source->tensors()) {
    const NpyArray a = source->read(t.name);
    writer.add("dinov3." + t.name, a.shape, a.data.data());
  }
  writer.commit();
  std::filesystem::copy_file(fixture("hf_vit_reg4/config.json"),
                             dir.filePath("config.json").toStdString());
  std::string whyNot;
  const auto vit = VisionTransformer::load(copy, {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  QCOMPARE(QString::fromStdString(vit->config().family),
           QString("HF DINOv3ViTModel (4 registers, RoPE)"));
  test::compareForwardWithReference(*vit, fixture("hf_vit_reg4/input_3x5.npy"),
                                    fixture("hf_vit_reg4/expected_3x5.npz"), 4, 2);
}

// pos_embed_shift / jitter / rescale act only `if self.training` (modeling_dinov3_vit.py): set,
// they change nothing and are accepted; a value of the wrong type is still refused by name.
void TestDinov3::hfTrainOnlyRopeSettingsAccepted() {
  QTemporaryDir dir;
  std::filesystem::copy_file(fixture("hf_vit_reg4/model.safetensors"),
                             dir.filePath("model.safetensors").toStdString());
  nlohmann::json config;
  {
    std::ifstream in(fixture("hf_vit_reg4/config.json"));
    config = nlohmann::json::parse(in);
  }
  config["pos_embed_shift"] = 0.1;
  config["pos_embed_jitter"] = 1.5;
  const auto write = [&] {
    std::ofstream out(dir.filePath("config.json").toStdString());
    out << config.dump();
  };
  write();
  std::string whyNot;
  const auto vit =
      VisionTransformer::load(dir.filePath("model.safetensors").toStdString(), {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  test::compareForwardWithReference(*vit, fixture("hf_vit_reg4/input_4x4.npy"),
                                    fixture("hf_vit_reg4/expected_4x4.npz"), 4, 2);
  config["rope_theta"] = "100";
  write();
  try {
    (void)VisionTransformer::load(dir.filePath("model.safetensors").toStdString());
    QFAIL("a rope_theta string was accepted");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("rope_theta"), e.what());
  }
}

void TestDinov3::hfHeadsOptionMustAgreeWithConfig() {
  TransformerLoadOptions options;
  options.heads = 2;
  try {
    (void)VisionTransformer::load(fixture("hf_vit_reg4/model.safetensors"), options);
    QFAIL("--heads 2 accepted against config.json's 4");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("disagrees"), e.what());
  }
}

QTEST_APPLESS_MAIN(TestDinov3)
#include "tst_dinov3.moc"
