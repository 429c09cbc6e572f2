#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "core/analysis/correspondences.h"
#include "core/image/normalization.h"
#include "tests/common/cli_process.h"
#include "ui/compare/compare_window.h"

using namespace patchlens;
using test::data;

namespace {

const char* kModel = "transformer/timm_vit_f32/model.safetensors";

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
               {CompareCanvas::Mode::JointPca, "joint-pca"}};
  for (const auto& [mode, name] : modes) {
    window.setMode(mode);
    if (mode == CompareCanvas::Mode::Similarity)
      window.canvas()->setProbe(CompareCanvas::Probe{false, 5}, true);
    const QImage shot = window.grab().toImage();
    QCOMPARE(shot.size(), QSize(1366, 768) * window.devicePixelRatio());
    if (!dir.isEmpty()) QVERIFY(shot.save(dir + "/compare-" + name + ".png"));
  }
}

void tst_CompareWindow::badImageShowsAnError() {
  CompareWindow window(data("compare/a.png"), data("bad/does-not-exist.png"), fixtureConfig(), 0);
  QVERIFY(waitIdle(window));
  QVERIFY2(window.errorText().contains("does-not-exist.png"), qPrintable(window.errorText()));
  QVERIFY(!window.layerResult());
}

QTEST_MAIN(tst_CompareWindow)
#include "tst_compare_window.moc"
