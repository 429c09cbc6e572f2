#include <QtTest>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/io/threading.h"
#include "core/model/linear_layer.h"
#include "core/model/packed_gemm.h"
#include "core/model/seeded_random.h"

using namespace patchlens;

namespace {

// Deterministic values in [-1, 1) from the project's SplitMix64.
RowMatrixF randomMatrix(int rows, int cols, std::uint64_t seed) {
  SeededRandom rng(seed);
  RowMatrixF m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  return m;
}

}  // namespace

// The AVX-512 kernel and its packing against a plain double-precision triple loop, for
// every way the blocking can cut the work.
class TestPackedGemm : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void packMicroRowTransposes_data();
  void packMicroRowTransposes();
  void multiplyEqualsDoubleReference_data();
  void multiplyEqualsDoubleReference();
  void kernelsEqualTheFmaChain_data();
  void kernelsEqualTheFmaChain();
  void streamedOutputEqualsCachedStores_data();
  void streamedOutputEqualsCachedStores();
  void linearLayerRowIsIndependentOfTheBatch_data();
  void linearLayerRowIsIndependentOfTheBatch();
  void defaultBlockingComesFromTheHost();
  void kernelFollowsTheCpuAndPatchlensGemm();
  void multiplyTransposedEqualsDoubleReference_data();
  void multiplyTransposedEqualsDoubleReference();
};

void TestPackedGemm::initTestCase() {
  if (!PackedGemm::available()) QSKIP("no AVX2 + FMA on this CPU: the Eigen path is used instead");
}

void TestPackedGemm::packMicroRowTransposes_data() {
  QTest::addColumn<int>("count");
  QTest::addColumn<int>("columns");
  QTest::newRow("14 rows x 16 (patch 16)") << 14 << 16;
  QTest::newRow("14 rows x 14 (patch 14)") << 14 << 14;
  QTest::newRow("14 rows x 32 (patch 32)") << 14 << 32;
  QTest::newRow("5 rows x 8") << 5 << 8;
  QTest::newRow("1 row x 37") << 1 << 37;
  QTest::newRow("14 rows x 768 (a whole row)") << 14 << 768;
}

void TestPackedGemm::packMicroRowTransposes() {
  QFETCH(int, count);
  QFETCH(int, columns);
  // Row r, column c holds 1000 r + c: the packed slot [c][r] must say which it came from.
  std::vector<std::vector<float>> source(static_cast<std::size_t>(count));
  std::vector<const float*> rows;
  for (int r = 0; r < count; ++r) {
    for (int c = 0; c < columns; ++c)
      source[static_cast<std::size_t>(r)].push_back(static_cast<float>(1000 * r + c));
    rows.push_back(source[static_cast<std::size_t>(r)].data());
  }
  const int R = PackedGemm::kTileRows;
  // One guard float after the micro-row: the packer writes nothing past columns x 14.
  std::vector<float> packed(static_cast<std::size_t>(columns * R + 1), -7.0f);
  PackedGemm::packMicroRow(rows.data(), count, columns, packed.data());
  for (int c = 0; c < columns; ++c) {
    for (int r = 0; r < R; ++r) {
      const float expected = r < count ? static_cast<float>(1000 * r + c) : 0.0f;
      QCOMPARE(packed[PackedGemm::packedIndex(r, c, columns)], expected);
    }
  }
  QCOMPARE(packed.back(), -7.0f);
}

void TestPackedGemm::multiplyEqualsDoubleReference_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("depth");
  QTest::addColumn<int>("outputs");
  QTest::addColumn<int>("depthSlice");
  QTest::addColumn<bool>("bias");
  // Whole and partial micro-rows (196 = 14 x 14, 45 = 3 x 14 + 3), whole and partial
  // panels (768 = 24 x 32, 40 = 32 + 8, 7 < 16), K in one slice, in equal slices and with
  // a short last slice (300 = 2 x 128 + 44), with and without bias.
  QTest::newRow("196x768x768, one slice") << 196 << 768 << 768 << 768 << true;
  QTest::newRow("196x768x768, 4 slices of 192") << 196 << 768 << 768 << 192 << true;
  QTest::newRow("45x300x40, slices 128+128+44") << 45 << 300 << 40 << 128 << true;
  QTest::newRow("3x48x7, no bias") << 3 << 48 << 7 << 48 << false;
  QTest::newRow("14x64x33, slice of 1") << 14 << 64 << 33 << 1 << true;
  // Every partial micro-row has its own kernel: ViT's 197 tokens (one row over), 13, 6.
  QTest::newRow("197x96x40, slices of 32") << 197 << 96 << 40 << 32 << true;
  QTest::newRow("13x64x40, one slice") << 13 << 64 << 40 << 64 << true;
  QTest::newRow("20x64x70, slices of 48") << 20 << 64 << 70 << 48 << true;
}

void TestPackedGemm::multiplyEqualsDoubleReference() {
  QFETCH(int, rows);
  QFETCH(int, depth);
  QFETCH(int, outputs);
  QFETCH(int, depthSlice);
  QFETCH(bool, bias);
  const RowMatrixF x = randomMatrix(rows, depth, 1);
  const RowMatrixF w = randomMatrix(outputs, depth, 2);
  const VectorF b = bias ? VectorF(randomMatrix(outputs, 1, 3).col(0)) : VectorF();
  const PackedGemm gemm(w, b, GemmBlocking{depthSlice, 1});
  QCOMPARE(gemm.blocking().depthSlice, depthSlice);

  std::vector<float> packed(gemm.packedRowsSize(rows), -1.0f);
  for (int t = 0; t * PackedGemm::kTileRows < rows; ++t) {
    std::vector<const float*> src;
    for (int r = t * PackedGemm::kTileRows; r < std::min(rows, (t + 1) * PackedGemm::kTileRows);
         ++r)
      src.push_back(x.row(r).data());
    PackedGemm::packMicroRow(
        src.data(), static_cast<int>(src.size()), depth,
        packed.data() + PackedGemm::packedIndex(t * PackedGemm::kTileRows, 0, depth));
  }
  // Output rows wider than the result (stride 3 more), padding must stay untouched.
  const std::size_t stride = static_cast<std::size_t>(outputs) + 3;
  std::vector<float> out(static_cast<std::size_t>(rows) * stride, 12345.0f);
  // Two calls for two panel ranges, as threads would split them.
  const int half = gemm.panels() / 2;
  gemm.multiply(packed.data(), rows, out.data(), stride, 0, half);
  gemm.multiply(packed.data(), rows, out.data(), stride, half, gemm.panels());

  double worst = 0.0;
  double scale = 0.0;
  for (int r = 0; r < rows; ++r) {
    for (int d = 0; d < outputs; ++d) {
      double expected = bias ? static_cast<double>(b(d)) : 0.0;
      for (int k = 0; k < depth; ++k)
        expected += static_cast<double>(x(r, k)) * static_cast<double>(w(d, k));
      const double actual = out[static_cast<std::size_t>(r) * stride + static_cast<std::size_t>(d)];
      worst = std::max(worst, std::abs(actual - expected));
      scale = std::max(scale, std::abs(expected));
    }
    for (std::size_t pad = static_cast<std::size_t>(outputs); pad < stride; ++pad)
      QCOMPARE(out[static_cast<std::size_t>(r) * stride + pad], 12345.0f);
  }
  // float32 accumulation over K terms: the same bound as against PyTorch.
  QVERIFY2(worst <= 1e-5 * scale,
           qPrintable(QStringLiteral("max error %1 of %2").arg(worst).arg(scale)));
}

void TestPackedGemm::kernelsEqualTheFmaChain_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("depth");
  QTest::addColumn<int>("outputs");
  QTest::addColumn<int>("depthSlice");  // 0: GemmBlocking::choose for the kernel on this host
  // Rows: one token, a partial micro-row of each group split (6 + 4 + 4: 5, 9, 13), ViT's 197
  // (the last micro-row one token). Outputs: a half panel and less (7, 16), a last panel of
  // 8 or 24 columns (40, 120), whole panels (64). Depth: one slice, slices with a short last
  // one (300 = 2 x 128 + 44), a depth below every slice.
  QTest::newRow("1x300x40, slices 128+128+44") << 1 << 300 << 40 << 128;
  QTest::newRow("5x96x7, one slice") << 5 << 96 << 7 << 96;
  QTest::newRow("9x200x16, slices of 64") << 9 << 200 << 16 << 64;
  QTest::newRow("13x77x120, slices of 16") << 13 << 77 << 120 << 16;
  QTest::newRow("197x300x40, slices 128+128+44") << 197 << 300 << 40 << 128;
  QTest::newRow("197x768x64, host blocking") << 197 << 768 << 64 << 0;
  QTest::newRow("197x1000x120, host blocking") << 197 << 1000 << 120 << 0;
  QTest::newRow("30x3x40, depth below a slice") << 30 << 3 << 40 << 0;
}

// Both register-tile kernels (the AVX2 one whatever PATCHLENS_GEMM says; the AVX-512 one where
// the CPU has it) give each output as the bias plus its k terms in ascending order, one fused
// multiply-add at a time in float: equal bit for bit to std::fma in that order, for every way
// the tiles, row groups, panels and K slices cut the work.
void TestPackedGemm::kernelsEqualTheFmaChain() {
  QFETCH(int, rows);
  QFETCH(int, depth);
  QFETCH(int, outputs);
  QFETCH(int, depthSlice);
  const RowMatrixF x = randomMatrix(rows, depth, 21);
  const RowMatrixF w = randomMatrix(outputs, depth, 22);
  const VectorF b = randomMatrix(outputs, 1, 23).col(0);
  RowMatrixF expected(rows, outputs);
  for (int r = 0; r < rows; ++r) {
    for (int d = 0; d < outputs; ++d) {
      float sum = b(d);
      for (int k = 0; k < depth; ++k) sum = std::fma(x(r, k), w(d, k), sum);
      expected(r, d) = sum;
    }
  }
  std::vector<PackedGemm::Kernel> kernels;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    kernels.push_back(PackedGemm::Kernel::Avx2);
  if (__builtin_cpu_supports("avx512f")) kernels.push_back(PackedGemm::Kernel::Avx512);
  for (const PackedGemm::Kernel kernel : kernels) {
    const GemmBlocking blocking = depthSlice > 0
                                      ? GemmBlocking{depthSlice, 1}
                                      : GemmBlocking::choose(CpuCaches::host(), depth, kernel);
    const PackedGemm gemm(w, b, blocking, kernel);
    std::vector<float> packed(gemm.packedRowsSize(rows), -1.0f);
    for (int t = 0; t * PackedGemm::kTileRows < rows; ++t) {
      std::vector<const float*> src;
      for (int r = t * PackedGemm::kTileRows; r < std::min(rows, (t + 1) * PackedGemm::kTileRows);
           ++r)
        src.push_back(x.row(r).data());
      PackedGemm::packMicroRow(
          src.data(), static_cast<int>(src.size()), depth,
          packed.data() + PackedGemm::packedIndex(t * PackedGemm::kTileRows, 0, depth));
    }
    // Rows 5 floats wider than the result: the padding stays untouched. One call per panel,
    // as LinearLayer makes them, then all panels in one call.
    const std::size_t stride = static_cast<std::size_t>(outputs) + 5;
    for (const bool perPanel : {true, false}) {
      std::vector<float> out(static_cast<std::size_t>(rows) * stride, 777.0f);
      if (perPanel) {
        for (int p = 0; p < gemm.panels(); ++p)
          gemm.multiply(packed.data(), rows, out.data(), stride, p, p + 1);
      } else {
        gemm.multiply(packed.data(), rows, out.data(), stride, 0, gemm.panels());
      }
      int mismatches = 0;
      for (int r = 0; r < rows; ++r) {
        for (int d = 0; d < outputs; ++d)
          mismatches += out[static_cast<std::size_t>(r) * stride + static_cast<std::size_t>(d)] !=
                        expected(r, d);
        for (std::size_t pad = static_cast<std::size_t>(outputs); pad < stride; ++pad)
          QCOMPARE(out[static_cast<std::size_t>(r) * stride + pad], 777.0f);
      }
      QVERIFY2(mismatches == 0,
               qPrintable(QStringLiteral("%1 kernel: %2 of %3 outputs differ from the FMA chain")
                              .arg(kernel == PackedGemm::Kernel::Avx2 ? "AVX2" : "AVX-512")
                              .arg(mismatches)
                              .arg(rows * outputs)));
    }
  }
}

void TestPackedGemm::streamedOutputEqualsCachedStores_data() {
  QTest::addColumn<int>("stride");
  QTest::addColumn<int>("depthSlice");
  // 45 rows (3 full tiles + 3 rows), 80 outputs (2 full panels + 16): the full tiles of full
  // panels are streamed when the rows are 64-byte aligned and K is one slice.
  QTest::newRow("aligned rows, one K slice: streamed") << 96 << 96;
  QTest::newRow("unaligned stride: plain stores") << 83 << 96;
  QTest::newRow("K in slices: plain stores") << 96 << 32;
}

void TestPackedGemm::streamedOutputEqualsCachedStores() {
  QFETCH(int, stride);
  QFETCH(int, depthSlice);
  constexpr int kRows = 45;
  constexpr int kDepth = 96;
  constexpr int kOutputs = 80;
  const RowMatrixF x = randomMatrix(kRows, kDepth, 4);
  const RowMatrixF w = randomMatrix(kOutputs, kDepth, 5);
  const VectorF b = randomMatrix(kOutputs, 1, 6).col(0);
  const PackedGemm gemm(w, b, GemmBlocking{depthSlice, 4});
  std::vector<float> packed(gemm.packedRowsSize(kRows), 0.0f);
  for (int t = 0; t * PackedGemm::kTileRows < kRows; ++t) {
    std::vector<const float*> src;
    for (int r = t * PackedGemm::kTileRows; r < std::min(kRows, (t + 1) * PackedGemm::kTileRows);
         ++r)
      src.push_back(x.row(r).data());
    PackedGemm::packMicroRow(
        src.data(), static_cast<int>(src.size()), kDepth,
        packed.data() + PackedGemm::packedIndex(t * PackedGemm::kTileRows, 0, kDepth));
  }
  const auto size = static_cast<std::size_t>(kRows) * static_cast<std::size_t>(stride);
  // 64-byte aligned outputs, whatever Eigen's own alignment on this CPU (32 bytes without
  // AVX-512), so that only the stride decides whether rows are aligned.
  const std::size_t bytes = (size * sizeof(float) + 63) / 64 * 64;
  const std::unique_ptr<float, decltype(&std::free)> plainBuffer(
      static_cast<float*>(std::aligned_alloc(64, bytes)), &std::free);
  const std::unique_ptr<float, decltype(&std::free)> streamedBuffer(
      static_cast<float*>(std::aligned_alloc(64, bytes)), &std::free);
  QVERIFY(plainBuffer && streamedBuffer);
  Eigen::Map<RowMatrixF> plain(plainBuffer.get(), kRows, stride);
  Eigen::Map<RowMatrixF> streamed(streamedBuffer.get(), kRows, stride);
  plain.setConstant(7.0f);
  streamed.setConstant(7.0f);
  QVERIFY(reinterpret_cast<std::uintptr_t>(streamed.data()) % 64 == 0);
  gemm.multiply(packed.data(), kRows, plain.data(), static_cast<std::size_t>(stride), 0,
                gemm.panels(), false);
  gemm.multiply(packed.data(), kRows, streamed.data(), static_cast<std::size_t>(stride), 0,
                gemm.panels(), true);
  QVERIFY(std::equal(plain.data(), plain.data() + size, streamed.data()));  // bit-equal
  double worst = 0.0;
  for (int r = 0; r < kRows; ++r) {
    for (int d = 0; d < kOutputs; ++d) {
      double expected = b(d);
      for (int k = 0; k < kDepth; ++k)
        expected += static_cast<double>(x(r, k)) * static_cast<double>(w(d, k));
      worst = std::max(worst, std::abs(static_cast<double>(streamed(r, d)) - expected));
    }
    for (int pad = kOutputs; pad < stride; ++pad) QCOMPARE(streamed(r, pad), 7.0f);
  }
  QVERIFY2(worst < 1e-4, qPrintable(QStringLiteral("max error %1").arg(worst)));
}

void TestPackedGemm::linearLayerRowIsIndependentOfTheBatch_data() {
  QTest::addColumn<int>("inputs");
  QTest::addColumn<int>("threads");
  QTest::newRow("K 96, 1 thread") << 96 << 1;
  QTest::newRow("K 768, 2 threads") << 768 << 2;
  QTest::newRow("K 3072, 1 thread") << 3072 << 1;
  QTest::newRow("K 3072, 2 threads") << 3072 << 2;
}

// A token's output does not depend on the tokens beside it: ViT's 197th token, alone in the
// last micro-row (which joins the block before it), equals the same token inside a whole
// micro-row of a 210-token batch, bit for bit, GELU included; both equal a double reference.
// K = 96 and 768 give one block of 15 micro-rows (the tail joined), K = 3072 three blocks.
void TestPackedGemm::linearLayerRowIsIndependentOfTheBatch() {
  QFETCH(int, inputs);
  QFETCH(int, threads);
  const int before = computeThreads();
  setComputeThreads(threads);
  const int kInputs = inputs;
  constexpr int kOutputs = 12 * PackedGemm::kPanelWidth;
  const RowMatrixF w = randomMatrix(kOutputs, kInputs, 10);
  const VectorF b = randomMatrix(kOutputs, 1, 11).col(0);
  const LinearLayer layer(w, b);
  const RowMatrixF batch = randomMatrix(210, kInputs, 12);
  const RowMatrixF vit = batch.topRows(197);
  RowMatrixF fromVit;
  RowMatrixF fromBatch;
  std::vector<float> scratch;
  layer.apply(vit, fromVit, LinearEpilogue::Gelu, scratch);
  layer.apply(batch, fromBatch, LinearEpilogue::Gelu, scratch);
  setComputeThreads(before);
  QCOMPARE(fromVit.rows(), 197);
  const RowMatrixF head = fromBatch.topRows(197);
  QVERIFY(std::equal(fromVit.data(), fromVit.data() + fromVit.size(), head.data()));
  double worst = 0.0;
  for (int d = 0; d < kOutputs; ++d) {
    double z = b(d);
    for (int k = 0; k < kInputs; ++k)
      z += static_cast<double>(vit(196, k)) * static_cast<double>(w(d, k));
    const double gelu = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    worst = std::max(worst, std::abs(static_cast<double>(fromVit(196, d)) - gelu));
  }
  QVERIFY2(worst < 1e-4, qPrintable(QStringLiteral("max error %1").arg(worst)));
}

void TestPackedGemm::defaultBlockingComesFromTheHost() {
  const RowMatrixF w = randomMatrix(64, 768, 4);
  const PackedGemm gemm(w, VectorF());
  const GemmBlocking expected = GemmBlocking::choose(CpuCaches::host(), 768, gemm.kernel());
  QCOMPARE(gemm.blocking().depthSlice, expected.depthSlice);
  QCOMPARE(gemm.blocking().blockTiles, expected.blockTiles);
  QVERIFY(QString::fromStdString(PackedGemm::backendDescription()).contains(QStringLiteral("L2")));
}

// The kernel every suite runs is the one asked for (CTest runs the suites again with
// PATCHLENS_GEMM=avx2): the best the CPU has, never more.
void TestPackedGemm::kernelFollowsTheCpuAndPatchlensGemm() {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const QByteArray wanted = qgetenv("PATCHLENS_GEMM");
  const auto expected =
      avx512 && wanted != "avx2" ? PackedGemm::Kernel::Avx512 : PackedGemm::Kernel::Avx2;
  QVERIFY(PackedGemm::hostKernel() == expected);
  const RowMatrixF w = RowMatrixF::Ones(40, 16);
  QVERIFY(PackedGemm(w, VectorF()).kernel() == expected);
}

void TestPackedGemm::multiplyTransposedEqualsDoubleReference_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("outputs");  // the K of dY W
  QTest::addColumn<int>("depth");    // gradIn's columns: whole and partial B panels of 32
  QTest::addColumn<int>("threads");
  // Rows: one token, a partial micro-row (13), ViT's 197 (a last micro-row of one token).
  // Outputs (K) not a multiple of 32: a partial last weight panel (40, 70; 1100 = 34 x 32 + 12
  // is 2 K slices of the AVX-512 kernel on a 1 MB L2 and 9 of the AVX2 kernel). Depth not a
  // multiple of 16: a last B panel of 12 columns (300), 13 (77), 3 alone.
  QTest::newRow("1x40x300") << 1 << 40 << 300 << 1;
  QTest::newRow("13x70x77") << 13 << 70 << 77 << 1;
  QTest::newRow("197x70x300, 2 threads") << 197 << 70 << 300 << 2;
  QTest::newRow("197x1100x77") << 197 << 1100 << 77 << 1;
  QTest::newRow("13x1100x45, 2 threads") << 13 << 1100 << 45 << 2;
  QTest::newRow("197x33x3") << 197 << 33 << 3 << 1;
  QTest::newRow("1x7x16") << 1 << 7 << 16 << 1;
}

// The backward of a linear layer, gradIn = gradOut W, on both register-tile kernels (the AVX-512
// one where the CPU has it) from the packed panels: against a double-precision hand product,
// and bit for bit against the float FMA chain over the outputs in ascending order (each output
// starts from zero and sums its K terms as the forward's kernel does). gradIn comes in filled
// with garbage and a wrong size: every element is written.
void TestPackedGemm::multiplyTransposedEqualsDoubleReference() {
  QFETCH(int, rows);
  QFETCH(int, outputs);
  QFETCH(int, depth);
  QFETCH(int, threads);
  const RowMatrixF gradOut = randomMatrix(rows, outputs, 31);
  const RowMatrixF w = randomMatrix(outputs, depth, 32);
  const VectorF b = randomMatrix(outputs, 1, 33).col(0);  // a bias plays no part in dY W
  RowMatrixF chain(rows, depth);
  double worstRounding = 0.0;  // |float chain - double|: what float accumulation costs
  Eigen::MatrixXd expected(rows, depth);
  for (int r = 0; r < rows; ++r) {
    for (int d = 0; d < depth; ++d) {
      double sum = 0.0;
      float fsum = 0.0f;
      for (int o = 0; o < outputs; ++o) {
        sum += static_cast<double>(gradOut(r, o)) * static_cast<double>(w(o, d));
        fsum = std::fma(gradOut(r, o), w(o, d), fsum);
      }
      expected(r, d) = sum;
      chain(r, d) = fsum;
      worstRounding = std::max(worstRounding, std::abs(static_cast<double>(fsum) - sum));
    }
  }
  std::vector<PackedGemm::Kernel> kernels;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    kernels.push_back(PackedGemm::Kernel::Avx2);
  if (__builtin_cpu_supports("avx512f")) kernels.push_back(PackedGemm::Kernel::Avx512);
  const int before = computeThreads();
  setComputeThreads(threads);
  for (const PackedGemm::Kernel kernel : kernels) {
    const PackedGemm gemm(w, b, GemmBlocking::choose(CpuCaches::host(), depth, kernel), kernel);
    std::vector<float> scratch(3, -5.0f);
    RowMatrixF gradIn = RowMatrixF::Constant(rows + 2, depth + 1, 777.0f);
    gemm.multiplyTransposed(gradOut, gradIn, scratch);
    QCOMPARE(gradIn.rows(), Eigen::Index{rows});
    QCOMPARE(gradIn.cols(), Eigen::Index{depth});
    double worst = 0.0;
    int mismatches = 0;
    for (int r = 0; r < rows; ++r) {
      for (int d = 0; d < depth; ++d) {
        worst = std::max(worst, std::abs(static_cast<double>(gradIn(r, d)) - expected(r, d)));
        mismatches += gradIn(r, d) != chain(r, d);
      }
    }
    const QString name = kernel == PackedGemm::Kernel::Avx2 ? "AVX2" : "AVX-512";
    // float32 accumulation of up to 1100 products of values in [-1, 1).
    QVERIFY2(worst <= 1e-5 * std::sqrt(static_cast<double>(outputs)),
             qPrintable(QStringLiteral("%1 kernel: max error %2").arg(name).arg(worst)));
    QVERIFY2(mismatches == 0,
             qPrintable(QStringLiteral("%1 kernel: %2 of %3 differ from the FMA chain")
                            .arg(name)
                            .arg(mismatches)
                            .arg(rows * depth)));
  }
  setComputeThreads(before);
  QVERIFY(worstRounding < 1e-5 * std::sqrt(static_cast<double>(outputs)));
}

QTEST_GUILESS_MAIN(TestPackedGemm)
#include "tst_packed_gemm.moc"
