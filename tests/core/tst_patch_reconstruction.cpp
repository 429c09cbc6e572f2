#include <QtTest>
#include <cmath>
#include <random>

#include "core/analysis/patch_reconstruction.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/model/initializers.h"
#include "core/model/patch_embedding.h"
#include "tests/common/test_support.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;

namespace {

ChwTensor randomImage(int channels, int height, int width, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  ChwTensor t(channels, height, width);
  for (float& v : t.data) v = dist(gen);
  return t;
}

PatchWeights weightsOf(const Eigen::MatrixXd& weight, const Eigen::MatrixXd& bias, int channels,
                       int patchSize) {
  PatchWeights w;
  w.embedDim = static_cast<int>(weight.rows());
  w.inChannels = channels;
  w.patchSize = patchSize;
  w.weight = weight.cast<float>();
  if (bias.size() > 0) w.bias = bias.transpose().cast<float>();
  return w;
}

}  // namespace

// Patches recovered from the embedding by least squares, against hand-made bases and numpy.
class tst_PatchReconstruction : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void fullRankDctIsExact_data();
  void fullRankDctIsExact();
  void truncatedDctKeepsKnownShare();
  void matchesNumpyLstsq_data();
  void matchesNumpyLstsq();
  void allPcaComponentsEqualTheFullEmbedding();
  void fewerPcaComponentsLoseMore();
  void patchesToImageInvertsExtraction_data();
  void patchesToImageInvertsExtraction();
  void denormalizesToEightBits();
  void greyInput();
  void refusesImpossibleInput();

 private:
  test::FixtureBlocks m_fixture;
  ChwTensor m_fixtureImage;
};

void tst_PatchReconstruction::initTestCase() {
  m_fixture = test::readAnalysesFixture("reconstruction.txt");
  QVERIFY2(m_fixture.count("image") && m_fixture.count("wide_xhat"),
           "missing tests/data/analyses fixture");
  const Eigen::MatrixXd& image = m_fixture["image"];  // [3 x 9*6]
  m_fixtureImage = ChwTensor(3, 9, 6);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 54; ++i)
      m_fixtureImage.data[static_cast<std::size_t>(c * 54 + i)] = static_cast<float>(image(c, i));
}

void tst_PatchReconstruction::fullRankDctIsExact_data() {
  QTest::addColumn<QString>("image");
  QTest::addColumn<bool>("bias");
  QTest::newRow("chelsea 224, no bias") << QStringLiteral("chelsea.png") << false;
  QTest::newRow("chelsea 224, bias") << QStringLiteral("chelsea.png") << true;
  QTest::newRow("noise 48x64, no bias") << QString() << false;
}

void tst_PatchReconstruction::fullRankDctIsExact() {
  QFETCH(QString, image);
  QFETCH(bool, bias);
  // D = 3P^2 orthonormal filters: an invertible embedding, so nothing may be lost.
  PatchWeights w = makeInitializedWeights(Initializer::Dct, LayerShape{768, 3, 16}, 0);
  if (bias) w.bias = VectorF::LinSpaced(768, -0.5f, 0.5f);
  const Normalization norm;
  ChwTensor input;
  cv::Mat inputRgb;
  if (image.isEmpty()) {
    input = randomImage(3, 48, 64, 7);
  } else {
    const cv::Mat rgb = test::readRgbFixture(test::dataPath(image.toStdString()));
    QVERIFY(!rgb.empty());
    PreprocessResult pre = preprocess(rgb, PreprocessConfig{});
    input = pre.tensor;
    inputRgb = pre.inputRgb;
  }
  const PatchReconstruction r = reconstructPatches(input, w, norm);
  QCOMPARE(r.rank, 768);
  QCOMPARE(r.components, 0);
  QVERIFY2(r.relativeError < 1e-5, qPrintable(QString::number(r.relativeError)));
  QVERIFY(r.patchError.maxCoeff() < 1e-5f);
  QCOMPARE(r.image.height, input.height);
  QCOMPARE(r.image.width, input.width);
  double worst = 0.0;
  for (std::size_t i = 0; i < input.data.size(); ++i)
    worst = std::max(worst, double(std::abs(input.data[i] - r.image.data[i])));
  QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
  QCOMPARE(r.rgb.type(), CV_8UC3);
  if (!inputRgb.empty()) {
    // Back to the very pixels that went in.
    cv::Mat diff;
    cv::absdiff(r.rgb, inputRgb, diff);
    double maxDiff = 0.0;
    cv::minMaxLoc(diff.reshape(1), nullptr, &maxDiff);
    QCOMPARE(maxDiff, 0.0);
  }
}

void tst_PatchReconstruction::truncatedDctKeepsKnownShare() {
  // Patches built from known coefficients c in the full orthonormal DCT basis: the first 64
  // filters keep exactly the first 64 coefficients, so the error is ||c[64:]|| / ||c||.
  const PatchWeights full = makeInitializedWeights(Initializer::Dct, LayerShape{768, 3, 16}, 0);
  const PatchWeights first64 = makeInitializedWeights(Initializer::Dct, LayerShape{64, 3, 16}, 0);
  const GridSize grid{3, 4};
  std::mt19937 gen(11);
  std::normal_distribution<double> dist(0.0, 1.0);
  Eigen::MatrixXd coefficients(grid.tokens(), 768);
  for (Eigen::Index i = 0; i < coefficients.size(); ++i)
    coefficients(i) = dist(gen) / (1.0 + double(i % 768) / 32.0);
  const RowMatrixF patches = (coefficients * full.weight.cast<double>()).cast<float>();
  const ChwTensor input = patchesToImage(patches, grid, 3, 16);

  const PatchReconstruction r = reconstructPatches(input, first64, Normalization{});
  QCOMPARE(r.rank, 64);
  const double expected = coefficients.rightCols(704).norm() / coefficients.norm();
  QVERIFY(expected > 0.1);
  QVERIFY2(std::abs(r.relativeError - expected) < 1e-5,
           qPrintable(QStringLiteral("%1 vs %2").arg(r.relativeError).arg(expected)));
  for (int i = 0; i < grid.tokens(); ++i) {
    const double patchExpected =
        coefficients.row(i).rightCols(704).norm() / coefficients.row(i).norm();
    QVERIFY(std::abs(r.patchError(i) - patchExpected) < 1e-5);
  }
  // The minimum-norm solution is the orthogonal projection on the filters' span: X W^T W.
  const Eigen::MatrixXd w64 = first64.weight.cast<double>();
  const Eigen::MatrixXd projection = patches.cast<double>() * w64.transpose() * w64;
  QVERIFY((r.patches.cast<double>() - projection).cwiseAbs().maxCoeff() < 1e-5);
}

void tst_PatchReconstruction::matchesNumpyLstsq_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("weights");
  QTest::addColumn<int>("components");
  QTest::newRow("D < C*P*P, minimum norm") << "wide"
                                           << "wide" << 0;
  QTest::newRow("D > C*P*P, exact") << "tall"
                                    << "tall" << 0;
  QTest::newRow("rank 8 of D = 16") << "deficient"
                                    << "deficient" << 0;
  QTest::newRow("top 2 token PCA components") << "wide_pca2"
                                              << "wide" << 2;
}

void tst_PatchReconstruction::matchesNumpyLstsq() {
  QFETCH(QString, name);
  QFETCH(QString, weights);
  QFETCH(int, components);
  const std::string n = name.toStdString();
  const std::string wn = weights.toStdString();
  const PatchWeights w = weightsOf(m_fixture[wn + "_weight"], m_fixture[wn + "_bias"], 3, 3);
  const PatchReconstruction r = reconstructPatches(m_fixtureImage, w, Normalization{}, components);
  QCOMPARE(r.grid.rows, 3);
  QCOMPARE(r.grid.cols, 2);
  QCOMPARE(r.components, components);
  QCOMPARE(double(r.rank), m_fixture[n + "_rank"](0, 0));
  const double diff = (r.patches.cast<double>() - m_fixture[n + "_xhat"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-5, qPrintable(QString::number(diff)));
  QVERIFY(std::abs(r.relativeError - m_fixture[n + "_error"](0, 0)) < 1e-5);
  QVERIFY((r.patchError.cast<double>().transpose() - m_fixture[n + "_patch_error"])
              .cwiseAbs()
              .maxCoeff() < 1e-5);
}

void tst_PatchReconstruction::allPcaComponentsEqualTheFullEmbedding() {
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{96, 3, 8}, 5);
  const ChwTensor input = randomImage(3, 32, 40, 3);  // 20 tokens
  const PatchReconstruction all = reconstructPatches(input, w, Normalization{});
  const PatchReconstruction pca = reconstructPatches(input, w, Normalization{}, 1000);
  QCOMPARE(pca.components, 20);  // clamped to min(N, D)
  QVERIFY((all.patches - pca.patches).cwiseAbs().maxCoeff() < 1e-4f);
  QVERIFY(std::abs(all.relativeError - pca.relativeError) < 1e-5);
}

void tst_PatchReconstruction::fewerPcaComponentsLoseMore() {
  const PatchWeights w = makeInitializedWeights(Initializer::Dct, LayerShape{192, 3, 8}, 0);
  const ChwTensor input = randomImage(3, 64, 64, 9);
  const PatchReconstructor reconstructor(w);
  const Embedding y = PatchEmbedding(w).forward(input);
  double previous = 2.0;
  for (int k : {1, 4, 16, 63}) {
    const double error = reconstructor.reconstruct(input, y, Normalization{}, k).relativeError;
    QVERIFY2(error < previous, qPrintable(QStringLiteral("k = %1: %2").arg(k).arg(error)));
    previous = error;
  }
  QVERIFY(reconstructor.reconstruct(input, y, Normalization{}, 0).relativeError <= previous + 1e-6);
}

void tst_PatchReconstruction::patchesToImageInvertsExtraction_data() {
  QTest::addColumn<int>("policy");
  QTest::newRow("crop") << int(RemainderPolicy::Crop);
  QTest::newRow("pad") << int(RemainderPolicy::Pad);
}

void tst_PatchReconstruction::patchesToImageInvertsExtraction() {
  QFETCH(int, policy);
  const auto remainder = static_cast<RemainderPolicy>(policy);
  const ChwTensor input = randomImage(3, 10, 13, 1);
  const RowMatrixF patches = PatchEmbedding::extractPatches(input, 4, remainder);
  const GridSize grid = PatchEmbedding::gridFor(10, 13, 4, remainder);
  const ChwTensor image = patchesToImage(patches, grid, 3, 4);
  QCOMPARE(image.height, grid.rows * 4);
  QCOMPARE(image.width, grid.cols * 4);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x) {
        const float expected = y < input.height && x < input.width ? input.at(c, y, x) : 0.0f;
        QCOMPARE(image.at(c, y, x), expected);
      }
  // The whole pipeline with the same policy: an invertible layer gives the padded grid back.
  const PatchWeights w = makeInitializedWeights(Initializer::Dct, LayerShape{48, 3, 4}, 0);
  const PatchReconstruction r = reconstructPatches(input, w, Normalization{}, 0, remainder);
  QCOMPARE(r.grid.rows, grid.rows);
  QCOMPARE(r.grid.cols, grid.cols);
  QVERIFY(r.relativeError < 1e-5);
}

void tst_PatchReconstruction::denormalizesToEightBits() {
  ChwTensor t(3, 1, 3);
  const Normalization imagenet = *Normalization::parse("imagenet");
  const float values[3] = {0.0f, 1.0f, 0.2f};
  for (int c = 0; c < 3; ++c)
    for (int x = 0; x < 3; ++x)
      t.at(c, 0, x) = (values[x] - imagenet.mean[std::size_t(c)]) / imagenet.std[std::size_t(c)];
  t.at(0, 0, 2) = 100.0f;  // far out of range: clamped
  t.at(1, 0, 2) = -100.0f;
  const cv::Mat rgb = denormalizeToRgb8(t, imagenet);
  QCOMPARE(rgb.type(), CV_8UC3);
  QCOMPARE(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  QCOMPARE(rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
  QCOMPARE(rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 0, 51));  // 0.2 * 255
}

void tst_PatchReconstruction::greyInput() {
  const PatchWeights w = makeInitializedWeights(Initializer::Dct, LayerShape{16, 1, 4}, 0);
  const ChwTensor input = randomImage(1, 8, 8, 4);
  const PatchReconstruction r = reconstructPatches(input, w, Normalization{});
  QVERIFY(r.relativeError < 1e-5);
  QCOMPARE(r.rgb.type(), CV_8UC1);
}

void tst_PatchReconstruction::refusesImpossibleInput() {
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{16, 3, 4}, 0);
  const ChwTensor input = randomImage(3, 8, 8, 2);
  const Embedding y = PatchEmbedding(w).forward(input);
  const PatchReconstructor reconstructor(w);
  QVERIFY_THROWS_EXCEPTION(Error,
                           reconstructor.reconstruct(randomImage(1, 8, 8, 2), y, Normalization{}));
  QVERIFY_THROWS_EXCEPTION(Error,
                           reconstructor.reconstruct(randomImage(3, 12, 8, 2), y, Normalization{}));
  QVERIFY_THROWS_EXCEPTION(Error, reconstructor.reconstructRows(RowMatrixF::Zero(4, 15)));
  QVERIFY_THROWS_EXCEPTION(Error, PatchReconstructor(PatchWeights{}));
  PatchWeights badBias = w;
  badBias.bias = VectorF::Zero(3);
  QVERIFY_THROWS_EXCEPTION(Error, PatchReconstructor{badBias});
  QVERIFY_THROWS_EXCEPTION(Error, patchesToImage(RowMatrixF::Zero(3, 48), GridSize{2, 2}, 3, 4));
  QVERIFY_THROWS_EXCEPTION(Error, denormalizeToRgb8(ChwTensor(2, 2, 2), Normalization{}));
}

QTEST_GUILESS_MAIN(tst_PatchReconstruction)
#include "tst_patch_reconstruction.moc"
