#include <QtTest>
#include <algorithm>

#include "core/io/error.h"
#include "core/model/backward/transformer_backward.h"
#include "core/model/position/relative_position_bias.h"
#include "core/model/transformer_families.h"
#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/model_preprocessing.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/tensor_source_factory.h"
#include "tests/common/reference_arrays.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("beit/" + file);
}

}  // namespace

// BEiT / BEiT v2 / data2vec-vision against timm's own Beit (tests/data/beit,
// tests/reference/beit_fixtures.py): relative position bias per block and shared, q/v biases,
// LayerScale, with and without the absolute pos_embed, in timm's and Hugging Face's names.
class TestBeit : public QObject {
  Q_OBJECT

 private slots:
  void matchesTimmBeit_data();
  void matchesTimmBeit();
  void indexMatchesBeitPy();
  void refusesByName_data();
  void refusesByName();
  void anotherGridIsRefusedByName();
  void knownUnusedTensorsAreListed();
  void explainIsAccepted();
  void plainVitWithATableIsStillALookalike();
  void preprocessingFromTheProcessorSidecar();
  void headsOptionMustAgreeWithTheTable();
  void blockedAttentionAddsTheBiasPerTile();
};

void TestBeit::matchesTimmBeit_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<QString>("family");
  QTest::addColumn<QString>("headsSource");
  QTest::addColumn<int>("heads");
  QTest::addColumn<int>("depth");
  const auto rows = test::readTsv(fixture("cases.tsv"));
  QVERIFY2(rows.size() == 5, "cases.tsv is missing; run tests/reference/beit_fixtures.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{8});
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << QString::fromStdString(r[4])
                                << QString::fromStdString(r[5]) << std::stoi(r[6])
                                << std::stoi(r[7]);
  }
}

void TestBeit::matchesTimmBeit() {
  QFETCH(QString, weights);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(QString, family);
  QFETCH(QString, headsSource);
  QFETCH(int, heads);
  QFETCH(int, depth);
  std::string whyNot;
  const auto vit = VisionTransformer::load(fixture(weights.toStdString()), {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  const TransformerConfig& c = vit->config();
  QCOMPARE(QString::fromStdString(c.family), family);
  QCOMPARE(QString::fromStdString(c.headsSource), headsSource);
  QCOMPARE(c.numHeads, heads);
  QCOMPARE(c.depth, depth);
  QCOMPARE(c.prefixTokens(), 1);
  QVERIFY(!c.relativePositionBias.empty());

  const NpzArchive ref(fixture(expected.toStdString()));
  const ChwTensor x = test::readChwInput(fixture(input.toStdString()));
  int observed = 0;
  const TransformerOutput out = vit->forward(x, [&](int block, const std::vector<RowMatrixF>& p) {
    ++observed;
    QCOMPARE(block, observed);
    const std::string why = test::attentionMismatch(ref, block, p);
    QVERIFY2(why.empty(), why.c_str());
  });
  QCOMPARE(observed, depth);
  const auto check = [&](const TransformerOutput& o) {
    std::string why = test::tokenMismatch(ref, "patch_embedding", o.patchEmbedding);
    for (int l = 0; l <= depth && why.empty(); ++l)
      why = test::tokenMismatch(ref, "tokens_" + std::to_string(l),
                                o.tokens[static_cast<std::size_t>(l)]);
    if (why.empty()) why = test::tokenMismatch(ref, "final", o.final);
    QVERIFY2(why.empty(), why.c_str());
  };
  check(out);
  check(vit->forward(x, {}));  // no observer: the blocked attention adds the bias per tile
}

// The index of a non-square 3 x 5 window against beit.py's gen_relative_position_index.
void TestBeit::indexMatchesBeitPy() {
  const NpyArray want = readNpy(fixture("index_3x5.npy"));
  QCOMPARE(want.shape, (std::vector<std::int64_t>{16, 16}));
  const std::vector<std::int64_t> index = relativePositionIndex(3, 5);
  QCOMPARE(index.size(), want.data.size());
  for (std::size_t i = 0; i < index.size(); ++i)
    QVERIFY2(static_cast<float>(index[i]) == want.data[i], qPrintable(QString::number(i)));
  QCOMPARE(RelativePositionBias::tableRows(3, 5), Eigen::Index{5 * 9 + 3});
}

void TestBeit::refusesByName_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  const auto rows = test::readTsv(fixture("bad/expected.tsv"));
  QCOMPARE(rows.size(), std::size_t{2});
  for (const auto& r : rows)
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
}

void TestBeit::refusesByName() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = fixture("bad/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path);
    QFAIL("loaded a BEiT file PatchLens cannot run exactly");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

// The tables are for 4 x 4: a 3 x 4 input is refused, naming the trained grid and the size.
void TestBeit::anotherGridIsRefusedByName() {
  const auto vit = VisionTransformer::load(fixture("timm_rel_pth/model.pth"));
  QVERIFY(vit.has_value());
  try {
    (void)vit->forward(test::readChwInput(fixture("bad/input_3x4.npy")), {});
    QFAIL("ran a relative position bias on a grid it was not trained for");
  } catch (const Error& e) {
    const QString reason = QString::fromStdString(e.reason());
    QVERIFY2(reason.contains("trained for a 4x4 grid") && reason.contains("gives 3x4") &&
                 reason.contains("resize_rel_pos_bias_table") && reason.contains("--img-size 32"),
             e.what());
  }
}

void TestBeit::knownUnusedTensorsAreListed() {
  const auto unused = [](const std::string& file) {
    std::vector<std::string> lines;
    const auto vit = VisionTransformer::load(fixture(file));  // outlives the loop
    for (const UnusedTensors& u : vit->config().unusedTensors) {
      std::string line = u.reason + ":";
      for (const std::string& n : u.names) line += " " + n;
      lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  QCOMPARE(
      unused("timm_rel_pth/model.pth"),
      (std::vector<std::string>{
          "classifier head: head.weight head.bias",
          "norm of the mean-pooled output only (global_pool='avg'): fc_norm.weight fc_norm.bias"}));
  QCOMPARE(
      unused("hf_beit/pytorch_model.bin"),
      (std::vector<std::string>{"classifier head: classifier.weight classifier.bias",
                                "index buffer, recomputed as beit.py's gen_relative_position_index "
                                "(timm and HF drop it): beit.encoder.layer.0.attention.attention."
                                "relative_position_bias.relative_position_index "
                                "beit.encoder.layer.1.attention.attention.relative_position_bias."
                                "relative_position_index",
                                "pooler: norm of the mean-pooled output only (use_mean_pooling): "
                                "beit.pooler.layernorm.weight beit.pooler.layernorm.bias"}));
  QVERIFY(unused("timm_shared_pth/model.pth").empty());
}

void TestBeit::explainIsAccepted() {
  const std::string path = fixture("timm_rel_pth/model.pth");
  const auto weights = readTransformer(*openTensorSource(path), path, {}, nullptr);
  QVERIFY(weights);
  // The relative position bias has an exact backward now (tst_backward, families cases).
  QVERIFY2(TransformerBackward::unsupportedReason(*weights).empty(),
           TransformerBackward::unsupportedReason(*weights).c_str());
}

// A timm ViT (qkv with a k bias) with a table added is no BEiT: still refused as a lookalike.
void TestBeit::plainVitWithATableIsStillALookalike() {
  const std::string path = test::dataPath("transformer/unknown/timm_vit_f32.safetensors");
  const std::string why = encoderRefusalByName(*openTensorSource(path), path, {});
  QVERIFY2(why.find("blocks.0.attn.relative_position_bias_table") != std::string::npos &&
               why.find("BEiT") != std::string::npos,
           why.c_str());
  const std::string beit = fixture("timm_rel_pth/model.pth");
  QCOMPARE(encoderRefusalByName(*openTensorSource(beit), beit, {}), std::string());
}

// BeitImageProcessor's preprocessor_config.json (mean / std 0.5, bilinear, no crop) is read.
void TestBeit::preprocessingFromTheProcessorSidecar() {
  std::vector<std::string> warnings;
  const auto m = findModelPreprocessing(fixture("hf_beit/pytorch_model.bin"), warnings);
  QVERIFY(warnings.empty());
  QVERIFY(m.has_value());
  QCOMPARE(QString::fromStdString(m->source), QString("preprocessor_config.json (Hugging Face)"));
  QVERIFY(m->normalization.has_value());
  QCOMPARE(m->normalization->mean, (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
  QCOMPARE(m->normalization->std, (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
  QCOMPARE(m->height, std::optional<int>(32));
  QCOMPARE(m->interpolation, std::optional<Interpolation>(Interpolation::Bilinear));
}

void TestBeit::headsOptionMustAgreeWithTheTable() {
  TransformerLoadOptions options;
  options.heads = 2;
  try {
    (void)VisionTransformer::load(fixture("hf_beit/pytorch_model.bin"), options);
    QFAIL("--heads 2 accepted against a table of 4 heads");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).startsWith("--heads disagrees with the 4 heads"),
             e.what());
  }
}

// 1 + 18 x 18 = 325 tokens: the blocked attention's 64-query / 256-key tiles each take their own
// block of the bias; it must equal the materialised softmax path (checked against timm above).
void TestBeit::blockedAttentionAddsTheBiasPerTile() {
  const std::string path = fixture("timm_rel_pth/model.pth");
  TransformerWeights w = *readTransformer(*openTensorSource(path), path, {}, nullptr);
  w.config.nativeGridRows = w.config.nativeGridCols = 18;
  for (TransformerBlock& b : w.blocks) {
    auto bias = std::make_shared<RelativePositionBias>();
    bias->windowRows = bias->windowCols = 18;
    bias->table = RowMatrixF::Random(RelativePositionBias::tableRows(18, 18), 4) * 2.0f;
    b.relativeBias = bias;
  }
  const VisionTransformer vit(std::make_shared<const TransformerWeights>(std::move(w)));
  ChwTensor x(3, 144, 144);
  for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] = std::sin(0.37f * float(i));
  const TransformerOutput materialised = vit.forward(x, [](int, const std::vector<RowMatrixF>&) {});
  const TransformerOutput blocked = vit.forward(x, {});
  QCOMPARE(blocked.final.rows(), Eigen::Index{325});
  const double scale = materialised.final.cwiseAbs().maxCoeff();
  const double err = (blocked.final - materialised.final).cwiseAbs().maxCoeff() / scale;
  QVERIFY2(err <= 1e-5, qPrintable(QString("blocked vs materialised: %1").arg(err)));
}

QTEST_APPLESS_MAIN(TestBeit)
#include "tst_beit.moc"
