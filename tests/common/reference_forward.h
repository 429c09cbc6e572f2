#pragma once

#include <QtTest>
#include <algorithm>
#include <cmath>
#include <string>

#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/reference_compare.h"

// The encoder's forward against a PyTorch reference: the shared check of the family suites
// (tst_dinov3, tst_eva). Failures are recorded with QVERIFY; the caller checks
// QTest::currentTestFailed() when it must stop.
namespace patchlens::test {

// `vit` on `inputNpy` against `expectedNpz` (patch_embedding, tokens_0..depth, final,
// attention_1..depth [heads, T, T]): tokens within 1e-4 x max|ref|, attention within 1e-5; then
// the same forward without an observer (the blocked attention) against the same tokens.
inline void compareForwardWithReference(const VisionTransformer& vit, const std::string& inputNpy,
                                        const std::string& expectedNpz, int heads, int depth) {
  const NpzArchive ref(expectedNpz);
  const ChwTensor input = readChwInput(inputNpy);
  int observed = 0;
  const TransformerOutput out =
      vit.forward(input, [&](int block, const std::vector<RowMatrixF>& p) {
        ++observed;
        QCOMPARE(block, observed);
        const NpyArray a = ref.read("attention_" + std::to_string(block));
        QCOMPARE(static_cast<int>(p.size()), heads);
        const auto tokens = static_cast<Eigen::Index>(a.shape[1]);
        for (int h = 0; h < heads; ++h) {
          QCOMPARE(p[static_cast<std::size_t>(h)].rows(), tokens);
          const Eigen::Map<const RowMatrixF> expectedHead(
              a.data.data() + static_cast<Eigen::Index>(h) * tokens * tokens, tokens, tokens);
          const double err = (p[static_cast<std::size_t>(h)] - expectedHead).cwiseAbs().maxCoeff();
          QVERIFY2(
              err <= 1e-5,
              qPrintable(QString("attention_%1 head %2: max error %3").arg(block).arg(h).arg(err)));
        }
      });
  QCOMPARE(observed, depth);
  QCOMPARE(static_cast<int>(out.tokens.size()), depth + 1);

  const auto check = [&](const std::string& name, const RowMatrixF& actual) {
    const NpyArray a = ref.read(name);
    QCOMPARE(static_cast<Eigen::Index>(a.shape[0]), actual.rows());
    QCOMPARE(static_cast<Eigen::Index>(a.shape[1]), actual.cols());
    double maxRef = 0;
    const double err = relativeError(actual, a, &maxRef);
    QVERIFY2(maxRef > 0.1, qPrintable(QString::fromStdString(name) + " is trivially small"));
    QVERIFY2(err <= 1e-4, qPrintable(QString("%1: max error %2 x max|ref| (max|ref| %3)")
                                         .arg(QString::fromStdString(name))
                                         .arg(err)
                                         .arg(maxRef)));
  };
  check("patch_embedding", out.patchEmbedding);
  for (int l = 0; l <= depth; ++l)
    check("tokens_" + std::to_string(l), out.tokens[static_cast<std::size_t>(l)]);
  check("final", out.final);
  // Without an observer the blocked (flash-style) attention runs instead: same reference.
  const TransformerOutput blocked = vit.forward(input);
  for (int l = 1; l <= depth; ++l)
    check("tokens_" + std::to_string(l), blocked.tokens[static_cast<std::size_t>(l)]);
  check("final", blocked.final);
}

// Every array of a reference .npz against the same-named array of `gotNpz` (the CLI's output):
// attention_* within 1e-5, the others within 1e-4 x max|ref|; both hold the same names.
inline void compareNpzWithReference(const std::string& gotNpz, const std::string& expectedNpz) {
  const NpzArchive got(gotNpz);
  const NpzArchive expected(expectedNpz);
  QCOMPARE(got.tensors().size(), expected.tensors().size());
  for (const TensorInfo& t : expected.tensors()) {
    const NpyArray a = got.read(t.name);
    const NpyArray e = expected.read(t.name);
    QCOMPARE(a.shape, e.shape);
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < e.data.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(a.data[i] - e.data[i])));
      scale = std::max(scale, static_cast<double>(std::abs(e.data[i])));
    }
    const bool attention = t.name.rfind("attention_", 0) == 0;
    const double err = attention ? worst : worst / scale;
    QVERIFY2(err <= (attention ? 1e-5 : 1e-4),
             qPrintable(QString("%1: %2").arg(QString::fromStdString(t.name)).arg(err)));
  }
}

}  // namespace patchlens::test
