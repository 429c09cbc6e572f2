#include <QtTest>
#include <cmath>

#include "core/analysis/filter_analysis.h"
#include "core/io/error.h"
#include "core/model/initializers.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;

namespace {

// A weight [D x C*P*P] as PatchWeights.
PatchWeights weightsOf(const RowMatrixF& weight, int channels, int patchSize) {
  PatchWeights w;
  w.embedDim = static_cast<int>(weight.rows());
  w.inChannels = channels;
  w.patchSize = patchSize;
  w.weight = weight;
  return w;
}

}  // namespace

// PCA of the D filters (ViT paper, Fig. 7 left), filter tiles and their RGB view.
class tst_FilterAnalysis : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void pcaMatchesNumpyUpToSign();
  void signConvention();
  void defaultIsTwentyEightComponents();
  void componentsAreClamped_data();
  void componentsAreClamped();
  void dctFiltersHaveFlatSpectrum();
  void tileLayoutIsChannelFirst();
  void rgbTileIsSymmetric();
  void greyTileIsReplicated();
  void refusesImpossibleInput();

 private:
  test::FixtureBlocks m_fixture;
};

void tst_FilterAnalysis::initTestCase() {
  m_fixture = test::readAnalysesFixture("filter_pca.txt");
  QVERIFY2(m_fixture.count("weight") && m_fixture.count("components"),
           "missing tests/data/analyses fixture");
}

void tst_FilterAnalysis::pcaMatchesNumpyUpToSign() {
  const PatchWeights w = weightsOf(m_fixture["weight"].cast<float>(), 3, 4);
  const Eigen::MatrixXd& expected = m_fixture["components"];
  const auto k = static_cast<int>(expected.rows());
  const FilterPca result = filterPca(w, k);
  QCOMPARE(result.components(), k);
  QCOMPARE(result.inChannels, 3);
  QCOMPARE(result.patchSize, 4);
  QVERIFY(test::maxRelativeDifference(result.pca.mean.cast<double>().transpose(),
                                      m_fixture["mean"]) < 1e-6);
  for (int c = 0; c < k; ++c) {
    const Eigen::RowVectorXd got = result.pca.components.row(c).cast<double>();
    const double sign = got.dot(expected.row(c)) < 0.0 ? -1.0 : 1.0;
    const double diff = (sign * got - expected.row(c)).cwiseAbs().maxCoeff();
    QVERIFY2(diff < 1e-5,
             qPrintable(QStringLiteral("component %1 differs by %2").arg(c).arg(diff)));
  }
  QVERIFY(test::maxRelativeDifference(result.pca.explainedVariance.cast<double>().transpose(),
                                      m_fixture["variance"]) < 1e-5);
  QVERIFY(test::maxRelativeDifference(result.pca.explainedVarianceRatio.cast<double>().transpose(),
                                      m_fixture["ratio"]) < 1e-5);
}

void tst_FilterAnalysis::signConvention() {
  const FilterPca result = filterPca(weightsOf(m_fixture["weight"].cast<float>(), 3, 4), 6);
  for (int c = 0; c < result.components(); ++c) {
    Eigen::Index largest = 0;
    result.pca.components.row(c).cwiseAbs().maxCoeff(&largest);
    QVERIFY(result.pca.components(c, largest) > 0.0f);
    QVERIFY(std::abs(result.pca.components.row(c).norm() - 1.0f) < 1e-5f);
  }
}

void tst_FilterAnalysis::defaultIsTwentyEightComponents() {
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{64, 3, 4}, 3);
  const FilterPca result = filterPca(w);
  QCOMPARE(result.components(), kFilterPcaComponents);
  QCOMPARE(result.pca.projections.rows(), 64);  // one score per filter
  const ChwTensor tile = result.componentTile(27);
  QCOMPARE(tile.channels, 3);
  QCOMPARE(tile.height, 4);
  QCOMPARE(tile.width, 4);
  // Explained variance decreases and the ratios of all components would sum to 1.
  for (int c = 1; c < result.components(); ++c) {
    QVERIFY(result.pca.explainedVariance(c) <= result.pca.explainedVariance(c - 1));
  }
  QVERIFY(result.pca.explainedVarianceRatio.sum() < 1.0f);
  QVERIFY(std::abs(filterPca(w, 48).pca.explainedVarianceRatio.sum() - 1.0f) < 1e-5f);
}

void tst_FilterAnalysis::componentsAreClamped_data() {
  QTest::addColumn<int>("embedDim");
  QTest::addColumn<int>("requested");
  QTest::addColumn<int>("expected");
  QTest::newRow("fewer filters than 28") << 10 << 28 << 10;
  QTest::newRow("more than C*P*P") << 64 << 100 << 48;
  QTest::newRow("none") << 64 << 0 << 0;
}

void tst_FilterAnalysis::componentsAreClamped() {
  QFETCH(int, embedDim);
  QFETCH(int, requested);
  QFETCH(int, expected);
  const PatchWeights w =
      makeInitializedWeights(Initializer::XavierNormal, LayerShape{embedDim, 3, 4}, 1);
  QCOMPARE(filterPca(w, requested).components(), expected);
}

void tst_FilterAnalysis::dctFiltersHaveFlatSpectrum() {
  // D = C*P*P orthonormal filters W: the centred bank's scatter is W^T (I - 11^T / D) W, with
  // eigenvalues 1 (D - 1 times) and 0: every ratio is 1 / 47 but the last.
  const PatchWeights w = makeInitializedWeights(Initializer::Dct, LayerShape{48, 3, 4}, 0);
  const FilterPca result = filterPca(w, 48);
  for (int c = 0; c < 47; ++c)
    QVERIFY(std::abs(result.pca.explainedVarianceRatio(c) - 1.0f / 47.0f) < 1e-5f);
  QVERIFY(result.pca.explainedVarianceRatio(47) < 1e-6f);
}

void tst_FilterAnalysis::tileLayoutIsChannelFirst() {
  PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{4, 3, 2}, 0);
  for (int i = 0; i < 12; ++i) w.weight(2, i) = static_cast<float>(i);
  const ChwTensor tile = filterTile(w, 2);
  QCOMPARE(tile.at(0, 0, 0), 0.0f);
  QCOMPARE(tile.at(0, 0, 1), 1.0f);  // kw fastest
  QCOMPARE(tile.at(0, 1, 0), 2.0f);  // then kh
  QCOMPARE(tile.at(1, 0, 0), 4.0f);  // then c, as OIHW flattens
  QCOMPARE(tile.at(2, 1, 1), 11.0f);
}

void tst_FilterAnalysis::rgbTileIsSymmetric() {
  ChwTensor tile(3, 2, 2);
  tile.at(0, 0, 0) = 2.0f;   // +max -> 255
  tile.at(1, 0, 0) = -2.0f;  // -max -> 0
  tile.at(2, 0, 0) = 1.0f;   // half -> 191 (127.5 + 63.75, rounded)
  tile.at(0, 1, 1) = -0.5f;  // 127.5 - 31.875 -> 96
  const cv::Mat rgb = tileToRgb8(tile);
  QCOMPARE(rgb.type(), CV_8UC3);
  QCOMPARE(rgb.rows, 2);
  QCOMPARE(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 191));    // RGB order: channel c -> c
  QCOMPARE(rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(128, 128, 128));  // zero is mid-grey
  QCOMPARE(rgb.at<cv::Vec3b>(1, 1)[0], std::uint8_t{96});
  // A zero tile is plain mid-grey instead of a division by zero.
  const cv::Mat zero = tileToRgb8(ChwTensor(3, 2, 2));
  QCOMPARE(cv::countNonZero(zero.reshape(1) != 128), 0);
}

void tst_FilterAnalysis::greyTileIsReplicated() {
  ChwTensor tile(1, 1, 2);
  tile.at(0, 0, 0) = -4.0f;
  tile.at(0, 0, 1) = 4.0f;
  const cv::Mat rgb = tileToRgb8(tile);
  QCOMPARE(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  QCOMPARE(rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
}

void tst_FilterAnalysis::refusesImpossibleInput() {
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{8, 3, 2}, 0);
  QVERIFY_THROWS_EXCEPTION(Error, filterTile(w, 8));
  QVERIFY_THROWS_EXCEPTION(Error, filterTile(w, -1));
  QVERIFY_THROWS_EXCEPTION(Error, filterPca(w, 4).componentTile(4));
  QVERIFY_THROWS_EXCEPTION(Error, filterPca(PatchWeights{}));
  QVERIFY_THROWS_EXCEPTION(Error, vectorToTile(VectorF::Zero(11), 3, 2));
  QVERIFY_THROWS_EXCEPTION(Error, tileToRgb8(ChwTensor(2, 2, 2)));
  QVERIFY_THROWS_EXCEPTION(Error, tileToRgb8(ChwTensor()));
}

QTEST_GUILESS_MAIN(tst_FilterAnalysis)
#include "tst_filter_analysis.moc"
