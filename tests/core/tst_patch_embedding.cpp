#include <QtTest>
#include <array>
#include <limits>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/model/initializers.h"
#include "core/model/patch_embedding.h"
#include "core/weights/npy_array.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

using namespace patchlens;
using patchlens::test::relativeError;

namespace {

ChwTensor tensorFrom(const NpyArray& a) {
  ChwTensor t(static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]),
              static_cast<int>(a.shape[2]));
  t.data = a.data;
  return t;
}

PatchWeights weightsFrom(const NpyArray& w, const NpyArray* bias) {
  PatchWeights p;
  p.embedDim = static_cast<int>(w.shape[0]);
  p.inChannels = static_cast<int>(w.shape[1]);
  p.patchSize = static_cast<int>(w.shape[2]);
  p.weight = Eigen::Map<const RowMatrixF>(w.data.data(), p.embedDim, p.patchLength());
  if (bias) p.bias = Eigen::Map<const VectorF>(bias->data.data(), p.embedDim);
  p.description = "fixture";
  return p;
}

}  // namespace

// The patch embedding against torch.nn.functional.conv2d and hand computations.
class TestPatchEmbedding : public QObject {
  Q_OBJECT

 private slots:
  void equalsTorchConv2d_data();
  void equalsTorchConv2d();
  void vitBase16OnARealPhotoEqualsTorch();
  void handComputedTwoByTwo();
  void padPolicyAddsZeroPatches();
  void tokensAreInRowMajorGridOrder();
  void rejectsMismatchedInput();
  void forwardIntoReusesStorageAndEqualsTorch();
  void blockingAndThreadsKeepTheTorchResult_data();
  void blockingAndThreadsKeepTheTorchResult();
};

void TestPatchEmbedding::equalsTorchConv2d_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<bool>("hasBias");
  const auto rows = test::readTsv(test::dataPath("reference/embed/cases.tsv"));
  QVERIFY(rows.size() >= 6);
  for (const auto& r : rows)
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << (r[2] == "1");
}

void TestPatchEmbedding::equalsTorchConv2d() {
  QFETCH(QString, name);
  QFETCH(bool, hasBias);
  const std::string base = test::dataPath("reference/embed/" + name.toStdString());
  const NpyArray input = readNpy(base + "_input.npy");
  const NpyArray weight = readNpy(base + "_weight.npy");
  const NpyArray expected = readNpy(base + "_output.npy");
  NpyArray bias;
  if (hasBias) bias = readNpy(base + "_bias.npy");
  const PatchEmbedding layer(weightsFrom(weight, hasBias ? &bias : nullptr));
  const Embedding y = layer.forward(tensorFrom(input));
  QCOMPARE(static_cast<std::int64_t>(y.tokens.rows()), expected.shape[0]);
  QCOMPARE(static_cast<std::int64_t>(y.tokens.cols()), expected.shape[1]);
  QCOMPARE(y.grid.rows, static_cast<int>(input.shape[1] / weight.shape[2]));
  QCOMPARE(y.grid.cols, static_cast<int>(input.shape[2] / weight.shape[2]));
  QVERIFY2(relativeError(y.tokens, expected) <= 1e-5,
           qPrintable(QString::number(relativeError(y.tokens, expected))));
}

void TestPatchEmbedding::vitBase16OnARealPhotoEqualsTorch() {
  // Whole chain: PNG -> timm preprocessing -> xavier(seed 0) -> [196 x 768], against torch.
  const NpyArray filters =
      readNpy(test::dataPath("reference/embed/xavier0_d768_first_filters.npy"));
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0);
  // The seeded generator gives the numbers the Python re-derivation gives, bit for bit.
  for (std::size_t i = 0; i < filters.data.size(); ++i)
    QCOMPARE(w.weight.data()[i], filters.data[i]);

  const PreprocessResult input =
      preprocess(loadImage(test::dataPath("chelsea.png")).rgb, PreprocessConfig{});
  const Embedding y = PatchEmbedding(w).forward(input.tensor);
  const NpyArray expected =
      readNpy(test::dataPath("reference/embed/vitb16_chelsea_xavier0_output.npy"));
  QCOMPARE(expected.shape, (std::vector<std::int64_t>{196, 768}));
  QCOMPARE(y.grid.rows, 14);
  QCOMPARE(y.grid.cols, 14);
  QVERIFY(relativeError(y.tokens, expected) <= 1e-5);
}

void TestPatchEmbedding::handComputedTwoByTwo() {
  // One channel, P = 2, D = 2, image 2x4 -> two tokens.
  //   x = [1 2 | 3 4]   w0 = [1 0 0 0] (top-left), w1 = [1 1 1 1] (sum), b = [0.5, -1]
  //       [5 6 | 7 8]
  ChwTensor x(1, 2, 4);
  x.data = {1, 2, 3, 4, 5, 6, 7, 8};
  PatchWeights w;
  w.embedDim = 2;
  w.inChannels = 1;
  w.patchSize = 2;
  w.weight.resize(2, 4);
  w.weight << 1, 0, 0, 0, 1, 1, 1, 1;
  w.bias.resize(2);
  w.bias << 0.5f, -1.0f;
  const Embedding y = PatchEmbedding(w).forward(x);
  QCOMPARE(y.grid.rows, 1);
  QCOMPARE(y.grid.cols, 2);
  QCOMPARE(y.tokens(0, 0), 1.5f);                  // 1 + 0.5
  QCOMPARE(y.tokens(0, 1), 1 + 2 + 5 + 6 - 1.0f);  // 13
  QCOMPARE(y.tokens(1, 0), 3.5f);
  QCOMPARE(y.tokens(1, 1), 3 + 4 + 7 + 8 - 1.0f);  // 21
}

void TestPatchEmbedding::padPolicyAddsZeroPatches() {
  // 3x3 image, P = 2: crop gives 1 token, pad gives 2x2 tokens with zeros outside.
  ChwTensor x(1, 3, 3);
  x.data = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  PatchWeights w;
  w.embedDim = 1;
  w.inChannels = 1;
  w.patchSize = 2;
  w.weight = RowMatrixF::Ones(1, 4);
  const PatchEmbedding layer(w);
  QCOMPARE(layer.forward(x, RemainderPolicy::Crop).tokens.rows(), 1);
  const Embedding padded = layer.forward(x, RemainderPolicy::Pad);
  QCOMPARE(padded.grid.rows, 2);
  QCOMPARE(padded.grid.cols, 2);
  QCOMPARE(padded.tokens(0, 0), 4.0f);
  QCOMPARE(padded.tokens(1, 0), 2.0f);  // right column: only x = 2 is inside
  QCOMPARE(padded.tokens(2, 0), 2.0f);
  QCOMPARE(padded.tokens(3, 0), 1.0f);
}

void TestPatchEmbedding::tokensAreInRowMajorGridOrder() {
  // Each 2x2 patch holds its own token index; a summing filter reads it back times 4.
  ChwTensor x(1, 4, 6);
  for (int y = 0; y < 4; ++y)
    for (int c = 0; c < 6; ++c) x.at(0, y, c) = static_cast<float>((y / 2) * 3 + c / 2);
  PatchWeights w;
  w.embedDim = 1;
  w.inChannels = 1;
  w.patchSize = 2;
  w.weight = RowMatrixF::Ones(1, 4);
  const Embedding e = PatchEmbedding(w).forward(x);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      QCOMPARE(e.tokens(e.tokenIndex(r, c), 0), 4.0f * static_cast<float>(r * 3 + c));
}

void TestPatchEmbedding::rejectsMismatchedInput() {
  const PatchEmbedding layer(makeInitializedWeights(Initializer::Xavier, LayerShape{8, 3, 4}, 1));
  QVERIFY_THROWS_EXCEPTION(Error, layer.forward(ChwTensor(1, 8, 8)));  // channels
  QVERIFY_THROWS_EXCEPTION(Error, layer.forward(ChwTensor(3, 3, 8)));  // smaller than a patch
  PatchWeights bad = makeInitializedWeights(Initializer::Xavier, LayerShape{8, 3, 4}, 1);
  bad.weight(0, 0) = std::numeric_limits<float>::quiet_NaN();
  QVERIFY_THROWS_EXCEPTION(Error, PatchEmbedding{bad});
}

void TestPatchEmbedding::forwardIntoReusesStorageAndEqualsTorch() {
  // Two torch fixtures of d64/p16 layers with different grids: 4x4 and 3x5.
  const auto load = [](const char* name) {
    const std::string base = test::dataPath(std::string("reference/embed/") + name);
    return std::array<NpyArray, 4>{readNpy(base + "_input.npy"), readNpy(base + "_weight.npy"),
                                   readNpy(base + "_bias.npy"), readNpy(base + "_output.npy")};
  };
  const auto square = load("d64_p16_64x64");
  const auto wide = load("d64_p16_48x80");
  const PatchEmbedding layer(weightsFrom(square[1], &square[2]));

  // Storage of the right shape filled with garbage: every element is overwritten in place.
  Embedding out;
  out.tokens = RowMatrixF::Constant(16, 64, std::numeric_limits<float>::quiet_NaN());
  const float* storage = out.tokens.data();
  layer.forwardInto(tensorFrom(square[0]), out);
  QCOMPARE(out.tokens.data(), storage);
  QCOMPARE(out.grid.rows, 4);
  QCOMPARE(out.grid.cols, 4);
  QVERIFY(relativeError(out.tokens, square[3]) <= 1e-5);

  // A different grid into the same embedding: reshaped, and still equal to torch.
  PatchEmbedding(weightsFrom(wide[1], &wide[2])).forwardInto(tensorFrom(wide[0]), out);
  QCOMPARE(out.grid.rows, 3);
  QCOMPARE(out.grid.cols, 5);
  QCOMPARE(static_cast<std::int64_t>(out.tokens.rows()), wide[3].shape[0]);
  QVERIFY(relativeError(out.tokens, wide[3]) <= 1e-5);
}

void TestPatchEmbedding::blockingAndThreadsKeepTheTorchResult_data() {
  QTest::addColumn<int>("depthSlice");
  QTest::addColumn<int>("blockTiles");
  QTest::addColumn<int>("threads");
  // 196 tokens = 14 micro-rows. Threads split them (7 + 7, 5 + 5 + 4), each thread cuts its
  // share into blocks of at most blockTiles, K is cut into slices (768 = 7 x 100 + 68).
  QTest::newRow("one slice, one block, 1 thread") << 768 << 32 << 1;
  QTest::newRow("one slice, one block each, 2 threads") << 768 << 32 << 2;
  QTest::newRow("slices of 100, blocks of 3, 2 threads") << 100 << 3 << 2;
  QTest::newRow("slices of 192, blocks of 1, 3 threads") << 192 << 1 << 3;
  QTest::newRow("slices of 64, blocks of 14, 1 thread") << 64 << 14 << 1;
}

void TestPatchEmbedding::blockingAndThreadsKeepTheTorchResult() {
  QFETCH(int, depthSlice);
  QFETCH(int, blockTiles);
  QFETCH(int, threads);
  const PreprocessResult input =
      preprocess(loadImage(test::dataPath("chelsea.png")).rgb, PreprocessConfig{});
  const NpyArray expected =
      readNpy(test::dataPath("reference/embed/vitb16_chelsea_xavier0_output.npy"));
  const PatchEmbedding layer(makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0),
                             GemmBlocking{depthSlice, blockTiles});
  const int before = Eigen::nbThreads();
  Eigen::setNbThreads(threads);
  Embedding y;
  y.tokens = RowMatrixF::Constant(196, 768, std::numeric_limits<float>::quiet_NaN());
  layer.forwardInto(input.tensor, y);
  Eigen::setNbThreads(before);
  QVERIFY(y.tokens.allFinite());  // every token written, whichever thread owned it
  QVERIFY(relativeError(y.tokens, expected) <= 1e-5);
}

QTEST_GUILESS_MAIN(TestPatchEmbedding)
#include "tst_patch_embedding.moc"
