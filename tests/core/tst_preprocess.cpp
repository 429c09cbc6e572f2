#include <QtTest>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/weights/npy_array.h"
#include "tests/common/test_support.h"

using namespace patchlens;

// Preprocessing against torchvision + PIL (fixtures from tests/reference/make_reference.py).
class TestPreprocess : public QObject {
  Q_OBJECT

 private slots:
  void matchesTorchvision_data();
  void matchesTorchvision();
  void normalisedTensorMatchesTorchvision_data();
  void normalisedTensorMatchesTorchvision();
  void cropOffsetsFollowTorchvisionRounding();
  void geometryMapsBackToTheSource();
  void rejectsBadConfig();
};

void TestPreprocess::matchesTorchvision_data() {
  QTest::addColumn<QString>("fixture");
  QTest::addColumn<QString>("image");
  QTest::addColumn<QString>("mode");
  QTest::addColumn<QString>("interp");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("width");
  QTest::addColumn<double>("cropPct");
  const auto rows = test::readTsv(test::dataPath("reference/preprocess/cases.tsv"));
  QVERIFY2(rows.size() >= 30, "the preprocessing fixture table is missing or short");
  for (const auto& r : rows) {
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1])
                                << QString::fromStdString(r[2]) << QString::fromStdString(r[3])
                                << std::stoi(r[4]) << std::stoi(r[5]) << std::stod(r[6]);
  }
}

void TestPreprocess::matchesTorchvision() {
  QFETCH(QString, fixture);
  QFETCH(QString, image);
  QFETCH(QString, mode);
  QFETCH(QString, interp);
  QFETCH(int, height);
  QFETCH(int, width);
  QFETCH(double, cropPct);

  PreprocessConfig config;
  config.height = height;
  config.width = width;
  config.cropPct = cropPct;
  config.resize = *parseResizeMode(mode.toStdString());
  config.interpolation = *parseInterpolation(interp.toStdString());
  const LoadedImage loaded = loadImage(test::dataPath(image.toStdString()));
  const PreprocessResult result = preprocess(loaded.rgb, config);
  const cv::Mat expected =
      test::readRgbFixture(test::dataPath("reference/preprocess/" + fixture.toStdString()));
  QCOMPARE(result.inputRgb.rows, expected.rows);
  QCOMPARE(result.inputRgb.cols, expected.cols);
  cv::Mat diff;
  cv::absdiff(result.inputRgb, expected, diff);
  double maxDiff = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &maxDiff);
  const double meanDiff = cv::mean(diff.reshape(1))[0];
  // The bound is mean <= 0.5/255 and max <= 2/255; the resampler is meant to be exact.
  QVERIFY2(maxDiff <= 2.0, qPrintable(QString("max |diff| = %1/255").arg(maxDiff)));
  QVERIFY2(meanDiff <= 0.5, qPrintable(QString("mean |diff| = %1/255").arg(meanDiff)));
  QCOMPARE(cv::countNonZero(diff.reshape(1)), 0);
}

void TestPreprocess::normalisedTensorMatchesTorchvision_data() {
  QTest::addColumn<QString>("norm");
  QTest::newRow("inception") << "inception";
  QTest::newRow("imagenet") << "imagenet";
}

void TestPreprocess::normalisedTensorMatchesTorchvision() {
  QFETCH(QString, norm);
  PreprocessConfig config;
  config.normalization = *Normalization::parse(norm.toStdString());
  const PreprocessResult result = preprocess(loadImage(test::dataPath("chelsea.png")).rgb, config);
  const NpyArray expected =
      readNpy(test::dataPath("reference/preprocess/chelsea_tensor_" + norm.toStdString() + ".npy"));
  QCOMPARE(expected.shape, (std::vector<std::int64_t>{3, 224, 224}));
  QCOMPARE(result.tensor.data.size(), expected.data.size());
  float maxDiff = 0;
  for (std::size_t i = 0; i < expected.data.size(); ++i) {
    maxDiff = std::max(maxDiff, std::abs(expected.data[i] - result.tensor.data[i]));
  }
  // Same float operations as ToTensor + Normalize: equal to the last bit.
  QCOMPARE(maxDiff, 0.0f);
}

void TestPreprocess::cropOffsetsFollowTorchvisionRounding() {
  // 451x300 -> shorter side 248 -> 372x248; crop left = round((372 - 224) / 2) = 74,
  // top = round((248 - 224) / 2) = 12 (torchvision's CenterCrop).
  const cv::Mat image(300, 451, CV_8UC3, cv::Scalar(10, 20, 30));
  const PreprocessResult r = preprocess(image, PreprocessConfig{});
  QCOMPARE(r.geometry.resizedWidth, 372);
  QCOMPARE(r.geometry.resizedHeight, 248);
  QCOMPARE(r.geometry.offsetX, 74);
  QCOMPARE(r.geometry.offsetY, 12);
  // Python's round(0.5) == 0: a 225-wide resize crops at 0, not 1.
  PreprocessConfig exact;
  exact.cropPct = 1.0;
  const PreprocessResult odd = preprocess(cv::Mat(224, 225, CV_8UC3, cv::Scalar::all(0)), exact);
  QCOMPARE(odd.geometry.offsetX, 0);
  const PreprocessResult odd2 = preprocess(cv::Mat(224, 227, CV_8UC3, cv::Scalar::all(0)), exact);
  QCOMPARE(odd2.geometry.offsetX, 2);  // round(1.5) == 2
}

void TestPreprocess::geometryMapsBackToTheSource() {
  const cv::Mat image(300, 451, CV_8UC3, cv::Scalar::all(0));
  const PreprocessResult r = preprocess(image, PreprocessConfig{});
  // The whole 224x224 input is the box (74, 12, 224, 224) of the 372x248 resize, scaled back.
  const cv::Rect2d box = r.geometry.toSource({0, 0, 224, 224});
  QVERIFY(std::abs(box.x - 74 * 451.0 / 372) < 1e-9);
  QVERIFY(std::abs(box.y - 12 * 300.0 / 248) < 1e-9);
  QVERIFY(std::abs(box.width - 224 * 451.0 / 372) < 1e-9);
}

void TestPreprocess::rejectsBadConfig() {
  const cv::Mat image(10, 10, CV_8UC3, cv::Scalar::all(0));
  PreprocessConfig c;
  c.cropPct = 0.0;
  QVERIFY_THROWS_EXCEPTION(Error, preprocess(image, c));
  c = {};
  c.width = 0;
  QVERIFY_THROWS_EXCEPTION(Error, preprocess(image, c));
  QVERIFY_THROWS_EXCEPTION(Error, preprocess(cv::Mat(), PreprocessConfig{}));
  QVERIFY(!Normalization::parse("0.5,0.5,0.5/0.5,0,0.5"));
  QVERIFY(!Normalization::parse("0.5,0.5/0.5,0.5,0.5"));
  QVERIFY(Normalization::parse("0.1,0.2,0.3/0.4,0.5,0.6").has_value());
}

QTEST_GUILESS_MAIN(TestPreprocess)
#include "tst_preprocess.moc"
