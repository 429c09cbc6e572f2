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
#include "ui/figures/pca_rgb_figure.h"
#include "ui/main_window.h"
#include "ui/panels/foreground_pca_panel.h"
#include "ui/panels/patch_inspector.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"
#include "ui/views/embedding_matrix_view.h"
#include "ui/views/figure_widget.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/image_view.h"
#include "ui/views/prefix_token_strip.h"

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
  void labelsNameTheSource_data();
  void labelsNameTheSource();
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

void tst_TokenSource::labelsNameTheSource_data() {
  QTest::addColumn<int>("source");       // TokenSource
  QTest::addColumn<QString>("noun");     // a row of it
  QTest::addColumn<QString>("letter");   // forward --qkv's array (q_L, k_L, v_L)
  QTest::addColumn<QString>("heading");  // Session::sourceLayerName
  QTest::newRow("tokens") << int(TokenSource::Tokens) << "token" << QString() << "Block 2";
  QTest::newRow("queries") << int(TokenSource::Queries) << "query"
                           << "q"
                           << "Queries, block 2";
  QTest::newRow("keys") << int(TokenSource::Keys) << "key"
                        << "k"
                        << "Keys, block 2";
  QTest::newRow("values") << int(TokenSource::Values) << "value"
                          << "v"
                          << "Values, block 2";
}

// Every label that names rows names the source (issue 21): the inspector header, the prefix
// strip (its labels, tooltips and values: the prefix rows of the block's q / k / v, not its
// tokens), the embedding matrix, the image's hover text and the DINOv2 PCA dock's heading.
void tst_TokenSource::labelsNameTheSource() {
  QFETCH(int, source);
  QFETCH(QString, noun);
  QFETCH(QString, letter);
  QFETCH(QString, heading);
  const auto chosen = static_cast<TokenSource>(source);
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  window.resize(1366, 768);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  Session* session = window.session();
  window.openWeights(QString::fromStdString(fixtureWeights()));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  window.openImage(QString::fromStdString(test::dataPath("chelsea.png")));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy() && session->hasTransformer(); }, 60000));
  const int block = 2;
  session->setLayer(block + 1);  // "Block 2"
  session->setTokenSource(chosen);
  QVERIFY(QTest::qWaitFor([&] { return session->result()->source == chosen; }, 60000));
  QVERIFY(QTest::qWaitFor([&] { return session->result()->hasPca(); }, 60000));
  QCOMPARE(session->sourceLayerName(), heading);
  QCOMPARE(session->rowNoun(false), noun);
  const LayerTrace& trace = *session->result()->trace;
  QVERIFY(trace.prefixTokens == 1);  // cls
  const PatchPos pos{1, 2};
  const int patch = pos.row * trace.gridCols + pos.col;
  session->setSelection(pos);
  QCoreApplication::processEvents();

  // The patch's name: its row of tokens_L, or of q_L / k_L / v_L [H, T, dh].
  const QString name = chosen == TokenSource::Tokens
                           ? QStringLiteral("patch %1 = tokens_L row %2").arg(patch).arg(patch + 1)
                           : QStringLiteral("%1 of patch %2 = %3_%4 token %5")
                                 .arg(noun)
                                 .arg(patch)
                                 .arg(letter)
                                 .arg(block)
                                 .arg(patch + 1);
  QCOMPARE(session->patchTokenName(patch), name);
  const QString header = window.inspector()->headerText();
  QVERIFY2(header.startsWith(name + QStringLiteral(" · row 1, col 2")), qPrintable(header));
  QVERIFY2(header.endsWith(QStringLiteral(" · ") + heading), qPrintable(header));

  // The prefix strip under a token map: "cls key", the key's own L2 norm.
  auto* strip = window.findChild<PrefixTokenStrip*>(QStringLiteral("prefixTokenStrip"));
  QVERIFY(strip);
  session->setOverlay(OverlayKind::Norm);
  QCOMPARE(strip->showsSource(), chosen != TokenSource::Tokens);
  QCOMPARE(strip->label(0),
           chosen == TokenSource::Tokens ? QStringLiteral("cls") : QStringLiteral("cls ") + noun);
  const RowMatrixF qkv = referenceQkv(session->result()->tensor, block);
  const RowMatrixF rows = chosen == TokenSource::Tokens
                              ? RowMatrixF(trace.prefixTokensAt(block + 1))
                              : RowMatrixF(qkvFeatures(qkv, chosen));
  const float expectedNorm = rows.row(0).norm();
  QVERIFY(strip->value(0).has_value());
  QVERIFY2(std::abs(*strip->value(0) - expectedNorm) <= 1e-4f * expectedNorm,
           qPrintable(QStringLiteral("%1 vs %2").arg(*strip->value(0)).arg(expectedNorm)));
  const QString describe = strip->describe(0);
  const QString lead = chosen == TokenSource::Tokens
                           ? QStringLiteral("cls: L2 norm = ")
                           : QStringLiteral("cls %1 (%2): L2 norm = ").arg(noun, heading);
  QVERIFY2(describe.startsWith(lead), qPrintable(describe));
  if (chosen != TokenSource::Tokens) {
    QVERIFY2(strip->toolTip().contains(noun + QLatin1Char('s')) ||
                 strip->toolTip().contains(QStringLiteral("queries")),
             qPrintable(strip->toolTip()));
    QVERIFY2(strip->toolTip().contains(heading), qPrintable(strip->toolTip()));
  }
  // Wide enough for its label (nothing clipped).
  QVERIFY(strip->sizeHint().width() >= strip->fontMetrics().horizontalAdvance(strip->label(0)));
  // Attention is the block's whatever the source: plain "cls".
  session->setOverlay(OverlayKind::Attention);
  QCOMPARE(strip->label(0), QStringLiteral("cls"));

  // The embedding matrix: "Keys, block 2: 196 keys × 48 channels", rows "key ↓".
  const QString plural = chosen == TokenSource::Queries ? QStringLiteral("queries") : noun + "s";
  const QString matrix = window.matrixView()->heatmap()->title();
  QVERIFY2(
      matrix.contains(QStringLiteral("%1: %2 %3 × ").arg(heading).arg(trace.patches()).arg(plural)),
      qPrintable(matrix));

  // The image's hover text names the patch's row of the source.
  ImageView* view = window.imageView();
  const QPointF centre = view->patchCenter(pos);
  QMouseEvent move(QEvent::MouseMove, centre, view->mapToGlobal(centre), Qt::NoButton, Qt::NoButton,
                   Qt::NoModifier);
  QCoreApplication::sendEvent(view, &move);
  QTRY_COMPARE(view->hovered(), std::optional(pos));
  session->setOverlay(OverlayKind::Norm);
  QVERIFY2(view->toolTip().contains(name), qPrintable(view->toolTip()));
  if (chosen != TokenSource::Tokens)
    QVERIFY2(view->toolTip().contains(heading + QStringLiteral(" · L2 norm: ")),
             qPrintable(view->toolTip()));

  // The DINOv2 PCA dock's heading names the block and the source.
  TransformerViews* views = TransformerViews::of(window);
  QVERIFY(views);
  FigureWidget* pca = views->pcaPanel()->figureWidget();
  QVERIFY(QTest::qWaitFor([&] { return pca->figure() != nullptr; }, 10000));
  QVERIFY(dynamic_cast<const PcaRgbFigure*>(pca->figure().get()));
  const QString title = pca->figure()->title();
  QVERIFY2(title.endsWith(QStringLiteral(", ") + heading), qPrintable(title));
  QVERIFY2(title.contains(QStringLiteral("components of the %1 as RGB").arg(plural)),
           qPrintable(title));

  // With the foreground step the title names what is shown: "the keys of block 2,
  // foreground", not "the foreground tokens, Keys, block 2".
  FigureOptions options;
  options.foreground = ForegroundPcaOptions{0.5f, false};
  const auto foreground = makeFigure(PlotKind::parse("pca"), figureDataFor(*session), options);
  const QString expected =
      chosen == TokenSource::Tokens
          ? QStringLiteral("DINOv2-style PCA of the foreground tokens, Block 2")
          : QStringLiteral("DINOv2-style PCA of the %1 of block 2, foreground").arg(plural);
  QCOMPARE(foreground->title(), expected);
}

QTEST_MAIN(tst_TokenSource)
#include "tst_token_source.moc"
