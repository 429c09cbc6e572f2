#include <QAction>
#include <QDockWidget>
#include <QProgressBar>
#include <QSettings>
#include <QTableWidget>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <map>

#include "core/weights/npz_archive.h"
#include "tests/common/explain_cases.h"
#include "ui/figures/figure_factory.h"
#include "ui/main_window.h"
#include "ui/panels/explain_views.h"
#include "ui/panels/prediction_panel.h"
#include "ui/session/explain_session.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"
#include "ui/views/image_view.h"

using namespace patchlens;

namespace {

std::vector<float> flat(const RowMatrixF& m) {
  return {m.data(), m.data() + m.size()};
}

std::vector<std::int64_t> shape(const RowMatrixF& m) {
  return {m.rows(), m.cols()};
}

}  // namespace

// The GUI's classifier side (issue 22) against torch autograd: the session's Grad-CAM and
// relevance of tests/data/explain/timm_token_in1k/image.png (explain_fixtures.py's
// gui_image_case), the Prediction dock choosing the explained class, and the overlay keys.
class TestExplainSession : public QObject {
  Q_OBJECT

 private slots:
  void init();
  void cleanup() { m_window.reset(); }
  void sessionExplainsTheTopClassAsTorch();
  void clickingADockRowExplainsThatClass();
  void overlayShortcutsArePresentAndUnique();
  void patchOnlyWeightsDisableTheOverlays();
  void hoverTextNamesEveryOverlay();

 private:
  bool openFixture();
  void compareWith(const std::string& expectedFile);

  std::unique_ptr<MainWindow> m_window;
};

void TestExplainSession::init() {
  QSettings().clear();
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1366, 768);
  m_window->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

bool TestExplainSession::openFixture() {
  Session* session = m_window->session();
  session->setHeadsOverride(4);  // the fixture's --heads
  m_window->openWeights(test::explainFixture("timm_token_in1k/model.safetensors"));
  if (!QTest::qWaitFor([&] { return !session->isBusy(); }, 60000)) return false;
  // 32 x 32 with crop_pct 1: the 32 x 32 PNG is normalised as it is (inception mean/std).
  PipelineConfig config = session->config();
  config.preprocess.height = config.preprocess.width = 32;
  config.preprocess.cropPct = 1.0;
  config.preprocess.resize = ResizeMode::Crop;
  session->setConfig(config);
  const QString image = test::explainFixture("timm_token_in1k/image.png");
  m_window->openImage(image);
  const ExplainSession& explain = *session->explain();
  return QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasTransformer() &&
               session->result()->imagePath == image && !explain.isBusy() &&
               explain.explanation() != nullptr;
      },
      120000);
}

void TestExplainSession::compareWith(const std::string& expectedFile) {
  const NpzArchive expected(test::explainFixture("timm_token_in1k/" + expectedFile).toStdString());
  const ExplainSession& explain = *m_window->session()->explain();
  const ClassExplanation& e = *explain.explanation();
  QCOMPARE(static_cast<float>(e.classIndex), expected.readData("class").data.at(0));
  for (const char* name : {"gradcam", "relevance"}) {
    const RowMatrixF& got = std::string(name) == "gradcam" ? e.gradcam : e.relevance;
    const double err = test::relativeError(flat(got), shape(got), expected.read(name));
    QVERIFY2(err <= 1e-4, qPrintable(QStringLiteral("%1: %2").arg(name).arg(err)));
  }
  const NpyArray logits = expected.read("logits");
  const VectorF& ours = explain.explainer()->logits();
  QVERIFY(test::relativeError({ours.data(), ours.data() + ours.size()}, {ours.size()}, logits) <=
          1e-4);
}

void TestExplainSession::sessionExplainsTheTopClassAsTorch() {
  QVERIFY(openFixture());
  compareWith("expected_image_top.npz");
  // The overlay draws the explanation's values, its label names class and block.
  Session* session = m_window->session();
  session->setOverlay(OverlayKind::GradCam);
  const OverlayMap& map = session->overlayMap();
  const ClassExplanation& e = *session->explain()->explanation();
  QCOMPARE(map.values.size(), e.gradcam.size());
  for (Eigen::Index i = 0; i < map.values.size(); ++i) QCOMPARE(map.values[i], e.gradcam.data()[i]);
  QVERIFY2(map.label.startsWith(QStringLiteral("Grad-CAM · class %1").arg(e.classIndex)),
           qPrintable(map.label));
  QVERIFY(map.label.contains(QStringLiteral("Block 2")));
  QVERIFY(session->statusText().contains(QStringLiteral("explaining class %1").arg(e.classIndex)));
}

void TestExplainSession::clickingADockRowExplainsThatClass() {
  QVERIFY(openFixture());
  const NpzArchive second(
      test::explainFixture("timm_token_in1k/expected_image_second.npz").toStdString());
  const int k = static_cast<int>(second.readData("class").data.at(0));
  ExplainViews* views = ExplainViews::of(*m_window);
  QVERIFY(views);
  QVERIFY(views->raiseDock(QStringLiteral("prediction")));
  QTableWidget* table = views->panel()->table();
  QTRY_COMPARE(table->rowCount(), PredictionPanel::kTop);
  // Row 2 is the second class; its bar shows its probability.
  QCOMPARE(table->item(1, 0)->data(Qt::UserRole).toInt(), k);
  // The number in its own column (a bar's centred text ran under its chunk), then the bar.
  // PyTorch's logits, softmaxed here in double.
  const auto logits = second.readData("logits").data;
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (const float l : logits) sum += std::exp(static_cast<double>(l) - top);
  const double probability = std::exp(logits.at(static_cast<std::size_t>(k)) - top) / sum;
  QCOMPARE(table->item(1, 2)->text(), QStringLiteral("%1 %").arg(100.0 * probability, 0, 'f', 1));
  auto* bar = qobject_cast<QProgressBar*>(table->cellWidget(1, 3));
  QVERIFY(bar && !bar->isTextVisible());
  QCOMPARE(bar->value(), static_cast<int>(std::lround(probability * 1000.0)));
  const QRect cell = table->visualItemRect(table->item(1, 1));
  QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
  const ExplainSession& explain = *m_window->session()->explain();
  QTRY_VERIFY_WITH_TIMEOUT(!explain.isBusy() && explain.explanation()->classIndex == k, 60000);
  compareWith("expected_image_second.npz");
  // Every figure names the class: the export's Grad-CAM and relevance, the prediction marks it.
  const FigureData data = figureDataFor(*m_window->session());
  // The kinds the export dialog and the right-click menu list: gradcam:K, relevance:K.
  for (const char* kind : {"gradcam", "relevance"}) {
    const auto figure =
        makeFigure(PlotKind::parse(std::string(kind) + ":" + std::to_string(k)), data);
    QVERIFY2(figure->title().contains(QStringLiteral("class %1").arg(k)),
             qPrintable(figure->title()));
  }
  QVERIFY(m_window->session()->statusText().contains(QStringLiteral("class %1").arg(k)));
}

void TestExplainSession::overlayShortcutsArePresentAndUnique() {
  ExplainViews* views = ExplainViews::of(*m_window);
  QVERIFY(views);
  QCOMPARE(views->gradCamAction()->shortcut(), QKeySequence(QStringLiteral("Alt+9")));
  QCOMPARE(views->relevanceAction()->shortcut(), QKeySequence(QStringLiteral("Ctrl+Shift+R")));
  std::map<QString, QString> owners;
  for (QAction* act : m_window->findChildren<QAction*>()) {
    for (const QKeySequence& key : act->shortcuts()) {
      const QString text = key.toString(QKeySequence::PortableText);
      const auto [it, fresh] = owners.emplace(text, act->text());
      QVERIFY2(fresh,
               qPrintable(QStringLiteral("%1: %2 and %3").arg(text, it->second, act->text())));
    }
  }
  QVERIFY(owners.count(QStringLiteral("Alt+0")));  // None keeps Alt+0
}

void TestExplainSession::patchOnlyWeightsDisableTheOverlays() {
  Session* session = m_window->session();
  // The default weights: an initialised patch embedding, no transformer to explain.
  m_window->openImage(test::explainFixture("timm_token_in1k/image.png"));
  QTRY_VERIFY_WITH_TIMEOUT(session->hasResult() && !session->isBusy(), 60000);
  ExplainViews* views = ExplainViews::of(*m_window);
  QTRY_VERIFY(!views->gradCamAction()->isEnabled());
  QVERIFY(!views->relevanceAction()->isEnabled());
  QVERIFY2(views->gradCamAction()->toolTip().contains(QStringLiteral("patch embedding")),
           qPrintable(views->gradCamAction()->toolTip()));
  QVERIFY(views->panel()->message().contains(QStringLiteral("patch embedding")));
}

// The image's hover text names what the overlay draws, for every overlay kind, switched under a
// still mouse (issue 21, defect 17: it said "attention from patch" over the rollout), and never
// another kind's words.
void TestExplainSession::hoverTextNamesEveryOverlay() {
  QVERIFY(openFixture());
  Session* session = m_window->session();
  session->setSelection({0, 1});  // the similarity's reference
  const int block = session->result()->trace->depth;
  const int classIndex = session->explain()->explanation()->classIndex;
  const std::vector<std::pair<OverlayKind, QString>> kinds{
      {OverlayKind::Channel, QStringLiteral("channel 0: ")},
      {OverlayKind::Norm, QStringLiteral("L2 norm: ")},
      {OverlayKind::Mean, QStringLiteral("mean over channels: ")},
      {OverlayKind::Argmax, QStringLiteral("argmax channel: ")},
      {OverlayKind::Pca, QStringLiteral("PCA → RGB (")},
      {OverlayKind::Similarity,
       QStringLiteral("cosine similarity to %1: ").arg(session->patchTokenName(1))},
      {OverlayKind::Attention,
       QStringLiteral("attention from patch (0, 1), block %1, mean over heads: ")
           .arg(session->currentBlock())},
      {OverlayKind::Rollout,
       QStringLiteral("attention rollout through %1 blocks from ").arg(block)},
      {OverlayKind::GradCam, QStringLiteral("Grad-CAM · class %1").arg(classIndex)},
      {OverlayKind::Relevance, QStringLiteral("relevance · class %1").arg(classIndex)},
  };
  ImageView* view = m_window->imageView();
  const QPointF centre = view->patchCenter({1, 0});
  QMouseEvent move(QEvent::MouseMove, centre, view->mapToGlobal(centre), Qt::NoButton, Qt::NoButton,
                   Qt::NoModifier);
  QCoreApplication::sendEvent(view, &move);
  QTRY_COMPARE(view->hovered(), std::optional(PatchPos{1, 0}));
  for (const auto& [kind, words] : kinds) {
    session->setOverlay(kind);
    QTRY_VERIFY_WITH_TIMEOUT(!session->overlayMap().empty(), 30000);
    QCoreApplication::processEvents();
    const QString tip = view->toolTip();
    const QString key = overlayKindKey(kind);
    QVERIFY2(tip.contains(words), qPrintable(key + QStringLiteral(": ") + tip));
    // The whole of what the overlay's caption says is drawn, then the patch's value.
    const OverlayMap& map = session->overlayMap();
    QVERIFY2(map.label.startsWith(map.quantity), qPrintable(map.label));
    QVERIFY2(tip.contains(QStringLiteral("\n") + map.quantity + QStringLiteral(": ")),
             qPrintable(key + QStringLiteral(": ") + tip));
    if (kind == OverlayKind::GradCam)
      QVERIFY2(tip.contains(QStringLiteral("Block %1: ").arg(block)), qPrintable(tip));
    if (kind == OverlayKind::Relevance)
      QVERIFY2(tip.contains(QStringLiteral("Blocks 1–%1: ").arg(block)), qPrintable(tip));
    // The value shown is the one drawn (the scale caption is the colorbar's, not the tooltip's).
    QVERIFY2(!tip.contains(QStringLiteral("scale ")), qPrintable(key + QStringLiteral(": ") + tip));
    for (const auto& [other, otherWords] : kinds) {
      if (other == kind) continue;
      QVERIFY2(!tip.contains(otherWords), qPrintable(key + QStringLiteral(": ") + tip));
    }
  }
}

QTEST_MAIN(TestExplainSession)
#include "tst_explain_session.moc"
