#include <QtTest>
#include <filesystem>

#include "core/io/error.h"
#include "core/io/file_bytes.h"
#include "core/weights/tensor_source_factory.h"
#include "core/weights/torch_checkpoint.h"
#include "core/weights/weight_loader.h"
#include "tests/core/checkpoint_fixture.h"

using namespace patchlens;

namespace {

// Where the hostile fixtures' payloads would leave a file if anything ever ran them
// (tests/reference/checkpoint_fixtures.py, PAYLOAD_FILE).
const char* const kPayloadFile = "/tmp/patchlens-pickle-payload-ran";

}  // namespace

// torch.save (zip and legacy) and torch.jit.save checkpoints written by Debian's torch
// (tests/data/checkpoints), against torch's own tensors and conv2d.
class TestTorchCheckpoint : public QObject {
  Q_OBJECT

 private slots:
  void embeddingMatchesTorch_data();
  void embeddingMatchesTorch();
  void everyTensorEqualsTorch_data();
  void everyTensorEqualsTorch();
  void inspectNamesFormatAndSubDict_data();
  void inspectNamesFormatAndSubDict();
  void torchScriptNamesAreFlattened();
  void integerTensorsAreListedButNotRead();
  void parsesFromMemory();
  void hostilePayloadNeverRuns_data();
  void hostilePayloadNeverRuns();
};

void TestTorchCheckpoint::embeddingMatchesTorch_data() {
  test::addCheckpointRows({"pytorch", "torchscript"});
}

void TestTorchCheckpoint::embeddingMatchesTorch() {
  QFETCH(QString, file);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(QString, family);
  test::checkEmbeddingMatchesTorch(file.toStdString(), input.toStdString(), expected.toStdString(),
                                   family.toStdString());
}

void TestTorchCheckpoint::everyTensorEqualsTorch_data() {
  test::addCheckpointRows({"pytorch", "torchscript"});
}

void TestTorchCheckpoint::everyTensorEqualsTorch() {
  QFETCH(QString, file);
  QFETCH(int, floatTensors);
  QFETCH(QString, tensorsNpz);
  const TorchCheckpoint ckpt(test::checkpointPath(file.toStdString()));
  test::checkEveryTensor(ckpt, tensorsNpz.toStdString(), floatTensors);
}

void TestTorchCheckpoint::inspectNamesFormatAndSubDict_data() {
  test::addCheckpointRows({"pytorch", "torchscript"});
}

void TestTorchCheckpoint::inspectNamesFormatAndSubDict() {
  QFETCH(QString, file);
  QFETCH(QString, format);
  QFETCH(QString, stateDictKey);
  QFETCH(int, floatTensors);
  const std::string path = test::checkpointPath(file.toStdString());
  const WeightFileInfo info = inspectWeightFile(path);
  QCOMPARE(QString::fromStdString(info.format), format);
  QVERIFY2(info.usable, info.usage.c_str());
  QVERIFY(static_cast<int>(info.tensors.size()) >= floatTensors);
  const std::string subDict = stateDictKey.isEmpty()
                                  ? "state dict: the top-level object"
                                  : "state dict: the nested '" + stateDictKey.toStdString() + "'";
  bool said = false;
  for (const std::string& d : info.details) said |= d.find(subDict) != std::string::npos;
  QVERIFY2(said, subDict.c_str());
  const TorchCheckpoint ckpt(path);
  QCOMPARE(QString::fromStdString(ckpt.stateDictKey()), stateDictKey);
}

void TestTorchCheckpoint::torchScriptNamesAreFlattened() {
  const TorchCheckpoint ckpt(test::checkpointPath("clip_jit.pt"));
  QCOMPARE(QString::fromStdString(ckpt.format()), QStringLiteral("torchscript"));
  std::vector<std::string> names;
  for (const TensorInfo& t : ckpt.tensors()) names.push_back(t.name);
  const std::vector<std::string> expected = {
      "logit_scale",         "visual.class_embedding", "visual.positional_embedding",
      "visual.conv1.weight", "visual.ln_pre.weight",   "visual.ln_pre.bias"};
  QCOMPARE(names, expected);
  QCOMPARE(ckpt.find("visual.conv1.weight")->shape, (std::vector<std::int64_t>{8, 3, 4, 4}));
  QCOMPARE(ckpt.find("logit_scale")->shape, std::vector<std::int64_t>{});
}

void TestTorchCheckpoint::integerTensorsAreListedButNotRead() {
  const std::string path = test::checkpointPath("timm_zip.pth");
  const TorchCheckpoint ckpt(path);
  const TensorInfo* step = ckpt.find("blocks.0.step");
  QVERIFY(step);
  QCOMPARE(QString::fromStdString(step->dtype), QStringLiteral("I64"));
  try {
    (void)ckpt.read("blocks.0.step");
    QFAIL("an int64 tensor was read as float");
  } catch (const Error& e) {
    QCOMPARE(e.file(), path);
    QVERIFY2(e.reason().find("is I64, not a float tensor") != std::string::npos,
             e.reason().c_str());
  }
}

void TestTorchCheckpoint::parsesFromMemory() {
  for (const char* file : {"timm_zip.pth", "timm_legacy.pth"}) {
    const auto bytes = readFileBytes(test::checkpointPath(file), 1 << 20);
    const TorchCheckpoint ckpt(bytes, "memory");
    QCOMPARE(ckpt.tensors().size(), std::size_t{7});
    QCOMPARE(ckpt.read("patch_embed.proj.weight").data.size(), std::size_t{8 * 3 * 4 * 4});
  }
}

void TestTorchCheckpoint::hostilePayloadNeverRuns_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("global");
  QTest::newRow("os.system") << "pt_global_os_system.pth"
                             << "os.system";
  QTest::newRow("builtins.open") << "pt_creates_file.pth"
                                 << "builtins.open";
  QTest::newRow("zip __reduce__") << "pt_zip_reduce_payload.pth"
                                  << "posix.system";
  QTest::newRow("legacy __reduce__") << "pt_legacy_reduce_payload.pth"
                                     << "posix.system";
  QTest::newRow("subprocess") << "pt_subprocess_popen.pt"
                              << "subprocess.Popen";
}

// A payload that would create a file is refused by name and the file never appears.
void TestTorchCheckpoint::hostilePayloadNeverRuns() {
  QFETCH(QString, file);
  QFETCH(QString, global);
  std::filesystem::remove(kPayloadFile);
  const std::string path = test::dataPath("bad/weights/" + file.toStdString());
  try {
    const auto source = openTensorSource(path);
    QFAIL("a hostile pickle was opened");
  } catch (const Error& e) {
    QCOMPARE(e.file(), path);
    QVERIFY2(e.reason().find("forbidden global " + global.toStdString()) != std::string::npos,
             e.reason().c_str());
  }
  QVERIFY2(!std::filesystem::exists(kPayloadFile), "the payload ran");
}

QTEST_GUILESS_MAIN(TestTorchCheckpoint)
#include "tst_torch_checkpoint.moc"
