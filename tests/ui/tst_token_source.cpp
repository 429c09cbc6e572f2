#include <QComboBox>
#include <QSettings>
#include <QStandardPaths>
#include <QtTest>
#include <memory>

#include "core/analysis/embedding_analysis.h"
#include "core/model/qkv_features.h"
#include "core/model/vision_transformer.h"
#include "tests/common/test_support.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_factory.h"
#include "ui/main_window.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"

using namespace patchlens;

namespace {

std::string fixtureWeights() {
  return test::dataPath("transformer/timm_vit_f32/model.safetensors");  // depth 3, 3 heads
}

// Block `block`'s q | k | v of the session's model input, from the core's forward (whose q, k, v
// tst_forward_qkv checks against PyTorch).
RowMatrixF referenceQkv(const ChwTensor& input, int block) {
  const auto model = VisionTransformer::load(fixtureWeights());
  RowMatrixF kept;
  model->forward(input, {}, {}, [&](int b, const RowMatrixF& qkv) {
    if (b == block) kept = qkv;
  });
  return kept;
}

}  // namespace

// The token views' feature source (issue 21): at a block the session's result holds that
// block's queries / keys / values (patch rows, heads side by side) with their own PCA, computed
// off the GUI thread; titles say "Keys, block 2"; away from a block the views show tokens and
// the layer controls' box is disabled; a q/k/v result once computed is reused.
class tst_TokenSource : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void keysAtABlock();
};

void tst_TokenSource::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_token_source"));
  QSettings().clear();
}

void tst_TokenSource::keysAtABlock() {
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1200, 800);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  Session* session = window.session();
  window.openWeights(QString::fromStdString(fixtureWeights()));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  window.openImage(QString::fromStdString(test::dataPath("chelsea.png")));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy() && session->hasTransformer(); }, 60000));
  auto* box = window.findChild<QComboBox*>(QStringLiteral("tokenSource"));
  QVERIFY(box);

  const int block = 2;
  session->setLayer(block + 1);  // "Block 2"
  QVERIFY(box->isEnabled());
  const auto tokensResult = session->result();
  QCOMPARE(tokensResult->source, TokenSource::Tokens);
  box->setCurrentIndex(box->findText(QStringLiteral("Keys")));  // as a user picks it
  QCOMPARE(session->tokenSource(), TokenSource::Keys);
  QVERIFY(QTest::qWaitFor([&] { return session->result()->source == TokenSource::Keys; }, 60000));
  const auto keys = session->result();
  QCOMPARE(keys->layerIndex, block + 1);
  const RowMatrixF qkv = referenceQkv(keys->tensor, block);
  const int patches = keys->trace->patches();
  const RowMatrixF expected = qkvFeatures(qkv, TokenSource::Keys).bottomRows(patches);
  QCOMPARE(keys->embedding.tokens.rows(), expected.rows());
  QCOMPARE(keys->embedding.tokens.cols(), expected.cols());
  const float scale = expected.cwiseAbs().maxCoeff();
  QVERIFY(scale > 0.1f);
  QVERIFY((keys->embedding.tokens - expected).cwiseAbs().maxCoeff() <= 1e-5f * scale);
  QVERIFY((keys->embedding.tokens - tokensResult->embedding.tokens).cwiseAbs().maxCoeff() >
          0.1f * scale);  // not the tokens
  // Its own maps: norms and PCA of the keys.
  QVERIFY((keys->norms - tokenNorms(expected)).cwiseAbs().maxCoeff() <= 1e-4f * scale);
  QVERIFY(keys->hasPca());
  const PcaResult pca = tokenPca(expected, 3);
  QVERIFY((keys->pca.projections.cwiseAbs() - pca.projections.cwiseAbs()).cwiseAbs().maxCoeff() <=
          1e-3f * pca.projections.cwiseAbs().maxCoeff());
  QCOMPARE(session->sourceLayerName(), QStringLiteral("Keys, block 2"));
  session->setOverlay(OverlayKind::Pca);
  QVERIFY2(session->overlayMap().label.startsWith(QStringLiteral("Keys, block 2 · PCA")),
           qPrintable(session->overlayMap().label));
  const auto figure = makeFigure(PlotKind::parse("pca"), figureDataFor(*session), {});
  QVERIFY2(figure->title().contains(QStringLiteral("Keys, block 2")), qPrintable(figure->title()));

  // The final norm is no block: tokens, and the box says so.
  session->setLayer(session->layerCount() - 1);
  QCOMPARE(session->result()->source, TokenSource::Tokens);
  QVERIFY(!session->sourceApplies());
  QVERIFY(!box->isEnabled());
  const auto finalFigure = makeFigure(PlotKind::parse("pca"), figureDataFor(*session), {});
  QVERIFY2(finalFigure->title().contains(QStringLiteral("Final norm")),
           qPrintable(finalFigure->title()));

  // Back at block 2: the keys computed before, at once.
  session->setLayer(block + 1);
  QCOMPARE(session->result(), keys);

  // Values of the same block (its q | k | v kept: no second forward needed).
  session->setTokenSource(TokenSource::Values);
  QVERIFY(QTest::qWaitFor([&] { return session->result()->source == TokenSource::Values; }, 60000));
  const RowMatrixF values = qkvFeatures(qkv, TokenSource::Values).bottomRows(patches);
  QVERIFY((session->result()->embedding.tokens - values).cwiseAbs().maxCoeff() <=
          1e-5f * values.cwiseAbs().maxCoeff());

  // Tokens again: the layer's own result.
  session->setTokenSource(TokenSource::Tokens);
  QCOMPARE(session->result(), tokensResult);
}

QTEST_MAIN(tst_TokenSource)
#include "tst_token_source.moc"
