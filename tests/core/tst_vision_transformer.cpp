#include <QtTest>
#include <algorithm>
#include <cmath>

#include "core/io/error.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("transformer/" + file);
}

ChwTensor readInput(const std::string& path) {
  const NpyArray a = readNpy(path);
  ChwTensor t(static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]),
              static_cast<int>(a.shape[2]));
  t.data = a.data;
  return t;
}

// max |a - b| over max |b|, shapes checked.
double relativeError(const RowMatrixF& actual, const NpyArray& expected, double& maxRef) {
  const Eigen::Map<const Eigen::ArrayXf> ref(expected.data.data(),
                                             static_cast<Eigen::Index>(expected.data.size()));
  const Eigen::Map<const Eigen::ArrayXf> got(actual.data(), actual.size());
  maxRef = ref.abs().maxCoeff();
  return (got - ref).abs().maxCoeff() / std::max(maxRef, 1e-30);
}

}  // namespace

// Every family's forward (tests/data/transformer, tests/reference/transformer_fixtures.py)
// against a PyTorch forward written from that family's code, in F32, F16 and BF16 files.
class TestVisionTransformer : public QObject {
  Q_OBJECT

 private slots:
  void matchesPyTorch_data();
  void matchesPyTorch();
  void refusesBadBlockTensor_data();
  void refusesBadBlockTensor();
  void patchEmbeddingOnlyIsNotATransformer_data();
  void patchEmbeddingOnlyIsNotATransformer();
  void fixedGridFamilyRefusesOtherGrid();
  void headsOptionWinsAndMustDivideWidth();
  void prefixTokenNamesFollowTokenOrder();
  void blockedAttentionMatchesAtLongSequence();
};

void TestVisionTransformer::matchesPyTorch_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<int>("headsOption");
  QTest::addColumn<QString>("family");
  QTest::addColumn<QString>("headsSource");
  QTest::addColumn<int>("heads");
  QTest::addColumn<int>("depth");
  const auto rows = test::readTsv(fixture("cases.tsv"));
  QVERIFY2(rows.size() >= 20, "cases.tsv is missing; run tests/reference/make_reference.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{9});
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << std::stoi(r[4])
                                << QString::fromStdString(r[5]) << QString::fromStdString(r[6])
                                << std::stoi(r[7]) << std::stoi(r[8]);
  }
}

void TestVisionTransformer::matchesPyTorch() {
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
  QVERIFY(!c.headsGuessed);

  const NpzArchive ref(fixture(expected.toStdString()));
  int observed = 0;
  const TransformerOutput out = vit->forward(
      readInput(fixture(input.toStdString())), [&](int block, const std::vector<RowMatrixF>& p) {
        ++observed;
        QCOMPARE(block, observed);
        const NpyArray a = ref.read("attention_" + std::to_string(block));
        QCOMPARE(static_cast<int>(p.size()), heads);
        const auto tokens = static_cast<Eigen::Index>(a.shape[1]);
        for (int h = 0; h < heads; ++h) {
          QCOMPARE(p[static_cast<std::size_t>(h)].rows(), tokens);
          const Eigen::Map<const RowMatrixF> expectedHead(
              a.data.data() + static_cast<Eigen::Index>(h) * tokens * tokens, tokens, tokens);
          const double err = (p[static_cast<std::size_t>(h)] - expectedHead).cwiseAbs().maxCoeff();
          QVERIFY2(
              err <= 1e-5,
              qPrintable(QString("attention_%1 head %2: max error %3").arg(block).arg(h).arg(err)));
        }
      });
  QCOMPARE(observed, depth);
  QCOMPARE(static_cast<int>(out.tokens.size()), depth + 1);

  const auto check = [&](const std::string& name, const RowMatrixF& actual) {
    const NpyArray a = ref.read(name);
    QCOMPARE(static_cast<Eigen::Index>(a.shape[0]), actual.rows());
    QCOMPARE(static_cast<Eigen::Index>(a.shape[1]), actual.cols());
    double maxRef = 0;
    const double err = relativeError(actual, a, maxRef);
    QVERIFY2(maxRef > 0.1, qPrintable(QString::fromStdString(name) + " is trivially small"));
    QVERIFY2(err <= 1e-4, qPrintable(QString("%1: max error %2 x max|ref| (max|ref| %3)")
                                         .arg(QString::fromStdString(name))
                                         .arg(err)
                                         .arg(maxRef)));
  };
  check("patch_embedding", out.patchEmbedding);
  QCOMPARE(static_cast<Eigen::Index>(out.gridRows) * out.gridCols, out.patchEmbedding.rows());
  for (int l = 0; l <= depth; ++l)
    check("tokens_" + std::to_string(l), out.tokens[static_cast<std::size_t>(l)]);
  check("final", out.final);
  QCOMPARE(out.final.rows(), c.prefixTokens() + out.patchEmbedding.rows());

  // Without an observer the blocked (flash-style) attention runs instead: same reference.
  const TransformerOutput blocked = vit->forward(readInput(fixture(input.toStdString())));
  for (int l = 0; l <= depth; ++l)
    check("tokens_" + std::to_string(l), blocked.tokens[static_cast<std::size_t>(l)]);
  check("final", blocked.final);
}

// 993 tokens (tests/reference/long_sequence_fixtures.py): the blocked attention runs several
// query and key tiles, partial ones at the end, against PyTorch's whole-softmax forward; the
// materialising path (an observer) must agree too.
void TestVisionTransformer::blockedAttentionMatchesAtLongSequence() {
  const std::string dir = test::dataPath("transformer_long/");
  std::string whyNot;
  const auto vit = VisionTransformer::load(dir + "model.safetensors", {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  const NpzArchive ref(dir + "expected.npz");
  const ChwTensor input = readInput(dir + "input.npy");
  int observed = 0;
  for (const bool withObserver : {false, true}) {
    const TransformerOutput out =
        withObserver ? vit->forward(input, [&](int, const std::vector<RowMatrixF>&) { ++observed; })
                     : vit->forward(input);
    QCOMPARE(out.final.rows(), Eigen::Index{993});
    for (const std::string name : {"tokens_1", "tokens_2", "final"}) {
      const RowMatrixF& actual =
          name == "final" ? out.final : out.tokens[name == "tokens_1" ? 1 : 2];
      const NpyArray a = ref.read(name);
      QCOMPARE(static_cast<Eigen::Index>(a.shape[0]), actual.rows());
      double maxRef = 0;
      const double err = relativeError(actual, a, maxRef);
      QVERIFY2(maxRef > 0.1, name.c_str());
      QVERIFY2(err <= 1e-4, qPrintable(QString("%1 (observer %2): max error %3 x max|ref|")
                                           .arg(QString::fromStdString(name))
                                           .arg(withObserver)
                                           .arg(err)));
    }
  }
  QCOMPARE(observed, 2);
}

void TestVisionTransformer::refusesBadBlockTensor_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  for (const auto& r : test::readTsv(fixture("bad/expected.tsv"))) {
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
  }
}

void TestVisionTransformer::refusesBadBlockTensor() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  TransformerLoadOptions options;
  options.heads = 2;
  const std::string path = fixture("bad/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path, options);
    QFAIL("loaded a file with a bad block tensor");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

void TestVisionTransformer::patchEmbeddingOnlyIsNotATransformer_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("why");
  QTest::newRow("openai clip, no resblocks")
      << "openai_clip_f32.safetensors"
      << "no transformer blocks: the file has the OpenAI CLIP patch embedding but no "
         "'visual.transformer.resblocks.0....' tensors";
  QTest::newRow("unknown family") << "generic_stem_f32.safetensors"
                                  << "belongs to no ViT family PatchLens knows the blocks of";
  QTest::newRow("lone npy") << "npy_le_f4.npy"
                            << "a lone .npy array holds no blocks";
}

void TestVisionTransformer::patchEmbeddingOnlyIsNotATransformer() {
  QFETCH(QString, file);
  QFETCH(QString, why);
  std::string whyNot;
  const auto vit =
      VisionTransformer::load(test::dataPath("weights/" + file.toStdString()), {}, &whyNot);
  QVERIFY(!vit.has_value());
  QVERIFY2(QString::fromStdString(whyNot).contains(why), whyNot.c_str());
}

void TestVisionTransformer::fixedGridFamilyRefusesOtherGrid() {
  const auto vit = VisionTransformer::load(fixture("hf_siglip_f32/model.safetensors"));
  QVERIFY(vit.has_value());
  ChwTensor input(3, 3 * 16, 5 * 16);
  try {
    (void)vit->forward(input);
    QFAIL("a SigLIP model ran on a grid its position embedding was not trained for");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("cannot resample its position embedding"),
             e.what());
    QVERIFY2(QString::fromStdString(e.reason()).contains("--img-size 64"), e.what());
  }
}

void TestVisionTransformer::headsOptionWinsAndMustDivideWidth() {
  TransformerLoadOptions options;
  options.heads = 8;  // over config.json's 4
  const auto vit = VisionTransformer::load(fixture("hf_vit_f32/model.safetensors"), options);
  QVERIFY(vit.has_value());
  QCOMPARE(vit->config().numHeads, 8);
  QCOMPARE(QString::fromStdString(vit->config().headsSource), QString("--heads"));
  options.heads = 5;
  QVERIFY_THROWS_EXCEPTION(
      Error, VisionTransformer::load(fixture("hf_vit_f32/model.safetensors"), options));
  // No sidecar, no rule, width 32 is no standard width: the error asks for --heads.
  try {
    (void)VisionTransformer::load(fixture("timm_deit_bf16/model.safetensors"));
    QFAIL("guessed heads for a non-standard width");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("pass --heads N"), e.what());
  }
}

void TestVisionTransformer::prefixTokenNamesFollowTokenOrder() {
  TransformerLoadOptions options;
  options.heads = 4;
  const auto vit =
      VisionTransformer::load(fixture("timm_dinov2_reg4_f16/model.safetensors"), options);
  QVERIFY(vit.has_value());
  const std::vector<std::string> names = vit->config().prefixTokenNames();
  QCOMPARE(names, (std::vector<std::string>{"cls", "reg 1", "reg 2", "reg 3", "reg 4"}));
  QCOMPARE(vit->config().prefixTokens(), 5);
  QCOMPARE(vit->config().positionPrefixRows, 0);  // timm's no_embed_class
  QVERIFY(vit->config().layerScale);
}

QTEST_APPLESS_MAIN(TestVisionTransformer)
#include "tst_vision_transformer.moc"
