#include <QtTest>
#include <fstream>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/weights/model_preprocessing.h"
#include "core/weights/npy_array.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string processorDir() {
  return test::dataPath("siglip2_hf/processor");
}

// The preprocessing a model file in dir brings (the file itself need not exist).
std::optional<ModelPreprocessing> sidecarIn(const std::string& dir,
                                            std::vector<std::string>& warnings) {
  return findModelPreprocessing(dir + "/model.safetensors", warnings);
}

void writeText(const QString& path, const QByteArray& text) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(text);
}

}  // namespace

// Hugging Face Siglip2ImageProcessor's sizing (ResizeMode::MaxPatches) against
// tests/reference/siglip2_preprocess_fixtures.py: its size rule (checked there against the
// processor's own get_image_size_for_max_num_patches) and its PIL-resized, normalised inputs.
class TestMaxPatches : public QObject {
  Q_OBJECT

 private slots:
  void sizesMatchHuggingFace();
  void sidecarSelectsMaxPatches();
  void inputsMatchThePilReference_data();
  void inputsMatchThePilReference();
  void explicitSizeWinsOverTheSidecar();
  void unsupportedProcessorSettingsWarn_data();
  void unsupportedProcessorSettingsWarn();
  void needsThePatchSize();
};

void TestMaxPatches::sizesMatchHuggingFace() {
  const auto rows = test::readTsv(processorDir() + "/sizes.tsv");
  QVERIFY2(rows.size() >= 100, "sizes.tsv is missing or short");
  for (const auto& r : rows) {
    const int h = std::stoi(r[0]), w = std::stoi(r[1]), patch = std::stoi(r[2]),
              budget = std::stoi(r[3]);
    const InputSize got = maxPatchesInputSize(w, h, patch, budget);
    QVERIFY2(got.height == std::stoi(r[4]) && got.width == std::stoi(r[5]),
             qPrintable(QString("%1x%2 P=%3 max %4: got %5x%6, expected %7x%8")
                            .arg(h)
                            .arg(w)
                            .arg(patch)
                            .arg(budget)
                            .arg(got.height)
                            .arg(got.width)
                            .arg(QString::fromStdString(r[4]))
                            .arg(QString::fromStdString(r[5]))));
    // Never more patches than the budget (except the one-patch minimum).
    QVERIFY(got.height / patch * (got.width / patch) <= std::max(budget, 1));
  }
}

void TestMaxPatches::sidecarSelectsMaxPatches() {
  std::vector<std::string> warnings;
  const auto m = sidecarIn(processorDir(), warnings);
  QVERIFY(warnings.empty());
  QVERIFY(m.has_value());
  QVERIFY(m->resize == ResizeMode::MaxPatches);
  QCOMPARE(m->maxPatches.value_or(0), 24);
  QCOMPARE(m->patchSize.value_or(0), 8);
  QVERIFY(m->interpolation == Interpolation::Bilinear);
  QCOMPARE(QString::fromStdString(m->normalization->name), QString("inception"));
  const QString text = QString::fromStdString(m->description());
  QVERIFY2(text.contains("Siglip2ImageProcessor") && text.contains("max-patches 24 of 8 px"),
           qPrintable(text));
  const PreprocessConfig c = m->applyTo(PreprocessConfig{});
  QVERIFY(c.resize == ResizeMode::MaxPatches);
  QCOMPARE(c.maxPatches, 24);
  QCOMPARE(c.patchSize, 8);
}

void TestMaxPatches::inputsMatchThePilReference_data() {
  QTest::addColumn<QString>("image");
  QTest::addColumn<QString>("name");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("width");
  const QString dir = QString::fromStdString(processorDir());
  QTest::newRow("wide 93x41") << dir + "/wide.png"
                              << "wide" << 24 << 56;
  QTest::newRow("tall 37x120") << dir + "/tall.png"
                               << "tall" << 64 << 24;
  QTest::newRow("tiny 5x3, upscaled") << dir + "/tiny.png"
                                      << "tiny" << 32 << 48;
  QTest::newRow("chelsea 451x300")
      << QString::fromStdString(test::dataPath("chelsea.png")) << "chelsea" << 32 << 48;
}

void TestMaxPatches::inputsMatchThePilReference() {
  QFETCH(QString, image);
  QFETCH(QString, name);
  QFETCH(int, height);
  QFETCH(int, width);
  std::vector<std::string> warnings;
  PreprocessConfig config = sidecarIn(processorDir(), warnings)->applyTo(PreprocessConfig{});
  const LoadedImage loaded = loadImage(image.toStdString());
  const PreprocessGeometry g = preprocessGeometry(loaded.rgb.cols, loaded.rgb.rows, config);
  QCOMPARE(g.inputHeight, height);
  QCOMPARE(g.inputWidth, width);
  QCOMPARE(g.resizedHeight, height);  // the whole image, no crop
  QCOMPARE(g.offsetX, 0);
  QCOMPARE(g.offsetY, 0);
  const PreprocessResult r = preprocess(loaded.rgb, config);
  const NpyArray expected = readNpy(processorDir() + "/" + name.toStdString() + "_input.npy");
  QCOMPARE(expected.shape, (std::vector<std::int64_t>{3, height, width}));
  QCOMPARE(r.tensor.height, height);
  QCOMPARE(r.tensor.width, width);
  QCOMPARE(r.tensor.data.size(), expected.data.size());
  double worst = 0;
  for (std::size_t i = 0; i < expected.data.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(r.tensor.data[i] - expected.data[i])));
  // One 8-bit level is 2/255 after (x - 0.5) / 0.5: this admits float rounding only.
  QVERIFY2(worst <= 1e-6, qPrintable(QString::number(worst)));
}

// --img-size (or --resize) given by the user replaces the processor's sizing.
void TestMaxPatches::explicitSizeWinsOverTheSidecar() {
  std::vector<std::string> warnings;
  const auto m = sidecarIn(processorDir(), warnings);
  PreprocessOverrides given;
  given.size = true;
  PreprocessConfig user;
  user.height = 64;
  user.width = 96;
  const PreprocessConfig c = m->applyTo(user, given);
  QVERIFY(c.resize == ResizeMode::Crop);
  QCOMPARE(c.height, 64);
  QVERIFY2(
      QString::fromStdString(m->description(given)).contains("explicit options kept: --img-size"),
      qPrintable(QString::fromStdString(m->description(given))));
}

void TestMaxPatches::unsupportedProcessorSettingsWarn_data() {
  QTest::addColumn<QByteArray>("json");
  QTest::addColumn<QString>("reason");
  QTest::newRow("no resize") << QByteArray(R"({"image_processor_type": "Siglip2ImageProcessor",
      "do_resize": false, "max_num_patches": 24, "patch_size": 8})")
                             << "do_resize false";
  QTest::newRow("budget 0") << QByteArray(R"({"image_processor_type": "Siglip2ImageProcessor",
      "max_num_patches": 0, "patch_size": 8})")
                            << "max_num_patches";
  QTest::newRow("other rescale") << QByteArray(R"({"image_processor_type": "Siglip2ImageProcessor",
      "max_num_patches": 24, "rescale_factor": 0.5})")
                                 << "rescale_factor";
}

// What PatchLens cannot do as the processor does is a warning naming the setting, never a
// silently different input.
void TestMaxPatches::unsupportedProcessorSettingsWarn() {
  QFETCH(QByteArray, json);
  QFETCH(QString, reason);
  QTemporaryDir dir;
  writeText(dir.filePath("preprocessor_config.json"), json);
  std::vector<std::string> warnings;
  const auto m = sidecarIn(dir.path().toStdString(), warnings);
  QVERIFY(!m.has_value());
  QCOMPARE(warnings.size(), std::size_t{1});
  QVERIFY2(QString::fromStdString(warnings.front()).contains(reason), warnings.front().c_str());
}

void TestMaxPatches::needsThePatchSize() {
  PreprocessConfig c;
  c.resize = ResizeMode::MaxPatches;
  c.patchSize = 0;  // preprocessFor sets the model's
  try {
    (void)fixedSizeFor(c, 100, 80);
    QFAIL("max-patches without a patch size was accepted");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("patch size"), e.what());
  }
  c.patchSize = 16;
  const PreprocessConfig fixed = fixedSizeFor(c, 640, 480);
  QVERIFY(fixed.resize == ResizeMode::Squash);
  QCOMPARE(fixed.height, 224);  // sizes.tsv: 480x640, P 16, 256 patches -> 224 x 288
  QCOMPARE(fixed.width, 288);
}

QTEST_GUILESS_MAIN(TestMaxPatches)
#include "tst_max_patches.moc"
