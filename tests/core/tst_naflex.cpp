#include <QtTest>
#include <filesystem>

#include "core/io/error.h"
#include "core/model/position_resampler.h"
#include "core/model/vision_transformer.h"
#include "core/weights/npz_archive.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

std::string fixture(const std::string& file) {
  return test::dataPath("naflex/" + file);
}

}  // namespace

// timm's NaFlexVit (SigLIP 2 NaFlex, naflexvit.py) against timm's own model (tests/data/naflex,
// tests/reference/naflex_fixtures.py): the Linear patch embedding over (ph, pw, c) patches, the
// learned 4x6 position grid at its native size and resized (bicubic or bilinear, antialias) to
// 3x5 and 5x5, GELU-tanh, a register token with LayerScale; F.interpolate's antialiased
// resampling alone against torch; every tensor or option the reader does not run refused by name.
class TestNaflex : public QObject {
  Q_OBJECT

 private slots:
  void matchesTimmCode_data();
  void matchesTimmCode();
  void resampleMatchesTorch_data();
  void resampleMatchesTorch();
  void attentionPoolIsKnownUnused();
  void refusesForeignTensorByName_data();
  void refusesForeignTensorByName();
  void withoutConfigRefusedByName();
  void configRefusedByName_data();
  void configRefusedByName();
};

void TestNaflex::matchesTimmCode_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("expected");
  QTest::addColumn<QString>("family");
  QTest::addColumn<int>("heads");
  QTest::addColumn<int>("depth");
  const auto rows = test::readTsv(fixture("cases.tsv"));
  QVERIFY2(rows.size() >= 6, "cases.tsv is missing; run tests/reference/naflex_fixtures.py");
  for (const auto& r : rows) {
    QCOMPARE(r.size(), std::size_t{7});
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[1]) << QString::fromStdString(r[2])
                                << QString::fromStdString(r[3]) << QString::fromStdString(r[4])
                                << std::stoi(r[5]) << std::stoi(r[6]);
  }
}

void TestNaflex::matchesTimmCode() {
  QFETCH(QString, weights);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(QString, family);
  QFETCH(int, heads);
  QFETCH(int, depth);
  std::string whyNot;
  const auto vit = VisionTransformer::load(fixture(weights.toStdString()), {}, &whyNot);
  QVERIFY2(vit.has_value(), whyNot.c_str());
  const TransformerConfig& c = vit->config();
  QCOMPARE(QString::fromStdString(c.family), family);
  QCOMPARE(QString::fromStdString(c.headsSource), QString("config.json model_args.num_heads"));
  QCOMPARE(c.numHeads, heads);
  QCOMPARE(c.depth, depth);
  QCOMPARE(c.positionPrefixRows, 0);
  QCOMPARE(c.nativeGridRows, 4);
  QCOMPARE(c.nativeGridCols, 6);
  QVERIFY(!c.classToken);
  test::compareForwardWithReference(*vit, fixture(input.toStdString()),
                                    fixture(expected.toStdString()), heads, depth);
}

void TestNaflex::resampleMatchesTorch_data() {
  QTest::addColumn<QString>("mode");
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  for (const char* mode : {"bilinear", "bicubic"}) {
    for (const auto& [r, c] : {std::pair{3, 5}, {5, 5}, {2, 9}, {8, 13}, {4, 6}, {1, 3}})
      QTest::newRow(qPrintable(QString("%1 %2x%3").arg(mode).arg(r).arg(c)))
          << QString(mode) << r << c;
  }
}

// F.interpolate(size=, align_corners=False, antialias=True) of a 4x6 grid of 5-vectors, by torch.
void TestNaflex::resampleMatchesTorch() {
  QFETCH(QString, mode);
  QFETCH(int, rows);
  QFETCH(int, cols);
  const NpzArchive ref(fixture("resample.npz"));
  const NpyArray table = ref.read("table");
  QCOMPARE(table.shape, (std::vector<std::int64_t>{4, 6, 5}));
  const RowMatrixF in = Eigen::Map<const RowMatrixF>(table.data.data(), 24, 5);
  const RowMatrixF got = mode == "bilinear"
                             ? PositionResampler::bilinearAntialias(in, 4, 6, rows, cols)
                             : PositionResampler::bicubicAntialias(in, 4, 6, rows, cols);
  const NpyArray want = ref.read(QString("%1_%2x%3").arg(mode).arg(rows).arg(cols).toStdString());
  QCOMPARE(want.shape, (std::vector<std::int64_t>{rows, cols, 5}));
  QCOMPARE(got.rows(), static_cast<Eigen::Index>(rows * cols));
  double worst = 0;
  for (std::size_t i = 0; i < want.data.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(got.data()[i] - want.data[i])));
  QVERIFY2(worst <= 1e-6, qPrintable(QString("max error %1").arg(worst)));
}

void TestNaflex::attentionPoolIsKnownUnused() {
  const auto vit = VisionTransformer::load(fixture("siglip2_base/model.safetensors"));
  QVERIFY(vit.has_value());
  bool pool = false;
  for (const UnusedTensors& u : vit->config().unusedTensors) {
    if (u.reason.find("attention-pool (MAP) head") == std::string::npos) continue;
    pool = std::find(u.names.begin(), u.names.end(), "attn_pool.latent") != u.names.end();
  }
  QVERIFY(pool);
  QCOMPARE(vit->config().activation, Activation::GeluTanh);
}

void TestNaflex::refusesForeignTensorByName_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  const auto rows = test::readTsv(fixture("bad/expected.tsv"));
  QVERIFY(rows.size() >= 2);
  for (const auto& r : rows)
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
}

void TestNaflex::refusesForeignTensorByName() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const std::string path = fixture("bad/" + file.toStdString());
  try {
    (void)VisionTransformer::load(path);
    QFAIL("loaded a naflexvit.py file with a tensor the reader does not know");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QString::fromStdString(path));
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

// Without timm's config.json the heads, activation and interpolation are unknown: refused.
void TestNaflex::withoutConfigRefusedByName() {
  QTemporaryDir dir;
  const std::string copy = dir.filePath("model.safetensors").toStdString();
  std::filesystem::copy_file(fixture("siglip2_base/model.safetensors"), copy);
  try {
    (void)VisionTransformer::load(copy);
    QFAIL("ran a NaFlexVit without its config.json");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains("'embeds.proj.weight'"), e.what());
    QVERIFY2(QString::fromStdString(e.reason()).contains("config.json"), e.what());
  }
}

void TestNaflex::configRefusedByName_data() {
  QTest::addColumn<QString>("config");
  QTest::addColumn<QString>("reason");
  const QString head = R"({"architecture": "naflexvit_base_patch16_siglip", "model_args":
      {"patch_size": 8, "num_heads": 4, )";
  QTest::newRow("aspect-preserving") << head + R"("pos_embed_ar_preserving": true}})"
                                     << "model_args.pos_embed_ar_preserving";
  QTest::newRow("grid_sample") << head + R"("pos_embed_use_grid_sample": true}})"
                               << "model_args.pos_embed_use_grid_sample";
  QTest::newRow("rope") << head + R"("rope_type": "axial"}})"
                        << "model_args.rope_type";
  QTest::newRow("qk_norm") << head + R"("qk_norm": true}})"
                           << "model_args.qk_norm";
  QTest::newRow("nearest") << head + R"("pos_embed_interp_mode": "nearest"}})"
                           << "model_args.pos_embed_interp_mode";
  QTest::newRow("unknown argument") << head + R"("frobnicate": 1}})"
                                    << "model_args.frobnicate";
  QTest::newRow("par architecture")
      << R"({"architecture": "naflexvit_base_patch16_par_gap", "model_args": {"patch_size": 8}})"
      << "pos_embed_ar_preserving";
  QTest::newRow("unknown architecture")
      << R"({"architecture": "naflexvit_huge_patch8", "model_args": {"patch_size": 8}})"
      << "'naflexvit_huge_patch8' is no naflexvit.py architecture";
  QTest::newRow("wrong patch size") << R"({"architecture": "naflexvit_base_patch16_siglip"})"
                                    << "16-pixel patches of 3 channels flatten to 768";
}

// A config.json asking for what PatchLens does not run is refused by name, never approximated.
void TestNaflex::configRefusedByName() {
  QFETCH(QString, config);
  QFETCH(QString, reason);
  QTemporaryDir dir;
  const std::string copy = dir.filePath("model.safetensors").toStdString();
  std::filesystem::copy_file(fixture("siglip2_base/model.safetensors"), copy);
  QFile file(dir.filePath("config.json"));
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write(config.toUtf8());
  file.close();
  try {
    (void)VisionTransformer::load(copy);
    QFAIL("ran a config.json PatchLens does not run exactly");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains(reason), e.what());
  }
}

QTEST_GUILESS_MAIN(TestNaflex)
#include "tst_naflex.moc"
