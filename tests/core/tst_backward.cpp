#include <QtTest>
#include <algorithm>
#include <cmath>

#include "core/analysis/gradcam.h"
#include "core/analysis/relevance.h"
#include "core/io/error.h"
#include "core/model/backward/transformer_backward.h"
#include "core/model/heads/classifier_head.h"
#include "core/model/linear_layer.h"
#include "core/model/transformer_families.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/tensor_source_factory.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

using namespace patchlens;
using patchlens::test::relativeError;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("explain/" + file);
}

constexpr double kTolerance = 1e-4;  // the 1e-4 x max|ref| per array

struct Model {
  std::shared_ptr<const TransformerWeights> weights;
  std::optional<ClassifierHead> head;
};

Model load(const std::string& weights, int heads) {
  const std::string path = fixture(weights);
  const auto source = openTensorSource(path);
  TransformerLoadOptions options;
  options.heads = heads;
  Model m;
  std::string whyNot;
  m.weights = readTransformer(*source, path, options, &whyNot);
  if (!m.weights) throw Error(path, whyNot);
  m.head = readClassifierHead(*source, path, m.weights->config, options.patch, &whyNot);
  return m;
}

}  // namespace

// The exact backward (core/model/backward) and the heads against torch autograd on the
// fixtures of tests/reference/explain_fixtures.py (checked there against torchvision's own
// VisionTransformer and by finite differences).
class TestBackward : public QObject {
  Q_OBJECT

 private slots:
  void matchesAutograd_data();
  void matchesAutograd();
  void keptForwardEqualsTheEncoder();
  void headsAreReadPerFamily();
  void baseModelHasNoHead();
  void layerNormBackwardMatchesDifferences();
  void activationDerivativesMatchDifferences();
  void linearBackwardIsGradOutTimesWeight();
};

void TestBackward::matchesAutograd_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<int>("heads");
  QTest::addColumn<int>("classOption");
  QTest::addColumn<QString>("target");
  auto rows = test::readTsv(fixture("cases.tsv"));
  QVERIFY2(rows.size() >= 10, "cases.tsv is missing; run tests/reference/make_reference.py");
  // The families of explain_families_fixtures.py: eva.py (RoPE, SwiGLU, sub-LN), BEiT (relative
  // position bias, gamma), Meta DINOv3 (RoPE rotate-half, LayerScale, storage tokens).
  const auto families = test::readTsv(fixture("families/cases.tsv"));
  QVERIFY2(families.size() >= 8, "families/cases.tsv is missing");
  rows.insert(rows.end(), families.begin(), families.end());
  for (auto r : rows) {
    r.resize(7);
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << std::stoi(r[4])
                                << (r[5].empty() ? -1 : std::stoi(r[5]))
                                << QString::fromStdString(r[6]);
  }
}

void TestBackward::matchesAutograd() {
  QFETCH(QString, weights);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(int, heads);
  QFETCH(int, classOption);
  QFETCH(QString, target);

  const Model m = load(weights.toStdString(), heads);
  const TransformerConfig& c = m.weights->config;
  const NpzArchive ref(fixture(expected.toStdString()));
  const TransformerBackward engine(m.weights);
  const ForwardTrace trace = engine.forward(test::readChwInput(fixture(input.toStdString())));
  RowMatrixF gradFinal;
  float value = 0;
  if (target.isEmpty()) {
    QVERIFY(m.head.has_value());
    const VectorF logits = m.head->logits(trace.final, c);
    QVERIFY2(relativeError(logits.data(), static_cast<std::size_t>(logits.size()),
                           ref.read("logits")) < kTolerance,
             "logits");
    const VectorF probabilities = softmax(logits);
    QVERIFY(relativeError(probabilities.data(), static_cast<std::size_t>(probabilities.size()),
                          ref.read("probabilities")) < kTolerance);
    Eigen::Index k = classOption;
    if (k < 0) logits.maxCoeff(&k);
    value = logits[k];
    VectorF unit = VectorF::Zero(logits.size());
    unit[k] = 1.0f;
    gradFinal = m.head->backward(trace.final, c, unit);
  } else {
    const QStringList rc = target.mid(QStringLiteral("similar:").size()).split(',');
    const Eigen::Index row = c.prefixTokens() + rc[0].toInt() * trace.gridCols + rc[1].toInt();
    value = patchSimilarityTarget(trace.final, c, row, gradFinal);
  }
  QVERIFY(std::abs(value - ref.read("target").data.at(0)) <=
          kTolerance * std::max(1.0f, std::abs(ref.read("target").data.at(0))));

  std::vector<std::vector<RowMatrixF>> gradAttention(static_cast<std::size_t>(c.depth));
  RelevanceAccumulator relevance(c.depth);
  int visited = c.depth + 1;
  const BackwardResult grads =
      engine.backward(trace, gradFinal,
                      [&](int block, const std::vector<RowMatrixF>& gradHeads,
                          const std::vector<RowMatrixF>& probabilities) {
                        QCOMPARE(block, visited - 1);  // last block first
                        visited = block;
                        relevance.addBlock(block, gradHeads, probabilities);
                        gradAttention[static_cast<std::size_t>(block - 1)] = gradHeads;
                      });
  QCOMPARE(static_cast<int>(grads.gradTokens.size()), c.depth + 1);
  for (int l = 0; l <= c.depth; ++l) {
    const double err = relativeError(grads.gradTokens[static_cast<std::size_t>(l)],
                                     ref.read("grad_tokens_" + std::to_string(l)));
    QVERIFY2(err < kTolerance, qPrintable(QString("grad_tokens_%1: %2").arg(l).arg(err)));
  }
  for (int l = 1; l <= c.depth; ++l) {
    const auto& headsGrad = gradAttention[static_cast<std::size_t>(l - 1)];
    std::vector<float> stacked;
    for (const RowMatrixF& h : headsGrad)
      stacked.insert(stacked.end(), h.data(), h.data() + h.size());
    const double err = relativeError(stacked.data(), stacked.size(),
                                     ref.read("grad_attention_" + std::to_string(l)));
    QVERIFY2(err < kTolerance, qPrintable(QString("grad_attention_%1: %2").arg(l).arg(err)));
  }
  const RowMatrixF cam = gradCamMap(trace.blocks.back().normed1, grads.gradLastNormed1,
                                    trace.gridRows, trace.gridCols);
  QVERIFY2(relativeError(cam, ref.read("gradcam")) < kTolerance, "gradcam");
  QCOMPARE(ref.read("gradcam").shape, (std::vector<std::int64_t>{trace.gridRows, trace.gridCols}));
  const RowMatrixF map = relevance.map(c.classToken, trace.gridRows, trace.gridCols);
  QVERIFY2(relativeError(map, ref.read("relevance")) < kTolerance, "relevance");
}

void TestBackward::keptForwardEqualsTheEncoder() {
  for (const char* name :
       {"timm_token_in1k", "hf_dinov2_reg2_classifier", "timm_clip_similar", "hf_siglip_similar"}) {
    const std::string folder = name;
    const int heads = folder.rfind("hf_", 0) == 0 ? 0 : 4;
    const Model m = load(folder + "/model.safetensors", heads);
    const ChwTensor input = test::readChwInput(fixture(folder + "/input.npy"));
    const TransformerOutput expected = VisionTransformer(m.weights).forward(input);
    const ForwardTrace trace = TransformerBackward(m.weights).forward(input);
    QCOMPARE(trace.tokens.size(), expected.tokens.size());
    for (std::size_t l = 0; l < trace.tokens.size(); ++l) {
      const double scale = expected.tokens[l].cwiseAbs().maxCoeff();
      QVERIFY2((trace.tokens[l] - expected.tokens[l]).cwiseAbs().maxCoeff() <= 1e-5 * scale, name);
    }
    QVERIFY((trace.final - expected.final).cwiseAbs().maxCoeff() <=
            1e-5 * expected.final.cwiseAbs().maxCoeff());
  }
  // The families with RoPE, relative bias, SwiGLU and sub-LNs (the encoder's blocked attention
  // sums in another order: 1e-5).
  for (const auto& r : test::readTsv(fixture("families/cases.tsv"))) {
    const Model m = load(r[1], std::stoi(r[4]));
    const ChwTensor input = test::readChwInput(fixture(r[2]));
    const TransformerOutput expected = VisionTransformer(m.weights).forward(input);
    const ForwardTrace trace = TransformerBackward(m.weights).forward(input);
    QCOMPARE(trace.tokens.size(), expected.tokens.size());
    for (std::size_t l = 0; l < trace.tokens.size(); ++l) {
      const double scale = expected.tokens[l].cwiseAbs().maxCoeff();
      QVERIFY2((trace.tokens[l] - expected.tokens[l]).cwiseAbs().maxCoeff() <= 1e-5 * scale,
               r[0].c_str());
    }
    QVERIFY2((trace.final - expected.final).cwiseAbs().maxCoeff() <=
                 1e-5 * expected.final.cwiseAbs().maxCoeff(),
             r[0].c_str());
  }
}

void TestBackward::headsAreReadPerFamily() {
  const struct {
    const char* folder;
    int heads;
    HeadPooling pooling;
    int classes;
    const char* firstLabel;
  } cases[] = {
      {"torchvision_head", 4, HeadPooling::ClassToken, 10, "class 0"},
      {"torchvision_pre_logits", 4, HeadPooling::ClassToken, 7, "class 0"},
      {"timm_token_in1k", 4, HeadPooling::ClassToken, 1000, "tench"},
      {"timm_avg_fc_norm", 4, HeadPooling::PatchMean, 6, "class 0"},
      {"timm_deit_distilled", 4, HeadPooling::ClassAndDistillation, 5, "class 0"},
      {"hf_vit_classifier", 0, HeadPooling::ClassToken, 4, "label A"},
      {"hf_dinov2_reg2_classifier", 0, HeadPooling::ClassAndPatchMean, 3, "class 0"},
      {"families/eva02_clip_rope_swiglu_subln", 0, HeadPooling::ClassToken, 5, "class 0"},
      {"families/eva02_tiny_packed_swiglu", 0, HeadPooling::PatchMean, 5, "class 0"},
      {"families/sbb_rope_reg1_gap", 0, HeadPooling::PatchMean, 5, "class 0"},
      {"families/beit_rel_bias_gamma", 4, HeadPooling::PatchMean, 6, "class 0"},
  };
  for (const auto& t : cases) {
    const std::string folder = t.folder;
    const Model m =
        load(folder + (folder.rfind("families/", 0) == 0 ? "/model.pth" : "/model.safetensors"),
             t.heads);
    QVERIFY2(m.head.has_value(), t.folder);
    QCOMPARE(m.head->pooling, t.pooling);
    QCOMPARE(m.head->classes(), t.classes);
    QCOMPARE(static_cast<int>(m.head->labels.size()), t.classes);
    QCOMPARE(QString::fromStdString(m.head->labels.front()), QString(t.firstLabel));
  }
  QCOMPARE(imagenet1kLabels().size(), std::size_t{1000});
  QCOMPARE(QString::fromStdString(imagenet1kLabels()[281]), QString("tabby"));
  QCOMPARE(QString::fromStdString(imagenet1kLabels()[999]), QString("toilet tissue"));
}

void TestBackward::baseModelHasNoHead() {
  for (const char* folder : {"timm_clip_similar", "hf_siglip_similar"}) {
    const Model m = load(std::string(folder) + "/model.safetensors", 4);
    QVERIFY2(!m.head.has_value(), folder);
  }
  // Meta's DINOv3 layout: a backbone, said so.
  const std::string path = fixture("families/meta_dinov3_similar/model.pth");
  const auto source = openTensorSource(path);
  std::string whyNot;
  const auto weights = readTransformer(*source, path, {}, &whyNot);
  QVERIFY2(weights, whyNot.c_str());
  QVERIFY(!readClassifierHead(*source, path, weights->config, {}, &whyNot).has_value());
  QVERIFY2(whyNot.find("DINOv3") != std::string::npos, whyNot.c_str());
}

void TestBackward::layerNormBackwardMatchesDifferences() {
  // d(sum(g * LN(x)))/dx by central differences in double against the closed form.
  RowMatrixF x(2, 5);
  x << 0.3f, -1.2f, 2.0f, 0.7f, -0.4f, 1.5f, 1.1f, -0.9f, 0.0f, 0.25f;
  RowMatrixF g(2, 5);
  g << 0.5f, -0.3f, 1.0f, 0.2f, -0.7f, -1.0f, 0.4f, 0.3f, 0.8f, -0.2f;
  LayerNormWeights n{VectorF(5), VectorF(5)};
  n.weight << 1.2f, 0.8f, -0.5f, 1.0f, 0.3f;
  n.bias << 0.1f, 0.0f, -0.2f, 0.3f, 0.0f;
  const float eps = 1e-5f;
  RowMatrixF got = RowMatrixF::Zero(2, 5);
  layerNormBackward(x, n, eps, g, got);
  const auto loss = [&](const Eigen::MatrixXd& xd) {
    double total = 0;
    for (Eigen::Index r = 0; r < xd.rows(); ++r) {
      const double mean = xd.row(r).mean();
      const double var = (xd.row(r).array() - mean).square().mean();
      for (Eigen::Index c = 0; c < xd.cols(); ++c)
        total += g(r, c) * ((xd(r, c) - mean) / std::sqrt(var + eps) * n.weight[c] + n.bias[c]);
    }
    return total;
  };
  const Eigen::MatrixXd xd = x.cast<double>();
  for (Eigen::Index r = 0; r < 2; ++r) {
    for (Eigen::Index c = 0; c < 5; ++c) {
      Eigen::MatrixXd plus = xd, minus = xd;
      plus(r, c) += 1e-6;
      minus(r, c) -= 1e-6;
      const double fd = (loss(plus) - loss(minus)) / 2e-6;
      QVERIFY2(std::abs(fd - got(r, c)) < 1e-4, qPrintable(QString::number(fd)));
    }
  }
}

void TestBackward::activationDerivativesMatchDifferences() {
  RowMatrixF pre(1, 7);
  pre << -3.0f, -1.0f, -0.2f, 0.0f, 0.4f, 1.3f, 2.5f;
  const struct {
    Activation activation;
    double (*f)(double);
  } cases[] = {
      {Activation::Gelu, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {Activation::GeluTanh,
       [](double v) {
         return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
       }},
      {Activation::QuickGelu, [](double v) { return v / (1 + std::exp(-1.702 * v)); }},
  };
  for (const auto& t : cases) {
    RowMatrixF grad = RowMatrixF::Ones(1, 7);
    multiplyActivationDerivative(pre, t.activation, grad);
    for (Eigen::Index i = 0; i < 7; ++i) {
      const double v = pre(0, i);
      const double fd = (t.f(v + 1e-6) - t.f(v - 1e-6)) / 2e-6;
      QVERIFY2(std::abs(fd - grad(0, i)) < 1e-5, activationName(t.activation));
    }
  }
}

void TestBackward::linearBackwardIsGradOutTimesWeight() {
  // 70 outputs (a partial last panel of 32) and 300 inputs (two depth slices of the packed
  // backward), 17 rows; against Eigen's dY W in double.
  const RowMatrixF w = RowMatrixF::Random(70, 300);
  const RowMatrixF dy = RowMatrixF::Random(17, 70);
  const LinearLayer layer(w, VectorF::Random(70));
  RowMatrixF got;
  std::vector<float> scratch;
  layer.applyTransposed(dy, got, scratch);
  const Eigen::MatrixXd expected = dy.cast<double>() * w.cast<double>();
  QCOMPARE(got.rows(), Eigen::Index{17});
  QCOMPARE(got.cols(), Eigen::Index{300});
  QVERIFY((got.cast<double>() - expected).cwiseAbs().maxCoeff() < 1e-4);
}

QTEST_APPLESS_MAIN(TestBackward)
#include "tst_backward.moc"
