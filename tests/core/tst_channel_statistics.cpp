#include <QtTest>
#include <cmath>
#include <limits>

#include "core/analysis/channel_statistics.h"
#include "core/io/error.h"
#include "tests/core/analyses_fixture.h"

using namespace patchlens;

Q_DECLARE_METATYPE(patchlens::ValueRange)

// Per-channel statistics and the histogram helper, by hand and against numpy.
class tst_ChannelStatistics : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void byHand();
  void matchesNumpy();
  void histogramByHand();
  void histogramEdges_data();
  void histogramEdges();
  void histogramMatchesNumpy();
  void histogramOfMatrix();
  void refusesImpossibleInput_data();
  void refusesImpossibleInput();

 private:
  test::FixtureBlocks m_fixture;
};

void tst_ChannelStatistics::initTestCase() {
  m_fixture = test::readAnalysesFixture("channel_statistics.txt");
  QVERIFY2(m_fixture.count("tokens") && m_fixture.count("hist_counts"),
           "missing tests/data/analyses fixture");
}

void tst_ChannelStatistics::byHand() {
  RowMatrixF tokens(4, 3);
  tokens << 1, -2, 0,  //
      3, -2, 0,        //
      -1, -2, 0,       //
      1, -2, 0;
  const ChannelStatistics s = channelStatistics(tokens);
  QCOMPARE(s.mean.size(), 3);
  QCOMPARE(s.mean(0), 1.0f);
  QCOMPARE(s.std(0), std::sqrt(2.0f));  // deviations 0, 2, -2, 0: variance 8 / 4
  QCOMPARE(s.min(0), -1.0f);
  QCOMPARE(s.max(0), 3.0f);
  QCOMPARE(s.meanAbs(0), 1.5f);
  QCOMPARE(s.positiveFraction(0), 0.75f);
  QCOMPARE(s.mean(1), -2.0f);
  QCOMPARE(s.std(1), 0.0f);
  QCOMPARE(s.meanAbs(1), 2.0f);
  QCOMPARE(s.positiveFraction(1), 0.0f);
  QCOMPARE(s.positiveFraction(2), 0.0f);  // zero is not positive
}

void tst_ChannelStatistics::matchesNumpy() {
  const RowMatrixF tokens = m_fixture["tokens"].cast<float>();
  const ChannelStatistics s = channelStatistics(tokens);
  const auto check = [&](const VectorF& got, const char* name) {
    const Eigen::MatrixXd expected = m_fixture[name].transpose();
    const double diff = test::maxRelativeDifference(got.cast<double>(), expected);
    QVERIFY2(diff < 1e-6, qPrintable(QStringLiteral("%1 differs by %2").arg(name).arg(diff)));
  };
  check(s.mean, "mean");
  check(s.std, "std");
  check(s.min, "min");
  check(s.max, "max");
  check(s.meanAbs, "mean_abs");
  check(s.positiveFraction, "positive_fraction");
}

void tst_ChannelStatistics::histogramByHand() {
  VectorF v(7);
  v << -1.0f, 0.0f, 0.25f, 0.5f, 0.99f, 1.0f, 7.0f;
  const Histogram h = histogram(v, 4, ValueRange{0.0f, 1.0f});
  QCOMPARE(h.edges, (std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0}));
  QCOMPARE(h.counts, (std::vector<std::int64_t>{1, 1, 1, 2}));  // 1.0 closes the last bin
  QCOMPARE(h.underflow, 1);
  QCOMPARE(h.overflow, 1);
  QCOMPARE(h.total(), 5);
}

void tst_ChannelStatistics::histogramEdges_data() {
  QTest::addColumn<float>("value");
  QTest::addColumn<int>("bin");
  // [0, 1] in 10 bins, values compared exactly with the double edges: 0.3f lies just above
  // the edge 0.3, 0.7f just below 0.7.
  QTest::newRow("lower edge") << 0.0f << 0;
  QTest::newRow("interior edge 0.5") << 0.5f << 5;
  QTest::newRow("just below 0.5") << std::nextafter(0.5f, 0.0f) << 4;
  QTest::newRow("0.3f") << 0.3f << 3;
  QTest::newRow("0.7f") << 0.7f << 6;
  QTest::newRow("upper edge") << 1.0f << 9;
}

void tst_ChannelStatistics::histogramEdges() {
  QFETCH(float, value);
  QFETCH(int, bin);
  VectorF v(1);
  v << value;
  const Histogram h = histogram(v, 10, ValueRange{0.0f, 1.0f});
  QCOMPARE(h.counts[static_cast<std::size_t>(bin)], 1);
  QCOMPARE(h.total(), 1);
}

void tst_ChannelStatistics::histogramMatchesNumpy() {
  const VectorF values = m_fixture["hist_values"].transpose().cast<float>();
  struct Case {
    const char* counts;
    const char* edges;
    int bins;
    ValueRange range;
  };
  for (const Case& c : {Case{"hist_counts", "hist_edges", 8, {-2.0f, 2.0f}},
                        Case{"hist7_counts", "hist7_edges", 7, {-1.3f, 1.7f}}}) {
    const Histogram h = histogram(values, c.bins, c.range);
    const Eigen::MatrixXd& counts = m_fixture[c.counts];
    const Eigen::MatrixXd& edges = m_fixture[c.edges];
    QCOMPARE(static_cast<Eigen::Index>(h.counts.size()), counts.cols());
    for (Eigen::Index i = 0; i < counts.cols(); ++i) {
      QCOMPARE(static_cast<double>(h.counts[static_cast<std::size_t>(i)]), counts(0, i));
    }
    for (Eigen::Index i = 0; i < edges.cols(); ++i) {
      // numpy's edges come from float32 range ends here; ours from the float range too.
      QVERIFY(std::abs(h.edges[static_cast<std::size_t>(i)] - edges(0, i)) < 1e-6);
    }
  }
  const Histogram h = histogram(values, 8, {-2.0f, 2.0f});
  QCOMPARE(static_cast<double>(h.underflow), m_fixture["hist_under_over"](0, 0));
  QCOMPARE(static_cast<double>(h.overflow), m_fixture["hist_under_over"](0, 1));
}

void tst_ChannelStatistics::histogramOfMatrix() {
  RowMatrixF m(2, 3);
  m << 0, 1, 2,  //
      3, 4, std::numeric_limits<float>::quiet_NaN();
  const Histogram h = matrixHistogram(m, 2, ValueRange{0.0f, 4.0f});
  QCOMPARE(h.counts, (std::vector<std::int64_t>{2, 3}));
  QCOMPARE(h.nonFinite, 1);
  // A zero-width range is widened by +-0.5 as numpy does.
  const Histogram flat =
      matrixHistogram(RowMatrixF::Constant(2, 2, 3.0f), 1, ValueRange{3.0f, 3.0f});
  QCOMPARE(flat.edges, (std::vector<double>{2.5, 3.5}));
  QCOMPARE(flat.counts[0], 4);
}

void tst_ChannelStatistics::refusesImpossibleInput_data() {
  QTest::addColumn<int>("bins");
  QTest::addColumn<ValueRange>("range");
  QTest::newRow("no bins") << 0 << ValueRange{0.0f, 1.0f};
  QTest::newRow("reversed range") << 4 << ValueRange{1.0f, 0.0f};
  QTest::newRow("infinite range") << 4 << ValueRange{0.0f, std::numeric_limits<float>::infinity()};
  QTest::newRow("NaN range") << 4 << ValueRange{std::numeric_limits<float>::quiet_NaN(), 1.0f};
}

void tst_ChannelStatistics::refusesImpossibleInput() {
  QFETCH(int, bins);
  QFETCH(ValueRange, range);
  const VectorF v = VectorF::Ones(3);
  QVERIFY_THROWS_EXCEPTION(Error, histogram(v, bins, range));
  if (QTest::currentDataTag() == QByteArrayLiteral("no bins")) {
    QVERIFY_THROWS_EXCEPTION(Error, channelStatistics(RowMatrixF(0, 4)));
  }
}

QTEST_GUILESS_MAIN(tst_ChannelStatistics)
#include "tst_channel_statistics.moc"
