#include <QtTest>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "ui/session/session.h"

using namespace patchlens;

namespace {

const QString kChelsea = QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png");
const QString kCoffee = QStringLiteral(PATCHLENS_TEST_DATA "/coffee.png");

bool waitIdle(const Session& session) {
  return QTest::qWaitFor([&] { return !session.isBusy(); }, 30000);
}

}  // namespace

// The session's background computation: requests in quick succession, the two-stage
// result, the size guard and superseded work.
class tst_Session : public QObject {
  Q_OBJECT

 private slots:
  void embeddingFirstThenPca();
  void configChangeDuringOpenKeepsTheOpen();
  void weightsDuringOpenKeepTheOpen();
  void configChangeAfterFailedOpenRecomputesShownImage();
  void supersededRequestsShowOnlyTheLast();
  void oversizedConfigRefused_data();
  void oversizedConfigRefused();
  void largeJpegShowsAPreviewThenTheExactResult();
};

void tst_Session::embeddingFirstThenPca() {
  Session session;
  QSignalSpy results(&session, &Session::resultChanged);
  QSignalSpy busy(&session, &Session::busyChanged);
  std::vector<bool> pcaAtEachResult;
  std::vector<bool> busyAtEachResult;
  connect(&session, &Session::resultChanged, this, [&] {
    pcaAtEachResult.push_back(session.result()->hasPca());
    busyAtEachResult.push_back(session.isBusy());
  });
  session.openImage(kChelsea);
  QVERIFY(waitIdle(session));
  QCOMPARE(results.count(), 2);
  QCOMPARE(pcaAtEachResult, (std::vector<bool>{false, true}));
  // Busy until the PCA is there too: one busy -> idle cycle, idle when the last one arrives.
  QCOMPARE(busyAtEachResult, (std::vector<bool>{true, false}));
  QCOMPARE(busy.count(), 2);
  const auto& result = session.result();
  QCOMPARE(result->sourceSize, QSize(451, 300));
  QCOMPARE(result->original.size(), QSize(451, 300));
  QCOMPARE(result->pcaRgb.rows(), Eigen::Index{196});
}

void tst_Session::configChangeDuringOpenKeepsTheOpen() {
  Session session;
  session.openImage(kChelsea);
  QVERIFY(waitIdle(session));
  // Open another image and change an option before its result arrives.
  session.openImage(kCoffee);
  QCOMPARE(session.pendingImage(), kCoffee);
  PipelineConfig config = session.config();
  config.weights.source = "dct";
  session.setConfig(config);
  QVERIFY(waitIdle(session));
  QCOMPARE(session.result()->imagePath, kCoffee);
  QCOMPARE(session.result()->config.weights.source, std::string("dct"));
  QVERIFY(session.pendingImage().isEmpty());
  QVERIFY(session.lastError().isEmpty());
}

void tst_Session::weightsDuringOpenKeepTheOpen() {
  Session session;
  session.openImage(kCoffee);  // no image shown yet
  session.openWeights(QStringLiteral(PATCHLENS_TEST_DATA "/weights/dinov2_f32.safetensors"));
  QVERIFY(waitIdle(session));
  QVERIFY2(session.lastError().isEmpty(), qPrintable(session.lastError()));
  QCOMPARE(session.result()->imagePath, kCoffee);  // not the sample the weights alone would use
  QVERIFY(session.weightsFromFile());
}

void tst_Session::configChangeAfterFailedOpenRecomputesShownImage() {
  Session session;
  session.openImage(kCoffee);
  QVERIFY(waitIdle(session));
  // The failed open has released the decoded pixels of coffee (memory): a config change
  // must decode coffee again, not fail or show something else.
  session.openImage(QStringLiteral(PATCHLENS_TEST_DATA "/bad/images/empty.png"));
  QVERIFY(waitIdle(session));
  QVERIFY(!session.lastError().isEmpty());
  PipelineConfig config = session.config();
  config.preprocess.normalization = *Normalization::parse("imagenet");
  session.setConfig(config);
  QVERIFY(waitIdle(session));
  QVERIFY2(session.lastError().isEmpty(), qPrintable(session.lastError()));
  QCOMPARE(session.result()->imagePath, kCoffee);
  QCOMPARE(session.result()->sourceSize, QSize(600, 400));
  QCOMPARE(session.result()->config.preprocess.normalization.name, std::string("imagenet"));
  QVERIFY(session.result()->timings.decodeMs > 0.0);
}

void tst_Session::supersededRequestsShowOnlyTheLast() {
  Session session;
  QSignalSpy results(&session, &Session::resultChanged);
  QSignalSpy errors(&session, &Session::errorOccurred);
  for (int i = 0; i < 20; ++i) session.openImage(i % 2 == 0 ? kChelsea : kCoffee);
  session.openImage(kChelsea);
  QVERIFY(waitIdle(session));
  QCOMPARE(errors.count(), 0);
  // Only the last request reaches the screen (its two stages).
  QCOMPARE(results.count(), 2);
  QCOMPARE(session.result()->imagePath, kChelsea);
}

void tst_Session::oversizedConfigRefused_data() {
  QTest::addColumn<int>("size");
  QTest::addColumn<int>("patch");
  QTest::addColumn<int>("dim");
  QTest::addColumn<QString>("what");
  QTest::newRow("4096 px, P = 1: 16.7 M tokens") << 4096 << 1 << 768 << "the embedding";
  QTest::newRow("P = 256, D = 8192: 1.6 G weights")
      << 256 << 256 << 8192 << "the initialised weights";
}

void tst_Session::oversizedConfigRefused() {
  QFETCH(int, size);
  QFETCH(int, patch);
  QFETCH(int, dim);
  QFETCH(QString, what);
  Session session;
  session.openImage(kChelsea);
  QVERIFY(waitIdle(session));
  const auto before = session.result();
  PipelineConfig config = session.config();
  config.preprocess.height = config.preprocess.width = size;
  config.weights.shape.patchSize = patch;
  config.weights.shape.embedDim = dim;
  QSignalSpy errors(&session, &Session::errorOccurred);
  session.setConfig(config);
  QVERIFY(waitIdle(session));
  QCOMPARE(errors.count(), 1);
  QVERIFY2(session.lastError().contains(what), qPrintable(session.lastError()));
  QVERIFY2(session.lastError().contains(QStringLiteral("viewer's limit")),
           qPrintable(session.lastError()));
  QCOMPARE(session.result(), before);
  QCOMPARE(session.config().weights.shape.patchSize, 16);
}

void tst_Session::largeJpegShowsAPreviewThenTheExactResult() {
  // 2048x1536: a 2x reduced decode still covers the 248 px resize, so a preview comes first.
  QTemporaryDir dir;
  const QString path = dir.filePath(QStringLiteral("large.jpg"));
  cv::Mat coffee = cv::imread(kCoffee.toStdString(), cv::IMREAD_COLOR);
  cv::resize(coffee, coffee, cv::Size(2048, 1536), 0, 0, cv::INTER_CUBIC);
  QVERIFY(cv::imwrite(path.toStdString(), coffee, {cv::IMWRITE_JPEG_QUALITY, 90}));

  Session session;
  std::vector<std::shared_ptr<const ComputeResult>> seen;
  std::vector<QString> statuses;
  connect(&session, &Session::resultChanged, this, [&] {
    seen.push_back(session.result());
    statuses.push_back(session.statusText());
  });
  session.openImage(path);
  QVERIFY(waitIdle(session));
  QCOMPARE(seen.size(), std::size_t{3});
  QVERIFY(seen[0]->preview);
  QCOMPARE(seen[0]->sourceSize, QSize(1024, 768));
  QVERIFY2(statuses[0].contains(QStringLiteral("preview from a JPEG decode at 1/2 scale")),
           qPrintable(statuses[0]));
  QVERIFY(!seen[1]->preview && !seen[2]->preview);
  QCOMPARE(seen[2]->sourceSize, QSize(2048, 1536));
  QVERIFY(seen[2]->hasPca());

  // The result that stays is the exact pipeline's, bit for bit; the preview is close to it.
  const LoadedImage exact = loadImage(path.toStdString());
  const PreprocessResult prep = preprocess(exact.rgb, seen[2]->config.preprocess);
  const Embedding expected = seen[2]->layer->forward(prep.tensor);
  QVERIFY(seen[2]->embedding.tokens == expected.tokens);
  const float previewError = (seen[0]->embedding.tokens - expected.tokens).cwiseAbs().maxCoeff();
  QVERIFY(previewError > 0.0f);
  QVERIFY2(previewError < 0.25f * expected.tokens.cwiseAbs().maxCoeff(),
           qPrintable(QString::number(previewError)));
  QVERIFY(session.statusText().indexOf(QStringLiteral("preview")) < 0);
}

QTEST_GUILESS_MAIN(tst_Session)
#include "tst_session.moc"
