#pragma once

#include <QtTest>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/model/patch_embedding.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/tensor_source.h"
#include "core/weights/weight_loader.h"
#include "tests/common/test_support.h"

// Shared checks over tests/data/checkpoints/checkpoints.tsv (written by
// tests/reference/checkpoint_fixtures.py with torch.save, torch.jit.save and the GGUF writer):
// the embedding equals torch's conv2d, every float tensor equals what torch holds.
namespace patchlens::test {

inline std::string checkpointPath(const std::string& file) {
  return dataPath("checkpoints/" + file);
}

// Rows whose format column starts with formatPrefix ("pytorch", "torchscript", "gguf").
inline void addCheckpointRows(const std::vector<std::string>& formatPrefixes) {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<QString>("family");
  QTest::addColumn<QString>("format");
  QTest::addColumn<QString>("stateDictKey");
  QTest::addColumn<int>("floatTensors");
  QTest::addColumn<QString>("tensorsNpz");
  const auto rows = readTsv(checkpointPath("checkpoints.tsv"));
  QVERIFY2(rows.size() >= 13, "checkpoints.tsv is missing; run tests/reference/make_reference.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{9});
    bool wanted = false;
    for (const std::string& p : formatPrefixes) wanted |= r[5].rfind(p, 0) == 0;
    if (!wanted) continue;
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << QString::fromStdString(r[4])
                                << QString::fromStdString(r[5])
                                << QString::fromStdString(r[6] == "-" ? "" : r[6])
                                << std::stoi(r[7]) << QString::fromStdString(r[8]);
  }
}

inline ChwTensor readCheckpointInput(const std::string& file) {
  const NpyArray a = readNpy(checkpointPath(file));
  ChwTensor t(static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]),
              static_cast<int>(a.shape[2]));
  t.data = a.data;
  return t;
}

// The patch embedding through loadPatchWeights equals torch's conv2d within 1e-5 relative.
inline void checkEmbeddingMatchesTorch(const std::string& file, const std::string& input,
                                       const std::string& expected, const std::string& family) {
  const PatchWeights w = loadPatchWeights(checkpointPath(file));
  QVERIFY2(w.description.find(family) != std::string::npos, w.description.c_str());
  const Embedding y = PatchEmbedding(w).forward(readCheckpointInput(input));
  const NpyArray ref = readNpy(checkpointPath(expected));
  QCOMPARE(ref.shape.size(), std::size_t{2});
  QCOMPARE(static_cast<std::int64_t>(y.tokens.rows()), ref.shape[0]);
  QCOMPARE(static_cast<std::int64_t>(y.tokens.cols()), ref.shape[1]);
  const Eigen::Map<const RowMatrixF> torch(ref.data.data(), y.tokens.rows(), y.tokens.cols());
  const float scale = torch.cwiseAbs().maxCoeff();
  const float worst = (y.tokens - torch).cwiseAbs().maxCoeff();
  QVERIFY2(scale > 0.05f, "the fixture's output is degenerate");
  QVERIFY2(
      worst <= 1e-5f * scale,
      qPrintable(
          QStringLiteral("max |ours - torch| = %1, relative %2").arg(worst).arg(worst / scale)));
}

// Every float tensor torch holds is listed with its shape and reads back bit-equal (as float32).
inline void checkEveryTensor(const TensorSource& source, const std::string& npz, int count) {
  const NpzArchive reference(checkpointPath(npz));
  QCOMPARE(static_cast<int>(reference.tensors().size()), count);
  for (const TensorInfo& t : reference.tensors()) {
    const TensorInfo* ours = source.find(t.name);
    QVERIFY2(ours, ("not listed: " + t.name).c_str());
    QCOMPARE(ours->shape, t.shape);
    const NpyArray expected = reference.read(t.name);
    const NpyArray got = source.read(t.name);
    QCOMPARE(got.shape, expected.shape);
    QCOMPARE(got.data.size(), expected.data.size());
    for (std::size_t i = 0; i < got.data.size(); ++i) {
      if (got.data[i] != expected.data[i]) {
        QFAIL(qPrintable(
            QString::fromStdString(t.name) +
            QStringLiteral(" element %1: %2 vs %3").arg(i).arg(got.data[i]).arg(expected.data[i])));
      }
    }
  }
}

}  // namespace patchlens::test
