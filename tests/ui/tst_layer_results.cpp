#include <QSettings>
#include <QStandardPaths>
#include <QtTest>
#include <memory>

#include "core/analysis/embedding_analysis.h"
#include "core/model/vision_transformer.h"
#include "tests/common/test_support.h"
#include "ui/main_window.h"
#include "ui/session/session.h"

using namespace patchlens;

namespace {

std::string fixtureWeights() {
  return test::dataPath("transformer/timm_vit_f32/model.safetensors");
}

QString fixtureImage() {
  return QString::fromStdString(test::dataPath("chelsea.png"));
}

// The fixture ViT (tests/data/transformer) loaded, chelsea.png computed, the final layer on
// screen: the model is known from here on.
void openAtFinalLayer(MainWindow& window) {
  window.resize(1200, 800);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  Session* session = window.session();
  window.openWeights(QString::fromStdString(fixtureWeights()));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  window.openImage(fixtureImage());
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy() && session->hasTransformer(); }, 60000));
  session->setLayer(session->layerCount() - 1);
}

}  // namespace

// The session's per-layer results when an image is opened again with a deep layer on
// screen: the forward then runs before the patch embedding's PCA (which is deferred, not
// dropped). Every layer must still arrive with its own tokens and its own PCA, equal to the
// core's forward and PCA of the same model input (fixture ViT of tests/data/transformer).
class tst_LayerResults : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void reopenAtFinalLayerKeepsEveryLayersPca();
  void encoderRefusalAtDeepLayerStillHasPca();
};

void tst_LayerResults::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_layer_results"));
  QSettings().clear();
}

void tst_LayerResults::reopenAtFinalLayerKeepsEveryLayersPca() {
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  openAtFinalLayer(window);
  if (QTest::currentTestFailed()) return;
  Session* session = window.session();
  const int last = session->layerCount() - 1;
  QCOMPARE(session->result()->layerIndex, last);

  // The model is known now: the image on screen stays until the new image's final layer is
  // there (no patch-embedding result in between), and the PCA of layer 0 is deferred.
  const auto previous = session->result();
  std::vector<std::shared_ptr<const ComputeResult>> shown;
  const auto connection = connect(session, &Session::resultChanged, session,
                                  [&] { shown.push_back(session->result()); });
  window.openImage(fixtureImage());
  QVERIFY(QTest::qWaitFor(
      [&] { return !session->isBusy() && session->hasTransformer() && session->result()->trace; },
      60000));
  QCOMPARE(session->result()->layerIndex, last);
  disconnect(connection);
  QVERIFY(!shown.empty());
  for (const auto& r : shown) {
    QVERIFY2(r == previous || (r->trace && r->trace != previous->trace && r->layerIndex == last),
             qPrintable(QStringLiteral("an intermediate result at layer %1 (trace: %2)")
                            .arg(r->layerIndex)
                            .arg(r->trace ? QStringLiteral("new") : QStringLiteral("none"))));
  }

  const auto model = VisionTransformer::load(fixtureWeights());
  QVERIFY(model.has_value());
  const TransformerOutput reference = model->forward(session->result()->tensor);
  for (const int layer : {0, last}) {
    session->setLayer(layer);
    const auto& result = session->result();
    QCOMPARE(result->layerIndex, layer);
    QVERIFY2(result->hasPca(), qPrintable(QStringLiteral("layer %1 has no PCA").arg(layer)));
    const RowMatrixF& tokens = layer == 0 ? reference.patchEmbedding : reference.final;
    const Eigen::Index prefix = tokens.rows() - result->embedding.tokens.rows();
    const RowMatrixF patches = tokens.bottomRows(tokens.rows() - prefix);
    QVERIFY((result->embedding.tokens - patches).cwiseAbs().maxCoeff() <=
            1e-5f * patches.cwiseAbs().maxCoeff());
    const PcaResult expected = tokenPca(patches, 3);
    QCOMPARE(result->pca.projections.rows(), expected.projections.rows());
    QCOMPARE(result->pca.projections.cols(), expected.projections.cols());
    const float scale = expected.projections.cwiseAbs().maxCoeff();
    QVERIFY2(
        (result->pca.projections - expected.projections).cwiseAbs().maxCoeff() <= 1e-3f * scale,
        qPrintable(QStringLiteral("layer %1: PCA differs from the core's").arg(layer)));
  }
}

// At a deep layer with the model known, the patch embedding's PCA waits for the forward. When
// the encoder cannot run on the new input (here --remainder pad: the embedding's grid is
// 15 x 15, the encoder's 14 x 14), the patch embedding is what is shown, and with its PCA.
void tst_LayerResults::encoderRefusalAtDeepLayerStillHasPca() {
  MainWindow window(nullptr, MainWindow::SettingsMode::Ephemeral);
  openAtFinalLayer(window);
  if (QTest::currentTestFailed()) return;
  Session* session = window.session();

  PipelineConfig config = session->config();
  const int patch = session->result()->patchSize();
  config.preprocess.height = config.preprocess.width = 14 * patch + patch / 2;
  config.remainder = RemainderPolicy::Pad;
  session->setConfig(config);
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  const auto& result = session->result();
  QVERIFY(result);
  QVERIFY2(!result->trace, "the encoder ran on a grid it should refuse");
  QCOMPARE(result->embedding.grid.rows, 15);
  QVERIFY(!result->noTransformer.isEmpty());
  QVERIFY2(result->hasPca(), "the patch embedding is shown without its PCA");
  const PcaResult expected = tokenPca(result->embedding.tokens, 3);
  QVERIFY((result->pca.projections - expected.projections).cwiseAbs().maxCoeff() <=
          1e-3f * expected.projections.cwiseAbs().maxCoeff());
}

QTEST_MAIN(tst_LayerResults)
#include "tst_layer_results.moc"
