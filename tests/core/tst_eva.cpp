#include <QtTest>
#include <cmath>
#include <filesystem>

#include "core/io/error.h"
#include "core/model/backward/transformer_backward.h"
#include "core/model/position/rope_embedding.h"
#include "core/model/transformer_families.h"
#include "core/model/vision_transformer.h"
#include "core/weights/model_preprocessing.h"
#include "core/weights/npz_writer.h"
#include "core/weights/tensor_source_factory.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("eva/" + file);
}

}  // namespace

// timm's eva.py families (EVA-02, EVA-02 CLIP, timm's SBB RoPE ViT, Naver RoPE-ViT axial and
// mixed, Perception Encoder core, spatial and lang, EVA-02 enormous's post-norm blocks) against
// timm's own Eva (tests/data/eva, tests/reference/eva_fixtures.py): RoPE with ref_feat_shape and
// 'xy' indexing, learned per-block frequencies, SwiGLU (split and packed), sub-LN, q/v biases
// without k, at the native 4x4 grid and a non-square 3x5 one.
class TestEva : public QObject {
  Q_OBJECT

 private slots:
  void matchesTimmCode_data();
  void matchesTimmCode();
  void interleavedRopeByHand();
  void refusesForeignTensorByName_data();
  void refusesForeignTensorByName();
  void withoutConfigRefusedByName();
  void configRefusedByName_data();
  void configRefusedByName();
  void hfSiglip2NaflexRefusedByName();
  void backwardIsAccepted();
  void clipMeanAndStdFromSidecar();
};

void TestEva::matchesTimmCode_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<QString>("family");
  QTest::addColumn<int>("heads");
  QTest::addColumn<int>("depth");
  const auto rows = test::readTsv(fixture("cases.tsv"));
  QVERIFY2(rows.size() >= 14, "cases.tsv is missing; run tests/reference/eva_fixtures.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{7});
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << QString::fromStdString(r[4])
                                << std::stoi(r[5]) << std::stoi(r[6]);
  }
}

void TestEva::matchesTimmCode() {
  QFETCH(QString, weights);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(QString, family);
  QFETCH(int, heads);
  QFETCH(int, depth);
  std::string whyNot;
  const auto vit = VisionTransformer::load(fixture(weights.toStdString()), {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  const TransformerConfig& c = vit->config();
  QCOMPARE(QString::fromStdString(c.family), family);
  QCOMPARE(QString::fromStdString(c.headsSource), QString("config.json model_args.num_heads"));
  QCOMPARE(c.numHeads, heads);
  QCOMPARE(c.depth, depth);
  QVERIFY(!c.unusedTensors.empty());  // the classifier head, known unused
  test::compareForwardWithReference(*vit, fixture(input.toStdString()),
                                    fixture(expected.toStdString()), heads, depth);
}

// By hand: one head of dim 8 (bands 1 and 1/10, temperature 100), 'xy' on a 1 x 2 grid with a
// cls token. Patch 1 sits at column 1: pairs (0, 1) and (2, 3) turn by 1 and 0.1 rad (the column
// first), pairs (4, 5) and (6, 7) by 0 (row 0). Interleaved: x'2t = x2t cos - x2t+1 sin.
void TestEva::interleavedRopeByHand() {
  RopeEmbedding rope;
  rope.coordinates = RopeEmbedding::Coordinates::TimmGrid;
  rope.pairs = RopeEmbedding::Pairs::Interleaved;
  rope.bands = {1.0f, 0.1f};
  rope.columnsFirst = true;
  rope.prefixTokens = 1;
  const RopeGrid grid(rope, 1, 2);
  RowMatrixF qkv = RowMatrixF::Zero(3, 24);
  for (int n = 0; n < 3; ++n)
    for (int t = 0; t < 8; ++t) qkv(n, t) = qkv(n, 8 + t) = static_cast<float>(t + 1);
  grid.apply(qkv, 1);
  for (int t = 0; t < 8; ++t) {
    QCOMPARE(qkv(0, t), static_cast<float>(t + 1));  // cls: not rotated
    QCOMPARE(qkv(1, t), static_cast<float>(t + 1));  // patch 0: every angle 0
    QCOMPARE(qkv(2, 16 + t), 0.0f);                  // v untouched
  }
  const float c1 = std::cos(1.0f), s1 = std::sin(1.0f);
  const float c2 = std::cos(0.1f), s2 = std::sin(0.1f);
  const float want[8] = {
      1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3 * c2 - 4 * s2, 4 * c2 + 3 * s2, 5, 6, 7, 8};
  for (int t = 0; t < 8; ++t) {
    QVERIFY2(std::abs(qkv(2, t) - want[t]) <= 1e-6f, qPrintable(QString("q %1").arg(t)));
    QVERIFY2(std::abs(qkv(2, 8 + t) - want[t]) <= 1e-6f, qPrintable(QString("k %1").arg(t)));
  }
  // ref_feat_shape (rows 4, cols 6) on this 1 x 2 grid: column 1 -> 1 / 2 * 6 = 3.
  rope.refRows = 4;
  rope.refCols = 6;
  const RopeGrid scaled(rope, 1, 2);
  QVERIFY(std::abs(scaled.sin()(1, 0) - std::sin(3.0f)) <= 1e-6f);
}

void TestEva::refusesForeignTensorByName_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  const auto rows = test::readTsv(fixture("bad/expected.tsv"));
  QVERIFY(rows.size() >= 7);
  for (const auto& r : rows)
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
}

void TestEva::refusesForeignTensorByName() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = fixture("bad/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path);
    QFAIL("loaded an eva.py file with a tensor the reader does not know");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

// Without timm's config.json the file cannot tell its RoPE: refused by name, never run as a
// plain timm ViT.
void TestEva::withoutConfigRefusedByName() {
  QTemporaryDir dir;
  const std::string copy = dir.filePath("model.pth").toStdString();
  std::filesystem::copy_file(fixture("naver_rope_axial/model.pth"), copy);
  try {
    (void)VisionTransformer::load(copy);
    QFAIL("ran a RoPE-ViT without knowing its RoPE");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("'blocks.0.gamma_1'"), e.what());
    QVERIFY2(QString::fromStdString(e.reason()).contains("config.json"), e.what());
  }
}

void TestEva::configRefusedByName_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("config");
  QTest::addColumn<QString>("reason");
  // model_args.use_post_norm must be a boolean (eva02_enormous's post-norm blocks run exactly:
  // matchesTimmCode; its backward is refused: backwardIsAccepted).
  QTest::newRow("use_post_norm not a boolean")
      << "eva02_tiny"
      << R"({"architecture": "eva02_tiny_patch14_224", "model_args": {"use_post_norm": 1}})"
      << "model_args.use_post_norm is not true or false";
  // PE spatial told to have its final norm: the file has none, named.
  QTest::newRow("PE spatial with use_post_transformer_norm")
      << "pe_spatial_tiny"
      << R"({"architecture": "vit_pe_spatial_tiny_patch16_512", "model_args": {"num_heads": 4,
           "img_size": 32, "use_post_transformer_norm": true}})"
      << "tensor 'norm.weight' is missing";
  QTest::newRow("unknown PE variant")
      << "pe_spatial_tiny"
      << R"({"architecture": "vit_pe_video_tiny_patch16_512", "model_args": {"num_heads": 4}})"
      << "only Meta's Perception Encoder core, lang and spatial";
}

// A config.json asking for what PatchLens does not run is refused by name, never approximated.
void TestEva::configRefusedByName() {
  QFETCH(QString, model);
  QFETCH(QString, config);
  QFETCH(QString, reason);
  QTemporaryDir dir;
  const std::string copy = dir.filePath("model.pth").toStdString();
  std::filesystem::copy_file(fixture(model.toStdString() + "/model.pth"), copy);
  QFile file(dir.filePath("config.json"));
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write(config.toUtf8());
  file.close();
  try {
    (void)VisionTransformer::load(copy);
    QFAIL("ran a config.json PatchLens does not run exactly");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

// Hugging Face's Siglip2VisionModel (modeling_siglip2.py: patch_embedding an nn.Linear over
// num_channels * patch^2, the position table resized per image): a hand-named file whose Linear
// patch embedding sits where SigLIP's conv is named, without the config.json its heads are in
// (hf_siglip2_reader runs it with one: tst_forward_siglip2_hf). Refused by name, never reshaped.
void TestEva::hfSiglip2NaflexRefusedByName() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("model.npz").toStdString();
  NpzWriter writer(path);
  const std::vector<float> zeros(16 * 48, 0.25f);
  writer.add("vision_model.embeddings.patch_embedding.weight", {16, 48}, zeros.data());
  writer.add("vision_model.embeddings.patch_embedding.bias", {16}, zeros.data());
  writer.add("vision_model.embeddings.position_embedding.weight", {4, 16}, zeros.data());
  writer.add("vision_model.encoder.layers.0.layer_norm1.weight", {16}, zeros.data());
  writer.commit();
  try {
    (void)VisionTransformer::load(path);
    QFAIL("ran a SigLIP 2 NaFlex file");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason())
                 .contains("tensor 'vision_model.embeddings.patch_embedding.weight' is Hugging "
                           "Face's Siglip2VisionModel (SigLIP 2 NaFlex) Linear patch embedding"),
             e.what());
  }
}

void TestEva::backwardIsAccepted() {
  const std::string path = fixture("eva02_tiny/model.pth");
  const auto source = openTensorSource(path);
  std::string whyNot;
  const auto weights = readTransformer(*source, path, {}, &whyNot);
  QVERIFY2(weights != nullptr, whyNot.c_str());
  // RoPE and SwiGLU have an exact backward now (tests/core/tst_backward.cpp, families cases).
  const std::string why = TransformerBackward::unsupportedReason(*weights);
  QVERIFY2(why.empty(), why.c_str());

  // eva02_enormous's post-norm blocks run forward only: explain refuses them by name.
  const std::string postNormPath = fixture("eva02_enormous/model.pth");
  const auto postNorm = readTransformer(*openTensorSource(postNormPath), postNormPath, {}, &whyNot);
  QVERIFY2(postNorm != nullptr, whyNot.c_str());
  QVERIFY(postNorm->config.postNorm);
  QVERIFY(!postNorm->config.layerScale);
  QCOMPARE(QString::fromStdString(TransformerBackward::unsupportedReason(*postNorm)),
           QString("explain does not support eva02 post-norm blocks yet"));
}

void TestEva::clipMeanAndStdFromSidecar() {
  std::vector<std::string> warnings;
  const auto p = findModelPreprocessing(fixture("eva02_base_clip/model.pth"), warnings);
  QVERIFY(p.has_value());
  QVERIFY(warnings.empty());
  QVERIFY(p->normalization.has_value());
  QCOMPARE(p->normalization->mean[0], 0.48145466f);  // OPENAI_CLIP_MEAN, eva.py's _cfg
  QCOMPARE(p->normalization->std[2], 0.27577711f);
}

QTEST_APPLESS_MAIN(TestEva)
#include "tst_eva.moc"
