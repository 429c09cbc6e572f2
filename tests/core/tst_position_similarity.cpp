#include <QtTest>
#include <cmath>

#include "core/analysis/position_similarity.h"
#include "core/io/error.h"
#include "core/model/initializers.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;

// Cosine similarity between position embeddings (ViT paper, Fig. 7 centre).
class tst_PositionSimilarity : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void matchesNumpy();
  void mapIsTheRowOnTheGrid();
  void byHand();
  void withoutClassToken();
  void undeclaredSquareGrid();
  void refusesBadTables_data();
  void refusesBadTables();
  void refusesWeightsWithoutPositions();

 private:
  test::FixtureBlocks m_fixture;
  PositionEmbedding m_positions;
};

void tst_PositionSimilarity::initTestCase() {
  m_fixture = test::readAnalysesFixture("position_similarity.txt");
  QVERIFY2(m_fixture.count("table") && m_fixture.count("similarity"),
           "missing tests/data/analyses fixture");
  m_positions.table = m_fixture["table"].cast<float>();
  m_positions.hasClassToken = true;
  m_positions.gridRows = 4;
  m_positions.gridCols = 4;
}

void tst_PositionSimilarity::matchesNumpy() {
  const PositionSimilarity s = positionSimilarity(m_positions);
  QCOMPARE(s.gridRows, 4);
  QCOMPARE(s.gridCols, 4);
  QCOMPARE(s.positions(), 16);
  QCOMPARE(s.matrix.rows(), 16);
  QCOMPARE(s.matrix.cols(), 16);
  const double diff = (s.matrix.cast<double>() - m_fixture["similarity"]).cwiseAbs().maxCoeff();
  QVERIFY2(diff < 1e-6, qPrintable(QString::number(diff)));
  for (int i = 0; i < 16; ++i) QVERIFY(std::abs(s.matrix(i, i) - 1.0f) < 1e-6f);
}

void tst_PositionSimilarity::mapIsTheRowOnTheGrid() {
  const PositionSimilarity s = positionSimilarity(m_positions);
  const RowMatrixF map = s.map(5);
  QCOMPARE(map.rows(), 4);
  QCOMPARE(map.cols(), 4);
  QVERIFY((map.cast<double>() - m_fixture["map5"]).cwiseAbs().maxCoeff() < 1e-6);
  QCOMPARE(map(1, 1), s.matrix(5, 5));  // patch 5 sits at row 1, column 1
  QCOMPARE(map(2, 3), s.matrix(5, 11));
}

void tst_PositionSimilarity::byHand() {
  PositionEmbedding p;
  p.table.resize(5, 2);
  p.table << 9, 9,  // class token, skipped
      1, 0,         //
      0, 2,         //
      -3, 0,        //
      0, 0;         // a zero row: similarity 0, even to itself
  p.hasClassToken = true;
  p.gridRows = 2;
  p.gridCols = 2;
  const PositionSimilarity s = positionSimilarity(p);
  RowMatrixF expected(4, 4);
  expected << 1, 0, -1, 0,  //
      0, 1, 0, 0,           //
      -1, 0, 1, 0,          //
      0, 0, 0, 0;
  QCOMPARE(s.matrix, expected);
}

void tst_PositionSimilarity::withoutClassToken() {
  PositionEmbedding p;
  p.table = m_positions.table.bottomRows(16);
  p.gridRows = 4;
  p.gridCols = 4;
  QVERIFY((positionSimilarity(p).matrix.cast<double>() - m_fixture["similarity"])
              .cwiseAbs()
              .maxCoeff() < 1e-6);
  // A rectangular grid is fine when declared.
  p.gridRows = 2;
  p.gridCols = 8;
  const PositionSimilarity s = positionSimilarity(p);
  QCOMPARE(s.map(9).rows(), 2);
  QCOMPARE(s.map(9).cols(), 8);
}

void tst_PositionSimilarity::undeclaredSquareGrid() {
  PositionEmbedding p = m_positions;
  p.gridRows = 0;
  p.gridCols = 0;
  const PositionSimilarity s = positionSimilarity(p);
  QCOMPARE(s.gridRows, 4);
  QCOMPARE(s.gridCols, 4);
}

void tst_PositionSimilarity::refusesBadTables_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<bool>("classToken");
  QTest::addColumn<int>("gridRows");
  QTest::addColumn<int>("gridCols");
  QTest::newRow("15 patch rows, no grid") << 16 << true << 0 << 0;
  QTest::newRow("grid does not match") << 17 << true << 4 << 5;
  QTest::newRow("empty table") << 0 << false << 0 << 0;
  QTest::newRow("class token only") << 1 << true << 0 << 0;
}

void tst_PositionSimilarity::refusesBadTables() {
  QFETCH(int, rows);
  QFETCH(bool, classToken);
  QFETCH(int, gridRows);
  QFETCH(int, gridCols);
  PositionEmbedding p;
  p.table = RowMatrixF::Ones(rows, 8);
  p.hasClassToken = classToken;
  p.gridRows = gridRows;
  p.gridCols = gridCols;
  QVERIFY_THROWS_EXCEPTION(Error, positionSimilarity(p));
  if (rows == 17) QVERIFY_THROWS_EXCEPTION(Error, positionSimilarity(m_positions).map(16));
}

void tst_PositionSimilarity::refusesWeightsWithoutPositions() {
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{8, 3, 2}, 0);
  try {
    positionSimilarity(w);
    QFAIL("no exception");
  } catch (const Error& e) {
    QVERIFY2(QString::fromStdString(e.reason()).contains(QStringLiteral("no position embedding")),
             e.what());
  }
  PatchWeights withPositions = w;
  withPositions.positionEmbedding = m_positions;
  withPositions.positionEmbedding->table = RowMatrixF::Random(17, 8);
  QCOMPARE(positionSimilarity(withPositions).positions(), 16);
}

QTEST_GUILESS_MAIN(tst_PositionSimilarity)
#include "tst_position_similarity.moc"
