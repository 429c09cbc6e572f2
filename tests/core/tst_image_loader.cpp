#include <QtTest>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <tuple>

#include "core/image/image_header.h"
#include "core/image/image_loader.h"
#include "core/io/error.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

// Writes bytes to a fresh file in the test's temporary directory.
std::string writeTemp(const QTemporaryDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.path().toStdString() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double meanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  return cv::mean(diff.reshape(1))[0];
}

}  // namespace

// Decoding every kind of image to 8-bit RGB, and refusing what is not one.
class TestImageLoader : public QObject {
  Q_OBJECT

 private slots:
  void decodesFormats_data();
  void decodesFormats();
  void grayBecomesThreeEqualChannels();
  void sixteenBitKeepsTheHighByte();
  void exifOrientation();
  void refusals_data();
  void refusals();
  void pixelLimitIsCheckedFromTheHeader();
  void everyFormatIsSizedFromItsHeader_data();
  void everyFormatIsSizedFromItsHeader();
  void truncatedJpegGivesAWarning();
  void cmykJpegBecomesRgb();
  void multiPageTiffUsesTheFirstPageAndSaysSo();

 private:
  QTemporaryDir m_dir;
};

void TestImageLoader::decodesFormats_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("format");
  QTest::addColumn<double>("tolerance");  // mean |diff| to rgb.png, in 8-bit levels
  QTest::newRow("png") << "rgb.png"
                       << "PNG" << 0.0;
  QTest::newRow("bmp") << "rgb.bmp"
                       << "BMP" << 0.0;
  QTest::newRow("tiff") << "rgb.tiff"
                        << "TIFF" << 0.0;
  QTest::newRow("webp lossless") << "rgb.webp"
                                 << "WebP" << 0.0;
  QTest::newRow("jpeg q95") << "rgb.jpg"
                            << "JPEG" << 5.0;
  QTest::newRow("rgba drops alpha") << "rgba.png"
                                    << "PNG" << 0.0;
  QTest::newRow("palette") << "palette.png"
                           << "PNG" << 12.0;
}

void TestImageLoader::decodesFormats() {
  QFETCH(QString, file);
  QFETCH(QString, format);
  QFETCH(double, tolerance);
  const LoadedImage image = loadImage(test::dataPath("images/" + file.toStdString()));
  QCOMPARE(QString::fromStdString(image.format), format);
  QCOMPARE(image.rgb.type(), CV_8UC3);
  QCOMPARE(image.rgb.cols, 120);
  QCOMPARE(image.rgb.rows, 80);
  const cv::Mat reference = test::readRgbFixture(test::dataPath("images/rgb.png"));
  QVERIFY2(meanAbsDiff(image.rgb, reference) <= tolerance,
           qPrintable(QString::number(meanAbsDiff(image.rgb, reference))));
}

void TestImageLoader::grayBecomesThreeEqualChannels() {
  for (const char* name : {"images/gray.png", "images/gray_alpha.png"}) {
    const LoadedImage image = loadImage(test::dataPath(name));
    std::vector<cv::Mat> planes;
    cv::split(image.rgb, planes);
    QCOMPARE(cv::countNonZero(planes[0] != planes[1]), 0);
    QCOMPARE(cv::countNonZero(planes[0] != planes[2]), 0);
    const cv::Mat gray = cv::imread(test::dataPath("images/gray.png"), cv::IMREAD_GRAYSCALE);
    QCOMPARE(cv::countNonZero(planes[0] != gray), 0);
  }
}

void TestImageLoader::sixteenBitKeepsTheHighByte() {
  // rgb16.png holds v * 256 + x (x < 120) per pixel: the high byte is v again.
  const LoadedImage image = loadImage(test::dataPath("images/rgb16.png"));
  QCOMPARE(image.sourceBitDepth, 16);
  const cv::Mat reference = test::readRgbFixture(test::dataPath("images/rgb.png"));
  QCOMPARE(meanAbsDiff(image.rgb, reference), 0.0);
}

void TestImageLoader::exifOrientation() {
  // Stored 120x80 with orientation 6 (rotate 90 degrees clockwise to display).
  const std::string path = test::dataPath("images/exif_rotate90.jpg");
  const LoadedImage rotated = loadImage(path);
  QCOMPARE(rotated.rgb.cols, 80);
  QCOMPARE(rotated.rgb.rows, 120);
  ImageLoadOptions ignore;
  ignore.applyExifOrientation = false;
  const LoadedImage stored = loadImage(path, ignore);
  QCOMPARE(stored.rgb.cols, 120);
  QCOMPARE(stored.rgb.rows, 80);
  // Clockwise: the stored bottom-left corner becomes the displayed top-left.
  cv::Mat expected;
  cv::rotate(stored.rgb, expected, cv::ROTATE_90_CLOCKWISE);
  QVERIFY(meanAbsDiff(expected, rotated.rgb) < 1.0);
}

void TestImageLoader::refusals_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QString>("reason");
  const std::string png = fileBytes(test::dataPath("images/rgb.png"));
  QTest::newRow("empty") << "empty.png" << QByteArray() << "empty file";
  QTest::newRow("text") << "notes.png" << QByteArray("hello, this is text\n")
                        << "not an image format";
  QTest::newRow("pdf named png") << "paper.png" << QByteArray("%PDF-1.4\n%...")
                                 << "content is a PDF";
  QTest::newRow("numpy named jpg") << "array.jpg" << QByteArray("\x93NUMPY\x01\x00", 8) << "NumPy";
  QTest::newRow("truncated png") << "cut.png" << QByteArray(png.data(), 200)
                                 << "corrupt or truncated PNG";
  QTest::newRow("zero-size png")
      << "zero.png"
      << QByteArray("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\0\0\0\0\0\x08\x02\0\0\0", 29)
      << "empty image";
}

void TestImageLoader::refusals() {
  QFETCH(QString, name);
  QFETCH(QByteArray, bytes);
  QFETCH(QString, reason);
  const std::string path = writeTemp(m_dir, name.toStdString(), bytes.toStdString());
  try {
    loadImage(path);
    QFAIL("no exception");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

void TestImageLoader::pixelLimitIsCheckedFromTheHeader() {
  // A 60000 x 60000 PNG header with no image data: refused before any decoding.
  std::string bomb("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\xea\x60\0\0\xea\x60\x08\x02\0\0\0", 29);
  const std::string path = writeTemp(m_dir, "bomb.png", bomb);
  try {
    loadImage(path);
    QFAIL("no exception");
  } catch (const Error& e) {
    QVERIFY2(QString(e.what()).contains("60000x60000"), e.what());
    QVERIFY2(QString(e.what()).contains("over the limit of 100.0 MP"), e.what());
  }
  ImageLoadOptions tight;
  tight.maxPixels = 120 * 80 - 1;
  QVERIFY_THROWS_EXCEPTION(Error, loadImage(test::dataPath("images/rgb.png"), tight));
  tight.maxPixels = 120 * 80;
  QCOMPARE(loadImage(test::dataPath("images/rgb.png"), tight).rgb.cols, 120);
  const ImageHeader h =
      readImageHeader(std::span(reinterpret_cast<const std::uint8_t*>(bomb.data()), bomb.size()));
  QCOMPARE(h.width, 60000);
}

void TestImageLoader::everyFormatIsSizedFromItsHeader_data() {
  QTest::addColumn<QString>("extension");
  QTest::addColumn<QString>("format");
  QTest::addColumn<bool>("floating");
  for (const auto& [ext, format, floating] : {std::tuple{"png", "PNG", false},
                                              {"jpg", "JPEG", false},
                                              {"bmp", "BMP", false},
                                              {"tiff", "TIFF", false},
                                              {"webp", "WebP", false},
                                              {"ppm", "PNM", false},
                                              {"pam", "PAM", false},
                                              {"ras", "Sun raster", false},
                                              {"jp2", "JPEG 2000", false},
                                              {"pfm", "PFM", true},
                                              {"hdr", "Radiance HDR", true},
                                              {"exr", "OpenEXR", true}}) {
    QTest::newRow(ext) << QString(ext) << QString(format) << floating;
  }
}

void TestImageLoader::everyFormatIsSizedFromItsHeader() {
  // Files written by OpenCV's own encoders, in an odd size (W != H): the header reader must
  // find that size (images are decoded only once sized), and the decode must agree with it.
  QFETCH(QString, extension);
  QFETCH(QString, format);
  QFETCH(bool, floating);
  const cv::Mat rgb = loadImage(test::dataPath("images/rgb.png")).rgb;
  cv::Mat bgr;
  cv::cvtColor(rgb(cv::Rect(0, 0, 117, 61)), bgr, cv::COLOR_RGB2BGR);
  if (floating) bgr.convertTo(bgr, CV_32FC3, 1.0 / 255.0);
  const std::string path = m_dir.path().toStdString() + "/odd." + extension.toStdString();
  QVERIFY(cv::imwrite(path, bgr));
  const std::string bytes = fileBytes(path);
  const ImageHeader h =
      readImageHeader(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  QCOMPARE(QString::fromStdString(h.format), format);
  QVERIFY(h.hasSize);
  QCOMPARE(h.width, 117);
  QCOMPARE(h.height, 61);
  const LoadedImage image = loadImage(path);
  QCOMPARE(image.rgb.cols, 117);
  QCOMPARE(image.rgb.rows, 61);
  // Refused from the header alone when the limit is one pixel short.
  ImageLoadOptions tight;
  tight.maxPixels = 117 * 61 - 1;
  QVERIFY_THROWS_EXCEPTION(Error, loadImage(path, tight));
}

void TestImageLoader::truncatedJpegGivesAWarning() {
  const std::string jpeg = fileBytes(test::dataPath("images/rgb.jpg"));
  const std::string path = writeTemp(m_dir, "cut.jpg", jpeg.substr(0, jpeg.size() * 2 / 3));
  const LoadedImage image = loadImage(path);
  QCOMPARE(image.rgb.cols, 120);
  QCOMPARE(image.warnings.size(), std::size_t{1});
  QVERIFY(QString::fromStdString(image.warnings[0]).contains("truncated"));
  QVERIFY(loadImage(test::dataPath("images/rgb.jpg")).warnings.empty());
}

void TestImageLoader::cmykJpegBecomesRgb() {
  // PIL wrote RGB -> CMYK (naive, no ICC) as a JPEG; it must come back as the same colours.
  const LoadedImage image = loadImage(test::dataPath("images/cmyk.jpg"));
  QCOMPARE(image.rgb.type(), CV_8UC3);
  QCOMPARE(image.rgb.cols, 120);
  const double diff =
      meanAbsDiff(image.rgb, test::readRgbFixture(test::dataPath("images/rgb.png")));
  QVERIFY2(diff <= 5.0, qPrintable(QString::number(diff)));
}

void TestImageLoader::multiPageTiffUsesTheFirstPageAndSaysSo() {
  // Page 1 is rgb.png, page 2 its mirror image.
  const LoadedImage image = loadImage(test::dataPath("images/two_pages.tiff"));
  QCOMPARE(meanAbsDiff(image.rgb, test::readRgbFixture(test::dataPath("images/rgb.png"))), 0.0);
  QCOMPARE(image.warnings.size(), std::size_t{1});
  QVERIFY(QString::fromStdString(image.warnings[0]).contains("2 pages; only the first is used"));
}

QTEST_GUILESS_MAIN(TestImageLoader)
#include "tst_image_loader.moc"
