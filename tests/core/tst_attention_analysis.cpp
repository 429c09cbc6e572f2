#include <QtTest>
#include <cmath>

#include "core/analysis/attention_distance.h"
#include "core/analysis/attention_maps.h"
#include "core/analysis/attention_rollout.h"
#include "core/analysis/depth_norms.h"
#include "core/analysis/foreground_pca.h"
#include "core/io/error.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;

// Attention rollout, mean attention distance, token norms across depth and the DINOv2
// foreground PCA against numpy (tests/reference/attention_fixtures.py) and hand cases.
class tst_AttentionAnalysis : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void rolloutMatchesNumpy();
  void rolloutOfSelfAttentionIsIdentity();
  void rolloutRefusesOtherSize();
  void distanceMatchesNumpy_data();
  void distanceMatchesNumpy();
  void distanceByHand();
  void distanceRefusesBadShape();
  void headMaps();
  void depthNormsMatchNumpy();
  void foregroundPcaMatchesNumpy_data();
  void foregroundPcaMatchesNumpy();

 private:
  std::vector<RowMatrixF> block(int b) const;
  test::FixtureBlocks m_f;
  int m_prefix = 0, m_rows = 0, m_cols = 0, m_patch = 0, m_heads = 0, m_blocks = 0;
};

void tst_AttentionAnalysis::initTestCase() {
  m_f = test::readAnalysesFixture("attention.txt");
  QVERIFY2(m_f.count("shape") && m_f.count("rollout"), "missing tests/data/analyses/attention.txt");
  const Eigen::MatrixXd& s = m_f["shape"];
  m_prefix = int(s(0, 0));
  m_rows = int(s(0, 1));
  m_cols = int(s(0, 2));
  m_patch = int(s(0, 3));
  m_heads = int(s(0, 4));
  m_blocks = int(s(0, 5));
}

std::vector<RowMatrixF> tst_AttentionAnalysis::block(int b) const {
  std::vector<RowMatrixF> heads;
  for (int h = 0; h < m_heads; ++h)
    heads.push_back(m_f.at("attn_" + std::to_string(b) + "_" + std::to_string(h)).cast<float>());
  return heads;
}

void tst_AttentionAnalysis::rolloutMatchesNumpy() {
  AttentionRollout rollout;
  QCOMPARE(rollout.blocks(), 0);
  rollout.addBlock(block(0));
  rollout.addBlock(block(1));
  QCOMPARE(rollout.blocks(), 2);
  double diff = (rollout.matrix().cast<double>() - m_f["rollout_2"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-6, qPrintable(QString::number(diff)));
  rollout.addBlock(block(2));
  diff = (rollout.matrix().cast<double>() - m_f["rollout"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-6, qPrintable(QString::number(diff)));
  const VectorF cls = rollout.patchMap(0, m_prefix);
  QCOMPARE(cls.size(), Eigen::Index{m_rows * m_cols});
  diff = (cls.cast<double>().transpose() - m_f["rollout_cls_patches"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-6, qPrintable(QString::number(diff)));
  // Row-stochastic: every row of the product sums to 1.
  const Eigen::VectorXf sums = rollout.matrix().rowwise().sum();
  QVERIFY((sums.array() - 1.0f).abs().maxCoeff() < 1e-5f);
}

void tst_AttentionAnalysis::rolloutOfSelfAttentionIsIdentity() {
  AttentionRollout rollout;
  const RowMatrixF eye = RowMatrixF::Identity(5, 5);
  rollout.addBlock({eye, eye});
  rollout.addBlock({eye, eye});
  QVERIFY(rollout.matrix().isApprox(eye));
  // Uniform attention: 0.5 * (1/T) + 0.5 * I, squared by hand for T = 2: [[5/8, 3/8], [3/8, 5/8]].
  AttentionRollout uniform;
  const RowMatrixF half = RowMatrixF::Constant(2, 2, 0.5f);
  uniform.addBlock({half});
  uniform.addBlock({half});
  QVERIFY(std::abs(uniform.matrix()(0, 0) - 0.625f) < 1e-7f);
  QVERIFY(std::abs(uniform.matrix()(0, 1) - 0.375f) < 1e-7f);
}

void tst_AttentionAnalysis::rolloutRefusesOtherSize() {
  AttentionRollout rollout;
  rollout.addBlock({RowMatrixF::Identity(4, 4)});
  QVERIFY_THROWS_EXCEPTION(Error, rollout.addBlock({RowMatrixF::Identity(5, 5)}));
  QVERIFY_THROWS_EXCEPTION(Error, rollout.patchMap(4, 1));
  QVERIFY_THROWS_EXCEPTION(Error, AttentionRollout().patchMap(0, 0));
}

void tst_AttentionAnalysis::distanceMatchesNumpy_data() {
  QTest::addColumn<int>("block");
  QTest::newRow("block 1") << 0;
  QTest::newRow("block 2 (a head on the prefix)") << 1;
  QTest::newRow("block 3") << 2;
}

void tst_AttentionAnalysis::distanceMatchesNumpy() {
  QFETCH(int, block);
  const VectorF d = meanAttentionDistance(this->block(block), m_prefix, m_rows, m_cols, m_patch);
  QCOMPARE(d.size(), Eigen::Index{m_heads});
  for (int h = 0; h < m_heads; ++h) {
    const double expected = m_f["distance"](block, h);
    QVERIFY2(std::abs(d(h) - expected) < 1e-4 * expected,
             qPrintable(QStringLiteral("head %1: %2 vs %3").arg(h).arg(d(h)).arg(expected)));
  }
}

void tst_AttentionAnalysis::distanceByHand() {
  // One prefix token, a 1 x 3 grid of 10 px patches. Head 0 attends to itself only (0 px);
  // head 1 sends each query half to the prefix and half to the patch to its right (or left
  // at the end): renormalised over patches that is 10 px for every query.
  RowMatrixF self = RowMatrixF::Identity(4, 4);
  RowMatrixF neighbour = RowMatrixF::Zero(4, 4);
  neighbour(0, 0) = 1.0f;
  neighbour(1, 0) = neighbour(1, 2) = 0.5f;
  neighbour(2, 0) = neighbour(2, 3) = 0.5f;
  neighbour(3, 0) = neighbour(3, 2) = 0.5f;
  // Head 2: patch 0 attends to patch 2 (20 px), the others uniformly to all three patches:
  // patch 1 -> (10 + 0 + 10) / 3, patch 2 -> (20 + 10 + 0) / 3; mean (20 + 20/3 + 10) / 3.
  RowMatrixF spread = RowMatrixF::Zero(4, 4);
  spread(0, 0) = 1.0f;
  spread(1, 3) = 1.0f;
  spread.block(2, 1, 2, 3).setConstant(1.0f / 3.0f);
  const VectorF d = meanAttentionDistance({self, neighbour, spread}, 1, 1, 3, 10);
  QCOMPARE(d(0), 0.0f);
  QVERIFY(std::abs(d(1) - 10.0f) < 1e-5f);
  QVERIFY(std::abs(d(2) - (20.0f + 20.0f / 3.0f + 10.0f) / 3.0f) < 1e-5f);
  // Diagonal distance: a 2 x 2 grid, each query attends to the opposite corner: P * sqrt(2).
  RowMatrixF corner = RowMatrixF::Zero(4, 4);
  corner(0, 3) = corner(1, 2) = corner(2, 1) = corner(3, 0) = 1.0f;
  QVERIFY(std::abs(meanAttentionDistance({corner}, 0, 2, 2, 16)(0) - 16.0f * std::sqrt(2.0f)) <
          1e-4f);
}

void tst_AttentionAnalysis::distanceRefusesBadShape() {
  const RowMatrixF a = RowMatrixF::Identity(5, 5);
  QVERIFY_THROWS_EXCEPTION(Error, meanAttentionDistance({a}, 1, 2, 3, 16));  // 1 + 6 != 5
  QVERIFY_THROWS_EXCEPTION(Error, meanAttentionDistance({}, 1, 2, 2, 16));
  QVERIFY_THROWS_EXCEPTION(Error,
                           meanAttentionDistance({a, RowMatrixF::Identity(4, 4)}, 1, 2, 2, 16));
  QVERIFY_THROWS_EXCEPTION(Error, meanAttentionDistance({a}, 1, 2, 2, 0));
}

void tst_AttentionAnalysis::headMaps() {
  const auto heads = block(1);
  const int query = m_prefix + 5;
  const VectorF mean = headPatchAttention(heads, -1, query, m_prefix);
  const double diff =
      (mean.cast<double>().transpose() - m_f["mean_head_map_block1_query5"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-6, qPrintable(QString::number(diff)));
  const VectorF head2 = headPatchAttention(heads, 2, query, m_prefix);
  for (int k = 0; k < m_rows * m_cols; ++k) QCOMPARE(head2(k), heads[2](query, m_prefix + k));
  QVERIFY(meanOverHeads(heads).isApprox((heads[0] + heads[1] + heads[2]) / 3.0f));
  QVERIFY_THROWS_EXCEPTION(Error, headPatchAttention(heads, 3, query, m_prefix));
  QVERIFY_THROWS_EXCEPTION(Error, headPatchAttention(heads, 0, 99, m_prefix));
}

void tst_AttentionAnalysis::depthNormsMatchNumpy() {
  const RowMatrixF patch = m_f["depth_patch"].cast<float>();
  std::vector<RowMatrixF> layers;
  for (int i = 0; i < 3; ++i)
    layers.push_back(m_f["depth_layer_" + std::to_string(i)].cast<float>());
  const RowMatrixF norms = tokenNormsAcrossDepth({&patch, &layers[0], &layers[1], &layers[2]});
  const Eigen::MatrixXd& expected = m_f["depth_norms"];
  QCOMPARE(norms.rows(), expected.rows());
  QCOMPARE(norms.cols(), expected.cols());
  for (Eigen::Index r = 0; r < norms.rows(); ++r) {
    for (Eigen::Index c = 0; c < norms.cols(); ++c) {
      if (expected(r, c) < 0) {
        QVERIFY2(std::isnan(norms(r, c)), "a prefix row of the patch embedding must be NaN");
      } else {
        QVERIFY(std::abs(norms(r, c) - expected(r, c)) < 1e-5 * std::max(1.0, expected(r, c)));
      }
    }
  }
  // The artifact token is the largest norm of the last layer.
  Eigen::Index at = 0;
  norms.col(3).maxCoeff(&at);
  QCOMPARE(at, Eigen::Index{m_prefix + 4});
}

void tst_AttentionAnalysis::foregroundPcaMatchesNumpy_data() {
  QTest::addColumn<bool>("flip");
  QTest::addColumn<float>("threshold");
  QTest::newRow("as is, 0.5") << false << 0.5f;
  QTest::newRow("flipped, 0.4") << true << 0.4f;
}

void tst_AttentionAnalysis::foregroundPcaMatchesNumpy() {
  QFETCH(bool, flip);
  QFETCH(float, threshold);
  const std::string key = flip ? "fg_flip1" : "fg_flip0";
  const RowMatrixF tokens = m_f["fg_tokens"].cast<float>();
  const ForegroundPca r = foregroundPca(tokens, {threshold, flip});
  const Eigen::MatrixXd& mask = m_f[key + "_mask"];
  int count = 0;
  for (int i = 0; i < tokens.rows(); ++i) {
    QCOMPARE(r.foreground[std::size_t(i)], mask(0, i) > 0.5);
    count += mask(0, i) > 0.5;
    QVERIFY(std::abs(r.firstComponent(i) - m_f[key + "_first"](0, i)) < 1e-5);
  }
  QCOMPARE(r.foregroundCount, count);
  const double diff = (r.rgb.cast<double>() - m_f[key + "_rgb"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-4, qPrintable(QString::number(diff)));
  QVERIFY(std::abs(r.firstRatio - m_f["fg_first_ratio"](0, 0)) < 1e-5);
  QVERIFY_THROWS_EXCEPTION(Error, foregroundPca(tokens.topRows(1), {}));
}

QTEST_APPLESS_MAIN(tst_AttentionAnalysis)
#include "tst_attention_analysis.moc"
