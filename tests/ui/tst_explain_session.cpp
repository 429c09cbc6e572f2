#include <QAction>
#include <QDockWidget>
#include <QProgressBar>
#include <QSettings>
#include <QTableWidget>
#include <QtTest>
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
  QVERIFY(qobject_cast<QProgressBar*>(table->cellWidget(1, 2)));
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

QTEST_MAIN(TestExplainSession)
#include "tst_explain_session.moc"
