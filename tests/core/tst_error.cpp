#include <QtTest>
#include <string>

#include "core/io/error.h"

using namespace patchlens;

// Messages stay one line and cannot drive a terminal, whatever a file name or a file's
// content holds: patchlens::printable and Error::what().
class TestError : public QObject {
  Q_OBJECT

 private slots:
  void printableEscapesControlCharacters_data();
  void printableEscapesControlCharacters();
  void whatIsOneEscapedLine();
};

void TestError::printableEscapesControlCharacters_data() {
  QTest::addColumn<QByteArray>("text");
  QTest::addColumn<QByteArray>("expected");
  QTest::newRow("plain") << QByteArray("patch_embed.proj.weight")
                         << QByteArray("patch_embed.proj.weight");
  QTest::newRow("newline") << QByteArray("a\nb") << QByteArray("a\\nb");
  QTest::newRow("CR and tab") << QByteArray("a\r\tb") << QByteArray("a\\r\\tb");
  QTest::newRow("ANSI clear screen") << QByteArray("\x1b[2J") << QByteArray("\\x1b[2J");
  QTest::newRow("NUL") << QByteArray("a\0b", 3) << QByteArray("a\\x00b");
  QTest::newRow("DEL and BEL") << QByteArray("\x7f\x07") << QByteArray("\\x7f\\x07");
  QTest::newRow("C1 CSI as UTF-8") << QByteArray(
                                          "\xc2\x9b"
                                          "31m")
                                   << QByteArray("\\u009b31m");
  QTest::newRow("UTF-8 kept") << QByteArray("Ünïcødé 画像") << QByteArray("Ünïcødé 画像");
  QTest::newRow("Latin-1 NBSP kept") << QByteArray("a\xc2\xa0z") << QByteArray("a\xc2\xa0z");
}

void TestError::printableEscapesControlCharacters() {
  QFETCH(QByteArray, text);
  QFETCH(QByteArray, expected);
  const std::string out =
      printable(std::string_view(text.constData(), static_cast<std::size_t>(text.size())));
  QCOMPARE(QByteArray::fromStdString(out), expected);
}

void TestError::whatIsOneEscapedLine() {
  const char reason[] = "tensor 'w\x1b[31m\0x' is bad";
  const Error e("evil\nname.png", std::string(reason, sizeof reason - 1));
  QCOMPARE(QString(e.what()), QString("evil\\nname.png: tensor 'w\\x1b[31m\\x00x' is bad"));
  QCOMPARE(e.file(), std::string("evil\nname.png"));  // unescaped, for rethrowing
  QCOMPARE(Error("", "a\nb").what(), "a\\nb");
}

QTEST_GUILESS_MAIN(TestError)
#include "tst_error.moc"
