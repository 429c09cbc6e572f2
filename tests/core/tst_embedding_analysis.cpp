#include <QtTest>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/analysis/embedding_analysis.h"
#include "core/io/error.h"

using namespace patchlens;

namespace {

// The numpy fixture: name -> matrix (see tests/reference/analysis_fixtures.py).
std::map<std::string, Eigen::MatrixXd> readFixture(const std::string& path) {
  std::map<std::string, Eigen::MatrixXd> blocks;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream header(line);
    std::string name;
    int rows = 0;
    int cols = 0;
    header >> name >> rows >> cols;
    Eigen::MatrixXd m(rows, cols);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) in >> m(r, c);
    }
    std::getline(in, line);
    blocks[name] = m;
  }
  return blocks;
}

RowMatrixF small() {
  RowMatrixF m(3, 4);
  m << 1, -2, 3, 0,  //
      0, 0, 0, 0,    //
      -1, 4, 2, 4;
  return m;
}

bool near(double a, double b, double tol) {
  return std::abs(a - b) <= tol * std::max(1.0, std::abs(b));
}

}  // namespace

// Derived maps, PCA, statistics and scale ranges of an embedding.
class tst_EmbeddingAnalysis : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void channelNormMeanArgmax();
  void cosineSimilarityByHand();
  void statsAndTop();
  void scaleRanges();
  void scaleRanges_data();
  void percentileLikeNumpy();
  void tileShape();
  void tileShape_data();
  void pcaByHand();
  void fixtureMaps();
  void fixturePca();
  void refusesBadIndices();

 private:
  std::map<std::string, Eigen::MatrixXd> m_fixture;
  RowMatrixF m_tokens;
};

void tst_EmbeddingAnalysis::initTestCase() {
  m_fixture = readFixture(PATCHLENS_TEST_DATA "/analysis/fixture.txt");
  QVERIFY(m_fixture.count("tokens"));
  m_tokens = m_fixture["tokens"].cast<float>();
  QCOMPARE(m_tokens.rows(), 12);
}

void tst_EmbeddingAnalysis::channelNormMeanArgmax() {
  const RowMatrixF m = small();
  const VectorF col2 = channelMap(m, 2);
  QCOMPARE(col2(0), 3.0f);
  QCOMPARE(col2(2), 2.0f);
  const VectorF norms = tokenNorms(m);
  QVERIFY(near(norms(0), std::sqrt(14.0), 1e-6));
  QCOMPARE(norms(1), 0.0f);
  QVERIFY(near(norms(2), std::sqrt(37.0), 1e-6));
  const VectorF means = tokenMeans(m);
  QCOMPARE(means(0), 0.5f);
  QCOMPARE(means(2), 2.25f);
  const Eigen::VectorXi argmax = argmaxChannels(m);
  QCOMPARE(argmax(0), 2);
  QCOMPARE(argmax(1), 0);  // all equal: the first, as numpy.argmax
  QCOMPARE(argmax(2), 1);  // tie 4 / 4: the first
}

void tst_EmbeddingAnalysis::cosineSimilarityByHand() {
  const RowMatrixF m = small();
  const VectorF sim = cosineSimilarity(m, 0);
  QVERIFY(near(sim(0), 1.0, 1e-6));
  QCOMPARE(sim(1), 0.0f);  // zero vector: defined as 0
  // (1,-2,3,0).(-1,4,2,4) = -1 - 8 + 6 = -3
  QVERIFY(near(sim(2), -3.0 / (std::sqrt(14.0) * std::sqrt(37.0)), 1e-6));
}

void tst_EmbeddingAnalysis::statsAndTop() {
  VectorF v(5);
  v << 1, -4, 2, 4, 0;
  const VectorStats s = vectorStats(v);
  QCOMPARE(s.min, -4.0f);
  QCOMPARE(s.max, 4.0f);
  QVERIFY(near(s.mean, 0.6, 1e-6));
  // population std: mean of squares 37/5 = 7.4, minus 0.36 -> 7.04
  QVERIFY(near(s.std, std::sqrt(7.04), 1e-6));
  QVERIFY(near(s.l2, std::sqrt(37.0), 1e-6));
  const std::vector<int> top = topByMagnitude(v, 3);
  QCOMPARE(top, (std::vector<int>{1, 3, 2}));  // |-4| and |4| tie: lower index first
  QCOMPARE(topByValue(v, 2), (std::vector<int>{3, 2}));
  QCOMPARE(topByMagnitude(v, 99).size(), std::size_t{5});
}

void tst_EmbeddingAnalysis::scaleRanges_data() {
  QTest::addColumn<int>("mode");
  QTest::addColumn<float>("lo");
  QTest::addColumn<float>("hi");
  QTest::newRow("minmax") << int(ScaleMode::MinMax) << -1.0f << 3.0f;
  QTest::newRow("symmetric") << int(ScaleMode::Symmetric) << -3.0f << 3.0f;
  QTest::newRow("global") << int(ScaleMode::Global) << -10.0f << 20.0f;
  // numpy.percentile([-1, 0, 1, 2, 3], 2) = -1 + 0.08, (.., 98) = 3 - 0.08
  QTest::newRow("percentile") << int(ScaleMode::Percentile) << -0.92f << 2.92f;
}

void tst_EmbeddingAnalysis::scaleRanges() {
  QFETCH(int, mode);
  QFETCH(float, lo);
  QFETCH(float, hi);
  VectorF v(5);
  v << 3, -1, 0, 2, 1;
  const ValueRange r = scaleRange(static_cast<ScaleMode>(mode), v, ValueRange{-10.0f, 20.0f});
  QVERIFY2(near(r.lo, lo, 1e-5), qPrintable(QString::number(r.lo)));
  QVERIFY2(near(r.hi, hi, 1e-5), qPrintable(QString::number(r.hi)));
}

void tst_EmbeddingAnalysis::percentileLikeNumpy() {
  const Eigen::MatrixXd& expected = m_fixture["percentile_col2"];
  const VectorF col = channelMap(m_tokens, 2);
  QVERIFY(near(percentile(col, 2), expected(0, 0), 1e-5));
  QVERIFY(near(percentile(col, 98), expected(0, 1), 1e-5));
  QVERIFY(near(percentile(col, 50), expected(0, 2), 1e-5));
  // A constant map still gives a usable range.
  const ValueRange flat = scaleRange(ScaleMode::MinMax, VectorF::Constant(4, 2.0f), {});
  QVERIFY(flat.hi > flat.lo);
}

void tst_EmbeddingAnalysis::tileShape_data() {
  QTest::addColumn<int>("length");
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  QTest::newRow("ViT-B 768") << 768 << 24 << 32;
  QTest::newRow("ViT-S 384") << 384 << 16 << 24;
  QTest::newRow("ViT-Ti 192") << 192 << 12 << 16;
  QTest::newRow("ViT-L 1024") << 1024 << 32 << 32;
  QTest::newRow("prime 13 pads") << 13 << 3 << 5;
}

void tst_EmbeddingAnalysis::tileShape() {
  QFETCH(int, length);
  QFETCH(int, rows);
  QFETCH(int, cols);
  const TileShape shape = heatmapTileShape(length);
  QCOMPARE(shape.rows, rows);
  QCOMPARE(shape.cols, cols);
  QVERIFY(shape.rows * shape.cols >= length);
}

void tst_EmbeddingAnalysis::pcaByHand() {
  // Points on the line y = 2x (plus a constant channel): one component carries everything.
  RowMatrixF m(4, 3);
  m << -1, -2, 5,  //
      0, 0, 5,     //
      1, 2, 5,     //
      2, 4, 5;
  const PcaResult pca = tokenPca(m, 2);
  QCOMPARE(pca.components.rows(), 2);
  QVERIFY(near(pca.components(0, 0), 1.0 / std::sqrt(5.0), 1e-5));
  QVERIFY(near(pca.components(0, 1), 2.0 / std::sqrt(5.0), 1e-5));  // largest loading positive
  QVERIFY(near(pca.explainedVarianceRatio(0), 1.0, 1e-6));
  // var of x = 5/3 for (-1, 0, 1, 2); along the axis 5 * 5/3.
  QVERIFY(near(pca.explainedVariance(0), 25.0 / 3.0, 1e-5));
  QVERIFY(near(pca.projections(3, 0), 1.5 * std::sqrt(5.0), 1e-5));
  const RowMatrixF rgb = pcaToRgb(pca);
  QCOMPARE(rgb(0, 0), 0.0f);
  QCOMPARE(rgb(3, 0), 1.0f);
  QCOMPARE(rgb(0, 2), 0.0f);  // no third component
}

void tst_EmbeddingAnalysis::fixtureMaps() {
  const auto compare = [](const VectorF& actual, const Eigen::MatrixXd& expected, double tol) {
    QCOMPARE(actual.size(), expected.size());
    for (Eigen::Index i = 0; i < actual.size(); ++i) {
      QVERIFY2(near(actual(i), expected(0, i), tol),
               qPrintable(
                   QStringLiteral("index %1: %2 vs %3").arg(i).arg(actual(i)).arg(expected(0, i))));
    }
  };
  compare(tokenNorms(m_tokens), m_fixture["norms"], 1e-5);
  compare(tokenMeans(m_tokens), m_fixture["means"], 1e-5);
  compare(argmaxChannels(m_tokens).cast<float>(), m_fixture["argmax"], 0);
  compare(cosineSimilarity(m_tokens, 3), m_fixture["cosine3"], 1e-5);
  const VectorF row7 = m_tokens.row(7).transpose();
  const VectorStats s = vectorStats(row7);
  VectorF stats(5);
  stats << s.min, s.max, s.mean, s.std, s.l2;
  compare(stats, m_fixture["stats7"], 1e-5);
  const std::vector<int> top = topByMagnitude(row7, 5);
  VectorF topF(5);
  for (int i = 0; i < 5; ++i) topF(i) = static_cast<float>(top[static_cast<std::size_t>(i)]);
  compare(topF, m_fixture["top_abs7"], 0);
}

void tst_EmbeddingAnalysis::fixturePca() {
  const PcaResult pca = tokenPca(m_tokens, 3);
  const Eigen::MatrixXd& components = m_fixture["pca_components"];
  const Eigen::MatrixXd& projections = m_fixture["pca_projections"];
  for (int c = 0; c < 3; ++c) {
    // Same sign convention on both sides; compare up to sign anyway, then require equality.
    const double dot = (pca.components.row(c).cast<double>() * components.row(c).transpose())(0, 0);
    QVERIFY2(std::abs(std::abs(dot) - 1.0) < 1e-4,
             qPrintable(QStringLiteral("component %1: |dot| %2").arg(c).arg(dot)));
    QVERIFY2(dot > 0,
             "the largest-|loading| sign convention matches numpy's post-processed result");
    for (int r = 0; r < m_tokens.rows(); ++r)
      QVERIFY(near(pca.projections(r, c), projections(r, c), 1e-4));
    QVERIFY(near(pca.explainedVariance(c), m_fixture["pca_variance"](0, c), 1e-4));
    QVERIFY(near(pca.explainedVarianceRatio(c), m_fixture["pca_ratio"](0, c), 1e-4));
  }
  const RowMatrixF rgb = pcaToRgb(pca);
  const Eigen::MatrixXd& expectedRgb = m_fixture["pca_rgb"];
  for (int r = 0; r < rgb.rows(); ++r) {
    for (int c = 0; c < 3; ++c) QVERIFY(std::abs(rgb(r, c) - expectedRgb(r, c)) < 1e-4);
  }
}

void tst_EmbeddingAnalysis::refusesBadIndices() {
  const RowMatrixF m = small();
  QVERIFY_THROWS_EXCEPTION(Error, channelMap(m, 4));
  QVERIFY_THROWS_EXCEPTION(Error, channelMap(m, -1));
  QVERIFY_THROWS_EXCEPTION(Error, cosineSimilarity(m, 3));
  QVERIFY_THROWS_EXCEPTION(Error, tokenPca(RowMatrixF(0, 0), 3));
}

QTEST_GUILESS_MAIN(tst_EmbeddingAnalysis)
#include "tst_embedding_analysis.moc"
