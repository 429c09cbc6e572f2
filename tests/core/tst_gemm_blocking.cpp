#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <string>

#include "core/model/cpu_caches.h"
#include "core/model/gemm_blocking.h"
#include "core/model/packed_gemm.h"

using namespace patchlens;

namespace {

void writeIndex(const QString& dir, int index, const std::string& level, const std::string& type,
                const std::string& size) {
  const std::string path = dir.toStdString() + "/index" + std::to_string(index);
  QVERIFY(QDir().mkpath(QString::fromStdString(path)));
  std::ofstream(path + "/level") << level << "\n";
  std::ofstream(path + "/type") << type << "\n";
  std::ofstream(path + "/size") << size << "\n";
}

}  // namespace

// The cache sizes the GEMM reads and the blocking it derives from them.
class TestGemmBlocking : public QObject {
  Q_OBJECT

 private slots:
  void chooseFromCaches_data();
  void chooseFromCaches();
  void readsSysfsCacheDirectory();
  void missingSysfsLeavesZerosAndDefaultsFillThem();
  void hostCachesAreKnown();
};

void TestGemmBlocking::chooseFromCaches_data() {
  QTest::addColumn<int>("kernel");  // GemmKernel
  QTest::addColumn<qulonglong>("l1d");
  QTest::addColumn<qulonglong>("l2");
  QTest::addColumn<int>("depth");
  QTest::addColumn<int>("depthSlice");
  QTest::addColumn<int>("blockTiles");
  // By hand from the two rules in gemm_blocking.h (128 bytes per weight-slice row):
  //  max slice = L2 / 8 / 128 rows (at least 16); K cut into ceil(K / max) equal slices;
  //  tokens = (3/4 L2 - slice * 128) / (4 K + 128), micro-rows = floor(tokens / 14), >= 1.
  // 2 MB (this session's Xeon): slice <= 2048 -> 768; (1572864 - 98304) / 3200 = 460 -> 32.
  QTest::newRow("L2 2 MB, K 768") << int(GemmKernel::Avx512) << 49152ull << 2097152ull << 768 << 768
                                  << 32;
  // 1 MB (Zen 4, Skylake-SP): slice <= 1024 -> 768; (786432 - 98304) / 3200 = 215 -> 15.
  QTest::newRow("L2 1 MB, K 768") << int(GemmKernel::Avx512) << 49152ull << 1048576ull << 768 << 768
                                  << 15;
  // 1.25 MB (Ice Lake-SP): slice <= 1280 -> 768; (983040 - 98304) / 3200 = 276 -> 19.
  QTest::newRow("L2 1.25 MB, K 768")
      << int(GemmKernel::Avx512) << 49152ull << 1310720ull << 768 << 768 << 19;
  // 256 kB (client cores): slice <= 256 -> 3 slices of 256; (196608 - 32768) / 3200 = 51 -> 3.
  QTest::newRow("L2 256 kB, K 768")
      << int(GemmKernel::Avx512) << 49152ull << 262144ull << 768 << 256 << 3;
  // Patch 32 (K 3072) on 2 MB: 2 slices of 1536; (1572864 - 196608) / 12416 = 110 -> 7.
  QTest::newRow("L2 2 MB, K 3072")
      << int(GemmKernel::Avx512) << 49152ull << 2097152ull << 3072 << 1536 << 7;
  // Patch 14 (K 588) on 2 MB: one slice; (1572864 - 75264) / 2480 = 603 -> 43.
  QTest::newRow("L2 2 MB, K 588") << int(GemmKernel::Avx512) << 49152ull << 2097152ull << 588 << 588
                                  << 43;
  // 1 MB, K 1000 (no multiple of anything): one slice of 1000; (786432 - 128000) / 4128 = 159
  // -> 11.
  QTest::newRow("L2 1 MB, K 1000")
      << int(GemmKernel::Avx512) << 49152ull << 1048576ull << 1000 << 1000 << 11;
  // 1 MB, K 2500: max 1024 -> 3 slices of ceil(2500 / 3) = 834; (786432 - 106752) / 10128 = 67
  // -> 4.
  QTest::newRow("L2 1 MB, K 2500")
      << int(GemmKernel::Avx512) << 49152ull << 1048576ull << 2500 << 834 << 4;
  // A tiny 16 kB L2: slices of the minimum 16 rows; (12288 - 2048) / 3200 = 3 tokens -> 1.
  QTest::newRow("L2 16 kB, K 768")
      << int(GemmKernel::Avx512) << 49152ull << 16384ull << 768 << 16 << 1;
  // Unknown L2 (0): the 1 MB default.
  QTest::newRow("L2 unknown, K 768")
      << int(GemmKernel::Avx512) << 49152ull << 0ull << 768 << 768 << 15;
  // The AVX2 kernel: K slices from L1, max = L1 / 2 / (128 + 56) bytes rounded down to 16
  // (at least 16), K cut into ceil(K / max) equal slices; micro-rows per block as above.
  // 32 kB: 16384 / 184 = 89 -> 80; K 768 in 10 slices of 77; (786432 - 9856) / 3200 = 242
  // tokens -> 17.
  QTest::newRow("AVX2, L1 32 kB, L2 1 MB, K 768")
      << int(GemmKernel::Avx2) << 32768ull << 1048576ull << 768 << 77 << 17;
  // 48 kB (Zen 5): 24576 / 184 = 133 -> 128; 6 slices; (786432 - 16384) / 3200 = 240 -> 17.
  QTest::newRow("AVX2, L1 48 kB, L2 1 MB, K 768")
      << int(GemmKernel::Avx2) << 49152ull << 1048576ull << 768 << 128 << 17;
  // K 3072 (the MLP's fc2): 39 slices of ceil(3072 / 39) = 79; (786432 - 10112) / 12416 = 62
  // -> 4.
  QTest::newRow("AVX2, L1 32 kB, L2 1 MB, K 3072")
      << int(GemmKernel::Avx2) << 32768ull << 1048576ull << 3072 << 79 << 4;
  // K 588 (patch 14): 8 slices of ceil(588 / 8) = 74; (786432 - 9472) / 2480 = 313 -> 22.
  QTest::newRow("AVX2, L1 32 kB, L2 1 MB, K 588")
      << int(GemmKernel::Avx2) << 32768ull << 1048576ull << 588 << 74 << 22;
  // 48 kB, K 300: 3 slices of 100; (786432 - 12800) / 1328 = 582 -> 41.
  QTest::newRow("AVX2, L1 48 kB, L2 1 MB, K 300")
      << int(GemmKernel::Avx2) << 49152ull << 1048576ull << 300 << 100 << 41;
  // A 4 kB L1: 2048 / 184 = 11 -> 0 -> the minimum 16, 48 slices; (786432 - 2048) / 3200 =
  // 245 -> 17.
  QTest::newRow("AVX2, L1 4 kB, L2 1 MB, K 768")
      << int(GemmKernel::Avx2) << 4096ull << 1048576ull << 768 << 16 << 17;
  // Unknown L1 (0): the 32 kB default; on 2 MB of L2, (1572864 - 9856) / 3200 = 488 -> 34.
  QTest::newRow("AVX2, L1 unknown, L2 2 MB, K 768")
      << int(GemmKernel::Avx2) << 0ull << 2097152ull << 768 << 77 << 34;
}

void TestGemmBlocking::chooseFromCaches() {
  QFETCH(int, kernel);
  QFETCH(qulonglong, l1d);
  QFETCH(qulonglong, l2);
  QFETCH(int, depth);
  QFETCH(int, depthSlice);
  QFETCH(int, blockTiles);
  CpuCaches caches;
  caches.l1d = l1d;
  caches.l2 = l2;
  caches.l3 = 32u << 20;
  const GemmBlocking b = GemmBlocking::choose(caches, depth, static_cast<GemmKernel>(kernel));
  QCOMPARE(b.depthSlice, depthSlice);
  QCOMPARE(b.blockTiles, blockTiles);
}

void TestGemmBlocking::readsSysfsCacheDirectory() {
  // The layout of this session's Xeon: L1d 48K, L1i 32K, L2 2048K, L3 266240K.
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  writeIndex(dir.path(), 0, "1", "Data", "48K");
  writeIndex(dir.path(), 1, "1", "Instruction", "32K");
  writeIndex(dir.path(), 2, "2", "Unified", "2048K");
  writeIndex(dir.path(), 3, "3", "Unified", "260M");
  const CpuCaches c = CpuCaches::fromSysfs(dir.path().toStdString());
  QCOMPARE(c.l1d, std::size_t{48 * 1024});
  QCOMPARE(c.l2, std::size_t{2048 * 1024});
  QCOMPARE(c.l3, std::size_t{260} * 1024 * 1024);
  QCOMPARE(QString::fromStdString(c.describe()),
           QStringLiteral("L1d 48 kB, L2 2048 kB, L3 266240 kB"));
}

void TestGemmBlocking::missingSysfsLeavesZerosAndDefaultsFillThem() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  writeIndex(dir.path(), 0, "1", "Data", "32K");  // no L2 / L3 listed
  const CpuCaches c = CpuCaches::fromSysfs(dir.path().toStdString());
  QCOMPARE(c.l1d, std::size_t{32 * 1024});
  QCOMPARE(c.l2, std::size_t{0});
  const CpuCaches none = CpuCaches::fromSysfs(dir.path().toStdString() + "/missing");
  QCOMPARE(none.l1d, std::size_t{0});
  const CpuCaches filled = none.withDefaults();
  QCOMPARE(filled.l1d, std::size_t{32 * 1024});
  QCOMPARE(filled.l2, std::size_t{1024 * 1024});
  QCOMPARE(filled.l3, std::size_t{8 * 1024 * 1024});
}

void TestGemmBlocking::hostCachesAreKnown() {
  // Whatever the machine, every level is filled, ordered as caches are, and the GEMM's
  // blocking follows from them.
  const CpuCaches& host = CpuCaches::host();
  QVERIFY(host.l1d >= 4 * 1024);
  QVERIFY(host.l2 >= host.l1d);
  QVERIFY(host.l3 > 0);
  for (const GemmKernel kernel : {GemmKernel::Avx512, GemmKernel::Avx2}) {
    const GemmBlocking b = GemmBlocking::choose(host, 768, kernel);
    QVERIFY(b.depthSlice >= 16 && b.depthSlice <= 768);
    QVERIFY(b.blockTiles >= 1);
  }
  // On Linux the sysfs answer, when there is one, is what host() uses.
  const CpuCaches sysfs = CpuCaches::fromSysfs("/sys/devices/system/cpu/cpu0/cache");
  if (sysfs.l2 > 0) QCOMPARE(host.l2, sysfs.l2);
}

QTEST_GUILESS_MAIN(TestGemmBlocking)
#include "tst_gemm_blocking.moc"
