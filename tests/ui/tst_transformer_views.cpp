#include <QDockWidget>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

#include "core/model/vision_transformer.h"
#include "tests/common/patch_only_weights.h"
#include "tests/common/test_support.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/main_window.h"
#include "ui/panels/attention_panel.h"
#include "ui/panels/depth_figure_panel.h"
#include "ui/panels/patch_inspector.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"
#include "ui/views/figure_widget.h"
#include "ui/views/image_view.h"
#include "ui/views/prefix_token_strip.h"

using namespace patchlens;

// The transformer's views in the main window (issue 12), with the fixture ViT of
// tests/data/transformer (timm layout, 3 blocks, 3 heads, cls token): the layer slider moves
// the inspector to the core's tokens_L row, a clicked patch's head maps are the core's
// attention rows, head / prefix / distance clicks select, and a patch-only checkpoint leaves
// the layer controls disabled with the reason.
class tst_TransformerViews : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void init();
  void cleanup();
  void layerSliderMovesInspectorToTokensRow_data();
  void layerSliderMovesInspectorToTokensRow();
  void clickedPatchGivesTheCoreAttentionRows();
  void clickOnHeadTileSelectsIt();
  void prefixStripMakesClsTheQuery();
  void distanceDotSelectsLayerAndHead();
  void patchOnlyCheckpointDisablesLayerControls();

 private:
  bool openModel();
  // The core's own forward of the model input on screen (not the session's trace).
  void referenceForward();
  QSlider* layerSlider() const {
    return m_window->findChild<QSlider*>(QStringLiteral("layerSlider"));
  }
  TransformerViews* views() const { return TransformerViews::of(*m_window); }

  std::unique_ptr<MainWindow> m_window;
  QTemporaryDir m_dir;
  TransformerOutput m_reference;
  std::vector<std::vector<RowMatrixF>> m_attention;
  int m_prefix = 0;
};

void tst_TransformerViews::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_transformer_views"));
  QVERIFY(m_dir.isValid());
}

void tst_TransformerViews::init() {
  QSettings().clear();
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1400, 900);
  m_window->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  QVERIFY(views());
}

void tst_TransformerViews::cleanup() {
  m_window.reset();
}

bool tst_TransformerViews::openModel() {
  Session* session = m_window->session();
  m_window->openWeights(
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors")));
  if (!QTest::qWaitFor([&] { return !session->isBusy(); }, 60000)) return false;
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  m_window->openImage(image);
  return QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasTransformer() &&
               session->result()->imagePath == image;
      },
      60000);
}

void tst_TransformerViews::referenceForward() {
  const auto model =
      VisionTransformer::load(test::dataPath("transformer/timm_vit_f32/model.safetensors"));
  QVERIFY(model.has_value());
  m_prefix = model->config().prefixTokens();
  m_attention.clear();
  m_reference = model->forward(
      m_window->session()->result()->tensor,
      [this](int, const std::vector<RowMatrixF>& heads) { m_attention.push_back(heads); });
}

void tst_TransformerViews::layerSliderMovesInspectorToTokensRow_data() {
  QTest::addColumn<int>("layer");  // the slider's index: 0 = patch embedding ... 4 = block 3
  for (int l = 0; l <= 5; ++l) QTest::addRow("layer %d", l) << l;
}

void tst_TransformerViews::layerSliderMovesInspectorToTokensRow() {
  QFETCH(int, layer);
  QVERIFY(openModel());
  referenceForward();
  QSlider* slider = layerSlider();
  QVERIFY(slider);
  QVERIFY(slider->isEnabled());
  QCOMPARE(slider->maximum(), 5);  // patch embedding, input, 3 blocks, final norm
  ImageView* view = m_window->imageView();
  QTest::mouseClick(view, Qt::LeftButton, {}, view->patchCenter({2, 3}).toPoint());
  const int token = 2 * m_window->session()->result()->embedding.grid.cols + 3;
  slider->setValue(layer);
  QCOMPARE(m_window->session()->result()->layerIndex, layer);
  QCoreApplication::processEvents();
  const Eigen::VectorXf shown = m_window->inspector()->shownVector();
  Eigen::VectorXf expected;
  if (layer == 0) {
    expected = m_reference.patchEmbedding.row(token).transpose();
  } else if (layer == 5) {
    expected = m_reference.final.row(m_prefix + token).transpose();
  } else {
    expected = m_reference.tokens[std::size_t(layer - 1)].row(m_prefix + token).transpose();
  }
  QCOMPARE(shown.size(), expected.size());
  QVERIFY2((shown - expected).cwiseAbs().maxCoeff() <= 1e-6f * expected.cwiseAbs().maxCoeff(),
           qPrintable(QString::number((shown - expected).cwiseAbs().maxCoeff())));
  // The spin box follows the slider.
  QCOMPARE(m_window->findChild<QSpinBox*>(QStringLiteral("layerSpin"))->value(), layer);
  // Exports (dialog and right-click) start from the layer on screen: the same tokens row.
  const FigureData data = figureDataFor(*m_window->session()->result());
  QCOMPARE(data.layer, layer);
  QVERIFY(data.trace);
  const Eigen::VectorXf exported = data.embedding.tokens.row(token).transpose();
  QCOMPARE(exported.size(), expected.size());
  QVERIFY((exported - expected).cwiseAbs().maxCoeff() <= 1e-6f * expected.cwiseAbs().maxCoeff());
}

void tst_TransformerViews::clickedPatchGivesTheCoreAttentionRows() {
  QVERIFY(openModel());
  referenceForward();
  Session* session = m_window->session();
  layerSlider()->setValue(3);  // block 2
  QCOMPARE(session->currentBlock(), 2);
  session->setOverlay(OverlayKind::Attention);
  views()->raiseDock(QStringLiteral("attention"));
  ImageView* view = m_window->imageView();
  QTest::mouseClick(view, Qt::LeftButton, {}, view->patchCenter({4, 5}).toPoint());
  const GridSize grid = session->result()->embedding.grid;
  const int query = m_prefix + 4 * grid.cols + 5;
  QCOMPARE(session->queryToken(), query);
  const auto figure = views()->attentionPanel()->figure();
  QVERIFY(figure);
  const auto& heads = m_attention[1];
  QCOMPARE(figure->maps().rows(), Eigen::Index(heads.size()));
  for (std::size_t h = 0; h < heads.size(); ++h) {
    const Eigen::VectorXf expected = heads[h].row(query).tail(grid.tokens()).transpose();
    const Eigen::VectorXf shown = figure->maps().row(Eigen::Index(h)).transpose();
    QVERIFY2((shown - expected).cwiseAbs().maxCoeff() < 1e-6f,
             qPrintable(QStringLiteral("head %1").arg(h)));
  }
  // The overlay shows their mean.
  Eigen::VectorXf mean = Eigen::VectorXf::Zero(grid.tokens());
  for (const auto& h : heads) mean += h.row(query).tail(grid.tokens()).transpose();
  mean /= float(heads.size());
  QVERIFY((session->overlayMap().values - mean).cwiseAbs().maxCoeff() < 1e-6f);
}

void tst_TransformerViews::clickOnHeadTileSelectsIt() {
  QVERIFY(openModel());
  views()->raiseDock(QStringLiteral("attention"));
  QCoreApplication::processEvents();
  AttentionPanel* panel = views()->attentionPanel();
  FigureWidget* widget = panel->figureWidget();
  QVERIFY(panel->figure());
  for (const int wanted : {1, -1, 2}) {
    QPoint at(-1, -1);
    for (int y = 0; y < widget->height() && at.x() < 0; y += 3)
      for (int x = 0; x < widget->width() && at.x() < 0; x += 3)
        if (panel->headAt({x, y}) == wanted) at = {x, y};
    QVERIFY2(at.x() >= 0, "no tile for the head on screen");
    QTest::mouseClick(widget, Qt::LeftButton, {}, at);
    QCOMPARE(m_window->session()->head(), wanted);
  }
}

void tst_TransformerViews::prefixStripMakesClsTheQuery() {
  QVERIFY(openModel());
  auto* strip = m_window->findChild<PrefixTokenStrip*>(QStringLiteral("prefixTokenStrip"));
  QVERIFY(strip);
  QVERIFY(strip->isVisible());
  Session* session = m_window->session();
  session->setSelection({1, 1});
  QVERIFY(session->queryToken() > 0);
  QTest::mouseClick(strip, Qt::LeftButton, {}, strip->cellRect(0).center());
  QCOMPARE(session->prefixQuery(), std::optional<int>(0));
  QCOMPARE(session->queryToken(), 0);
  QCOMPARE(session->queryName(), QStringLiteral("cls"));
  // At a deep layer the strip shows the overlay's value of the cls token: its norm.
  session->setLayer(4);
  session->setOverlay(OverlayKind::Norm);
  const auto value = strip->value(0);
  QVERIFY(value.has_value());
  QVERIFY(std::abs(*value - session->result()->trace->layers[4].row(0).norm()) < 1e-4f);
}

void tst_TransformerViews::distanceDotSelectsLayerAndHead() {
  QVERIFY(openModel());
  views()->raiseDock(QStringLiteral("attention-distance"));
  QCoreApplication::processEvents();
  DepthFigurePanel* panel = views()->distancePanel();
  const QPoint dot = panel->dotPosition(2, 1);
  QVERIFY(!dot.isNull());
  QTest::mouseClick(panel->figureWidget(), Qt::LeftButton, {}, dot);
  Session* session = m_window->session();
  QCOMPARE(session->currentBlock(), 2);
  QCOMPARE(session->result()->layerIndex, 3);
  QCOMPARE(session->head(), 1);
}

void tst_TransformerViews::patchOnlyCheckpointDisablesLayerControls() {
  const QString path = m_dir.filePath(QStringLiteral("patch_only.safetensors"));
  test::writePatchOnlyWeights(path.toStdString());
  Session* session = m_window->session();
  m_window->openWeights(path);
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy() && session->hasResult(); }, 60000));
  QVERIFY2(m_window->errorText().isEmpty(), qPrintable(m_window->errorText()));
  QVERIFY(!session->hasTransformer());
  QSlider* slider = layerSlider();
  QVERIFY(!slider->isEnabled());
  QVERIFY(!m_window->findChild<QSpinBox*>(QStringLiteral("layerSpin"))->isEnabled());
  QVERIFY2(slider->toolTip().contains(QStringLiteral("only a patch embedding")),
           qPrintable(slider->toolTip()));
  QCOMPARE(slider->maximum(), 0);
  // The layer keys do nothing, the attention dock says why, the old views still work.
  QTest::keyClick(m_window.get(), Qt::Key_BracketRight);
  QCOMPARE(session->result()->layerIndex, 0);
  QVERIFY(views()->attentionPanel()->figureWidget()->placeholder().contains(
      QStringLiteral("only a patch embedding")));
  QCOMPARE(session->result()->embedDim(), 8);
}

QTEST_MAIN(tst_TransformerViews)
#include "tst_transformer_views.moc"
