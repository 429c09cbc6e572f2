#include <QtTest>
#include <fstream>

#include "core/io/csv_writer.h"
#include "core/io/error.h"
#include "core/weights/npy_array.h"
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

QTEST_GUILESS_MAIN(TestNpyArray)
#include "tst_npy_array.moc"
