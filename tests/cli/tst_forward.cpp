#include <QtTest>
#include <cmath>

#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/cli_process.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

using namespace patchlens;
using patchlens::test::relativeError;

namespace {

using test::CliResult;
using test::runCli;

QString fixture(const char* relative) {
  return QString::fromStdString(test::dataPath(std::string("transformer/") + relative));
}

QStringList filesIn(const QString& dir) {
  return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::System);
}

const char* kTimmWeights = "timm_vit_f32/model.safetensors";
const char* kTimmInput = "timm_vit_f32/input_4x4.npy";
const char* kTimmExpected = "timm_vit_f32/expected_4x4.npz";

}  // namespace

// patchlens-cli forward end to end: the .npz keys, shapes and values against the PyTorch
// fixtures, --layer, --attention, exit codes and atomic output.
class TestForward : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void npzHoldsEveryLayer_data();
  void npzHoldsEveryLayer();
  void layerWritesOneArray_data();
  void layerWritesOneArray();
  void imageInputRunsThePipeline();
  void badRequestsExitTwo_data();
  void badRequestsExitTwo();
  void unfitRequestsExitOneAndLeaveNoFile_data();
  void unfitRequestsExitOneAndLeaveNoFile();
  void failureKeepsAnExistingOutput();
  void outputBudgetRefusesBeforeWork();
  void infoDescribesTheTransformer();
  void embedWarnsWhenTheEncoderIsRefused();

 private:
  QTemporaryDir m_dir;
};

void TestForward::npzHoldsEveryLayer_data() {
  QTest::addColumn<bool>("attention");
  QTest::newRow("tokens only") << false;
  QTest::newRow("with --attention") << true;
}

void TestForward::npzHoldsEveryLayer() {
  QFETCH(bool, attention);
  const QString target = m_dir.filePath(attention ? "all.npz" : "tokens.npz");
  QStringList args{"forward", "--tensor", fixture(kTimmInput), "--weights", fixture(kTimmWeights),
                   "-o",      target};
  if (attention) args << "--attention";
  const CliResult r = runCli(args);
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.startsWith("wrote " + target), qPrintable(r.out));
  QCOMPARE(r.err, QString());

  const NpzArchive got(target.toStdString());
  const NpzArchive expected(fixture(kTimmExpected).toStdString());
  std::vector<std::string> names;
  for (const TensorInfo& t : got.tensors()) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  std::vector<std::string> want{"final",    "patch_embedding", "tokens_0",
                                "tokens_1", "tokens_2",        "tokens_3"};
  if (attention) want.insert(want.begin(), {"attention_1", "attention_2", "attention_3"});
  QCOMPARE(names, want);
  for (const std::string& name : names) {
    const NpyArray a = got.read(name);
    const NpyArray e = expected.read(name);
    QCOMPARE(a.shape, e.shape);
    const double err = relativeError(a, e);
    QVERIFY2(err <= 1e-4, qPrintable(QString("%1: %2").arg(QString::fromStdString(name)).arg(err)));
  }
  QCOMPARE(got.find("tokens_0")->shape, (std::vector<std::int64_t>{17, 48}));
  QCOMPARE(got.find("patch_embedding")->shape, (std::vector<std::int64_t>{16, 48}));
  if (attention) QCOMPARE(got.find("attention_2")->shape, (std::vector<std::int64_t>{3, 17, 17}));
}

void TestForward::layerWritesOneArray_data() {
  QTest::addColumn<QString>("layer");
  QTest::addColumn<QString>("key");
  QTest::newRow("input to block 1") << "0"
                                    << "tokens_0";
  QTest::newRow("block 2") << "2"
                           << "tokens_2";
  QTest::newRow("final") << "final"
                         << "final";
}

void TestForward::layerWritesOneArray() {
  QFETCH(QString, layer);
  QFETCH(QString, key);
  const QString target = m_dir.filePath("layer-" + layer + ".npy");
  const CliResult r = runCli({"forward", "--tensor", fixture(kTimmInput), "--weights",
                              fixture(kTimmWeights), "-o", target, "--layer", layer});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  const NpyArray a = readNpy(target.toStdString());
  const NpyArray e = NpzArchive(fixture(kTimmExpected).toStdString()).read(key.toStdString());
  QCOMPARE(a.shape, (std::vector<std::int64_t>{17, 48}));
  QVERIFY(relativeError(a, e) <= 1e-4);
}

void TestForward::imageInputRunsThePipeline() {
  // An image through the CLI's preprocessing; the 4 x 4 grid the HF model was trained on.
  const QString target = m_dir.filePath("image.npz");
  const CliResult r =
      runCli({"forward", test::data("chelsea.png"), "--weights",
              fixture("hf_vit_f32/model.safetensors"), "--img-size", "64", "-o", target});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("HF ViTModel, 4 x 4 grid + 1 prefix token, 4 heads"), qPrintable(r.out));
  const NpzArchive got(target.toStdString());
  QCOMPARE(got.find("final")->shape, (std::vector<std::int64_t>{17, 32}));
  QCOMPARE(got.find("tokens_3")->shape, (std::vector<std::int64_t>{17, 32}));
}

void TestForward::badRequestsExitTwo_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("reason");
  const QString w = fixture(kTimmWeights);
  const QString x = fixture(kTimmInput);
  QTest::newRow("no output") << QStringList{"forward", "--tensor", x, "--weights", w} << "-o";
  QTest::newRow("npy without --layer")
      << QStringList{"forward", "--tensor", x, "--weights", w, "-o", "x.npy"} << "OUT.npz";
  QTest::newRow("--layer to npz") << QStringList{"forward", "--tensor", x,         "--weights", w,
                                                 "-o",      "x.npz",    "--layer", "1"}
                                  << "OUT.npy";
  QTest::newRow("--layer with --attention")
      << QStringList{"forward", "--tensor", x,         "--weights", w,
                     "-o",      "x.npy",    "--layer", "1",         "--attention"}
      << "--attention";
  QTest::newRow("layer past depth")
      << QStringList{"forward", "--tensor", x, "--weights", w, "-o", "x.npy", "--layer", "4"}
      << "0..3 or 'final'";
  QTest::newRow("initializer weights")
      << QStringList{"forward", "--tensor", x, "-o", "x.npz"} << "--weights FILE";
  QTest::newRow("zero heads") << QStringList{"forward", "--tensor", x,         "--weights", w,
                                             "-o",      "x.npz",    "--heads", "0"}
                              << "--heads";
  QTest::newRow("two inputs") << QStringList{"forward",   x, "--tensor", x,
                                             "--weights", w, "-o",       "x.npz"}
                              << "exactly one";
}

void TestForward::badRequestsExitTwo() {
  QFETCH(QStringList, args);
  QFETCH(QString, reason);
  const CliResult r = runCli(args);
  QCOMPARE(r.exitCode, 2);
  QVERIFY2(r.err.startsWith("patchlens-cli: usage: "), qPrintable(r.err));
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QCOMPARE(r.out, QString());
}

void TestForward::unfitRequestsExitOneAndLeaveNoFile_data() {
  QTest::addColumn<QString>("weights");
  QTest::addColumn<QString>("input");
  QTest::addColumn<QString>("reason");
  QTest::newRow("patch embedding only")
      << QString::fromStdString(test::dataPath("weights/openai_clip_f32.safetensors"))
      << fixture(kTimmInput) << "only a patch embedding";
  QTest::newRow("missing block tensor")
      << fixture("bad/missing_fc1.safetensors") << fixture(kTimmInput)
      << "tensor 'blocks.1.mlp.fc1.weight' is missing";
  QTest::newRow("unknown tensor")
      << fixture("unknown/timm_clip_f32.safetensors") << fixture("timm_clip_f32/input_5x5.npy")
      << "tensor 'blocks.1.attn.q_norm.weight' is not understood by the timm ViT/DeiT/DINOv2 "
         "reader";
  QTest::newRow("DINOv3 lookalike")
      << fixture("unknown/timm_dinov2_reg4_f16.safetensors")
      << fixture("timm_dinov2_reg4_f16/input_4x4.npy") << "looks like a Meta DINOv3 checkpoint";
  QTest::newRow("NaFlex Linear patch embedding")
      << fixture("unknown/naflex_linear_patch.safetensors") << fixture(kTimmInput)
      << "patch_embed.proj.weight";
  QTest::newRow("grid SigLIP cannot resample")
      << fixture("hf_siglip_f32/model.safetensors") << fixture("timm_vit_f32/input_3x5.npy")
      << "cannot resample its position embedding";
  QTest::newRow("heads unknown") << fixture("timm_deit_bf16/model.safetensors")
                                 << fixture(kTimmInput) << "pass --heads N";
}

void TestForward::unfitRequestsExitOneAndLeaveNoFile() {
  QFETCH(QString, weights);
  QFETCH(QString, input);
  QFETCH(QString, reason);
  const QTemporaryDir dir(m_dir.filePath("unfit-XXXXXX"));
  const QString target = dir.filePath("never.npz");
  const CliResult r =
      runCli({"forward", "--tensor", input, "--weights", weights, "-o", target, "--attention"});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.startsWith("patchlens-cli: error: "), qPrintable(r.err));
  QVERIFY2(r.err.contains(reason), qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  QCOMPARE(filesIn(dir.path()), QStringList());
}

// Everything asked is sized from the input's grid up front: at 512 x 512 (1025 tokens, width
// 48, 3 blocks of 3 heads) the tokens take 1.2 MB (the patch matrix 3 MiB) and --attention
// 36 MiB more.
void TestForward::outputBudgetRefusesBeforeWork() {
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  const QString target = m_dir.filePath("budget.npz");
  const QStringList common{"forward", image, "--weights", fixture(kTimmWeights), "--img-size",
                           "512",     "-o",  target,      "--max-output-mb",     "8"};
  const CliResult refused = runCli(common + QStringList{"--attention"});
  QCOMPARE(refused.exitCode, 1);
  QVERIFY2(refused.err.contains("forward would write") && refused.err.contains("1025 tokens") &&
               refused.err.contains("--max-output-mb"),
           qPrintable(refused.err));
  QCOMPARE(refused.err.count('\n'), 1);
  QVERIFY(!QFileInfo::exists(target));
  const CliResult fits = runCli(common);
  QVERIFY2(fits.exitCode == 0, qPrintable(fits.err));
  QVERIFY(QFileInfo::exists(target));
}

void TestForward::failureKeepsAnExistingOutput() {
  const QTemporaryDir dir(m_dir.filePath("keep-XXXXXX"));
  const QString target = dir.filePath("keep.npz");
  {
    QFile f(target);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("precious");
  }
  // Fails after the temporary .npz has been opened (the grid is refused in the forward).
  const CliResult r =
      runCli({"forward", "--tensor", fixture("timm_vit_f32/input_3x5.npy"), "--weights",
              fixture("hf_siglip_f32/model.safetensors"), "-o", target, "--attention"});
  QCOMPARE(r.exitCode, 1);
  QFile f(target);
  QVERIFY(f.open(QIODevice::ReadOnly));
  QCOMPARE(f.readAll(), QByteArray("precious"));
  QCOMPARE(filesIn(dir.path()), QStringList{"keep.npz"});
}

void TestForward::infoDescribesTheTransformer() {
  CliResult r = runCli({"info", fixture("hf_dinov2_reg2_bf16/model.safetensors")});
  QCOMPARE(r.exitCode, 0);
  QVERIFY2(r.out.contains("transformer: HF Dinov2Model (2 registers), depth 2, 3 heads "
                          "(config.json num_attention_heads), width 48, MLP width 96"),
           qPrintable(r.out));
  QVERIFY2(r.out.contains("tokens: cls, reg 1, reg 2 (3 prefix)"), qPrintable(r.out));
  r = runCli({"info", fixture("timm_vit_f32/model.safetensors")});
  QCOMPARE(r.exitCode, 0);
  QVERIFY2(r.out.contains("unused by the encoder: head.weight (classifier head)\n"),
           qPrintable(r.out));
  QVERIFY2(r.out.contains("position embedding: absolute learned, 4 x 4 grid"), qPrintable(r.out));
  r = runCli({"info", fixture("hf_siglip_f32/model.safetensors")});
  QVERIFY2(r.out.contains("tokens: no prefix tokens"), qPrintable(r.out));
  r = runCli({"info", fixture("unknown/timm_vit_f32.safetensors")});
  QCOMPARE(r.exitCode, 0);  // info describes what it can, and says why the encoder is refused
  QVERIFY2(r.out.contains("transformer: not usable: tensor "
                          "'blocks.0.attn.relative_position_bias_table' is not understood"),
           qPrintable(r.out));
  r = runCli(
      {"info", QString::fromStdString(test::dataPath("weights/openai_clip_f32.safetensors"))});
  QCOMPARE(r.exitCode, 0);
  QVERIFY2(r.out.contains("transformer: none, only a patch embedding"), qPrintable(r.out));
}

// embed needs only the conv patch embedding, which is exact whatever follows it: it writes the
// embedding and warns (stderr) that the encoder is refused and why.
void TestForward::embedWarnsWhenTheEncoderIsRefused() {
  const QString target = m_dir.filePath("dinov3_like.npy");
  CliResult r =
      runCli({"embed", "--tensor", fixture("timm_dinov2_reg4_f16/input_4x4.npy"), "--weights",
              fixture("unknown/timm_dinov2_reg4_f16.safetensors"), "-o", target});
  QCOMPARE(r.exitCode, 0);
  QVERIFY2(r.err.startsWith("patchlens-cli: warning: "), qPrintable(r.err));
  QVERIFY2(r.err.contains("the encoder is refused (tensor 'storage_tokens' is not understood"),
           qPrintable(r.err));
  QCOMPARE(r.err.count('\n'), 1);
  const NpyArray written = readNpy(target.toStdString());
  const NpzArchive ref(fixture("timm_dinov2_reg4_f16/expected_4x4.npz").toStdString());
  QVERIFY(relativeError(written, ref.read("patch_embedding")) <= 1e-5);
  // The same file's own fixture, without the DINOv3 tensor: no warning.
  r = runCli({"embed", "--tensor", fixture("timm_dinov2_reg4_f16/input_4x4.npy"), "--weights",
              fixture("timm_dinov2_reg4_f16/model.safetensors"), "-o", target});
  QCOMPARE(r.exitCode, 0);
  QCOMPARE(r.err, QString());
  // A Linear patch embedding (NaFlex) is not a conv: embed refuses it, nothing reshaped.
  const QString never = m_dir.filePath("naflex.npy");
  r = runCli({"embed", "--tensor", fixture(kTimmInput), "--weights",
              fixture("unknown/naflex_linear_patch.safetensors"), "-o", never});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("patch_embed.proj.weight"), qPrintable(r.err));
  QVERIFY(!QFile::exists(never));
}

QTEST_GUILESS_MAIN(TestForward)
#include "tst_forward.moc"
