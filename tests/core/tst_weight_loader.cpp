#include <QtTest>
#include <algorithm>
#include <cmath>

#include "core/io/error.h"
#include "core/model/patch_embedding.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/safetensors_file.h"
#include "core/weights/weight_loader.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string weightsPath(const std::string& file) {
  return test::dataPath("weights/" + file);
}

std::string optional(const std::string& cell) {
  return cell == "-" ? std::string() : cell;
}

}  // namespace

// Pretrained layouts of every family (tests/data/weights, written by
// tests/reference/weight_fixtures.py) against torch's conv2d on the same stored weights.
class TestWeightLoader : public QObject {
  Q_OBJECT

 private slots:
  void matchesTorch_data();
  void matchesTorch();
  void inspectListsEveryTensor_data();
  void inspectListsEveryTensor();
  void ambiguousFileListsCandidates();
  void ambiguousInspectExplainsInsteadOfThrowing();
  void explicitKeyResolvesAnAmbiguousFile();
  void missingKeysAreNamed_data();
  void missingKeysAreNamed();
  void safetensorsKeepsMetadataAndFileOrder();
  void npzKeysKeepSlashesAndPrefix();
  void looksLikeWeightFile_data();
  void looksLikeWeightFile();
};

void TestWeightLoader::matchesTorch_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<QString>("key");
  QTest::addColumn<QString>("biasKey");
  QTest::addColumn<bool>("hasBias");
  QTest::addColumn<int>("posRows");
  QTest::addColumn<bool>("posHasClass");
  QTest::addColumn<int>("grid");
  QTest::addColumn<bool>("hasClassToken");
  QTest::addColumn<QString>("family");
  const auto rows = test::readTsv(weightsPath("fixtures.tsv"));
  QVERIFY2(rows.size() >= 30, "fixtures.tsv is missing; run tests/reference/make_reference.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{12});
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3])
                                << QString::fromStdString(optional(r[4]))
                                << QString::fromStdString(optional(r[5])) << (r[6] == "1")
                                << std::stoi(r[7]) << (r[8] == "1") << std::stoi(r[9])
                                << (r[10] == "1") << QString::fromStdString(r[11]);
  }
}

void TestWeightLoader::matchesTorch() {
  QFETCH(QString, file);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(QString, key);
  QFETCH(QString, biasKey);
  QFETCH(bool, hasBias);
  QFETCH(int, posRows);
  QFETCH(bool, posHasClass);
  QFETCH(int, grid);
  QFETCH(bool, hasClassToken);
  QFETCH(QString, family);

  WeightLoadOptions options;
  options.key = key.toStdString();
  options.biasKey = biasKey.toStdString();
  const PatchWeights w = loadPatchWeights(weightsPath(file.toStdString()), options);
  QVERIFY2(w.description.find(family.toStdString()) != std::string::npos, w.description.c_str());
  QCOMPARE(w.hasBias(), hasBias);
  QCOMPARE(w.positionEmbedding.has_value(), posRows > 0);
  if (w.positionEmbedding) {
    QCOMPARE(static_cast<int>(w.positionEmbedding->table.rows()), posRows);
    QCOMPARE(static_cast<int>(w.positionEmbedding->table.cols()), w.embedDim);
    QCOMPARE(w.positionEmbedding->hasClassToken, posHasClass);
    QCOMPARE(w.positionEmbedding->gridRows, grid);
    QCOMPARE(w.positionEmbedding->gridCols, grid);
    QCOMPARE(static_cast<int>(w.positionEmbedding->patchRows().rows()), grid * grid);
  }
  QCOMPARE(w.classToken.has_value(), hasClassToken);

  const ChwTensor x = test::readChwInput(weightsPath(input.toStdString()));
  QCOMPARE(w.inChannels, x.channels);
  const Embedding y = PatchEmbedding(w).forward(x);
  const NpyArray ref = readNpy(weightsPath(expected.toStdString()));
  QCOMPARE(ref.shape.size(), std::size_t{2});
  QCOMPARE(static_cast<std::int64_t>(y.tokens.rows()), ref.shape[0]);
  QCOMPARE(static_cast<std::int64_t>(y.tokens.cols()), ref.shape[1]);
  const Eigen::Map<const RowMatrixF> torch(ref.data.data(), y.tokens.rows(), y.tokens.cols());
  const float scale = torch.cwiseAbs().maxCoeff();
  const float worst = (y.tokens - torch).cwiseAbs().maxCoeff();
  QVERIFY2(scale > 0.1f, "the fixture's output is degenerate");
  QVERIFY2(
      worst <= 1e-5f * scale,
      qPrintable(
          QStringLiteral("max |ours - torch| = %1, relative %2").arg(worst).arg(worst / scale)));
}

void TestWeightLoader::inspectListsEveryTensor_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("format");
  QTest::addColumn<int>("tensorCount");
  QTest::addColumn<QString>("usage");
  QTest::newRow("timm")
      << "timm_vit_f16.safetensors"
      << "safetensors" << 6
      << "'patch_embed.proj.weight' is the timm ViT/DeiT/DINOv2 patch-embedding weight: D = 32, "
         "C = 3, P = 16; bias 'patch_embed.proj.bias'; position embedding 'pos_embed' kept (17 "
         "rows, class-token row first, 4 x 4 grid); class token 'cls_token' kept";
  QTest::newRow("hf-clip-int64") << "hf_clip_f64.safetensors"
                                 << "safetensors" << 5 << "; no bias";
  QTest::newRow("deit") << "deit_distilled_f32.safetensors"
                        << "safetensors" << 7
                        << "the distillation-token row of the position embedding is dropped";
  QTest::newRow("google")
      << "google_vit_opt_target_f16.npz"
      << "npz" << 6
      << "'opt/target/embedding/kernel' is the Google ViT (npz) patch-embedding weight: D = "
         "32, C = 3, P = 8 (HWIO, transposed to OIHW)";
  QTest::newRow("npy") << "npy_fortran_f4.npy"
                       << "npy" << 1 << "a .npy holding one 4-D array";
  QTest::newRow("generic")
      << "generic_stem_f32.safetensors"
      << "safetensors" << 3
      << "'stem.weight' is the only 4-D tensor (no known family name): D = 32, C = 3, P = 8; "
         "bias 'stem.bias'";
}

void TestWeightLoader::inspectListsEveryTensor() {
  QFETCH(QString, file);
  QFETCH(QString, format);
  QFETCH(int, tensorCount);
  QFETCH(QString, usage);
  const WeightFileInfo info = inspectWeightFile(weightsPath(file.toStdString()));
  QCOMPARE(QString::fromStdString(info.format), format);
  QCOMPARE(static_cast<int>(info.tensors.size()), tensorCount);
  QVERIFY(info.usable);
  QVERIFY2(info.usage.find(usage.toStdString()) != std::string::npos, info.usage.c_str());
  for (const TensorInfo& t : info.tensors) {
    QVERIFY(!t.name.empty());
    QVERIFY(!t.dtype.empty());
  }
}

void TestWeightLoader::ambiguousFileListsCandidates() {
  const std::string path = weightsPath("dino_teacher_student_f32.safetensors");
  try {
    loadPatchWeights(path);
    QFAIL("an ambiguous file loaded");
  } catch (const Error& e) {
    QCOMPARE(e.file(), path);
    const std::string& why = e.reason();
    QVERIFY2(why.find("ambiguous") != std::string::npos, why.c_str());
    QVERIFY2(why.find("'teacher.backbone.patch_embed.proj.weight'") != std::string::npos,
             why.c_str());
    QVERIFY2(why.find("'student.backbone.patch_embed.proj.weight'") != std::string::npos,
             why.c_str());
    QVERIFY2(why.find("--key") != std::string::npos, why.c_str());
  }
}

void TestWeightLoader::ambiguousInspectExplainsInsteadOfThrowing() {
  const WeightFileInfo info =
      inspectWeightFile(weightsPath("dino_teacher_student_f32.safetensors"));
  QCOMPARE(info.tensors.size(), std::size_t{8});
  QVERIFY(!info.usable);
  QVERIFY2(info.usage.find("nothing: ambiguous") == 0, info.usage.c_str());
}

void TestWeightLoader::explicitKeyResolvesAnAmbiguousFile() {
  // No family name: --key takes an arbitrary tensor, and its sibling bias when there is one.
  WeightLoadOptions options;
  options.key = "conv_b.weight";
  const PatchWeights w =
      loadPatchWeights(test::dataPath("bad/weights/st_ambiguous_unknown.safetensors"), options);
  QCOMPARE(w.embedDim, 8);
  QCOMPARE(w.patchSize, 4);
  QVERIFY(!w.hasBias());
  QVERIFY(w.description.find("explicit --key") != std::string::npos);
}

void TestWeightLoader::missingKeysAreNamed_data() {
  QTest::addColumn<QString>("key");
  QTest::addColumn<QString>("biasKey");
  QTest::addColumn<QString>("message");
  QTest::newRow("key") << "patch_embed.weight"
                       << ""
                       << "no tensor named 'patch_embed.weight' (--key); 4-D tensors: "
                          "'teacher.backbone.patch_embed.proj.weight' [32, 3, 8, 8], "
                          "'student.backbone.patch_embed.proj.weight' [32, 3, 8, 8]";
  QTest::newRow("bias-key") << "student.backbone.patch_embed.proj.weight"
                            << "student.bias"
                            << "no tensor named 'student.bias' (--bias-key)";
  QTest::newRow("bias-key-shape") << "student.backbone.patch_embed.proj.weight"
                                  << "student.backbone.pos_embed"
                                  << "bias 'student.backbone.pos_embed' [1, 17, 32] is not [32]";
}

void TestWeightLoader::missingKeysAreNamed() {
  QFETCH(QString, key);
  QFETCH(QString, biasKey);
  QFETCH(QString, message);
  WeightLoadOptions options{key.toStdString(), biasKey.toStdString()};
  try {
    loadPatchWeights(weightsPath("dino_teacher_student_f32.safetensors"), options);
    QFAIL("loaded with a bad key");
  } catch (const Error& e) {
    QVERIFY2(e.reason().find(message.toStdString()) != std::string::npos, e.reason().c_str());
  }
}

void TestWeightLoader::safetensorsKeepsMetadataAndFileOrder() {
  const SafetensorsFile f(weightsPath("timm_vit_bf16.safetensors"));
  QCOMPARE(f.metadata().at("format"), std::string("pt"));
  std::vector<std::string> names;
  for (const TensorInfo& t : f.tensors()) names.push_back(t.name);
  const std::vector<std::string> inFileOrder = {"cls_token",
                                                "pos_embed",
                                                "patch_embed.proj.weight",
                                                "patch_embed.proj.bias",
                                                "blocks.0.attn.qkv.weight",
                                                "norm.weight"};
  QCOMPARE(names, inFileOrder);
  QCOMPARE(f.tensors()[2].dtype, std::string("BF16"));
  QCOMPARE(f.tensors()[2].shape, (std::vector<std::int64_t>{32, 3, 16, 16}));
  QVERIFY_THROWS_EXCEPTION(Error, f.read("no.such.tensor"));
}

void TestWeightLoader::npzKeysKeepSlashesAndPrefix() {
  const NpzArchive z(weightsPath("google_vit_opt_target_f16.npz"));
  const TensorInfo* kernel = z.find("opt/target/embedding/kernel");
  QVERIFY(kernel);
  QCOMPARE(kernel->dtype, std::string("<f2"));
  QCOMPARE(kernel->shape, (std::vector<std::int64_t>{8, 8, 3, 32}));
  const NpyArray a = z.read("opt/target/Transformer/posembed_input/pos_embedding");
  QCOMPARE(a.shape, (std::vector<std::int64_t>{1, 17, 32}));
  QCOMPARE(a.data.size(), std::size_t{17 * 32});
}

void TestWeightLoader::looksLikeWeightFile_data() {
  QTest::addColumn<QString>("path");
  QTest::addColumn<bool>("weights");
  QTest::newRow("safetensors") << QString::fromStdString(weightsPath("timm_vit_f32.safetensors"))
                               << true;
  QTest::newRow("npz") << QString::fromStdString(weightsPath("google_vit_savez.npz")) << true;
  QTest::newRow("npy") << QString::fromStdString(weightsPath("npy_le_f4.npy")) << true;
  QTest::newRow("png") << QString::fromStdString(test::dataPath("chelsea.png")) << false;
  QTest::newRow("missing") << QString::fromStdString(weightsPath("no-such-file.safetensors"))
                           << false;
  QTest::newRow("directory") << QString::fromStdString(test::dataPath("weights")) << false;
}

void TestWeightLoader::looksLikeWeightFile() {
  QFETCH(QString, path);
  QFETCH(bool, weights);
  QCOMPARE(patchlens::looksLikeWeightFile(path.toStdString()), weights);
}

QTEST_GUILESS_MAIN(TestWeightLoader)
#include "tst_weight_loader.moc"
