#include <QtTest>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/model/qkv_features.h"
#include "core/model/resource_plan.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/cli_process.h"
#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

struct QkvCase {
  std::string name, weights, input, qkv, expected;
  int heads = 0, depth = 0;
};

// tests/data/qkv/cases.tsv (tests/reference/qkv_fixtures.py).
std::vector<QkvCase> cases() {
  std::ifstream in(test::dataPath("qkv/cases.tsv"));
  std::vector<QkvCase> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    QkvCase c;
    std::string heads, depth;
    std::getline(s, c.name, '\t');
    std::getline(s, c.weights, '\t');
    std::getline(s, c.input, '\t');
    std::getline(s, c.qkv, '\t');
    std::getline(s, c.expected, '\t');
    std::getline(s, heads, '\t');
    std::getline(s, depth, '\t');
    c.heads = std::stoi(heads);
    c.depth = std::stoi(depth);
    out.push_back(c);
  }
  return out;
}

// `name` of gotNpz against the PyTorch reference: same shape, within 1e-4 x max|ref| (the
// forward suites' tolerance), and not trivially small.
void compareArray(const NpzArchive& got, const NpzArchive& ref, const std::string& name) {
  const NpyArray a = got.read(name);
  const NpyArray e = ref.read(name);
  QCOMPARE(a.shape, e.shape);
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < e.data.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a.data[i] - e.data[i])));
    scale = std::max(scale, static_cast<double>(std::abs(e.data[i])));
  }
  QVERIFY2(scale > 0.1, qPrintable(QString::fromStdString(name) + " is trivially small"));
  QVERIFY2(worst <= 1e-4 * scale, qPrintable(QString("%1: max error %2 x max|ref|")
                                                 .arg(QString::fromStdString(name))
                                                 .arg(worst / scale)));
}

QStringList memberNames(const std::string& npz) {
  QStringList names;
  const NpzArchive archive(npz);
  for (const TensorInfo& t : archive.tensors()) names << QString::fromStdString(t.name);
  names.sort();
  return names;
}

}  // namespace

// patchlens-cli forward --qkv (issue 21): q_L, k_L, v_L [H, T, dh] as they enter the softmax
// (after RoPE, before the 1/sqrt(dh) scale) against PyTorch's own modules (timm ViT with
// registers, timm EVA-02 and Meta DINOv3 with RoPE, timm BEiT), through both attention paths;
// --layer L writes that block's alone; the output plan counts them before any work.
class TestForwardQkv : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }
  void qkvMatchesPytorch_data();
  void qkvMatchesPytorch();
  void layerWritesOneBlock();
  void usageErrors();
  void outputPlanCountsQkv();
  void featuresConcatenateHeads();
  void exportSourceTitlesAndRefusals();

 private:
  QTemporaryDir m_dir;
};

void TestForwardQkv::qkvMatchesPytorch_data() {
  QTest::addColumn<int>("index");
  QTest::addColumn<bool>("attention");
  const std::vector<QkvCase> all = cases();
  QCOMPARE(static_cast<int>(all.size()), 4);
  for (std::size_t i = 0; i < all.size(); ++i) {
    // --attention: the observed path ([T x T] softmax); without: the blocked kernel.
    QTest::newRow((all[i].name + " full attention").c_str()) << static_cast<int>(i) << true;
    QTest::newRow((all[i].name + " blocked attention").c_str()) << static_cast<int>(i) << false;
  }
}

void TestForwardQkv::qkvMatchesPytorch() {
  QFETCH(int, index);
  QFETCH(bool, attention);
  const QkvCase c = cases()[static_cast<std::size_t>(index)];
  const QString target =
      m_dir.filePath(QString::fromStdString(c.name) + (attention ? "_full.npz" : "_blocked.npz"));
  QStringList args{"forward",
                   "--tensor",
                   QString::fromStdString(test::dataPath(c.input)),
                   "--weights",
                   QString::fromStdString(test::dataPath(c.weights)),
                   "-o",
                   target,
                   "--qkv"};
  if (attention) args << "--attention";
  const test::CliResult r = test::runCli(args);
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QVERIFY2(r.out.contains("q_L, k_L, v_L"), qPrintable(r.out));
  const NpzArchive got(target.toStdString());
  const NpzArchive ref(test::dataPath(c.qkv));
  const NpzArchive tokens(test::dataPath(c.expected));
  for (int l = 1; l <= c.depth; ++l) {
    for (const char* p : {"q_", "k_", "v_"}) {
      const std::string name = p + std::to_string(l);
      compareArray(got, ref, name);
      QCOMPARE(got.read(name).shape[0], static_cast<std::int64_t>(c.heads));
    }
    compareArray(got, tokens, "tokens_" + std::to_string(l));  // the forward is unchanged
  }
}

void TestForwardQkv::layerWritesOneBlock() {
  const QkvCase c = cases()[2];  // DINOv3: RoPE on the patches, 4 storage tokens unrotated
  QCOMPARE(QString::fromStdString(c.name), QString("dinov3"));
  const QString target = m_dir.filePath("layer2.npz");
  const test::CliResult r = test::runCli(
      {"forward", "--tensor", QString::fromStdString(test::dataPath(c.input)), "--weights",
       QString::fromStdString(test::dataPath(c.weights)), "-o", target, "--qkv", "--layer", "2"});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QCOMPARE(memberNames(target.toStdString()), QStringList({"k_2", "q_2", "tokens_2", "v_2"}));
  const NpzArchive got(target.toStdString());
  const NpzArchive ref(test::dataPath(c.qkv));
  for (const char* name : {"q_2", "k_2", "v_2"}) compareArray(got, ref, name);
  compareArray(got, NpzArchive(test::dataPath(c.expected)), "tokens_2");
}

void TestForwardQkv::usageErrors() {
  const QkvCase c = cases()[0];
  const QStringList base{"forward",
                         "--tensor",
                         QString::fromStdString(test::dataPath(c.input)),
                         "--weights",
                         QString::fromStdString(test::dataPath(c.weights)),
                         "--qkv"};
  struct Bad {
    QStringList extra;
    const char* says;
  };
  const Bad bads[] = {
      {{"-o", m_dir.filePath("x.npy"), "--layer", "1"}, "-o OUT.npz"},
      {{"-o", m_dir.filePath("x.npz"), "--layer", "0"}, "1..depth"},
      {{"-o", m_dir.filePath("x.npz"), "--layer", "final"}, "1..depth"},
  };
  for (const Bad& b : bads) {
    const test::CliResult r = test::runCli(base + b.extra);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains(b.says), qPrintable(r.err));
    QVERIFY(!QFile::exists(m_dir.filePath("x.npz")));
  }
}

// A 100 x 100 grid of the timm case: T = 10005 (cls, 4 registers, 10^4 patches), D = 32, 2
// blocks. The .npz alone is 4 T D + N D floats = 6.1 MiB; q, k, v add 3 x 2 x T x D floats =
// 7.3 MiB: 13.4 MiB in all, so --max-output-mb 10 refuses it before any work, naming the bytes
// and --qkv --layer L.
void TestForwardQkv::outputPlanCountsQkv() {
  const QkvCase c = cases()[0];
  const std::string big = m_dir.filePath("big.npy").toStdString();
  std::vector<float> pixels(std::size_t{3} * 1400 * 1400, 0.25f);
  writeNpy(big, {3, 1400, 1400}, pixels.data());
  QElapsedTimer timer;
  timer.start();
  const test::CliResult r =
      test::runCli({"forward", "--tensor", QString::fromStdString(big), "--weights",
                    QString::fromStdString(test::dataPath(c.weights)), "-o",
                    m_dir.filePath("big.npz"), "--qkv", "--max-output-mb", "10"});
  QCOMPARE(r.exitCode, 1);
  QVERIFY2(r.err.contains("would write 14 MiB (10005 tokens)"), qPrintable(r.err));
  QVERIFY2(r.err.contains("--qkv --layer L"), qPrintable(r.err));
  QVERIFY(!QFile::exists(m_dir.filePath("big.npz")));
  TransformerConfig config;
  config.embedDim = 32;
  QCOMPARE(qkvBytes(config, 10005, 2), 3.0 * 2 * 10005 * 32 * 4);
}

// The GUI's [T, D] source: q, k or v of every head side by side, head h in columns h*dh.. (a
// hand-built qkv: T = 2, D = 4, 2 heads).
void TestForwardQkv::featuresConcatenateHeads() {
  RowMatrixF qkv(2, 12);
  for (Eigen::Index r = 0; r < 2; ++r)
    for (Eigen::Index col = 0; col < 12; ++col) qkv(r, col) = float(100 * r + col);
  const RowMatrixF keys = qkvFeatures(qkv, TokenSource::Keys);
  QCOMPARE(keys.rows(), Eigen::Index{2});
  QCOMPARE(keys.cols(), Eigen::Index{4});
  QCOMPARE(keys(1, 0), 104.0f);
  QCOMPARE(keys(1, 3), 107.0f);
  const RowMatrixF values = qkvHeads(qkv, TokenSource::Values, 2);  // [2 heads * 2 tokens, 2]
  QCOMPARE(values.rows(), Eigen::Index{4});
  QCOMPARE(values(1, 0), 108.0f);  // head 0, token 1
  QCOMPARE(values(2, 1), 11.0f);   // head 1, token 0, second dim
  QCOMPARE(parseTokenSource("keys"), std::optional<TokenSource>(TokenSource::Keys));
  QVERIFY(!parseTokenSource("key-ish"));
}

// export --source: a token figure of block 2's values names them in its title (SVG <title>);
// away from a block, or on a figure not drawn from tokens, exit 2 naming why.
void TestForwardQkv::exportSourceTitlesAndRefusals() {
  const QString weights =
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"));
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  const QString svg = m_dir.filePath("values.svg");
  const test::CliResult r =
      test::runCli({"export", image, "--weights", weights, "--plot", "channel:3", "--layer", "2",
                    "--source", "values", "-o", svg});
  QVERIFY2(r.exitCode == 0, qPrintable(r.err));
  QFile file(svg);
  QVERIFY(file.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(file.readAll());
  QVERIFY2(text.contains("<title>Channel 3 over the image, Values, block 2"),
           qPrintable(text.left(600)));
  struct Bad {
    QStringList args;
    const char* says;
  };
  const Bad bads[] = {
      {{"--plot", "pca", "--layer", "final", "--source", "keys"}, "belong to a block"},
      {{"--plot", "pca", "--source", "keys"}, "belong to a block"},
      {{"--plot", "rollout", "--layer", "2", "--source", "keys"}, "token figures"},
      {{"--plot", "pca", "--layer", "2", "--source", "kees"}, "tokens, queries, keys or values"},
  };
  for (const Bad& b : bads) {
    const test::CliResult bad = test::runCli(QStringList{"export", image, "--weights", weights} +
                                             b.args + QStringList{"-o", m_dir.filePath("x.png")});
    QCOMPARE(bad.exitCode, 2);
    QVERIFY2(bad.err.contains(b.says), qPrintable(bad.err));
  }
}

QTEST_GUILESS_MAIN(TestForwardQkv)
#include "tst_forward_qkv.moc"
