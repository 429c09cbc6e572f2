#include <QtTest>
#include <algorithm>
#include <cmath>

#include "core/analysis/correspondences.h"
#include "core/analysis/embedding_analysis.h"
#include "core/analysis/joint_pca.h"
#include "core/io/error.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;

namespace {

RowMatrixF tokens(const Eigen::MatrixXd& m) {
  return m.cast<float>();
}

std::vector<bool> mask(const Eigen::MatrixXd& m) {
  std::vector<bool> out;
  for (Eigen::Index i = 0; i < m.size(); ++i) out.push_back(m(i) != 0.0);
  return out;
}

// The pairs as numpy writes them: [n x 3] of (tokenA, tokenB, similarity).
Eigen::MatrixXd asMatrix(const std::vector<PatchMatch>& matches) {
  Eigen::MatrixXd m(static_cast<Eigen::Index>(matches.size()), 3);
  for (std::size_t i = 0; i < matches.size(); ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    m(r, 0) = matches[i].tokenA;
    m(r, 1) = matches[i].tokenB;
    m(r, 2) = matches[i].similarity;
  }
  return m;
}

void comparePairs(const std::vector<PatchMatch>& got, const Eigen::MatrixXd& expected) {
  const Eigen::MatrixXd g = asMatrix(got);
  QCOMPARE(g.rows(), expected.rows());
  // Indices exactly (order included), similarities to float precision.
  QVERIFY2(g.leftCols(2) == expected.leftCols(2), "pairs or their order differ from numpy");
  QVERIFY((g.col(2) - expected.col(2)).cwiseAbs().maxCoeff() < 1e-5);
}

}  // namespace

// Correspondences (cross similarity, mutual nearest neighbours with the lower-index tie rule,
// the foreground restriction) and the joint PCA of two token sets against numpy
// (tests/reference/compare_fixtures.py).
class tst_CompareAnalysis : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void similarityMapsMatchNumpy();
  void mutualNeighboursWithTiesMatchNumpy();
  void topKKeepsTheBest();
  void maskedNeighboursMatchNumpy();
  void foregroundOnlyMatchesNumpy();
  void jointPcaMatchesNumpy();
  void jointPcaWithoutForegroundMatchesNumpy();
  void refusals();

 private:
  test::FixtureBlocks m_f;
};

void tst_CompareAnalysis::initTestCase() {
  m_f = test::readAnalysesFixture("../compare/compare.txt");
  QVERIFY2(m_f.count("sim") == 1 && m_f.count("joint_rgb") == 1,
           "run tests/reference/compare_fixtures.py");
}

void tst_CompareAnalysis::similarityMapsMatchNumpy() {
  const RowMatrixF a = tokens(m_f["sim_a"]);
  const RowMatrixF b = tokens(m_f["sim_b"]);
  const Eigen::MatrixXd& s = m_f["sim"];
  const RowMatrixF all = crossSimilarityMatrix(a, b);
  QVERIFY(test::maxRelativeDifference(all.cast<double>(), s) < 1e-5);
  for (int i = 0; i < a.rows(); ++i) {  // A -> B: row i
    const VectorF map = crossSimilarity(a, i, b);
    QCOMPARE(map.size(), b.rows());
    QVERIFY((map.cast<double>() - s.row(i).transpose()).cwiseAbs().maxCoeff() < 1e-6);
  }
  for (int j = 0; j < b.rows(); ++j) {  // B -> A: column j
    const VectorF map = crossSimilarity(b, j, a);
    QVERIFY((map.cast<double>() - s.col(j)).cwiseAbs().maxCoeff() < 1e-6);
  }
  QCOMPARE(crossSimilarity(a, 2, b).cwiseAbs().maxCoeff(), 0.0f);  // the zero token
}

void tst_CompareAnalysis::mutualNeighboursWithTiesMatchNumpy() {
  const RowMatrixF a = tokens(m_f["mnn_a"]);
  const RowMatrixF b = tokens(m_f["mnn_b"]);
  const std::vector<PatchMatch> got = mutualNearestNeighbours(a, b);
  comparePairs(got, m_f["mnn_pairs"]);
  // The fixture's ties: A's 1 and 4 are equal and B's 7 equals them; the lower index wins.
  QVERIFY(std::any_of(got.begin(), got.end(),
                      [](const PatchMatch& m) { return m.tokenA == 1 && m.tokenB == 7; }));
  QVERIFY(std::none_of(got.begin(), got.end(),
                       [](const PatchMatch& m) { return m.tokenA == 4 || m.tokenB == 5; }));
}

void tst_CompareAnalysis::topKKeepsTheBest() {
  const RowMatrixF a = tokens(m_f["mnn_a"]);
  const RowMatrixF b = tokens(m_f["mnn_b"]);
  MatchOptions options;
  options.topK = 3;
  comparePairs(mutualNearestNeighbours(a, b, options), m_f["mnn_pairs"].topRows(3));
  options.topK = 100;  // more than exist: all of them
  comparePairs(mutualNearestNeighbours(a, b, options), m_f["mnn_pairs"]);
}

void tst_CompareAnalysis::maskedNeighboursMatchNumpy() {
  const RowMatrixF s = crossSimilarityMatrix(tokens(m_f["mnn_a"]), tokens(m_f["mnn_b"]));
  comparePairs(mutualNearestNeighbours(s, mask(m_f["mnn_mask_a"]), mask(m_f["mnn_mask_b"]), 0),
               m_f["mnn_masked_pairs"]);
}

void tst_CompareAnalysis::foregroundOnlyMatchesNumpy() {
  MatchOptions options;
  options.foregroundOnly = true;
  options.foreground.threshold = 0.5f;
  comparePairs(mutualNearestNeighbours(tokens(m_f["fg_a"]), tokens(m_f["fg_b"]), options),
               m_f["fg_pairs"]);
}

void tst_CompareAnalysis::jointPcaMatchesNumpy() {
  const RowMatrixF a = tokens(m_f["joint_a"]);
  const RowMatrixF b = tokens(m_f["joint_b"]);
  const JointPca j = jointPca(a, b);
  const std::vector<bool> fg = mask(m_f["joint_fg"]);
  std::vector<bool> both = j.foregroundA;
  both.insert(both.end(), j.foregroundB.begin(), j.foregroundB.end());
  QVERIFY(both == fg);
  const Eigen::MatrixXd& comps = m_f["joint_components"];
  const Eigen::MatrixXd& proj = m_f["joint_projections"];
  const Eigen::MatrixXd& rgb = m_f["joint_rgb"];
  QCOMPARE(j.pca.components.rows(), comps.rows());
  QCOMPARE(j.pca.projections.rows(), proj.rows());
  RowMatrixF rgbBoth(a.rows() + b.rows(), 3);
  rgbBoth << j.rgbA, j.rgbB;
  for (Eigen::Index c = 0; c < comps.rows(); ++c) {
    // Up to sign; the projections and colours flip with their component.
    const Eigen::VectorXd got = j.pca.components.row(c).transpose().cast<double>();
    const double sign = got.dot(comps.row(c).transpose()) < 0 ? -1.0 : 1.0;
    QVERIFY((sign * got - comps.row(c).transpose()).cwiseAbs().maxCoeff() < 1e-5);
    QVERIFY((sign * j.pca.projections.col(c).cast<double>() - proj.col(c)).cwiseAbs().maxCoeff() <
            1e-4);
    for (Eigen::Index t = 0; t < rgb.rows(); ++t) {
      double expected = rgb(t, c);
      if (sign < 0 && fg[static_cast<std::size_t>(t)]) expected = 1.0 - expected;
      QVERIFY(std::abs(rgbBoth(t, c) - expected) < 1e-5);
    }
  }
}

void tst_CompareAnalysis::jointPcaWithoutForegroundMatchesNumpy() {
  JointPcaOptions options;
  options.foreground = false;
  const JointPca j = jointPca(tokens(m_f["joint_a"]), tokens(m_f["joint_b"]), options);
  QCOMPARE(j.foregroundCount, int(m_f["joint_a"].rows() + m_f["joint_b"].rows()));
  const Eigen::MatrixXd& comps = m_f["joint_plain_components"];
  const Eigen::MatrixXd& proj = m_f["joint_plain_projections"];
  const Eigen::MatrixXd& rgb = m_f["joint_plain_rgb"];
  const Eigen::Index na = m_f["joint_a"].rows();
  for (Eigen::Index c = 0; c < 3; ++c) {
    const Eigen::VectorXd got = j.pca.components.row(c).transpose().cast<double>();
    const double sign = got.dot(comps.row(c).transpose()) < 0 ? -1.0 : 1.0;
    QVERIFY((sign * got - comps.row(c).transpose()).cwiseAbs().maxCoeff() < 1e-5);
    QVERIFY((sign * j.pca.projections.col(c).cast<double>() - proj.col(c)).cwiseAbs().maxCoeff() <
            1e-4);
    for (Eigen::Index t = 0; t < rgb.rows(); ++t) {
      const double expected = sign < 0 ? 1.0 - rgb(t, c) : rgb(t, c);
      const float shown = t < na ? j.rgbA(t, c) : j.rgbB(t - na, c);
      QVERIFY(std::abs(shown - expected) < 1e-5);
    }
  }
}

void tst_CompareAnalysis::refusals() {
  const RowMatrixF a = RowMatrixF::Random(4, 5);
  const RowMatrixF b = RowMatrixF::Random(3, 6);
  QVERIFY_THROWS_EXCEPTION(Error, crossSimilarityMatrix(a, b));
  QVERIFY_THROWS_EXCEPTION(Error, mutualNearestNeighbours(a, b));
  QVERIFY_THROWS_EXCEPTION(Error, jointPca(a, b));
  QVERIFY_THROWS_EXCEPTION(Error, crossSimilarity(a, 4, a));
  QVERIFY_THROWS_EXCEPTION(Error, crossSimilarity(a, -1, a));
  const RowMatrixF s = crossSimilarityMatrix(a, a);
  QVERIFY_THROWS_EXCEPTION(Error, mutualNearestNeighbours(s, std::vector<bool>(3, true), {}, 0));
  // A token set against itself: every token is its own mutual neighbour, similarity 1.
  const std::vector<PatchMatch> self = mutualNearestNeighbours(a, a);
  QCOMPARE(self.size(), std::size_t(4));
  for (const PatchMatch& m : self) {
    QCOMPARE(m.tokenA, m.tokenB);
    QVERIFY(std::abs(m.similarity - 1.0f) < 1e-5f);
  }
}

QTEST_APPLESS_MAIN(tst_CompareAnalysis)
#include "tst_compare_analysis.moc"
