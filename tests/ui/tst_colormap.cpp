#include <QtTest>

#include "ui/base/colormap.h"
#include "ui/views/colorbar.h"

using namespace patchlens;

// The colormap tables against values published by matplotlib, and colorbar ticks.
class tst_Colormap : public QObject {
  Q_OBJECT

 private slots:
  void knownEntries_data();
  void knownEntries();
  void indexingLikeMatplotlib();
  void divergingIsZeroCentred();
  void parseNames();
  void niceTicks();
};

void tst_Colormap::knownEntries_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<double>("t");
  QTest::addColumn<int>("r");
  QTest::addColumn<int>("g");
  QTest::addColumn<int>("b");
  // matplotlib cmap(t, bytes=True): (lut * 255).astype(uint8), so viridis(1) is 36 blue, not
  // #fde725.
  QTest::newRow("viridis low") << "viridis" << 0.0 << 0x44 << 0x01 << 0x54;
  QTest::newRow("viridis high") << "viridis" << 1.0 << 253 << 231 << 36;
  QTest::newRow("magma low") << "magma" << 0.0 << 0 << 0 << 3;
  QTest::newRow("gray mid") << "gray" << 0.5 << 128 << 128 << 128;
  QTest::newRow("gray high") << "gray" << 1.0 << 255 << 255 << 255;
}

void tst_Colormap::knownEntries() {
  QFETCH(QString, name);
  QFETCH(double, t);
  QFETCH(int, r);
  QFETCH(int, g);
  QFETCH(int, b);
  const auto id = Colormap::parse(name.toStdString());
  QVERIFY(id);
  const Rgb8 c = Colormap::get(*id).at(t);
  QCOMPARE(int(c.r), r);
  QCOMPARE(int(c.g), g);
  QCOMPARE(int(c.b), b);
}

void tst_Colormap::indexingLikeMatplotlib() {
  const Colormap& gray = Colormap::get(ColormapId::Gray);
  // index = floor(t * 256) clipped: 0.999 -> 255, 1/256 -> 1, below 0 -> 0.
  QCOMPARE(int(gray.at(0.999).r), 255);
  QCOMPARE(int(gray.at(1.0 / 256.0).r), 1);
  QCOMPARE(int(gray.at(-3.0).r), 0);
  QCOMPARE(int(gray.at(7.0).r), 255);
  QCOMPARE(int(gray.map(5.0, 0.0, 10.0).r), 128);
}

void tst_Colormap::divergingIsZeroCentred() {
  const Colormap& rdbu = Colormap::get(ColormapId::RdBu);
  QVERIFY(rdbu.isDiverging());
  const Rgb8 mid = rdbu.map(0.0, -2.0, 2.0);
  // The middle of RdBu is a near-white grey.
  QVERIFY(mid.r > 230 && mid.g > 230 && mid.b > 230);
  const Rgb8 low = rdbu.map(-2.0, -2.0, 2.0);
  const Rgb8 high = rdbu.map(2.0, -2.0, 2.0);
  QVERIFY(low.b > low.r);    // negative: blue
  QVERIFY(high.r > high.b);  // positive: red
  QVERIFY(!Colormap::get(ColormapId::Viridis).isDiverging());
}

void tst_Colormap::parseNames() {
  for (const ColormapId id : Colormap::all())
    QCOMPARE(Colormap::parse(Colormap::get(id).name()), std::optional(id));
  QVERIFY(!Colormap::parse("jet"));
}

void tst_Colormap::niceTicks() {
  const auto ticks = patchlens::niceTicks(-1.25, 1.25, 6);
  QCOMPARE(ticks, (std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0}));
  QVERIFY(patchlens::niceTicks(1.0, 1.0, 5).empty());
  const auto wide = patchlens::niceTicks(0.0, 767.0, 6);
  QCOMPARE(wide.front(), 0.0);
  QVERIFY(wide.size() >= 3 && wide.size() <= 6);
}

QTEST_GUILESS_MAIN(tst_Colormap)
#include "tst_colormap.moc"
