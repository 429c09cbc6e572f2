#include <QtTest>
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/io/error.h"
#include "core/model/transformer_families.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/tensor_source_factory.h"
#include "core/weights/weight_loader.h"
#include "tests/common/reference_compare.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;
using patchlens::test::relativeError;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("transformer/" + file);
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
  void refusesUnknownTensor_data();
  void refusesUnknownTensor();
  void knownUnusedTensorsAreListed();
  void lookalikeIsToldByName();
  void prefixRowsComeFromTheFamilyAndGridFromTheSidecar();
  void nonSquareTableWithoutSidecarRunsOnlyItsCount();
  void sidecarImageSizeMustFitTheTable();
  void ambiguousTableIsRefused();
  void blockedAttentionMatchesAtLongSequence();
  void keptLayerAloneMatchesPyTorch();
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

  // Every array, then the blocked attention (no observer) against the same tokens.
  test::compareForwardWithReference(*vit, fixture(input.toStdString()),
                                    fixture(expected.toStdString()), heads, depth);
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
  const ChwTensor input = test::readChwInput(dir + "input.npy");
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
      const double err = relativeError(actual, a, &maxRef);
      QVERIFY2(maxRef > 0.1, name.c_str());
      QVERIFY2(err <= 1e-4, qPrintable(QString("%1 (observer %2): max error %3 x max|ref|")
                                           .arg(QString::fromStdString(name))
                                           .arg(withObserver)
                                           .arg(err)));
    }
  }
  QCOMPARE(observed, 2);
}

// forward --layer L keeps tokens_L alone (the others stay empty): the kept layer and final
// are PyTorch's, and a NaN is still traced to the first layer that holds one.
void TestVisionTransformer::keptLayerAloneMatchesPyTorch() {
  const std::string dir = test::dataPath("transformer_long/");
  const auto vit = VisionTransformer::load(dir + "model.safetensors");
  QVERIFY(vit.has_value());
  const NpzArchive ref(dir + "expected.npz");
  const ChwTensor input = test::readChwInput(dir + "input.npy");
  const TransformerOutput out = vit->forward(input, {}, KeptLayers::only(1));
  QCOMPARE(out.tokens.size(), std::size_t{3});
  QCOMPARE(out.tokens[0].size(), Eigen::Index{0});
  QCOMPARE(out.tokens[2].size(), Eigen::Index{0});
  QCOMPARE(out.firstNonFiniteLayer, -1);
  for (const std::string name : {"tokens_1", "final"}) {
    double maxRef = 0;
    const double err =
        relativeError(name == "final" ? out.final : out.tokens[1], ref.read(name), &maxRef);
    QVERIFY2(maxRef > 0.1 && err <= 1e-4, name.c_str());
  }
  ChwTensor poisoned = input;
  poisoned.data[5] = std::numeric_limits<float>::quiet_NaN();
  const TransformerOutput bad = vit->forward(poisoned, {}, KeptLayers::only(3));
  QCOMPARE(bad.tokens[2].size(), Eigen::Index{0});
  QCOMPARE(bad.firstNonFiniteLayer, 0);  // the NaN pixel's patch is in tokens_0 already
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

// Each family's fixture with one tensor it does not have (tests/data/transformer/unknown): the
// load refuses it, naming it, never running without it.
void TestVisionTransformer::refusesUnknownTensor_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("tensor");
  const auto rows = test::readTsv(fixture("unknown/expected.tsv"));
  QCOMPARE(rows.size(), std::size_t{15});
  for (const auto& r : rows) {
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
  }
}

void TestVisionTransformer::refusesUnknownTensor() {
  QFETCH(QString, file);
  QFETCH(QString, tensor);
  TransformerLoadOptions options;
  options.heads = 2;
  const std::string path = fixture("unknown/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path, options);
    QFAIL("loaded a file with a tensor its reader does not understand");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    const QString reason = QString::fromStdString(e.reason());
    QVERIFY2(reason.contains("tensor '" + tensor + "' is not understood by the "), e.what());
  }
}

void TestVisionTransformer::knownUnusedTensorsAreListed() {
  const auto unused = [](const std::string& file, int heads) {
    TransformerLoadOptions options;
    options.heads = heads;
    const auto vit = VisionTransformer::load(fixture(file), options);
    std::vector<std::string> lines;
    for (const UnusedTensors& u : vit->config().unusedTensors) {
      std::string line = u.reason + ":";
      for (const std::string& n : u.names) line += " " + n;
      lines.push_back(line);
    }
    return lines;
  };
  QCOMPARE(unused("timm_vit_f32/model.safetensors", 0),
           (std::vector<std::string>{"classifier head: head.weight"}));
  QCOMPARE(unused("openai_clip_f16/model.safetensors", 0),
           (std::vector<std::string>{"contrastive temperature: logit_scale",
                                     "projection into the joint image-text space: visual.proj"}));
  QCOMPARE(unused("torchvision_f32/model.safetensors", 3),
           (std::vector<std::string>{"classifier head: heads.head.bias heads.head.weight"}));
  QCOMPARE(unused("google_f32/model.npz", 0),
           (std::vector<std::string>{"classifier head: head/bias head/kernel"}));
  QCOMPARE(unused("gguf_clip_f16/mmproj.gguf", 0),
           (std::vector<std::string>{
               "multimodal projector into the language model: mm.0.bias mm.0.weight"}));
  QCOMPARE(unused("hf_dinov2_reg2_bf16/model.safetensors", 0),
           (std::vector<std::string>{"mask token of masked-image pre-training, not in the forward: "
                                     "embeddings.mask_token"}));
}

void TestVisionTransformer::lookalikeIsToldByName() {
  const auto why = [](const std::string& file) {
    const std::string path = fixture(file);
    return encoderRefusalByName(*openTensorSource(path), path, {});
  };
  QCOMPARE(why("timm_dinov2_reg4_f16/model.safetensors"), std::string());
  QVERIFY(why("unknown/timm_dinov2_reg4_f16.safetensors")
              .find("looks like a Meta DINOv3 checkpoint (storage_tokens)") != std::string::npos);
  QVERIFY(why("unknown/timm_deit_bf16.safetensors").find("RoPE") != std::string::npos);
  QVERIFY(why("unknown/torchvision_f32.safetensors").find("BEiT") != std::string::npos);
  QCOMPARE(why("unknown/timm_clip_f32.safetensors"), std::string());  // a plain unknown name
  // A Linear patch embedding (NaFlex) is refused, never reshaped into a conv.
  QVERIFY_THROWS_EXCEPTION(
      Error, (void)VisionTransformer::load(fixture("unknown/naflex_linear_patch.safetensors")));
}

void TestVisionTransformer::prefixRowsComeFromTheFamilyAndGridFromTheSidecar() {
  const auto config = [](const std::string& file) {
    return VisionTransformer::load(fixture(file))->config();
  };
  // DeiT distilled, 4 x 6 (26 rows = cls + dist + 24, not 1 + 5 x 5): pretrained_cfg.input_size.
  TransformerConfig c = config("timm_deit_4x6_f32/model.safetensors");
  QCOMPARE(c.positionPrefixRows, 2);
  QCOMPARE(c.nativeGridRows, 4);
  QCOMPARE(c.nativeGridCols, 6);
  QCOMPARE(QString::fromStdString(c.nativeGridSource),
           QString("config.json pretrained_cfg.input_size"));
  c = config("timm_reg4_noembed_f32/model.safetensors");  // model_args.img_size [56, 42], P 14
  QCOMPARE(c.positionPrefixRows, 0);
  QCOMPARE(c.nativeGridRows, 4);
  QCOMPARE(c.nativeGridCols, 3);
  // The patch-embedding-only reading (the position view) does not guess a grid either.
  const PatchWeights patch = loadPatchWeights(fixture("timm_deit_4x6_f32/model.safetensors"), {});
  QVERIFY(!patch.positionEmbedding.has_value());
  // Meta-named DINOv2: registers after cls, the table on cls only; Meta's own resampling is
  // not timm's, so another grid is refused.
  TransformerLoadOptions two;
  two.heads = 2;
  const auto meta = VisionTransformer::load(fixture("meta_dinov2_reg4_f32/model.pth"), two);
  QCOMPARE(meta->config().positionPrefixRows, 1);
  QCOMPARE(meta->config().registerTokens, 4);
  QVERIFY_THROWS_EXCEPTION(Error, (void)meta->forward(ChwTensor(3, 4 * 14, 3 * 14)));
  c = config("timm_avgpool_f32/model.safetensors");  // no class token, fc_norm known-unused
  QCOMPARE(c.prefixTokens(), 0);
  QVERIFY(!c.finalNorm);
  QCOMPARE(c.unusedTensors.front().names,
           (std::vector<std::string>{"fc_norm.bias", "fc_norm.weight"}));
}

// Without a config.json naming the image size, a non-square table runs on an input of exactly
// its patch count (its own grid) and is refused on any other: no factorisation is guessed.
void TestVisionTransformer::nonSquareTableWithoutSidecarRunsOnlyItsCount() {
  QTemporaryDir dir;
  const QString copy = dir.filePath("model.safetensors");
  QVERIFY(
      QFile::copy(QString::fromStdString(fixture("timm_deit_4x6_f32/model.safetensors")), copy));
  TransformerLoadOptions options;
  options.heads = 2;
  const auto vit = VisionTransformer::load(copy.toStdString(), options);
  QCOMPARE(vit->config().nativeGridRows, 0);
  QCOMPARE(vit->config().positionPrefixRows, 2);
  const TransformerOutput out =
      vit->forward(test::readChwInput(fixture("timm_deit_4x6_f32/input_4x6.npy")));
  const NpzArchive ref(fixture("timm_deit_4x6_f32/expected_4x6.npz"));
  double maxRef = 0;
  QVERIFY(relativeError(out.final, ref.read("final"), &maxRef) <= 1e-4);
  try {
    (void)vit->forward(test::readChwInput(fixture("timm_deit_4x6_f32/input_3x5.npy")));
    QFAIL("ran a non-square table on a grid it cannot know the native shape for");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("no config.json beside the file names"),
             e.what());
  }
}

void TestVisionTransformer::sidecarImageSizeMustFitTheTable() {
  QTemporaryDir dir;
  QVERIFY(QFile::copy(QString::fromStdString(fixture("timm_vit_64x48_f32/model.safetensors")),
                      dir.filePath("model.safetensors")));
  QFile config(dir.filePath("config.json"));
  QVERIFY(config.open(QIODevice::WriteOnly));
  config.write(R"({"model_args": {"num_heads": 3, "img_size": [64, 64]}})");
  config.close();
  try {
    (void)VisionTransformer::load(dir.filePath("model.safetensors").toStdString());
    QFAIL("read a 1 + 4 x 3 table as a 4 x 4 grid");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason())
                 .contains("tensor 'pos_embed' has 13 rows (1 prefix row + 12 patches or 0 prefix "
                           "rows + 13 patches), but config.json model_args.img_size 64x64"),
             e.what());
  }
}

void TestVisionTransformer::ambiguousTableIsRefused() {
  // 17 rows: cls + 4 x 4 (read so), or 17 patches without a class row (timm's no_embed_class):
  // an input of 17 patches fits the second reading exactly, so it is refused, not guessed.
  const auto vit = VisionTransformer::load(fixture("timm_vit_f32/model.safetensors"));
  QCOMPARE(vit->config().positionPrefixRows, 1);
  QCOMPARE(vit->config().alternativePositionPrefixRows, 0);
  try {
    (void)vit->forward(ChwTensor(3, 16, 17 * 16));
    QFAIL("guessed between two readings of the position table");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("ambiguous position table"), e.what());
  }
}

QTEST_APPLESS_MAIN(TestVisionTransformer)
#include "tst_vision_transformer.moc"
