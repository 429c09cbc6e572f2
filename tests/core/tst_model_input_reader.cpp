#include <QtTest>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "core/image/image_loader.h"
#include "core/image/model_input_reader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/io/threading.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::vector<std::uint8_t> bytesOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

PreprocessConfig configFor(const QString& kind) {
  PreprocessConfig c;
  if (kind == "crop 224") return c;
  if (kind == "crop 96 pct 0.5") {  // the centre quarter: most columns and rows skipped
    c.height = c.width = 96;
    c.cropPct = 0.5;
  } else if (kind == "crop 64x128 pct 0.4") {
    c.height = 64;
    c.width = 128;
    c.cropPct = 0.4;
  } else if (kind == "squash 160") {
    c.resize = ResizeMode::Squash;
    c.height = c.width = 160;
  } else if (kind == "pad 224") {
    c.resize = ResizeMode::Pad;
  } else if (kind == "bilinear imagenet") {
    c.interpolation = Interpolation::Bilinear;
    c.normalization = *Normalization::parse("imagenet");
  } else if (kind == "gray input") {
    c.channels = 1;
  } else if (kind == "upscale 512") {
    c.height = c.width = 512;
  }
  return c;
}

const char* const kConfigs[] = {"crop 224",   "crop 96 pct 0.5", "crop 64x128 pct 0.4",
                                "squash 160", "pad 224",         "bilinear imagenet",
                                "gray input", "upscale 512"};

void expectSameInput(const PreprocessResult& got, const PreprocessResult& want) {
  QCOMPARE(got.inputRgb.size(), want.inputRgb.size());
  QCOMPARE(got.inputRgb.type(), want.inputRgb.type());
  QCOMPARE(cv::norm(got.inputRgb, want.inputRgb, cv::NORM_INF), 0.0);
  QCOMPARE(got.tensor.channels, want.tensor.channels);
  QCOMPARE(got.tensor.height, want.tensor.height);
  QCOMPARE(got.tensor.width, want.tensor.width);
  QVERIFY(got.tensor.data == want.tensor.data);  // bit-equal floats
  QCOMPARE(got.geometry.resizedWidth, want.geometry.resizedWidth);
  QCOMPARE(got.geometry.resizedHeight, want.geometry.resizedHeight);
  QCOMPARE(got.geometry.offsetX, want.geometry.offsetX);
  QCOMPARE(got.geometry.offsetY, want.geometry.offsetY);
}

}  // namespace

// The fused JPEG -> model input path (cropped and skipped decode, banded resampling) gives
// the pixels of PIL's decode + torchvision's preprocessing, and what the whole-image path
// gives for files it does not fuse.
class TestModelInputReader : public QObject {
  Q_OBJECT

 private slots:
  void equalsPilDecodeThenPreprocess_data();
  void equalsPilDecodeThenPreprocess();
  void equalsWholeImagePath_data();
  void equalsWholeImagePath();
  void reusesItsBuffersAcrossSizes();
  void overlapsDecodeAndResizeOnLargeImages_data();
  void overlapsDecodeAndResizeOnLargeImages();
  void turnsLargeJpegsByTheirExifOrientation_data();
  void turnsLargeJpegsByTheirExifOrientation();
  void keepsTheDecoderWarnings();
  void refusesHostileFilesAsTheLoaderDoes_data();
  void refusesHostileFilesAsTheLoaderDoes();
  void namesTheFileInErrors();
};

void TestModelInputReader::equalsPilDecodeThenPreprocess_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("config");
  for (const char* n : {"chelsea_q90_420", "chelsea_q90_444", "chelsea_q90_progressive",
                        "coffee_q90_420", "coffee_q90_422_progressive", "chelsea_gray_q90"}) {
    for (const char* c : kConfigs)
      QTest::newRow((std::string(n) + " " + c).c_str()) << QString(n) << QString(c);
  }
}

void TestModelInputReader::equalsPilDecodeThenPreprocess() {
  // Reference: PIL's decode of the file (tests/reference/jpeg_fixtures.py) through the
  // whole-image preprocess, itself checked against torchvision in tst_preprocess.
  QFETCH(QString, name);
  QFETCH(QString, config);
  const std::string stem = test::dataPath("images/jpeg/" + name.toStdString());
  const cv::Mat pil = test::readRgbFixture(stem + ".pil.png");
  QVERIFY(!pil.empty());
  const PreprocessConfig c = configFor(config);
  ModelInputReader reader;
  PreprocessResult got;
  reader.read(stem + ".jpg", ImageLoadOptions{}, c, got);
  QVERIFY(reader.fused());
  expectSameInput(got, preprocess(pil, c));
}

void TestModelInputReader::equalsWholeImagePath_data() {
  QTest::addColumn<QString>("path");
  QTest::addColumn<bool>("fused");
  QTest::newRow("cmyk") << QString::fromStdString(
                               test::dataPath("images/jpeg/chelsea_cmyk_q90.jpg"))
                        << true;
  for (int o = 1; o <= 8; ++o) {
    // Turned JPEGs: the needed rectangle decoded and turned upright (2-8), against
    // loadImage's whole decode turned as OpenCV's imread turns it.
    const std::string name = "orientation_" + std::to_string(o) + ".jpg";
    QTest::newRow(("exif " + name).c_str())
        << QString::fromStdString(test::dataPath("images/jpeg/" + name)) << true;
  }
  QTest::newRow("png (not a JPEG)")
      << QString::fromStdString(test::dataPath("chelsea.png")) << false;
}

void TestModelInputReader::equalsWholeImagePath() {
  QFETCH(QString, path);
  QFETCH(bool, fused);
  for (const char* config : kConfigs) {
    const PreprocessConfig c = configFor(config);
    ModelInputReader reader;
    PreprocessResult got;
    reader.read(path.toStdString(), ImageLoadOptions{}, c, got);
    QCOMPARE(reader.fused(), fused);
    expectSameInput(got, preprocess(loadImage(path.toStdString()).rgb, c));
  }
}

void TestModelInputReader::reusesItsBuffersAcrossSizes() {
  // One reader over images and configs of different sizes, as batch uses it.
  ModelInputReader reader;
  PreprocessResult got;
  for (int round = 0; round < 2; ++round) {
    for (const char* n : {"coffee_q90_420", "chelsea_q90_444", "chelsea_gray_q90"}) {
      for (const char* config : {"upscale 512", "crop 96 pct 0.5", "crop 224"}) {
        const std::string stem = test::dataPath(std::string("images/jpeg/") + n);
        const PreprocessConfig c = configFor(config);
        reader.read(stem + ".jpg", ImageLoadOptions{}, c, got);
        expectSameInput(got, preprocess(test::readRgbFixture(stem + ".pil.png"), c));
      }
    }
  }
}

void TestModelInputReader::overlapsDecodeAndResizeOnLargeImages_data() {
  QTest::addColumn<int>("threads");
  QTest::newRow("1 thread (one loop)") << 1;
  QTest::newRow("2 threads (decode and resize overlap)") << 2;
}

void TestModelInputReader::overlapsDecodeAndResizeOnLargeImages() {
  // 2400 x 1800 (4.3 MP, over the overlap threshold), 4:2:0 and progressive, against the
  // whole-image path (loadImage + preprocess, checked against PIL and torchvision above).
  QFETCH(int, threads);
  setComputeThreads(threads);
  const cv::Mat bgr = cv::imread(test::dataPath("chelsea.png"), cv::IMREAD_COLOR);
  cv::Mat big;
  cv::resize(bgr, big, cv::Size(2400, 1800), 0, 0, cv::INTER_CUBIC);
  for (const bool progressive : {false, true}) {
    std::vector<std::uint8_t> jpeg;
    QVERIFY(cv::imencode(
        ".jpg", big, jpeg,
        {cv::IMWRITE_JPEG_QUALITY, 92, cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0}));
    for (const char* config : {"crop 224", "crop 96 pct 0.5", "squash 160"}) {
      const PreprocessConfig c = configFor(config);
      ModelInputReader reader;
      PreprocessResult got;
      reader.decode(jpeg, "big.jpg", ImageLoadOptions{}, c, got);
      QVERIFY(reader.fused());
      expectSameInput(got, preprocess(decodeImage(jpeg, "big.jpg").rgb, c));
      // --fast-decode: the same DCT scale-down (1/2 here) as loadImage's reduced decode.
      ImageLoadOptions reduced;
      reduced.reducedDecodeMinSide = 500;
      reader.decode(jpeg, "big.jpg", reduced, c, got);
      QVERIFY(reader.fused());
      const LoadedImage half = decodeImage(jpeg, "big.jpg", reduced);
      QCOMPARE(half.decodeReduction, 2);
      expectSameInput(got, preprocess(half.rgb, c));
    }
  }
  setComputeThreads(0);
}

void TestModelInputReader::turnsLargeJpegsByTheirExifOrientation_data() {
  QTest::addColumn<int>("orientation");
  for (int o = 1; o <= 8; ++o) QTest::newRow(("orientation " + std::to_string(o)).c_str()) << o;
}

void TestModelInputReader::turnsLargeJpegsByTheirExifOrientation() {
  // A 1200 x 800 photo (not square: transposes show) with an EXIF APP1 segment spliced in
  // after SOI; off-centre crops make a misplaced rectangle visible. Reference: loadImage's
  // whole decode, turned as OpenCV's imread turns it (tst_jpeg_decoder).
  QFETCH(int, orientation);
  const cv::Mat bgr = cv::imread(test::dataPath("chelsea.png"), cv::IMREAD_COLOR);
  cv::Mat big;
  cv::resize(bgr, big, cv::Size(1200, 800), 0, 0, cv::INTER_CUBIC);
  std::vector<std::uint8_t> jpeg;
  QVERIFY(cv::imencode(".jpg", big, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90}));
  // APP1: "Exif\0\0", little-endian TIFF header, one IFD entry 0x0112 SHORT = orientation.
  const auto o = static_cast<std::uint8_t>(orientation);
  const std::vector<std::uint8_t> app1 = {
      0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0, 8, 0, 0, 0,
      1,    0,    0x12, 0x01, 3,   0,   1,   0,   0, 0, o,   0,   0,    0, 0, 0, 0, 0};
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());
  for (const char* config : {"crop 224", "crop 64x128 pct 0.4", "squash 160"}) {
    PreprocessConfig c = configFor(config);
    ModelInputReader reader;
    PreprocessResult got;
    reader.decode(jpeg, "turned.jpg", ImageLoadOptions{}, c, got);
    QVERIFY(reader.fused());
    const LoadedImage whole = decodeImage(jpeg, "turned.jpg");
    QCOMPARE(whole.rgb.cols, orientation >= 5 ? 800 : 1200);  // the EXIF tag was read
    expectSameInput(got, preprocess(whole.rgb, c));
  }
}

void TestModelInputReader::keepsTheDecoderWarnings() {
  // The same warnings as loadImage: damaged and truncated files (tests/data/bad/warnings).
  for (const auto& row : test::readTsv(test::dataPath("bad/warnings/expected.tsv"))) {
    const std::string path = test::dataPath("bad/warnings/" + row[0]);
    if (readImageHeader(bytesOf(path)).format != "JPEG") continue;
    ModelInputReader reader;
    PreprocessResult got;
    reader.read(path, ImageLoadOptions{}, PreprocessConfig{}, got);
    const LoadedImage whole = loadImage(path);
    QCOMPARE(reader.warnings(), whole.warnings);
    QVERIFY2(!reader.warnings().empty(), row[0].c_str());
    expectSameInput(got, preprocess(whole.rgb, PreprocessConfig{}));
  }
}

void TestModelInputReader::refusesHostileFilesAsTheLoaderDoes_data() {
  QTest::addColumn<QString>("path");
  for (const auto& row : test::readTsv(test::dataPath("bad/images/expected.tsv")))
    QTest::newRow(row[0].c_str()) << QString::fromStdString(test::dataPath("bad/images/" + row[0]));
}

void TestModelInputReader::refusesHostileFilesAsTheLoaderDoes() {
  // batch reads through ModelInputReader: every hostile file (decompression bombs, too many
  // scans, truncated or garbage data) must end as loadImage + preprocess ends — the same
  // refusal, or the same model input.
  QFETCH(QString, path);
  const std::string file = path.toStdString();
  std::string wholeError;
  PreprocessResult whole;
  try {
    whole = preprocess(loadImage(file).rgb, PreprocessConfig{});
  } catch (const Error& e) {
    wholeError = e.reason();
  }
  std::string fusedError;
  PreprocessResult fused;
  ModelInputReader reader;
  try {
    reader.read(file, ImageLoadOptions{}, PreprocessConfig{}, fused);
  } catch (const Error& e) {
    fusedError = e.reason();
    QCOMPARE(e.file(), file);
  }
  QCOMPARE(QString::fromStdString(fusedError), QString::fromStdString(wholeError));
  if (wholeError.empty()) expectSameInput(fused, whole);
}

void TestModelInputReader::namesTheFileInErrors() {
  PreprocessConfig tooExtreme;
  tooExtreme.width = 0;
  const std::string path = test::dataPath("images/jpeg/chelsea_q90_420.jpg");
  ModelInputReader reader;
  PreprocessResult got;
  try {
    reader.read(path, ImageLoadOptions{}, tooExtreme, got);
    QFAIL("an impossible model input size was accepted");
  } catch (const Error& e) {
    QCOMPARE(e.file(), path);
    QVERIFY(QString::fromStdString(e.reason()).contains("image size"));
  }
  try {
    reader.read(test::dataPath("images/jpeg/missing.jpg"), ImageLoadOptions{}, PreprocessConfig{},
                got);
    QFAIL("a missing file was read");
  } catch (const Error& e) {
    QVERIFY(QString::fromStdString(e.file()).endsWith("missing.jpg"));
  }
}

QTEST_GUILESS_MAIN(TestModelInputReader)
#include "tst_model_input_reader.moc"
