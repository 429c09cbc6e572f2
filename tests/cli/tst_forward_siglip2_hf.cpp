#include <QtTest>
#include <filesystem>

#include "tests/common/cli_process.h"
#include "tests/common/reference_forward.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

QString fixture(const QString& relative) {
  return QString::fromStdString(test::dataPath("siglip2_hf/" + relative.toStdString()));
}

}  // namespace

// patchlens-cli forward --attention and info on Hugging Face's SigLIP 2 NaFlex
// (Siglip2VisionModel, and a whole Siglip2Model with its text tower), tests/data/siglip2_hf from
// tests/reference/siglip2_hf_fixtures.py: timm's own NaFlexVit renamed to HF's names, its tokens
// asserted there equal to a forward written from modeling_siglip2.py. Native 4x4 grid and a
// non-square 3x5 (the position table resized bilinear with antialias); a tensor or a config.json
// key the reader does not know exits 1, naming it.
class TestForwardSiglip2Hf : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void forwardWithAttentionMatches_data();
  void forwardWithAttentionMatches();
  void infoDescribesTheEncoder();
  void refusedByName_data();
  void refusedByName();
  void configRefusedByName_data();
  void configRefusedByName();
  void imagesTakeTheProcessorsSize_data();
  void imagesTakeTheProcessorsSize();
  void batchWithoutPoolingIsRefused();

 private:
  // The vision model with Siglip2ImageProcessor's preprocessor_config.json beside it.
  QString modelWithProcessor();

  QTemporaryDir m_dir;
};

void TestForwardSiglip2Hf::forwardWithAttentionMatches_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("grid");
  for (const char* model : {"vision", "full"}) {
    for (const char* grid : {"4x4", "3x5"})
      QTest::newRow((std::string(model) + " " + grid).c_str()) << model << grid;
  }
}

void TestForwardSiglip2Hf::forwardWithAttentionMatches() {
  QFETCH(QString, model);
  QFETCH(QString, grid);
  const QString target = m_dir.filePath(model + "_" + grid + ".npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture("input_" + grid + ".npy"), "--weights",
                    fixture(model + "/model.safetensors"), "-o", target, "--attention"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains(model == "full" ? "HF Siglip2Model (SigLIP 2 NaFlex"
                                          : "HF Siglip2VisionModel (SigLIP 2 NaFlex"),
           qPrintable(r.out));
  test::compareNpzWithReference(target.toStdString(),
                                fixture("expected_" + grid + ".npz").toStdString());
}

// info describes the encoder (no conv patch view: a Linear) and lists the MAP head, the text
// tower and the logit scale / bias as known unused.
void TestForwardSiglip2Hf::infoDescribesTheEncoder() {
  const test::CliResult info = test::runCli({"info", fixture("full/model.safetensors")});
  QVERIFY2(info.exitCode == 0, qPrintable(info.err));
  QVERIFY2(info.out.contains("transformer: HF Siglip2Model (SigLIP 2 NaFlex, 4x4 position grid "
                             "resized bilinear), depth 2, 4 heads (config.json "
                             "vision_config.num_attention_heads)"),
           qPrintable(info.out));
  QVERIFY2(info.out.contains("resized per image (bilinear, antialias)"), qPrintable(info.out));
  QVERIFY2(info.out.contains("Siglip2MultiheadAttentionPoolingHead"), qPrintable(info.out));
  QVERIFY2(info.out.contains("Siglip2Model's text tower"), qPrintable(info.out));
  QVERIFY2(info.out.contains("logit_bias"), qPrintable(info.out));
}

void TestForwardSiglip2Hf::refusedByName_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("reason");
  const auto rows = test::readTsv(fixture("bad/expected.tsv").toStdString());
  QVERIFY2(rows.size() == 2, "bad/expected.tsv is missing; run siglip2_hf_fixtures.py");
  for (const auto& r : rows)
    QTest::newRow(r[0].c_str()) << QString::fromStdString(r[0]) << QString::fromStdString(r[1]);
}

void TestForwardSiglip2Hf::refusedByName() {
  QFETCH(QString, weights);
  QFETCH(QString, reason);
  const QString target = m_dir.filePath("refused.npz");
  const test::CliResult r =
      test::runCli({"forward", "--tensor", fixture("input_3x5.npy"), "--weights",
                    fixture("bad/" + weights), "-o", target, "--attention"});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
}

void TestForwardSiglip2Hf::configRefusedByName_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("config");
  QTest::addColumn<QString>("reason");
  const QString vision =
      R"({"model_type": "siglip2_vision_model", "num_attention_heads": 4, "patch_size": 8, )";
  QTest::newRow("activation") << "vision" << vision + R"("hidden_act": "relu"})"
                              << "hidden_act 'relu' is not run by PatchLens";
  QTest::newRow("num_patches") << "vision" << vision + R"("num_patches": 25})"
                               << "num_patches is 25";
  QTest::newRow("heads") << "vision" << vision + R"("hidden_size": 48})"
                         << "config.json hidden_size is 48";
  QTest::newRow("model_type") << "vision"
                              << R"({"model_type": "siglip_vision_model"})"
                              << "model_type 'siglip_vision_model' is neither";
  QTest::newRow("no config") << "vision" << QString() << "only in its config.json";
  QTest::newRow("vision_config key")
      << "full"
      << R"({"model_type": "siglip2", "vision_config": {"num_attention_heads": 4, "patch_size": 8, "vision_rope": 1}})"
      << "key 'vision_config.vision_rope' is not a Siglip2VisionConfig setting";
  QTest::newRow("Siglip2Config key")
      << "full"
      << R"({"model_type": "siglip2", "frobnicate": 1, "vision_config": {}})"
      << "key 'frobnicate' is not a Siglip2Config setting";
  QTest::newRow("text tower beside a vision model") << "full" << vision + R"("patch_size": 8})"
                                                    << "tensor 'text_model.";
}

// A config.json asking for what PatchLens does not run, or disagreeing with the tensors, is
// refused by name, never approximated.
void TestForwardSiglip2Hf::configRefusedByName() {
  QFETCH(QString, model);
  QFETCH(QString, config);
  QFETCH(QString, reason);
  QTemporaryDir dir;
  const QString copy = dir.filePath("model.safetensors");
  std::filesystem::copy_file(fixture(model + "/model.safetensors").toStdString(),
                             copy.toStdString());
  if (!config.isEmpty()) {
    QFile file(dir.filePath("config.json"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(config.toUtf8());
  }
  const QString target = dir.filePath("out.npz");
  const test::CliResult r = test::runCli(
      {"forward", "--tensor", fixture("input_3x5.npy"), "--weights", copy, "-o", target});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QVERIFY(!QFile::exists(target));
}

QString TestForwardSiglip2Hf::modelWithProcessor() {
  const QString dir = m_dir.filePath("with_processor");
  if (!QDir(dir).exists()) {
    QDir().mkpath(dir);
    for (const char* f :
         {"vision/model.safetensors", "vision/config.json", "processor/preprocessor_config.json"}) {
      std::filesystem::copy_file(
          fixture(f).toStdString(),
          (dir + "/" + QFileInfo(QString::fromLatin1(f)).fileName()).toStdString());
    }
  }
  return dir + "/model.safetensors";
}

void TestForwardSiglip2Hf::imagesTakeTheProcessorsSize_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("grid");
  QTest::newRow("wide 93x41") << "wide"
                              << "3 x 7 grid";
  QTest::newRow("tall 37x120") << "tall"
                               << "8 x 3 grid";
  QTest::newRow("tiny 5x3") << "tiny"
                            << "4 x 6 grid";
}

// An image through a Siglip2ImageProcessor sidecar gives the tokens of the processor's own
// input (siglip2_preprocess_fixtures.py: its size rule, PIL bilinear, 0.5 / 0.5), whose forward
// is exact against PyTorch (forwardWithAttentionMatches): the image's own grid, not 224 x 224.
void TestForwardSiglip2Hf::imagesTakeTheProcessorsSize() {
  QFETCH(QString, name);
  QFETCH(QString, grid);
  const QString weights = modelWithProcessor();
  const QString fromImage = m_dir.filePath(name + "_image.npz");
  const test::CliResult image = test::runCli(
      {"forward", fixture("processor/" + name + ".png"), "--weights", weights, "-o", fromImage});
  QVERIFY2(image.exitCode == 0, qPrintable(image.err));
  QVERIFY2(image.out.contains(grid), qPrintable(image.out));
  QVERIFY2(image.err.contains("Siglip2ImageProcessor): max-patches 24 of 8 px"),
           qPrintable(image.err));
  const QString fromTensor = m_dir.filePath(name + "_tensor.npz");
  const test::CliResult tensor =
      test::runCli({"forward", "--tensor", fixture("processor/" + name + "_input.npy"), "--weights",
                    weights, "-o", fromTensor});
  QVERIFY2(tensor.exitCode == 0, qPrintable(tensor.err));
  test::compareNpzWithReference(fromImage.toStdString(), fromTensor.toStdString());
}

void TestForwardSiglip2Hf::batchWithoutPoolingIsRefused() {
  const QString out = m_dir.filePath("batch_none");
  const test::CliResult r =
      test::runCli({"batch", fixture("processor"), "--weights", modelWithProcessor(), "--layer",
                    "final", "--pool", "none", "-o", out});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("its own token count"), qPrintable(r.err));
  QVERIFY(!QFileInfo::exists(out));
}

QTEST_GUILESS_MAIN(TestForwardSiglip2Hf)
#include "tst_forward_siglip2_hf.moc"
