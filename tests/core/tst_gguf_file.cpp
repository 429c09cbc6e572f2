#include <QtTest>
#include <cstring>

#include "core/io/error.h"
#include "core/weights/gguf_file.h"
#include "tests/core/checkpoint_fixture.h"

using namespace patchlens;

namespace {

// A GGUF v3 built here byte by byte: no metadata, one tensor, data at the next 32-byte boundary.
class GgufBuilder {
 public:
  GgufBuilder(const std::string& name, const std::vector<std::uint64_t>& ne, std::uint32_t type) {
    raw("GGUF", 4);
    u32(3);
    u64(1);
    u64(0);
    u64(name.size());
    raw(name.data(), name.size());
    u32(static_cast<std::uint32_t>(ne.size()));
    for (std::uint64_t n : ne) u64(n);
    u32(type);
    u64(0);
    while (m_bytes.size() % 32) m_bytes.push_back(0);
  }
  void raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    // push_back, not insert(): GCC 12 warns falsely (-Wstringop-overflow) on the insert.
    for (std::size_t i = 0; i < n; ++i) m_bytes.push_back(b[i]);
  }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void f32(float v) { raw(&v, 4); }
  const std::vector<std::uint8_t>& bytes() const { return m_bytes; }

 private:
  std::vector<std::uint8_t> m_bytes;
};

}  // namespace

// GGUF (llama.cpp) files from tests/reference/checkpoint_writers.py and built by hand.
class TestGgufFile : public QObject {
  Q_OBJECT

 private slots:
  void embeddingMatchesTorch_data();
  void embeddingMatchesTorch();
  void everyTensorEqualsWhatWasWritten_data();
  void everyTensorEqualsWhatWasWritten();
  void dimsAreReversedToCOrder();
  void q8BlocksDequantise();
  void metadataAccessors();
  void detailsListMetadata();
  void quantisationsAreRefusedByName();
};

void TestGgufFile::embeddingMatchesTorch_data() {
  test::addCheckpointRows({"gguf"});
}

void TestGgufFile::embeddingMatchesTorch() {
  QFETCH(QString, file);
  QFETCH(QString, input);
  QFETCH(QString, expected);
  QFETCH(QString, family);
  test::checkEmbeddingMatchesTorch(file.toStdString(), input.toStdString(), expected.toStdString(),
                                   family.toStdString());
}

void TestGgufFile::everyTensorEqualsWhatWasWritten_data() {
  test::addCheckpointRows({"gguf"});
}

void TestGgufFile::everyTensorEqualsWhatWasWritten() {
  QFETCH(QString, file);
  QFETCH(QString, format);
  QFETCH(int, floatTensors);
  QFETCH(QString, tensorsNpz);
  const GgufFile gguf(test::checkpointPath(file.toStdString()));
  QCOMPARE(QString::fromStdString(gguf.format()), format);
  QCOMPARE(static_cast<int>(gguf.tensors().size()), floatTensors);
  test::checkEveryTensor(gguf, tensorsNpz.toStdString(), floatTensors);
}

// ne = [2, 3] (fastest first) is the C-order shape [3, 2]; the data is already in that order.
void TestGgufFile::dimsAreReversedToCOrder() {
  GgufBuilder b("w", {2, 3}, 0);
  for (int i = 0; i < 6; ++i) b.f32(static_cast<float>(i));
  const GgufFile g(b.bytes(), "hand.gguf");
  QCOMPARE(g.tensors().front().shape, (std::vector<std::int64_t>{3, 2}));
  const NpyArray a = g.read("w");
  QCOMPARE(a.data, (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

// One Q8_0 block: f16 scale 0.5 (0x3800), quants -128, -1, 0, 1, ..., 127 -> scale * q.
void TestGgufFile::q8BlocksDequantise() {
  GgufBuilder b("q", {32}, 8);
  const std::uint16_t scale = 0x3800;
  b.raw(&scale, 2);
  const std::int8_t quants[32] = {-128, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,
                                  9,    10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                  20,   21, 22, 23, 24, 25, 26, 27, 28, 127};
  b.raw(quants, 32);
  const GgufFile g(b.bytes(), "q8.gguf");
  QCOMPARE(QString::fromStdString(g.tensors().front().dtype), QStringLiteral("Q8_0"));
  const NpyArray a = g.read("q");
  QCOMPARE(a.data.size(), std::size_t{32});
  QCOMPARE(a.data[0], -64.0f);
  QCOMPARE(a.data[1], -0.5f);
  QCOMPARE(a.data[2], 0.0f);
  QCOMPARE(a.data[3], 0.5f);
  QCOMPARE(a.data[31], 63.5f);
}

void TestGgufFile::metadataAccessors() {
  const GgufFile g(test::checkpointPath("mmproj_f32.gguf"));
  QCOMPARE(g.alignment(), 32u);
  QCOMPARE(g.metaString("general.architecture").value_or(""), std::string("clip"));
  QCOMPARE(g.metaNumber("clip.vision.image_size").value_or(0), 16.0);
  QCOMPARE(g.metaNumber("clip.vision.patch_size").value_or(0), 4.0);
  QCOMPARE(g.metaNumber("clip.vision.attention.head_count").value_or(0), 2.0);
  QCOMPARE(g.metaNumber("clip.has_vision_encoder").value_or(0), 1.0);
  QVERIFY(std::abs(g.metaNumber("clip.vision.attention.layer_norm_epsilon").value_or(0) - 1e-5) <
          1e-9);
  const auto mean = g.metaNumbers("clip.vision.image_mean");
  QVERIFY(mean);
  QCOMPARE(mean->size(), std::size_t{3});
  QVERIFY(std::abs((*mean)[0] - 0.48145466) < 1e-7);
  QVERIFY(!g.metaString("clip.vision.image_size"));
  QVERIFY(!g.metaNumber("no.such.key"));
  QVERIFY(!g.metaNumbers("general.architecture"));
}

void TestGgufFile::detailsListMetadata() {
  const GgufFile g(test::checkpointPath("mmproj_f16_v2.gguf"));
  QCOMPARE(QString::fromStdString(g.format()), QStringLiteral("gguf v2"));
  const auto lines = g.details();
  const auto has = [&](const std::string& s) {
    for (const std::string& l : lines) {
      if (l.find(s) != std::string::npos) return true;
    }
    return false;
  };
  QVERIFY(has("clip.vision.patch_size = 4"));
  QVERIFY(has("general.architecture = 'clip'"));
  // float32(0.26862954) = 0.26862955..., printed with 7 significant digits.
  QVERIFY(has("clip.vision.image_std = [0.2686296, 0.2613026, 0.2757771]"));
}

void TestGgufFile::quantisationsAreRefusedByName() {
  GgufBuilder b("k", {256}, 12);  // Q4_K: one 144-byte block
  std::vector<std::uint8_t> block(144, 0);
  b.raw(block.data(), block.size());
  const GgufFile g(b.bytes(), "q4k.gguf");
  QCOMPARE(QString::fromStdString(g.tensors().front().dtype), QStringLiteral("Q4_K"));
  try {
    (void)g.read("k");
    QFAIL("Q4_K was read");
  } catch (const Error& e) {
    QCOMPARE(QString::fromStdString(e.file()), QStringLiteral("q4k.gguf"));
    QVERIFY2(e.reason().find("Q4_K, which PatchLens does not dequantise") != std::string::npos,
             e.reason().c_str());
  }
}

QTEST_GUILESS_MAIN(TestGgufFile)
#include "tst_gguf_file.moc"
