#include <QtTest>
#include <algorithm>

#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/model/vision_transformer.h"
#include "core/weights/model_preprocessing.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("gguf_gemma3/" + file);
}

}  // namespace

// The SigLIP vision tower of a Gemma 3 mmproj GGUF (clip.projector_type "gemma3", llama.cpp's
// names and metadata) against a SigLIP tower written as transformers' SiglipVisionModel computes
// it (tests/reference/gguf_gemma3_fixtures.py): no class token, GELU tanh, eps from the metadata,
// v.post_ln; the projector's tensors listed as unused; other projector types, unknown clip.* keys
// and disagreeing metadata refused by name. Images are refused for Gemma 3 (llama.cpp's own
// resize of the whole image is not reproduced), tensors still run; llava's CLIP keeps its images.
class TestGgufGemma3 : public QObject {
  Q_OBJECT

 private slots:
  void towerMatchesSiglip();
  void projectorTensorsAreKnownUnused();
  void refusedByName_data();
  void refusedByName();
  void imagesRefusedByName();
};

void TestGgufGemma3::towerMatchesSiglip() {
  std::string whyNot;
  const auto vit = VisionTransformer::load(fixture("siglip_tower/mmproj.gguf"), {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  const TransformerConfig& c = vit->config();
  QCOMPARE(QString::fromStdString(c.family), QString("llama.cpp Gemma 3 SigLIP (GGUF)"));
  QCOMPARE(QString::fromStdString(c.headsSource),
           QString("GGUF metadata clip.vision.attention.head_count"));
  QCOMPARE(c.numHeads, 4);
  QCOMPARE(c.depth, 2);
  QCOMPARE(c.prefixTokens(), 0);
  QVERIFY(!c.preNorm);
  QVERIFY(c.finalNorm);
  QCOMPARE(c.activation, Activation::GeluTanh);
  QCOMPARE(c.layerNormEps, 1e-6f);
  test::compareForwardWithReference(*vit, fixture("siglip_tower/input_4x4.npy"),
                                    fixture("siglip_tower/expected_4x4.npz"), 4, 2);
}

void TestGgufGemma3::projectorTensorsAreKnownUnused() {
  const auto vit = VisionTransformer::load(fixture("siglip_tower/mmproj.gguf"));
  QVERIFY(vit.has_value());
  std::vector<std::string> unused;
  bool gemmaReason = false;
  for (const UnusedTensors& u : vit->config().unusedTensors) {
    unused.insert(unused.end(), u.names.begin(), u.names.end());
    gemmaReason = gemmaReason || u.reason.rfind("Gemma 3 projector", 0) == 0;
  }
  std::sort(unused.begin(), unused.end());
  QCOMPARE(unused,
           (std::vector<std::string>{"mm.input_projection.weight", "mm.soft_emb_norm.weight"}));
  QVERIFY(gemmaReason);
}

void TestGgufGemma3::refusedByName_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  const auto rows = test::readTsv(fixture("bad/expected.tsv"));
  QVERIFY2(rows.size() >= 5, "run tests/reference/gguf_gemma3_fixtures.py");
  for (const auto& r : rows)
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
}

void TestGgufGemma3::refusedByName() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = fixture("bad/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path);
    QFAIL("loaded a Gemma 3 mmproj PatchLens does not run exactly");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

// clip.cpp's mtmd_image_preprocessor_fixed_size resizes the whole image to image_size with
// llama.cpp's own img_tool::resize: not PatchLens' resize, so an image is refused by name, not
// cropped and resized otherwise (the size and mean / std from the metadata stay for info).
void TestGgufGemma3::imagesRefusedByName() {
  std::vector<std::string> warnings;
  const auto gemma = findModelPreprocessing(fixture("siglip_tower/mmproj.gguf"), warnings);
  QVERIFY(gemma.has_value());
  QVERIFY(warnings.empty());
  QCOMPARE(gemma->height.value_or(0), 32);
  QVERIFY(gemma->description().find("images refused: a Gemma 3 mmproj") != std::string::npos);
  const PreprocessConfig config = gemma->applyTo(PreprocessConfig{});
  const cv::Mat image(30, 40, CV_8UC3, cv::Scalar(200, 30, 30));
  try {
    (void)preprocess(image, config);
    QFAIL("preprocessed an image for a Gemma 3 mmproj");
  } catch (const Error& e) {
    QVERIFY2(e.reason().find("llama.cpp's own resize") != std::string::npos, e.what());
  }
  // Whatever the user sets, the resize is still not llama.cpp's: refused all the same.
  PreprocessOverrides given;
  given.resize = given.interpolation = given.size = true;
  QVERIFY_THROWS_EXCEPTION(Error, (void)preprocess(image, gemma->applyTo(config, given)));
  // llava's CLIP mmproj: its images run as before.
  const auto clip = findModelPreprocessing(test::dataPath("checkpoints/mmproj_f32.gguf"), warnings);
  if (clip) {
    QVERIFY(clip->imageRefusal.empty());
    QCOMPARE(preprocess(image, clip->applyTo(PreprocessConfig{})).tensor.channels, 3);
  }
}

QTEST_APPLESS_MAIN(TestGgufGemma3)
#include "tst_gguf_gemma3.moc"
