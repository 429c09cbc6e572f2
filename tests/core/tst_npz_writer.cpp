#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "core/weights/npz_archive.h"
#include "core/weights/npz_writer.h"

using namespace patchlens;

namespace {

std::vector<std::uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint64_t le(const std::vector<std::uint8_t>& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b.at(at + static_cast<std::size_t>(i));
  return v;
}

std::vector<float> ramp(std::size_t n, float start) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// The central directory entry named `name`: its offset in the file (independent parsing of
// APPNOTE 4.3.12, not the writer's code).
std::size_t centralEntry(const std::vector<std::uint8_t>& b, std::size_t directory,
                         std::size_t entries, const std::string& name) {
  std::size_t at = directory;
  for (std::size_t i = 0; i < entries; ++i) {
    if (le(b, at, 4) != 0x02014b50) return 0;
    const auto nameLength = le(b, at + 28, 2);
    const std::string entryName(b.begin() + static_cast<std::ptrdiff_t>(at + 46),
                                b.begin() + static_cast<std::ptrdiff_t>(at + 46 + nameLength));
    if (entryName == name) return at;
    at += 46 + nameLength + le(b, at + 30, 2) + le(b, at + 32, 2);
  }
  return 0;
}

}  // namespace

// The .npz writer's zip64 records (archives over 4 GB), exercised on small files through a
// lowered 32-bit limit; read back with libzip (consistency checks on) and, where Python's
// numpy is installed, with numpy itself.
class TestNpzWriter : public QObject {
  Q_OBJECT

 private slots:
  void smallArchiveIsPlainZip();
  void zip64RecordsOverTheLimit();
  void numpyReadsZip64();

 private:
  // Writes small [10], big [2, 300] (from two parts) and after [5] with a 1 KB limit: big's
  // size and after's offset exceed it, and so does the directory's offset.
  std::string writeZip64(const QTemporaryDir& dir);
  const std::vector<float> m_small = ramp(10, 0.5f);
  const std::vector<float> m_big0 = ramp(300, -7.0f), m_big1 = ramp(300, 1000.0f);
  const std::vector<float> m_after = ramp(5, 42.0f);
};

std::string TestNpzWriter::writeZip64(const QTemporaryDir& dir) {
  const std::string path = dir.filePath("zip64.npz").toStdString();
  NpzWriter writer(path, 1024);
  writer.add("small", {10}, m_small.data());
  writer.add("big", {2, 300}, std::vector<const float*>{m_big0.data(), m_big1.data()});
  writer.add("after", {5}, m_after.data());
  writer.commit();
  return path;
}

void TestNpzWriter::smallArchiveIsPlainZip() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("plain.npz").toStdString();
  NpzWriter writer(path);
  writer.add("small", {10}, m_small.data());
  writer.commit();
  const auto b = readBytes(path);
  QVERIFY(b.size() > 22);
  const std::size_t end = b.size() - 22;
  QCOMPARE(le(b, end, 4), std::uint64_t{0x06054b50});
  QCOMPARE(le(b, end + 10, 2), std::uint64_t{1});  // entries
  QVERIFY(le(b, end - 20, 4) != 0x07064b50);       // no zip64 locator
  QCOMPARE(le(b, 4, 2), std::uint64_t{20});        // version needed 2.0
  const NpzArchive npz(path);
  const NpyArray a = npz.read("small");
  QCOMPARE(a.data, m_small);
}

void TestNpzWriter::zip64RecordsOverTheLimit() {
  QTemporaryDir dir;
  const std::string path = writeZip64(dir);
  const auto b = readBytes(path);

  // End of central directory: every field deferred to the zip64 record.
  const std::size_t end = b.size() - 22;
  QCOMPARE(le(b, end, 4), std::uint64_t{0x06054b50});
  QCOMPARE(le(b, end + 10, 2), std::uint64_t{0xFFFF});
  QCOMPARE(le(b, end + 16, 4), std::uint64_t{0xFFFFFFFF});
  // The locator just before it points at the zip64 end record.
  const std::size_t locator = end - 20;
  QCOMPARE(le(b, locator, 4), std::uint64_t{0x07064b50});
  const std::size_t record = le(b, locator + 8, 8);
  QCOMPARE(le(b, record, 4), std::uint64_t{0x06064b50});
  QCOMPARE(record + 56, locator);
  QCOMPARE(le(b, record + 4, 8), std::uint64_t{44});
  QCOMPARE(le(b, record + 32, 8), std::uint64_t{3});  // entries
  const std::size_t directory = le(b, record + 48, 8);
  QCOMPARE(directory + le(b, record + 40, 8), record);
  QVERIFY(directory > 1024);

  // "small": plain fields. "big": sizes in the zip64 extra field. "after": its offset there.
  const std::size_t small = centralEntry(b, directory, 3, "small.npy");
  const std::size_t big = centralEntry(b, directory, 3, "big.npy");
  const std::size_t after = centralEntry(b, directory, 3, "after.npy");
  QVERIFY(small && big && after);
  QCOMPARE(le(b, small + 30, 2), std::uint64_t{0});  // no extra field
  QCOMPARE(le(b, small + 42, 4), std::uint64_t{0});  // at the start
  QCOMPARE(le(b, big + 6, 2), std::uint64_t{45});    // version needed 4.5
  QCOMPARE(le(b, big + 20, 4), std::uint64_t{0xFFFFFFFF});
  QCOMPARE(le(b, big + 24, 4), std::uint64_t{0xFFFFFFFF});
  const std::size_t bigExtra = big + 46 + 7;
  QCOMPARE(le(b, bigExtra, 2), std::uint64_t{1});
  QCOMPARE(le(b, bigExtra + 2, 2), std::uint64_t{16});
  const std::uint64_t bigSize = le(b, bigExtra + 4, 8);
  QVERIFY(bigSize > 600 * sizeof(float) && bigSize < 600 * sizeof(float) + 256);
  QCOMPARE(le(b, bigExtra + 12, 8), bigSize);
  QCOMPARE(le(b, after + 42, 4), std::uint64_t{0xFFFFFFFF});
  const std::size_t afterExtra = after + 46 + 9;
  QCOMPARE(le(b, afterExtra, 2), std::uint64_t{1});
  QCOMPARE(le(b, afterExtra + 2, 2), std::uint64_t{8});
  const std::size_t afterLocal = le(b, afterExtra + 4, 8);
  QVERIFY(afterLocal > 1024);
  QCOMPARE(le(b, afterLocal, 4), std::uint64_t{0x04034b50});
  QCOMPARE(le(b, afterLocal + 26, 2), std::uint64_t{9});  // "after.npy"
  // big's local header carries both sizes in its own zip64 extra field.
  const std::size_t bigLocal = le(b, big + 42, 4);
  QCOMPARE(le(b, bigLocal + 18, 4), std::uint64_t{0xFFFFFFFF});
  QCOMPARE(le(b, bigLocal + 30 + 7, 2), std::uint64_t{1});
  QCOMPARE(le(b, bigLocal + 30 + 7 + 4, 8), bigSize);

  // libzip (ZIP_CHECKCONS: local and central headers must agree) reads every member back.
  const NpzArchive npz(path);
  QCOMPARE(npz.read("small").data, m_small);
  const NpyArray a = npz.read("big");
  QCOMPARE(a.shape, (std::vector<std::int64_t>{2, 300}));
  std::vector<float> both = m_big0;
  both.insert(both.end(), m_big1.begin(), m_big1.end());
  QCOMPARE(a.data, both);
  QCOMPARE(npz.read("after").data, m_after);
}

// numpy.load (Python's zipfile) on the zip64 archive: the reader the .npz is for.
void TestNpzWriter::numpyReadsZip64() {
  // Debian's interpreter first (python3-numpy), else whatever python3 the PATH has.
  const QString python = QFileInfo::exists("/usr/bin/python3")
                             ? QString("/usr/bin/python3")
                             : QStandardPaths::findExecutable("python3");
  if (python.isEmpty()) QSKIP("python3 is not installed");
  QProcess probe;
  probe.start(python, {"-c", "import numpy"});
  if (!probe.waitForFinished(60000) || probe.exitCode() != 0) QSKIP("numpy is not installed");
  QTemporaryDir dir;
  const std::string path = writeZip64(dir);
  QProcess p;
  p.start(python, {"-c",
                   "import sys, numpy as np\n"
                   "z = np.load(sys.argv[1])\n"
                   "for k in ('small', 'big', 'after'):\n"
                   "    a = z[k].astype(np.float64)\n"
                   "    print(k, 'x'.join(map(str, a.shape)), repr(float(a.sum())), "
                   "repr(float(a.ravel()[-1])))\n",
                   QString::fromStdString(path)});
  QVERIFY(p.waitForFinished(60000));
  QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
  const auto sum = [](const std::vector<float>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0);
  };
  const QString expected = QString("small 10 %1 %2\nbig 2x300 %3 %4\nafter 5 %5 %6\n")
                               .arg(sum(m_small), 0, 'f', 1)
                               .arg(static_cast<double>(m_small.back()), 0, 'f', 1)
                               .arg(sum(m_big0) + sum(m_big1), 0, 'f', 1)
                               .arg(static_cast<double>(m_big1.back()), 0, 'f', 1)
                               .arg(sum(m_after), 0, 'f', 1)
                               .arg(static_cast<double>(m_after.back()), 0, 'f', 1);
  QCOMPARE(QString::fromUtf8(p.readAllStandardOutput()), expected);
}

QTEST_GUILESS_MAIN(TestNpzWriter)
#include "tst_npz_writer.moc"
