#include <QtTest>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "core/image/exif_orientation.h"
#include "core/image/image_loader.h"
#include "core/image/jpeg_decoder.h"
#include "core/io/error.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::vector<std::uint8_t> bytesOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Largest per-value difference; -1 when the shapes differ.
int maxDiff(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return -1;
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  double high = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &high);
  return static_cast<int>(high);
}

// OpenCV's own decode of a file (cv::imread with flags), as RGB: the reference it is not ours.
cv::Mat openCvRgb(const std::string& path, int flags) {
  const cv::Mat bgr = cv::imread(path, flags);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

std::string jpegFixture(const QString& name) {
  return test::dataPath("images/jpeg/" + name.toStdString());
}

}  // namespace

// libjpeg-turbo straight to RGB: the same pixels as PIL and OpenCV (same library, same IDCT),
// every EXIF orientation, the scan limit, the decode budget and the warnings.
class TestJpegDecoder : public QObject {
  Q_OBJECT

 private slots:
  void equalsPilDecode_data();
  void equalsPilDecode();
  void equalsOpenCvDecode_data();
  void equalsOpenCvDecode();
  void reducedDecodeEqualsOpenCv_data();
  void reducedDecodeEqualsOpenCv();
  void everyExifOrientation_data();
  void everyExifOrientation();
  void exifOrientationParser_data();
  void exifOrientationParser();
  void scanLimitIsCheckedBeforeDecoding();
  void decodeBudgetCountsProgressiveCoefficients();
  void warnsAboutDamagedData_data();
  void warnsAboutDamagedData();
};

void TestJpegDecoder::equalsPilDecode_data() {
  QTest::addColumn<QString>("name");
  for (const char* n : {"chelsea_q90_420", "chelsea_q90_444", "chelsea_q90_progressive",
                        "coffee_q90_420", "coffee_q90_422_progressive", "chelsea_gray_q90"})
    QTest::newRow(n) << QString(n);
}

void TestJpegDecoder::equalsPilDecode() {
  // PIL's decode of the same file, saved losslessly by tests/reference/jpeg_fixtures.py.
  QFETCH(QString, name);
  const LoadedImage image = loadImage(jpegFixture(name + ".jpg"));
  const cv::Mat pil = test::readRgbFixture(jpegFixture(name + ".pil.png"));
  QCOMPARE(image.format, std::string("JPEG"));
  QCOMPARE(image.rgb.type(), CV_8UC3);
  QCOMPARE(maxDiff(image.rgb, pil), 0);
  QVERIFY(image.warnings.empty());
}

void TestJpegDecoder::equalsOpenCvDecode_data() {
  QTest::addColumn<QString>("path");
  for (const char* n : {"chelsea_q90_420", "chelsea_q90_444", "chelsea_q90_progressive",
                        "coffee_q90_422_progressive", "chelsea_gray_q90", "chelsea_cmyk_q90"})
    QTest::newRow(n) << QString::fromStdString(jpegFixture(QString(n) + ".jpg"));
  QTest::newRow("cmyk.jpg (Adobe, inverted)")
      << QString::fromStdString(test::dataPath("images/cmyk.jpg"));
  QTest::newRow("rgb.jpg") << QString::fromStdString(test::dataPath("images/rgb.jpg"));
  QTest::newRow("exif_rotate90.jpg")
      << QString::fromStdString(test::dataPath("images/exif_rotate90.jpg"));
}

void TestJpegDecoder::equalsOpenCvDecode() {
  QFETCH(QString, path);
  const LoadedImage image = loadImage(path.toStdString());
  QCOMPARE(maxDiff(image.rgb, openCvRgb(path.toStdString(), cv::IMREAD_COLOR)), 0);
}

void TestJpegDecoder::reducedDecodeEqualsOpenCv_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<int>("factor");
  for (const char* n : {"chelsea_q90_420", "chelsea_q90_progressive", "chelsea_cmyk_q90"}) {
    for (int f : {2, 4, 8}) {
      const QByteArray row = QString("%1 1/%2").arg(n).arg(f).toLatin1();
      QTest::newRow(row.constData()) << QString(n) << f;
    }
  }
}

void TestJpegDecoder::reducedDecodeEqualsOpenCv() {
  QFETCH(QString, name);
  QFETCH(int, factor);
  const std::string path = jpegFixture(name + ".jpg");
  const std::vector<std::uint8_t> bytes = bytesOf(path);
  ImageLoadOptions options;
  options.reducedDecodeMinSide = 300 / factor;  // chelsea is 451 x 300: exactly this factor
  QCOMPARE(reducedDecodeFactor(bytes, options.reducedDecodeMinSide), factor);
  const LoadedImage image = decodeImage(bytes, path, options);
  QCOMPARE(image.decodeReduction, factor);
  QCOMPARE(image.sourceWidth, 451);
  QCOMPARE(image.sourceHeight, 300);
  const int flags = factor == 2   ? cv::IMREAD_REDUCED_COLOR_2
                    : factor == 4 ? cv::IMREAD_REDUCED_COLOR_4
                                  : cv::IMREAD_REDUCED_COLOR_8;
  QCOMPARE(maxDiff(image.rgb, openCvRgb(path, flags)), 0);
}

void TestJpegDecoder::everyExifOrientation_data() {
  QTest::addColumn<int>("orientation");
  for (int o = 1; o <= 8; ++o) QTest::addRow("orientation %d", o) << o;
}

void TestJpegDecoder::everyExifOrientation() {
  QFETCH(int, orientation);
  const std::string path = jpegFixture(QString("orientation_%1.jpg").arg(orientation));
  const LoadedImage image = loadImage(path);
  QCOMPARE(maxDiff(image.rgb, openCvRgb(path, cv::IMREAD_COLOR)), 0);
  const bool turned = orientation >= 5;
  QCOMPARE(image.rgb.cols, turned ? 32 : 48);
  QCOMPARE(image.sourceWidth, turned ? 32 : 48);
  // --no-exif: the stored pixels, as PIL-based training pipelines see them.
  ImageLoadOptions raw;
  raw.applyExifOrientation = false;
  QCOMPARE(maxDiff(loadImage(path, raw).rgb,
                   openCvRgb(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION)),
           0);
}

void TestJpegDecoder::exifOrientationParser_data() {
  QTest::addColumn<QByteArray>("app1");
  QTest::addColumn<int>("orientation");
  // "Exif\0\0", TIFF header, IFD0 with one entry: tag 0x0112, SHORT, count 1, value.
  const QByteArray little =
      QByteArray("Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0", 28);
  const QByteArray big =
      QByteArray("Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x03\0\0", 28);
  QTest::newRow("little endian 6") << little << 6;
  QTest::newRow("big endian 3") << big << 3;
  QByteArray nine = little;
  nine[24] = 9;
  QTest::newRow("out of range") << nine << 1;
  QByteArray wrongType = little;
  wrongType[18] = 4;  // LONG: not how the tag is written
  QTest::newRow("wrong type") << wrongType << 1;
  QTest::newRow("IFD offset past the end") << QByteArray("Exif\0\0II*\0\xff\xff\xff\x7f", 14) << 1;
  QTest::newRow("entries past the end") << little.left(20) << 1;
  QTest::newRow("empty") << QByteArray() << 1;
}

void TestJpegDecoder::exifOrientationParser() {
  QFETCH(QByteArray, app1);
  QFETCH(int, orientation);
  QCOMPARE(exifOrientation({reinterpret_cast<const std::uint8_t*>(app1.constData()),
                            static_cast<std::size_t>(app1.size())}),
           orientation);
}

void TestJpegDecoder::scanLimitIsCheckedBeforeDecoding() {
  // 600 scans of a 16 x 16 image (tests/reference/make_bad_files.py).
  const std::string path = test::dataPath("bad/images/jpeg_600_scans.jpg");
  try {
    loadImage(path);
    QFAIL("600 scans were accepted");
  } catch (const Error& e) {
    QCOMPARE(
        QString(e.what()),
        QString::fromStdString(path) +
            ": the JPEG has 600 scans, more than the limit of 500 (raise it with --max-scans)");
  }
  ImageLoadOptions more;
  more.maxJpegScans = 600;
  const LoadedImage image = loadImage(path, more);
  QCOMPARE(image.rgb.cols, 16);
}

void TestJpegDecoder::decodeBudgetCountsProgressiveCoefficients() {
  // 451 x 300, 4:2:0: RGB output 405,900 bytes; libjpeg's coefficient buffer for the
  // progressive file is (57 x 38 luma blocks, rounded up to 2 x 2 MCUs: 58 x 38) + 2 x (29 x 19)
  // chroma blocks = 3306 blocks of 128 bytes = 423,168 bytes. The baseline needs only the output.
  const std::string progressive = jpegFixture("chelsea_q90_progressive.jpg");
  const std::string baseline = jpegFixture("chelsea_q90_420.jpg");
  ImageLoadOptions options;
  options.maxDecodeBytes = 405'900 + 423'168;
  QCOMPARE(loadImage(progressive, options).rgb.cols, 451);
  options.maxDecodeBytes = 405'900 + 423'168 - 1;
  QVERIFY_THROWS_EXCEPTION(Error, loadImage(progressive, options));
  options.maxDecodeBytes = 405'900;
  QCOMPARE(loadImage(baseline, options).rgb.cols, 451);
  options.maxDecodeBytes = 405'899;
  try {
    loadImage(baseline, options);
    QFAIL("over the budget");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("over the decode memory limit"), e.what());
    QVERIFY2(QString::fromStdString(e.reason()).contains("--max-decode-mb"), e.what());
  }
}

void TestJpegDecoder::warnsAboutDamagedData_data() {
  QTest::addColumn<QString>("path");
  QTest::addColumn<QString>("warning");
  for (const auto& row : test::readTsv(test::dataPath("bad/warnings/expected.tsv"))) {
    QTest::newRow(row[0].c_str()) << QString::fromStdString(
                                         test::dataPath("bad/warnings/" + row[0]))
                                  << QString::fromStdString(row[1]);
  }
  QTest::newRow("complete file") << QString::fromStdString(jpegFixture("chelsea_q90_420.jpg"))
                                 << QString();
}

void TestJpegDecoder::warnsAboutDamagedData() {
  QFETCH(QString, path);
  QFETCH(QString, warning);
  const LoadedImage image = loadImage(path.toStdString());
  if (warning.isEmpty()) {
    QVERIFY(image.warnings.empty());
    return;
  }
  QCOMPARE(image.warnings.size(), std::size_t{1});
  QVERIFY2(QString::fromStdString(image.warnings[0]).contains(warning), image.warnings[0].c_str());
}

QTEST_GUILESS_MAIN(TestJpegDecoder)
#include "tst_jpeg_decoder.moc"
