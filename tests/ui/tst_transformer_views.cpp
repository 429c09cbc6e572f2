#include <Eigen/SVD>
#include <QAction>
#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
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
  void prefixStripShowsTheOverlayValue_data();
  void prefixStripShowsTheOverlayValue();
  void prefixStripShowsThePcaColour();
  void distanceDotSelectsLayerAndHead();
  void patchOnlyCheckpointDisablesLayerControls();
  void viewMenuRaisesATabbedDock();
  void transformerLayoutFitsALaptop();
  void shortcutsTableNamesLayerKeysAndEscape();
  void readmeShortcutTableIsTheMenus();

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
  QSpinBox* spin = m_window->findChild<QSpinBox*>(QStringLiteral("layerSpin"));
  QCOMPARE(spin->value(), layer);
  // Issue 21: the spin box numbers layers as --layer does ("Block 2" beside 2, not 3).
  const QString spec = layer == 0   ? QStringLiteral("patch")
                       : layer == 5 ? QStringLiteral("final")
                                    : QString::number(layer - 1);
  QCOMPARE(spin->text(), spec);
  QCOMPARE(m_window->session()->result()->trace->layerIndex(spec.toStdString()), layer);
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

void tst_TransformerViews::prefixStripShowsTheOverlayValue_data() {
  QTest::addColumn<QString>("overlay");
  QTest::addColumn<int>("layer");
  for (const char* overlay :
       {"channel", "norm", "mean", "argmax", "similarity", "attention", "rollout"}) {
    for (const int layer : {1, 4, 5})
      QTest::newRow(
          qPrintable(QStringLiteral("%1, layer %2").arg(QLatin1String(overlay)).arg(layer)))
          << QString::fromLatin1(overlay) << layer;
  }
}

void tst_TransformerViews::prefixStripShowsTheOverlayValue() {
  QFETCH(QString, overlay);
  QFETCH(int, layer);
  QVERIFY(openModel());
  referenceForward();
  auto* strip = m_window->findChild<PrefixTokenStrip*>(QStringLiteral("prefixTokenStrip"));
  QVERIFY(strip);
  Session* session = m_window->session();
  session->setLayer(layer);
  session->setChannel(5);
  session->setSelection({3, 4});
  session->setHead(overlay == QLatin1String("attention") ? 2 : -1);
  session->setOverlay(*parseOverlayKind(overlay));
  QTRY_VERIFY(session->currentAttention());
  // The cls token at this layer from the core's own forward (layer 5 = the final norm).
  const RowMatrixF& tokens =
      layer == 5 ? m_reference.final : m_reference.tokens[std::size_t(layer - 1)];
  const Eigen::VectorXf cls = tokens.row(0).transpose();
  const int patch = m_prefix + 3 * session->result()->embedding.grid.cols + 4;
  float expected = 0.0f;
  if (overlay == QLatin1String("channel")) {
    expected = cls(5);
  } else if (overlay == QLatin1String("norm")) {
    expected = std::sqrt(cls.squaredNorm());
  } else if (overlay == QLatin1String("mean")) {
    expected = cls.sum() / float(cls.size());
  } else if (overlay == QLatin1String("argmax")) {
    int best = 0;
    for (int c = 1; c < cls.size(); ++c)
      if (cls(c) > cls(best)) best = c;
    expected = float(best);
  } else if (overlay == QLatin1String("similarity")) {
    const Eigen::VectorXf p = tokens.row(patch).transpose();
    expected = cls.dot(p) / (cls.norm() * p.norm());
  } else if (overlay == QLatin1String("attention")) {
    // Head 2 of the block this layer shows, from the selected patch to cls.
    const int block = std::clamp(layer - 1, 1, 3);
    expected = m_attention[std::size_t(block - 1)][2](patch, 0);
  } else {
    // Rollout from cls (the query of the rollout without a prefix query): a hand product.
    const Eigen::Index t = m_attention[0][0].rows();
    Eigen::MatrixXd product = Eigen::MatrixXd::Identity(t, t);
    for (const auto& heads : m_attention) {
      Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(t, t);
      for (const RowMatrixF& h : heads) mean += h.cast<double>();
      mean /= double(heads.size());
      Eigen::MatrixXd a = 0.5 * mean + 0.5 * Eigen::MatrixXd::Identity(t, t);
      for (Eigen::Index r = 0; r < t; ++r) a.row(r) /= a.row(r).sum();
      product = a * product;
    }
    expected = float(product(0, 0));
  }
  const auto value = strip->value(0);
  QVERIFY(value.has_value());
  QVERIFY2(std::abs(*value - expected) <= 1e-4f * std::max(1.0f, std::abs(expected)),
           qPrintable(QStringLiteral("%1 vs %2").arg(*value).arg(expected)));
  QVERIFY2(strip->describe(0).startsWith(QStringLiteral("cls: ")), qPrintable(strip->describe(0)));
}

void tst_TransformerViews::prefixStripShowsThePcaColour() {
  QVERIFY(openModel());
  referenceForward();
  auto* strip = m_window->findChild<PrefixTokenStrip*>(QStringLiteral("prefixTokenStrip"));
  Session* session = m_window->session();
  session->setLayer(4);  // block 3
  session->setOverlay(OverlayKind::Pca);
  QTRY_VERIFY(session->result()->hasPca());
  QVERIFY(!strip->value(0));  // a colour, not a number
  const auto rgb = strip->pcaRgb(0);
  QVERIFY(rgb.has_value());
  // An independent PCA of the patch tokens (Eigen's SVD, not the core's eigen solver) with the
  // core's documented sign rule (largest |loading| positive) and pcaToRgb's min-max scaling.
  const RowMatrixF& tokens = m_reference.tokens[3];
  const Eigen::MatrixXd patches = tokens.bottomRows(tokens.rows() - m_prefix).cast<double>();
  const Eigen::RowVectorXd mean = patches.colwise().mean();
  const Eigen::MatrixXd centred = patches.rowwise() - mean;
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinV);
  const Eigen::RowVectorXd cls = tokens.row(0).cast<double>() - mean;
  for (int c = 0; c < 3; ++c) {
    Eigen::VectorXd axis = svd.matrixV().col(c);
    Eigen::Index largest = 0;
    axis.cwiseAbs().maxCoeff(&largest);
    if (axis(largest) < 0) axis = -axis;
    const Eigen::VectorXd projections = centred * axis;
    const double lo = projections.minCoeff(), hi = projections.maxCoeff();
    const double expected = std::clamp((cls.dot(axis) - lo) / (hi - lo), 0.0, 1.0);
    QVERIFY2(std::abs((*rgb)[std::size_t(c)] - expected) < 1e-3,
             qPrintable(QStringLiteral("component %1: %2 vs %3")
                            .arg(c)
                            .arg((*rgb)[std::size_t(c)])
                            .arg(expected)));
  }
  QVERIFY(strip->pcaColour(0).has_value());
  QVERIFY(strip->describe(0).contains(QStringLiteral("PCA")));
  // The patch embedding has no prefix tokens: nothing to show, and the tooltip says why.
  session->setLayer(0);
  QTRY_VERIFY(session->result()->hasPca());
  QVERIFY(!strip->pcaRgb(0));
  QVERIFY(strip->describe(0).contains(QStringLiteral("no prefix tokens")));
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

// Issue 21: View ▸ Attention brings the dock tabbed behind the inspector to the front; only
// a dock already in front is closed by it.
void tst_TransformerViews::viewMenuRaisesATabbedDock() {
  QVERIFY(openModel());
  auto* dock = m_window->findChild<QDockWidget*>(QStringLiteral("attentionDock"));
  auto* inspector = m_window->findChild<QDockWidget*>(QStringLiteral("inspectorDock"));
  QVERIFY(dock && inspector);
  inspector->raise();
  QCoreApplication::processEvents();
  QVERIFY(dock->visibleRegion().isEmpty());  // tabbed behind
  auto* action = m_window->findChild<QAction*>(QStringLiteral("attentionDockAction"));
  QVERIFY(action);
  QVERIFY(action->isChecked());
  action->trigger();
  QCoreApplication::processEvents();
  QVERIFY(dock->isVisible() && !dock->visibleRegion().isEmpty());
  QVERIFY(action->isChecked());
  action->trigger();  // in front: now it closes
  QCoreApplication::processEvents();
  QVERIFY(!dock->isVisible());
  QVERIFY(!action->isChecked());
  action->trigger();
  QCoreApplication::processEvents();
  QVERIFY(dock->isVisible() && !dock->visibleRegion().isEmpty());
}

// View ▸ Transformer Layout at 1366 x 768: attention on the left with tiles one can click,
// distance and token norms tabbed below it, the DINOv2 PCA dock in front on the right (its
// whole height: in the left column's lower half its panels were stamps), all four reachable.
void tst_TransformerViews::transformerLayoutFitsALaptop() {
  m_window->resize(1366, 768);
  QVERIFY(openModel());
  auto* action = m_window->findChild<QAction*>(QStringLiteral("transformerLayoutAction"));
  QVERIFY(action);
  action->trigger();
  QCoreApplication::processEvents();
  auto* attention = m_window->findChild<QDockWidget*>(QStringLiteral("attentionDock"));
  auto* distance = m_window->findChild<QDockWidget*>(QStringLiteral("attentionDistanceDock"));
  QCOMPARE(m_window->dockWidgetArea(attention), Qt::LeftDockWidgetArea);
  QCOMPARE(m_window->dockWidgetArea(distance), Qt::LeftDockWidgetArea);
  QVERIFY(attention->isVisible() && distance->isVisible());
  const QList<QDockWidget*> tabs = m_window->tabifiedDockWidgets(distance);
  QCOMPARE(tabs.size(), 1);
  QCOMPARE(tabs.front()->objectName(), QStringLiteral("tokenNormsDock"));
  auto* pca = m_window->findChild<QDockWidget*>(QStringLiteral("foregroundPcaDock"));
  QVERIFY(pca);
  QCOMPARE(m_window->dockWidgetArea(pca), Qt::RightDockWidgetArea);
  QVERIFY(pca->isVisible() && !pca->visibleRegion().isEmpty());
  QVERIFY2(pca->height() >= 768 / 2, qPrintable(QString::number(pca->height())));
  FigureWidget* figure = views()->attentionPanel()->figureWidget();
  QVERIFY2(figure->width() >= 260 && figure->height() >= 200,
           qPrintable(QStringLiteral("%1 x %2").arg(figure->width()).arg(figure->height())));
  const auto place = figure->placement();
  const auto layout = views()->attentionPanel()->figure()->layout(place.area);
  const QRectF tile = place.toWidget(layout.tiles.tiles.front());
  QVERIFY2(tile.width() >= 40, qPrintable(QString::number(tile.width())));
  // The image keeps most of the window.
  QVERIFY(m_window->imageView()->width() >= 1366 / 3);
}

// F1's table, generated from the menus: the layer keys and Esc are in it.
void tst_TransformerViews::shortcutsTableNamesLayerKeysAndEscape() {
  const QString html = m_window->shortcutsHtml();
  for (const QString& text :
       {QStringLiteral("Next Layer (deeper)"), QStringLiteral("Previous Layer (shallower)"),
        QKeySequence(QStringLiteral("Ctrl+PgUp")).toString(QKeySequence::NativeText),
        QStringLiteral("]"), QStringLiteral("Clear the selection"),
        QKeySequence(Qt::Key_Escape).toString(QKeySequence::NativeText)})
    QVERIFY2(html.contains(text.toHtmlEscaped()), qPrintable(text));
}

namespace {
void menuRows(const QMenu* menu, const QString& path, QStringList& rows) {
  for (const QAction* act : menu->actions()) {
    if (act->menu()) {
      menuRows(act->menu(), path + QStringLiteral(" ▸ ") + act->menu()->title().remove('&'), rows);
      continue;
    }
    if (act->shortcuts().isEmpty()) continue;
    QStringList keys;
    for (const QKeySequence& key : act->shortcuts())
      keys << QStringLiteral("`%1`").arg(key.toString(QKeySequence::PortableText));
    rows << QStringLiteral("| %1 | %2 | %3 |")
                .arg(path, QString(act->text()).remove('&'), keys.join(QStringLiteral(", ")));
  }
}
}  // namespace

// README's shortcut table is generated from the menus' own actions (as F1's is): on a
// difference the test prints the table to paste between the README's markers.
void tst_TransformerViews::readmeShortcutTableIsTheMenus() {
  QStringList rows{QStringLiteral("| Menu | Action | Keys |"), QStringLiteral("|---|---|---|")};
  for (const QAction* act : m_window->menuBar()->actions())
    if (act->menu()) menuRows(act->menu(), act->menu()->title().remove('&'), rows);
  const QString expected = rows.join('\n');
  QFile readme(QStringLiteral(PATCHLENS_SOURCE_DIR "/README.md"));
  QVERIFY(readme.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(readme.readAll());
  const QString begin = QStringLiteral("<!-- shortcuts: generated by tst_transformer_views -->\n");
  const QString end = QStringLiteral("\n<!-- end of shortcuts -->");
  const qsizetype from = text.indexOf(begin);
  const qsizetype to = text.indexOf(end);
  QVERIFY2(from >= 0 && to > from, "README has no shortcut markers");
  const QString shown = text.mid(from + begin.size(), to - from - begin.size());
  if (shown != expected) qWarning().noquote() << "README shortcut table:\n" << expected;
  QCOMPARE(shown, expected);
}

QTEST_MAIN(tst_TransformerViews)
#include "tst_transformer_views.moc"
