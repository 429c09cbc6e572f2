#include <QtTest>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "core/image/image_loader.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

int maxDiff(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return -1;
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  double high = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &high);
  return static_cast<int>(high);
}

}  // namespace

// libpng straight to RGB: the same pixels as OpenCV's imread (IMREAD_COLOR, then RGB) for
// every colour type and depth, the eXIf orientation, and no inflating past the last row.
class TestPngDecoder : public QObject {
  Q_OBJECT

 private slots:
  void equalsOpenCv_data();
  void equalsOpenCv();
  void stopsAfterTheLastRow();
};

void TestPngDecoder::equalsOpenCv_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<int>("channels");  // what the file holds
  QTest::addColumn<int>("depth");
  QTest::newRow("RGB") << "images/rgb.png" << 3 << 8;
  QTest::newRow("RGBA: alpha dropped") << "images/rgba.png" << 4 << 8;
  QTest::newRow("gray") << "images/gray.png" << 1 << 8;
  QTest::newRow("gray + alpha") << "images/gray_alpha.png" << 2 << 8;
  QTest::newRow("palette") << "images/palette.png" << 3 << 8;
  QTest::newRow("16-bit RGB: high byte") << "images/rgb16.png" << 3 << 16;
  QTest::newRow("chelsea") << "chelsea.png" << 3 << 8;
  QTest::newRow("eXIf orientation 3") << "images/jpeg/orientation_3.png" << 3 << 8;
  QTest::newRow("eXIf orientation 6") << "images/jpeg/orientation_6.png" << 3 << 8;
  QTest::newRow("eXIf orientation 8") << "images/jpeg/orientation_8.png" << 3 << 8;
}

void TestPngDecoder::equalsOpenCv() {
  QFETCH(QString, file);
  QFETCH(int, channels);
  QFETCH(int, depth);
  const std::string path = test::dataPath(file.toStdString());
  const LoadedImage image = loadImage(path);
  QCOMPARE(image.format, std::string("PNG"));
  QCOMPARE(maxDiff(image.rgb, test::readRgbFixture(path)), 0);
  QCOMPARE(image.sourceChannels, channels);
  QCOMPARE(image.sourceBitDepth, depth);
  QCOMPARE(image.sourceWidth, image.rgb.cols);
}

void TestPngDecoder::stopsAfterTheLastRow() {
  // 100 x 100 gray whose IDAT inflates to 100 MB (tests/reference/make_bad_files.py): the
  // rows are zeros, the rest is never inflated and is reported once.
  const LoadedImage image = loadImage(test::dataPath("bad/warnings/png_idat_inflates_100mb.png"));
  QCOMPARE(image.rgb.cols, 100);
  QCOMPARE(cv::countNonZero(image.rgb.reshape(1)), 0);
  QCOMPARE(image.warnings.size(), std::size_t{1});
  QVERIFY(QString::fromStdString(image.warnings[0]).contains("goes on after the last row"));
}

QTEST_GUILESS_MAIN(TestPngDecoder)
#include "tst_png_decoder.moc"
