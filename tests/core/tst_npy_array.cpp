#include <QtTest>
#include <fstream>

#include "core/io/csv_writer.h"
#include "core/io/error.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "core/weights/npz_writer.h"
#include "tests/common/test_support.h"

using namespace patchlens;

// .npy files written by numpy itself, and our writer's round trip.
class TestNpyArray : public QObject {
  Q_OBJECT

 private slots:
  void readsNumpyFiles_data();
  void readsNumpyFiles();
  void writerRoundTripsAndPadsTheHeader();
  void csvRoundTripsFloatsExactly();
  void writerLeavesNothingOnFailure();
  void integerArraysReadWhenExactInFloat32_data();
  void integerArraysReadWhenExactInFloat32();
  void npzArchiveReadsTheExplainClassMember();

 private:
  QTemporaryDir m_dir;
};

void TestNpyArray::readsNumpyFiles_data() {
  QTest::addColumn<QString>("file");
  for (const char* f : {"arange_le_f4.npy", "arange_be_f4.npy", "arange_le_f2.npy",
                        "arange_be_f2.npy", "arange_le_f8.npy", "arange_be_f8.npy",
                        "arange_fortran_f4.npy", "arange_v2_f4.npy", "arange_v3_f4.npy"}) {
    QTest::newRow(f) << f;
  }
}

void TestNpyArray::readsNumpyFiles() {
  QFETCH(QString, file);
  const NpyArray a = readNpy(test::dataPath("npy/" + file.toStdString()));
  QCOMPARE(a.shape, (std::vector<std::int64_t>{2, 3, 4}));
  // make_reference.py wrote arange(24) * 0.25 - 2, exact in every width, C order.
  for (int i = 0; i < 24; ++i)
    QCOMPARE(a.data[static_cast<std::size_t>(i)], static_cast<float>(i) * 0.25f - 2.0f);
}

void TestNpyArray::writerRoundTripsAndPadsTheHeader() {
  const std::string path = m_dir.path().toStdString() + "/m.npy";
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 1e-30f, 7.0f, 8.0f};
  writeNpy(path, {2, 3}, values.data());
  const NpyArray back = readNpy(path);
  QCOMPARE(back.shape, (std::vector<std::int64_t>{2, 3}));
  QCOMPARE(back.data, values);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  QCOMPARE(bytes.size(), std::size_t{128 + 24});  // header padded to 64-byte alignment
  QVERIFY(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") !=
          std::string::npos);
  QCOMPARE(bytes[127], '\n');
}

void TestNpyArray::csvRoundTripsFloatsExactly() {
  RowMatrixF m(2, 3);
  m << 0.1f, -1e-7f, 3.4028235e38f, 1.0f / 3.0f, 0.0f, -2.5f;
  const std::string path = m_dir.path().toStdString() + "/m.csv";
  writeCsv(path, m);
  std::ifstream in(path);
  std::string line;
  int row = 0;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string cell;
    int col = 0;
    while (std::getline(ss, cell, ',')) {
      QCOMPARE(std::strtof(cell.c_str(), nullptr), m(row, col));
      ++col;
    }
    QCOMPARE(col, 3);
    ++row;
  }
  QCOMPARE(row, 2);
}

void TestNpyArray::writerLeavesNothingOnFailure() {
  const float v = 1.0f;
  QVERIFY_THROWS_EXCEPTION(Error,
                           writeNpy(m_dir.path().toStdString() + "/missing/dir/x.npy", {1}, &v));
  QVERIFY_THROWS_EXCEPTION(Error, writeNpy(m_dir.path().toStdString(), {1}, &v));  // a directory
  QCOMPARE(QDir(m_dir.path())
               .entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot)
               .filter("tmp")
               .size(),
           0);
}

namespace {

// A version-1 .npy of `descr` and shape (count,) holding `payload`, as numpy lays it out.
std::vector<std::uint8_t> npyBytes(const std::string& descr, int count,
                                   const std::vector<std::uint8_t>& payload) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" +
                     std::to_string(count) + ",), }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  b.push_back(static_cast<std::uint8_t>(dict.size() & 0xFF));
  b.push_back(static_cast<std::uint8_t>(dict.size() >> 8));
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

}  // namespace

void TestNpyArray::integerArraysReadWhenExactInFloat32_data() {
  QTest::addColumn<QString>("descr");
  QTest::addColumn<int>("count");
  QTest::addColumn<QByteArray>("payload");
  QTest::addColumn<QList<float>>("expected");  // empty: refused
  const auto bytes = [](std::initializer_list<int> v) {
    QByteArray a;
    for (int x : v) a.append(static_cast<char>(x));
    return a;
  };
  QTest::newRow("<i8 281, -3") << "<i8" << 2
                               << bytes({0x19, 1, 0, 0, 0, 0, 0, 0, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF,
                                         0xFF, 0xFF, 0xFF})
                               << QList<float>{281.0f, -3.0f};
  QTest::newRow(">i2 -2, 513") << ">i2" << 2 << bytes({0xFF, 0xFE, 2, 1})
                               << QList<float>{-2.0f, 513.0f};
  QTest::newRow("|u1 255, 7") << "|u1" << 2 << bytes({0xFF, 7}) << QList<float>{255.0f, 7.0f};
  // 2^40 is exact in float32 (one significant bit); 2^24 + 1 is not, nor INT64_MIN + 1.
  QTest::newRow("<i8 2^40") << "<i8" << 1 << bytes({0, 0, 0, 0, 0, 1, 0, 0})
                            << QList<float>{1099511627776.0f};
  QTest::newRow("<i4 2^24+1 refused") << "<i4" << 1 << bytes({1, 0, 0, 1}) << QList<float>{};
  QTest::newRow("<i8 -2^63+1 refused")
      << "<i8" << 1 << bytes({1, 0, 0, 0, 0, 0, 0, 0x80}) << QList<float>{};
}

void TestNpyArray::integerArraysReadWhenExactInFloat32() {
  QFETCH(QString, descr);
  QFETCH(int, count);
  QFETCH(QByteArray, payload);
  QFETCH(QList<float>, expected);
  const std::vector<std::uint8_t> b =
      npyBytes(descr.toStdString(), count, {payload.begin(), payload.end()});
  if (expected.isEmpty()) {
    try {
      parseNpy(b, "idx", NpyIntegers::Exact);
      QFAIL("a value float32 cannot hold was read");
    } catch (const Error& e) {
      QCOMPARE(QString::fromStdString(e.file()), QStringLiteral("idx"));
      QVERIFY2(e.reason().find("not exactly representable in float32") != std::string::npos,
               e.reason().c_str());
    }
    return;
  }
  const NpyArray a = parseNpy(b, "idx", NpyIntegers::Exact);
  QCOMPARE(a.shape, (std::vector<std::int64_t>{count}));
  // As weights or a model input the same array is refused by its dtype, never read as floats.
  try {
    parseNpy(b, "idx");
    QFAIL("an integer array was read as weights");
  } catch (const Error& e) {
    QVERIFY2(e.reason().find("unsupported dtype") != std::string::npos, e.reason().c_str());
  }
  QCOMPARE(QList<float>(a.data.begin(), a.data.end()), expected);
}

void TestNpyArray::npzArchiveReadsTheExplainClassMember() {
  // What `patchlens-cli explain` writes: float arrays and the int64 scalar `class`.
  const std::string path = m_dir.path().toStdString() + "/explain.npz";
  {
    NpzWriter npz(path);
    const float target = 2.5f;
    const std::int64_t classIndex = 281;
    npz.add("target", {}, &target);
    npz.addInt64("class", {}, &classIndex);
    const std::int64_t huge = (std::int64_t{1} << 40) + 1;
    npz.addInt64("huge", {}, &huge);
    npz.commit();
  }
  const NpzArchive archive(path);
  const NpyArray c = archive.readData("class");
  QVERIFY(c.shape.empty());
  QCOMPARE(c.data, std::vector<float>{281.0f});
  QCOMPARE(archive.read("target").data, std::vector<float>{2.5f});
  QVERIFY_THROWS_EXCEPTION(Error, archive.read("class"));  // as a weight tensor: refused
  try {
    archive.readData("huge");
    QFAIL("an int64 float32 cannot hold was read");
  } catch (const Error& e) {
    QVERIFY2(e.reason().find("huge") != std::string::npos, e.reason().c_str());
  }
}

QTEST_GUILESS_MAIN(TestNpyArray)
#include "tst_npy_array.moc"
