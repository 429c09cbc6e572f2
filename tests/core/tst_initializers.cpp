#include <QtTest>
#include <cmath>

#include "core/io/error.h"
#include "core/model/initializers.h"

using namespace patchlens;

// Initializer statistics, bounds, determinism and the DCT basis.
class TestInitializers : public QObject {
  Q_OBJECT

 private slots:
  void xavierUniformBound();
  void xavierNormalStd();
  void torchDefaultBounds();
  void sameSeedSameWeights();
  void dctIsOrthonormal_data();
  void dctIsOrthonormal();
  void dctFirstChannelIsLuminanceMean();
  void rejectsImpossibleShapes();
};

void TestInitializers::xavierUniformBound() {
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0);
  const double bound = std::sqrt(6.0 / (768 + 768));  // fan_in = 3*16*16, fan_out = D
  QCOMPARE(w.weight.rows(), 768);
  QCOMPARE(w.weight.cols(), 768);
  QVERIFY(w.weight.cwiseAbs().maxCoeff() <= bound);
  QVERIFY(w.weight.cwiseAbs().maxCoeff() > 0.999 * bound);  // 590k draws reach the edge
  const double mean = w.weight.cast<double>().mean();
  const double var = (w.weight.cast<double>().array() - mean).square().mean();
  QVERIFY(std::abs(mean) < 1e-3);
  QVERIFY(std::abs(var - bound * bound / 3.0) < 0.01 * bound * bound / 3.0);  // U(-a, a): a^2/3
  QCOMPARE(w.bias.cwiseAbs().maxCoeff(), 0.0f);
}

void TestInitializers::xavierNormalStd() {
  const PatchWeights w =
      makeInitializedWeights(Initializer::XavierNormal, LayerShape{256, 3, 16}, 7);
  const double expected = std::sqrt(2.0 / (768 + 256));
  const double mean = w.weight.cast<double>().mean();
  const double stddev = std::sqrt((w.weight.cast<double>().array() - mean).square().mean());
  QVERIFY(std::abs(mean) < 3e-3 * expected * 10);
  QVERIFY(std::abs(stddev / expected - 1.0) < 0.01);
  // Normal tails: about 0.27 % of draws beyond 3 sigma.
  const double beyond =
      (w.weight.cast<double>().array().abs() > 3 * expected).cast<double>().mean();
  QVERIFY(beyond > 0.0015 && beyond < 0.004);
}

void TestInitializers::torchDefaultBounds() {
  const PatchWeights w =
      makeInitializedWeights(Initializer::TorchDefault, LayerShape{384, 3, 16}, 3);
  const double bound = 1.0 / std::sqrt(768.0);  // kaiming_uniform(a=sqrt(5)) and the bias rule
  QVERIFY(w.weight.cwiseAbs().maxCoeff() <= bound);
  QVERIFY(w.weight.cwiseAbs().maxCoeff() > 0.99 * bound);
  QVERIFY(w.bias.cwiseAbs().maxCoeff() <= bound);
  QVERIFY(w.bias.cwiseAbs().maxCoeff() > 0.8 * bound);
  QVERIFY(w.bias.cwiseAbs().minCoeff() < 0.2 * bound);
}

void TestInitializers::sameSeedSameWeights() {
  for (Initializer init :
       {Initializer::Xavier, Initializer::XavierNormal, Initializer::TorchDefault}) {
    const PatchWeights a = makeInitializedWeights(init, LayerShape{64, 3, 8}, 42);
    const PatchWeights b = makeInitializedWeights(init, LayerShape{64, 3, 8}, 42);
    const PatchWeights c = makeInitializedWeights(init, LayerShape{64, 3, 8}, 43);
    QVERIFY(a.weight == b.weight);
    QVERIFY(a.bias == b.bias);
    QVERIFY(a.weight != c.weight);
  }
}

void TestInitializers::dctIsOrthonormal_data() {
  QTest::addColumn<int>("channels");
  QTest::addColumn<int>("patch");
  QTest::newRow("rgb P16 D768") << 3 << 16;
  QTest::newRow("rgb P4 D48") << 3 << 4;
  QTest::newRow("gray P8 D64") << 1 << 8;
}

void TestInitializers::dctIsOrthonormal() {
  QFETCH(int, channels);
  QFETCH(int, patch);
  const int d = channels * patch * patch;
  const PatchWeights w =
      makeInitializedWeights(Initializer::Dct, LayerShape{d, channels, patch}, 0);
  const Eigen::MatrixXd gram = w.weight.cast<double>() * w.weight.cast<double>().transpose();
  QVERIFY((gram - Eigen::MatrixXd::Identity(d, d)).cwiseAbs().maxCoeff() < 1e-5);
}

void TestInitializers::dctFirstChannelIsLuminanceMean() {
  // Channel 0 is the DC luminance: every tap 1 / (sqrt(3) * P).
  const PatchWeights w = makeInitializedWeights(Initializer::Dct, LayerShape{768, 3, 16}, 0);
  const float tap = static_cast<float>(1.0 / (std::sqrt(3.0) * 16.0));
  QVERIFY((w.weight.row(0).array() - tap).abs().maxCoeff() < 1e-7f);
  // Channel 1 is the red-green DC: + on R, - on G, 0 on B.
  QVERIFY(w.weight(1, 0) > 0 && w.weight(1, 256) < 0 && std::abs(w.weight(1, 512)) < 1e-8f);
}

void TestInitializers::rejectsImpossibleShapes() {
  QVERIFY_THROWS_EXCEPTION(Error,
                           makeInitializedWeights(Initializer::Dct, LayerShape{769, 3, 16}, 0));
  QVERIFY_THROWS_EXCEPTION(Error,
                           makeInitializedWeights(Initializer::Xavier, LayerShape{0, 3, 16}, 0));
  QVERIFY(!parseInitializer("kaiming"));
  QCOMPARE(*parseInitializer("xavier-normal"), Initializer::XavierNormal);
}

QTEST_GUILESS_MAIN(TestInitializers)
#include "tst_initializers.moc"
