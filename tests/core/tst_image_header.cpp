#include <QtTest>
#include <fstream>
#include <string>
#include <vector>

#include "core/image/decode_budget.h"
#include "core/image/image_header.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::vector<std::uint8_t> bytesOf(const std::string& relative) {
  std::ifstream in(test::dataPath(relative), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// What headers say before any decode: size, channels, depth, JPEG scans, TIFF tags of every
// type, and the decode bytes estimated from them. Expected values are the ones the fixture
// generators wrote (tests/reference/make_bad_files.py, jpeg_fixtures.py, make_reference.py).
class TestImageHeader : public QObject {
  Q_OBJECT

 private slots:
  void channelsAndDepth_data();
  void channelsAndDepth();
  void tiffTagsOfEveryType_data();
  void tiffTagsOfEveryType();
  void jpegScansAreCounted_data();
  void jpegScansAreCounted();
  void decodeBytesFromTheHeader_data();
  void decodeBytesFromTheHeader();
};

void TestImageHeader::channelsAndDepth_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("format");
  QTest::addColumn<int>("channels");
  QTest::addColumn<int>("bits");
  QTest::addColumn<bool>("isFloat");
  QTest::newRow("PNG RGB") << "images/rgb.png"
                           << "PNG" << 3 << 8 << false;
  QTest::newRow("PNG RGBA") << "images/rgba.png"
                            << "PNG" << 4 << 8 << false;
  QTest::newRow("PNG gray+alpha") << "images/gray_alpha.png"
                                  << "PNG" << 2 << 8 << false;
  QTest::newRow("PNG 16-bit RGB") << "images/rgb16.png"
                                  << "PNG" << 3 << 16 << false;
  QTest::newRow("PNG 16-bit RGBA bomb") << "bad/images/png16_rgba_10000.png"
                                        << "PNG" << 4 << 16 << false;
  QTest::newRow("TIFF RGB") << "images/rgb.tiff"
                            << "TIFF" << 3 << 8 << false;
  QTest::newRow("TIFF 16-bit RGBA") << "bad/images/tiff16_rgba_10000.tiff"
                                    << "TIFF" << 4 << 16 << false;
  QTest::newRow("TIFF float64 RGB") << "bad/images/tiff_f64_rgb_10000.tiff"
                                    << "TIFF" << 3 << 64 << true;
  QTest::newRow("JPEG YCbCr") << "images/jpeg/chelsea_q90_420.jpg"
                              << "JPEG" << 3 << 8 << false;
  QTest::newRow("JPEG gray") << "images/jpeg/chelsea_gray_q90.jpg"
                             << "JPEG" << 1 << 8 << false;
  QTest::newRow("JPEG CMYK") << "images/jpeg/chelsea_cmyk_q90.jpg"
                             << "JPEG" << 4 << 8 << false;
  QTest::newRow("WebP lossless RGBA") << "bad/images/webp_lossless_rgba_10000.webp"
                                      << "WebP" << 4 << 8 << false;
  QTest::newRow("WebP lossless RGB") << "bad/images/webp_lossless_rgb_9000.webp"
                                     << "WebP" << 3 << 8 << false;
  QTest::newRow("JP2 RGB") << "bad/images/jp2_empty_10000.jp2"
                           << "JPEG 2000" << 3 << 8 << false;
  QTest::newRow("JP2 gray") << "bad/images/jp2_empty_gray_9000.jp2"
                            << "JPEG 2000" << 1 << 8 << false;
  QTest::newRow("EXR") << "bad/images/exr_bomb.exr"
                       << "OpenEXR" << 0 << 32 << true;
}

void TestImageHeader::channelsAndDepth() {
  QFETCH(QString, file);
  QFETCH(QString, format);
  QFETCH(int, channels);
  QFETCH(int, bits);
  QFETCH(bool, isFloat);
  const ImageHeader h = readImageHeader(bytesOf(file.toStdString()));
  QCOMPARE(QString::fromStdString(h.format), format);
  QVERIFY(h.hasSize);
  QCOMPARE(h.channels, channels);
  QCOMPARE(h.bitsPerSample, bits);
  QCOMPARE(h.floatSamples, isFloat);
}

void TestImageHeader::tiffTagsOfEveryType_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<qint64>("width");   // -1: no size
  QTest::addColumn<QString>("error");  // expected in sizeError; empty: none
  QTest::newRow("LONG8 values at an offset") << "tiff_long8_size.tiff" << qint64{16000} << "";
  QTest::newRow("BigTIFF, LONG8 inline") << "bigtiff_long8_size.tiff" << qint64{30000} << "";
  QTest::newRow("LONG") << "tiff_bomb.tiff" << qint64{100000} << "";
  QTest::newRow("width twice") << "tiff_width_twice.tiff" << qint64{-1}
                               << "the TIFF header gives ImageWidth twice";
  QTest::newRow("height as SHORT, then LONG") << "tiff_height_twice_short_long.tiff" << qint64{-1}
                                              << "the TIFF header gives ImageLength twice";
  QTest::newRow("width as RATIONAL") << "tiff_width_rational.tiff" << qint64{-1}
                                     << "the TIFF tag ImageWidth has type 5 and 1 values";
  QTest::newRow("width outside the file") << "tiff_width_offset_outside.tiff" << qint64{-1}
                                          << "the TIFF tag ImageWidth points outside the file";
}

void TestImageHeader::tiffTagsOfEveryType() {
  QFETCH(QString, file);
  QFETCH(qint64, width);
  QFETCH(QString, error);
  const ImageHeader h = readImageHeader(bytesOf("bad/images/" + file.toStdString()));
  QCOMPARE(QString::fromStdString(h.format), QString("TIFF"));
  QCOMPARE(QString::fromStdString(h.sizeError), error);
  if (width >= 0) {
    QVERIFY(h.hasSize);
    QCOMPARE(h.width, width);
    QCOMPARE(h.height, width);
  }
}

void TestImageHeader::jpegScansAreCounted_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<int>("scans");
  QTest::addColumn<bool>("progressive");
  QTest::newRow("baseline") << "images/jpeg/chelsea_q90_420.jpg" << 1 << false;
  // libjpeg-turbo's default progression for 3 components (jcparam.c): 10 scans.
  QTest::newRow("progressive YCbCr") << "images/jpeg/chelsea_q90_progressive.jpg" << 10 << true;
  QTest::newRow("600 scans") << "bad/images/jpeg_600_scans.jpg" << 600 << true;
  QTest::newRow("4000 scans") << "bad/images/jpeg_4000_scans.jpg" << 4000 << true;
  QTest::newRow("frame, one empty scan") << "bad/images/jpeg_progressive_10000.jpg" << 1 << true;
}

void TestImageHeader::jpegScansAreCounted() {
  QFETCH(QString, file);
  QFETCH(int, scans);
  QFETCH(bool, progressive);
  const ImageHeader h = readImageHeader(bytesOf(file.toStdString()));
  QCOMPARE(h.jpegScans, scans);
  QCOMPARE(h.progressive, progressive);
}

void TestImageHeader::decodeBytesFromTheHeader_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<double>("bytes");
  // 10000 x 10000 RGBA 16-bit PNG: libpng inflates 10000 rows of 1 + 80000 bytes.
  QTest::newRow("PNG 16-bit RGBA") << "bad/images/png16_rgba_10000.png" << 10000.0 * 80001;
  // 8-bit RGB PNG, 120 x 80 (rgb.png): 80 inflated rows of 1 + 360 bytes, a little more
  // than the 28,800-byte BGR image.
  QTest::newRow("PNG 8-bit RGB") << "images/rgb.png" << 80.0 * 361;
  // TIFF 16-bit RGBA: decoder 8 B/px, 8-bit copy 4 B/px, RGB 3 B/px.
  QTest::newRow("TIFF 16-bit RGBA") << "bad/images/tiff16_rgba_10000.tiff" << 1e8 * (8 + 4 + 3);
  // TIFF float64 RGB: 24 B/px, 8-bit copy 3 B/px, converted in place.
  QTest::newRow("TIFF float64 RGB") << "bad/images/tiff_f64_rgb_10000.tiff" << 1e8 * (24 + 3);
  // JP2 3 x 8-bit: OpenJPEG's int32 planes 12 B/px plus OpenCV's 3 B/px.
  QTest::newRow("JPEG 2000 RGB") << "bad/images/jp2_empty_10000.jp2" << 1e8 * (12 + 3);
  // WebP lossless RGBA: BGRA image 4 B/px, libwebp's ARGB 4 B/px, RGB 3 B/px.
  QTest::newRow("WebP lossless RGBA")
      << "bad/images/webp_lossless_rgba_10000.webp" << 1e8 * (4 + 4 + 3);
}

void TestImageHeader::decodeBytesFromTheHeader() {
  QFETCH(QString, file);
  QFETCH(double, bytes);
  QCOMPARE(decodeBytes(readImageHeader(bytesOf(file.toStdString()))), bytes);
}

QTEST_GUILESS_MAIN(TestImageHeader)
#include "tst_image_header.moc"
