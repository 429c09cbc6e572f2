#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "core/analysis/attention_maps.h"
#include "core/analysis/correspondences.h"
#include "core/analysis/embedding_analysis.h"
#include "core/image/normalization.h"
#include "core/weights/npy_array.h"
#include "tests/common/cli_process.h"
#include "ui/compare/compare_window.h"

using namespace patchlens;
using test::data;

namespace {

const char* kModel = "transformer/timm_vit_f32/model.safetensors";
// A second model of another depth and layout (2 blocks, 2 registers, Hugging Face names).
const char* kOtherModel = "transformer/hf_dinov2_reg2_bf16/model.safetensors";

PipelineConfig fixtureConfig() {
  PipelineConfig config;
  config.weights.source = test::dataPath(kModel);
  config.preprocess.height = config.preprocess.width = 64;
  config.preprocess.cropPct = 1.0;
  config.preprocess.normalization = *Normalization::parse("imagenet");
  config.explicitPreprocess.size = config.explicitPreprocess.cropPct = true;
  config.explicitPreprocess.normalization = true;
  return config;
}

bool waitIdle(CompareWindow& window) {
  QSignalSpy spy(&window, &CompareWindow::idle);
  return window.isBusy() ? spy.wait(60000) : true;
}

// The fixture image through kModel (A, depth 3) and kOtherModel (B, depth 2).
std::unique_ptr<CompareWindow> twoModels() {
  const PipelineConfig a = fixtureConfig();
  return std::make_unique<CompareWindow>(data("compare/a.png"), a,
                                         secondModelConfig(a, test::dataPath(kOtherModel)), 0);
}

// `patchlens-cli export IMAGE --weights W --data tokens:L` with the fixture's explicit
// preprocessing: the patch rows [N x D] (the prefix rows dropped).
RowMatrixF cliPatchTokens(const char* weights, int layer, int patches) {
  QTemporaryDir dir;
  const QString npy = dir.filePath("tokens.npy");
  const test::CliResult r =
      test::runCli({"export", data("compare/a.png"), "--weights", data(weights), "--img-size", "64",
                    "--crop-pct", "1", "--norm", "imagenet", "--data",
                    QString("tokens:%1").arg(layer), "-o", npy});
  if (r.exitCode != 0) qWarning("%s", qPrintable(r.err));
  const NpyArray a = readNpy(npy.toStdString());
  const Eigen::Map<const RowMatrixF> all(a.data.data(), a.shape[0], a.shape[1]);
  return all.bottomRows(patches);
}

float maxDifference(const RowMatrixF& a, const RowMatrixF& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return 1e30f;
  return (a - b).cwiseAbs().maxCoeff();
}

}  // namespace

// The compare window (issue 23): both images through the fixture ViT off the GUI thread, its
// matches equal `patchlens-cli export --compare --data matches`, hovering a patch of A gives
// its best match in B, and every mode paints. PATCHLENS_COMPARE_SCREENSHOT=DIR saves the
// window at 1366 x 768 in each mode.
class tst_CompareWindow : public QObject {
  Q_OBJECT

 private slots:
  void matchesEqualTheCli();
  void hoverShowsTheBestMatch();
  void screenshots();
  void badImageShowsAnError();
  void twoModelsMatchRelativeDepth();
  void twoModelsEqualTheCli();
  void twoModelsLinkSelectionAndColormap();
  void twoImagesLinkSelectionAndColormap();
};

void tst_CompareWindow::matchesEqualTheCli() {
  CompareWindow window(data("compare/a.png"), data("compare/b.png"), fixtureConfig(), 0);
  QVERIFY(waitIdle(window));
  QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
  QCOMPARE(window.layer(), 5);  // the final norm of a depth-3 model: 0, input, 3 blocks, final
  for (const int layer : {5, 0}) {
    window.setLayer(layer);
    QVERIFY(waitIdle(window));
    const auto result = window.layerResult();
    QVERIFY(result && result->layer == layer);
    QTemporaryDir dir;
    const QString csv = dir.filePath("pairs.csv");
    const test::CliResult r = test::runCli(
        {"export", data("compare/a.png"), "--compare", data("compare/b.png"), "--weights",
         data(kModel), "--img-size", "64", "--crop-pct", "1", "--norm", "imagenet", "--layer",
         layer == 5 ? "final" : "patch", "--data", "matches", "-o", csv});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
    lines.removeFirst();
    QCOMPARE(lines.size(), int(result->matches.size()));
    for (int i = 0; i < lines.size(); ++i) {
      const QStringList c = lines[i].split(',');
      const PatchMatch& m = result->matches[std::size_t(i)];
      QCOMPARE(c[0].toInt() * 4 + c[1].toInt(), m.tokenA);
      QCOMPARE(c[2].toInt() * 4 + c[3].toInt(), m.tokenB);
      QVERIFY(std::abs(c[4].toDouble() - m.similarity) < 1e-6);
    }
  }
}

void tst_CompareWindow::hoverShowsTheBestMatch() {
  CompareWindow window(data("compare/a.png"), data("compare/b.png"), fixtureConfig(), 0);
  QVERIFY(waitIdle(window));
  const auto result = window.layerResult();
  QVERIFY(result);
  for (const int token : {0, 5, 15}) {
    window.canvas()->setProbe(CompareCanvas::Probe{false, token});
    Eigen::Index best = 0;
    result->similarity.row(token).maxCoeff(&best);
    QCOMPARE(window.canvas()->bestMatch(), int(best));
    window.canvas()->setProbe(CompareCanvas::Probe{true, token});
    result->similarity.col(token).maxCoeff(&best);
    QCOMPARE(window.canvas()->bestMatch(), int(best));
  }
}

void tst_CompareWindow::screenshots() {
  const QString dir = qEnvironmentVariable("PATCHLENS_COMPARE_SCREENSHOT");
  const QString a = qEnvironmentVariable("PATCHLENS_COMPARE_A", data("compare/a.png"));
  const QString b = qEnvironmentVariable("PATCHLENS_COMPARE_B", data("compare/b.png"));
  PipelineConfig config = fixtureConfig();
  if (qEnvironmentVariableIsSet("PATCHLENS_COMPARE_WEIGHTS")) {
    config = PipelineConfig{};
    config.weights.source = qEnvironmentVariable("PATCHLENS_COMPARE_WEIGHTS").toStdString();
  }
  CompareWindow window(a, b, config, 0);
  window.resize(1366, 768);
  window.show();
  QVERIFY(waitIdle(window));
  QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
  const struct {
    CompareCanvas::Mode mode;
    const char* name;
  } modes[] = {{CompareCanvas::Mode::Similarity, "similarity"},
               {CompareCanvas::Mode::Matches, "matches"},
               {CompareCanvas::Mode::JointPca, "joint_pca"}};
  for (const auto& [mode, name] : modes) {
    window.setMode(mode);
    if (mode == CompareCanvas::Mode::Similarity)
      window.canvas()->setProbe(CompareCanvas::Probe{false, 5}, true);
    const QImage shot = window.grab().toImage();
    QCOMPARE(shot.size(), QSize(1366, 768) * window.devicePixelRatio());
    if (!dir.isEmpty()) QVERIFY(shot.save(dir + "/compare_" + name + ".png"));
  }
  // Two models (PATCHLENS_COMPARE_WEIGHTS_B: a second random model for the screenshots).
  const std::string other =
      qEnvironmentVariable("PATCHLENS_COMPARE_WEIGHTS_B", data(kOtherModel)).toStdString();
  CompareWindow models(a, config, secondModelConfig(config, other), 0);
  models.resize(1366, 768);
  models.show();
  QVERIFY(waitIdle(models));
  QVERIFY2(models.errorText().isEmpty(), qPrintable(models.errorText()));
  const struct {
    CompareCanvas::Mode mode;
    const char* name;
  } modelModes[] = {{CompareCanvas::Mode::ModelPca, "pca"},
                    {CompareCanvas::Mode::ModelAttention, "attention"},
                    {CompareCanvas::Mode::ModelSimilarity, "similarity"}};
  // A middle layer: Block 6 of 12 beside Block 3 of 6 for the random ViT-B and ViT-S.
  models.setLayer(models.sides()->first.trace->depth / 2 + 1);
  QVERIFY(waitIdle(models));
  models.canvas()->setProbe(CompareCanvas::Probe{false, 5}, true);
  for (const auto& [mode, name] : modelModes) {
    models.setMode(mode);
    const QImage shot = models.grab().toImage();
    QCOMPARE(shot.size(), QSize(1366, 768) * models.devicePixelRatio());
    if (!dir.isEmpty()) QVERIFY(shot.save(dir + "/compare_models_" + name + ".png"));
  }
}

void tst_CompareWindow::badImageShowsAnError() {
  CompareWindow window(data("compare/a.png"), data("bad/does-not-exist.png"), fixtureConfig(), 0);
  QVERIFY(waitIdle(window));
  QVERIFY2(window.errorText().contains("does-not-exist.png"), qPrintable(window.errorText()));
  QVERIFY(!window.layerResult());
}

// Layer l of A (depth 3) beside round(l · 2 / 3) of B (depth 2), one layer control; each
// title names its model (the folder too: both files are model.safetensors) and layer.
void tst_CompareWindow::twoModelsMatchRelativeDepth() {
  const auto window = twoModels();
  QVERIFY(waitIdle(*window));
  QVERIFY2(window->errorText().isEmpty(), qPrintable(window->errorText()));
  QCOMPARE(window->pairing(), CompareWindow::Pairing::TwoModels);
  // Index: 0 patch, 1 tokens_0, 1 + l tokens_l, 5 final (A) / 4 final (B).
  const int expectedB[] = {0, 1, 2, 2, 3, 4};
  const char* namesB[] = {"Patch embedding", "Input to block 1", "Block 1 of 2",
                          "Block 1 of 2",    "Block 2 of 2",     "Final norm"};
  for (int l = 0; l <= 5; ++l) {
    window->setLayer(l);
    QVERIFY(waitIdle(*window));
    const auto result = window->modelsResult();
    QVERIFY(result);
    QCOMPARE(result->layerA, l);
    QCOMPARE(result->layerB, expectedB[l]);
    QCOMPARE(layerIndexAtRelativeDepth(l, 3, 2), expectedB[l]);
    const QString a = window->canvas()->caption(false);
    const QString b = window->canvas()->caption(true);
    QVERIFY2(a.startsWith("A: timm_vit_f32/model.safetensors · "), qPrintable(a));
    QVERIFY2(b.startsWith("B: hf_dinov2_reg2_bf16/model.safetensors · "), qPrintable(b));
    QVERIFY2(b.endsWith(namesB[l]), qPrintable(b));
  }
  window->setMode(CompareCanvas::Mode::ModelAttention);
  window->setLayer(4);  // block 3 of 3 beside block 2 of 2
  QVERIFY(waitIdle(*window));
  QVERIFY2(window->canvas()->caption(false).contains("block 3 of 3, mean of 3 heads"),
           qPrintable(window->canvas()->caption(false)));
  QVERIFY2(window->canvas()->caption(true).contains("block 2 of 2"),
           qPrintable(window->canvas()->caption(true)));
}

// The PCA and similarity values of both sides equal those of the tokens that
// `patchlens-cli export --data tokens:L` writes for each model at the layers
// `export --compare-weights --layer 3` pairs (tokens_3 of A beside tokens_2 of B).
void tst_CompareWindow::twoModelsEqualTheCli() {
  const auto window = twoModels();
  QVERIFY(waitIdle(*window));
  window->setLayer(4);  // tokens_3
  QVERIFY(waitIdle(*window));
  const auto result = window->modelsResult();
  QVERIFY(result);
  const auto sides = window->sides();
  const int na = sides->first.grid.tokens();
  const int nb = sides->second.grid.tokens();
  const RowMatrixF ta = cliPatchTokens(kModel, 3, na);
  const RowMatrixF tb = cliPatchTokens(kOtherModel, 2, nb);
  QVERIFY(maxDifference(sides->first.patchTokens(result->layerA), ta) <=
          1e-4f * ta.cwiseAbs().maxCoeff());
  QVERIFY(maxDifference(sides->second.patchTokens(result->layerB), tb) <=
          1e-4f * tb.cwiseAbs().maxCoeff());
  QVERIFY(maxDifference(result->rgbA, pcaToRgb(tokenPca(ta, 3))) < 1e-3f);
  QVERIFY(maxDifference(result->rgbB, pcaToRgb(tokenPca(tb, 3))) < 1e-3f);
  window->setMode(CompareCanvas::Mode::ModelSimilarity);
  for (const int token : {0, 5, na - 1}) {
    window->canvas()->setProbe(CompareCanvas::Probe{false, token}, true);
    const VectorF got = window->canvas()->shownMap(false);
    QVERIFY(maxDifference(got, cosineSimilarity(ta, token)) < 1e-5f);
    const int linked = window->canvas()->selectedToken(true);
    QVERIFY(linked >= 0 && linked < nb);
    QVERIFY(maxDifference(window->canvas()->shownMap(true), cosineSimilarity(tb, linked)) < 1e-5f);
  }
}

// One selection, one layer, one colormap for both sides of the two-models window; the
// attention of each side is its block's row of the selected patch.
void tst_CompareWindow::twoModelsLinkSelectionAndColormap() {
  const auto window = twoModels();
  QVERIFY(waitIdle(*window));
  const auto sides = window->sides();
  const CompareSide& a = sides->first;
  const CompareSide& b = sides->second;
  CompareCanvas* canvas = window->canvas();
  // A click on B's patch (r, c) selects the patch at the same place of A's input.
  const int rb = b.grid.rows - 1, cb = 0;
  canvas->setProbe(CompareCanvas::Probe{true, rb * b.grid.cols + cb}, true);
  const double fy = (rb + 0.5) * b.patchSize / b.input.height();
  const double fx = (cb + 0.5) * b.patchSize / b.input.width();
  const int ra = int(fy * a.input.height()) / a.patchSize,
            ca = int(fx * a.input.width()) / a.patchSize;
  QCOMPARE(canvas->selectedToken(false), ra * a.grid.cols + ca);
  QCOMPARE(canvas->selectedToken(true), rb * b.grid.cols + cb);
  window->setMode(CompareCanvas::Mode::ModelAttention);
  window->setHead(1);
  for (const bool side : {false, true}) {
    const CompareSide& s = side ? b : a;
    const int block = canvas->attentionBlock(side);
    const VectorF expected =
        patchAttention(s.trace->attentionOf(block)[1],
                       s.trace->prefixTokens + canvas->selectedToken(side), s.trace->prefixTokens);
    QVERIFY(maxDifference(canvas->shownMap(side), expected) == 0.0f);
  }
  window->setHead(7);  // past both models' heads: no map, the title says so
  QCOMPARE(canvas->shownMap(false).size(), Eigen::Index{0});
  QVERIFY2(canvas->caption(false).contains("no head 7"), qPrintable(canvas->caption(false)));
  window->setColormap(ColormapId::Magma);
  QCOMPARE(canvas->colormap(), ColormapId::Magma);
  const QImage shot = window->grab().toImage();
  QVERIFY(!shot.isNull());
}

// Two images: a click on A pins the patch and marks its best match on B; the colormap is one.
void tst_CompareWindow::twoImagesLinkSelectionAndColormap() {
  CompareWindow window(data("compare/a.png"), data("compare/b.png"), fixtureConfig(), 0);
  QVERIFY(waitIdle(window));
  window.canvas()->setProbe(CompareCanvas::Probe{false, 6}, true);
  QCOMPARE(window.canvas()->selectedToken(false), 6);
  QCOMPARE(window.canvas()->selectedToken(true), window.canvas()->bestMatch());
  QVERIFY(window.canvas()->caption(true).startsWith("B: b.png · Final norm"));
  window.setColormap(ColormapId::Gray);
  QCOMPARE(window.canvas()->colormap(), ColormapId::Gray);
}

QTEST_MAIN(tst_CompareWindow)
#include "tst_compare_window.moc"
