#include <QtTest>
#include <opencv2/core.hpp>

#include "core/model/pipeline.h"
#include "core/weights/model_preprocessing.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string sidecarModel(const std::string& folder) {
  return test::dataPath("checkpoints/sidecar_" + folder + "/model.pth");
}

// The geometry a 400 x 300 (W x H) image gets under config.
PreprocessGeometry geometryFor(const PreprocessConfig& config) {
  const cv::Mat rgb(300, 400, CV_8UC3, cv::Scalar(10, 20, 30));
  return preprocess(rgb, config).geometry;
}

}  // namespace

// Sidecar configs and GGUF metadata (tests/data/checkpoints/sidecar_*, written by
// tests/reference/checkpoint_fixtures.py) against what timm's resolve_data_config +
// transforms_imagenet_eval and Hugging Face's image processors do, worked out by hand.
class TestModelPreprocessing : public QObject {
  Q_OBJECT

 private slots:
  void sidecars_data();
  void sidecars();
  void malformedSidecarWarnsAndKeepsDefaults();
  void huggingFaceModelConfigIsSkipped();
  void noSidecarNoPreprocessing();
  void ggufMetadata();
  void explicitOptionsWin();
  void initializersIgnoreSidecars();
};

void TestModelPreprocessing::sidecars_data() {
  QTest::addColumn<QString>("folder");
  QTest::addColumn<QString>("source");
  QTest::addColumn<int>("size");
  QTest::addColumn<QString>("resize");
  QTest::addColumn<QString>("interp");
  QTest::addColumn<QString>("norm");
  QTest::addColumn<int>("resizedW");  // of a 400 x 300 image
  QTest::addColumn<int>("resizedH");
  // timm vit_base_patch16_384: crop_pct 1.0 -> scale floor(384 / 1.0) = 384 on the shorter
  // side (300 -> 384, 400 -> int(384 * 400 / 300) = 512), centre crop 384.
  QTest::newRow("timm crop_pct 1") << "timm_config"
                                   << "config.json (timm pretrained_cfg)" << 384 << "crop"
                                   << "bicubic"
                                   << "inception" << 512 << 384;
  // timm crop_pct 0.875 with 224: floor(224 / 0.875) = 256 (400 -> int(256 * 4 / 3) = 341).
  QTest::newRow("timm crop_pct 0.875") << "timm_config_default_crop"
                                       << "config.json (timm pretrained_cfg)" << 224 << "crop"
                                       << "bilinear"
                                       << "imagenet" << 341 << 256;
  // HF ViTImageProcessor: size {224, 224}, no crop: squash; resample 2 = bilinear.
  QTest::newRow("hf vit") << "hf_vit"
                          << "preprocessor_config.json (Hugging Face)" << 224 << "squash"
                          << "bilinear"
                          << "inception" << 224 << 224;
  // HF CLIPImageProcessor: shortest_edge 224 (400 -> int(224 * 400 / 300) = 298), crop 224,
  // resample 3 = bicubic, CLIP mean/std.
  QTest::newRow("hf clip") << "hf_clip"
                           << "preprocessor_config.json (Hugging Face)" << 224 << "crop"
                           << "bicubic"
                           << "clip" << 298 << 224;
}

void TestModelPreprocessing::sidecars() {
  QFETCH(QString, folder);
  QFETCH(QString, source);
  QFETCH(int, size);
  QFETCH(QString, resize);
  QFETCH(QString, interp);
  QFETCH(QString, norm);
  QFETCH(int, resizedW);
  QFETCH(int, resizedH);
  std::vector<std::string> warnings;
  const auto m = findModelPreprocessing(sidecarModel(folder.toStdString()), warnings);
  QVERIFY(warnings.empty());
  QVERIFY(m);
  QCOMPARE(QString::fromStdString(m->source), source);
  const PreprocessConfig p = m->applyTo(PreprocessConfig{});
  QCOMPARE(p.height, size);
  QCOMPARE(p.width, size);
  QCOMPARE(QString::fromStdString(resizeModeName(p.resize)), resize);
  QCOMPARE(QString::fromStdString(interpolationName(p.interpolation)), interp);
  QCOMPARE(QString::fromStdString(p.normalization.name), norm);
  const PreprocessGeometry g = geometryFor(p);
  QCOMPARE(g.resizedWidth, resizedW);
  QCOMPARE(g.resizedHeight, resizedH);
  QVERIFY(m->description().rfind("preprocessing from " + source.toStdString() + ":", 0) == 0);
}

void TestModelPreprocessing::malformedSidecarWarnsAndKeepsDefaults() {
  std::vector<std::string> warnings;
  const auto m = findModelPreprocessing(sidecarModel("hf_malformed"), warnings);
  QVERIFY(!m);
  QCOMPARE(warnings.size(), std::size_t{1});
  QVERIFY2(warnings[0].find("preprocessor_config.json: not valid JSON; preprocessing defaults "
                            "kept") != std::string::npos,
           warnings[0].c_str());
  PipelineConfig config;
  config.weights.source = sidecarModel("hf_malformed");
  const ModelPreprocessingNote note = applyModelPreprocessing(config);
  QVERIFY(note.description.empty());
  QCOMPARE(note.warnings.size(), std::size_t{1});
  QCOMPARE(config.preprocess.height, 224);
  QCOMPARE(config.preprocess.cropPct, 0.9);
}

void TestModelPreprocessing::huggingFaceModelConfigIsSkipped() {
  std::vector<std::string> warnings;
  QVERIFY(!findModelPreprocessing(sidecarModel("hf_config_only"), warnings));
  QVERIFY(warnings.empty());
}

void TestModelPreprocessing::noSidecarNoPreprocessing() {
  std::vector<std::string> warnings;
  QVERIFY(!findModelPreprocessing(test::dataPath("checkpoints/timm_zip.pth"), warnings));
  QVERIFY(warnings.empty());
}

// llama.cpp metadata: clip.vision.image_size 16, the CLIP mean/std.
void TestModelPreprocessing::ggufMetadata() {
  std::vector<std::string> warnings;
  const auto m = findModelPreprocessing(test::dataPath("checkpoints/mmproj_f32.gguf"), warnings);
  QVERIFY(m);
  QCOMPARE(QString::fromStdString(m->source), QStringLiteral("GGUF metadata (clip.vision.*)"));
  const PreprocessConfig p = m->applyTo(PreprocessConfig{});
  QCOMPARE(p.height, 16);
  QCOMPARE(p.width, 16);
  QCOMPARE(QString::fromStdString(p.normalization.name), QStringLiteral("clip"));
  QCOMPARE(p.resize, ResizeMode::Crop);  // not set by the metadata: the default stays
}

void TestModelPreprocessing::explicitOptionsWin() {
  PipelineConfig config;
  config.weights.source = sidecarModel("timm_config_default_crop");
  config.preprocess.normalization = *Normalization::parse("clip");
  config.explicitPreprocess.normalization = true;
  config.preprocess.height = config.preprocess.width = 160;
  config.explicitPreprocess.size = true;
  const ModelPreprocessingNote note = applyModelPreprocessing(config);
  QCOMPARE(QString::fromStdString(note.description),
           QStringLiteral("preprocessing from config.json (timm pretrained_cfg): crop, crop-pct "
                          "0.875, bilinear; explicit options kept: --img-size, --norm"));
  QCOMPARE(QString::fromStdString(config.preprocess.normalization.name), QStringLiteral("clip"));
  QCOMPARE(config.preprocess.height, 160);
  QCOMPARE(config.preprocess.cropPct, 0.875);
  QCOMPARE(config.preprocess.interpolation, Interpolation::Bilinear);
}

void TestModelPreprocessing::initializersIgnoreSidecars() {
  PipelineConfig config;
  config.weights.source = "xavier";
  const ModelPreprocessingNote note = applyModelPreprocessing(config);
  QVERIFY(note.description.empty());
  QCOMPARE(config.preprocess.cropPct, 0.9);
}

QTEST_GUILESS_MAIN(TestModelPreprocessing)
#include "tst_model_preprocessing.moc"
