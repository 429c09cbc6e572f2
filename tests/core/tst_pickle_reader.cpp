#include <QtTest>
#include <string>

#include "core/io/error.h"
#include "core/weights/pickle_reader.h"

using namespace patchlens;
using Kind = PickleValue::Kind;
using namespace std::string_literals;

namespace {

std::span<const std::uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The reason a pickle is refused with, or "" when it parses.
std::string refusal(const std::string& pickle) {
  PickleReader reader("f.pth", "data.pkl");
  try {
    (void)reader.parse(bytesOf(pickle));
  } catch (const Error& e) {
    return e.reason();
  }
  return {};
}

// pickle.dumps({"a": 1, "b": [1.5, "x"], "c": (True, None, False), "n": -1, "m": 300,
// "big": 2**40, "huge": 2**70, "neg": -2**40, "bytes": b"\0\1"}, protocol=P) by CPython 3.11.
const std::string kProtocol2(
    "\x80\x02\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x4b\x01\x58\x01\x00\x00\x00\x62\x71"
    "\x02\x5d\x71\x03\x28\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x58\x01\x00\x00\x00\x78\x71\x04\x65"
    "\x58\x01\x00\x00\x00\x63\x71\x05\x88\x4e\x89\x87\x71\x06\x58\x01\x00\x00\x00\x6e\x71\x07\x4a"
    "\xff\xff\xff\xff\x58\x01\x00\x00\x00\x6d\x71\x08\x4d\x2c\x01\x58\x03\x00\x00\x00\x62\x69\x67"
    "\x71\x09\x8a\x06\x00\x00\x00\x00\x00\x01\x58\x04\x00\x00\x00\x68\x75\x67\x65\x71\x0a\x8a\x09"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x40\x58\x03\x00\x00\x00\x6e\x65\x67\x71\x0b\x8a\x06\x00\x00"
    "\x00\x00\x00\xff\x58\x05\x00\x00\x00\x62\x79\x74\x65\x73\x71\x0c\x63\x5f\x63\x6f\x64\x65\x63"
    "\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x0d\x58\x02\x00\x00\x00\x00\x01\x71\x0e\x58\x06\x00"
    "\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x0f\x86\x71\x10\x52\x71\x11\x75\x2e",
    202);
const std::string kProtocol4(
    "\x80\x04\x95\x74\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x4b\x01\x8c\x01\x62"
    "\x94\x5d\x94\x28\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x8c\x01\x78\x94\x65\x8c\x01\x63\x94\x88"
    "\x4e\x89\x87\x94\x8c\x01\x6e\x94\x4a\xff\xff\xff\xff\x8c\x01\x6d\x94\x4d\x2c\x01\x8c\x03\x62"
    "\x69\x67\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x04\x68\x75\x67\x65\x94\x8a\x09\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x40\x8c\x03\x6e\x65\x67\x94\x8a\x06\x00\x00\x00\x00\x00\xff\x8c\x05\x62"
    "\x79\x74\x65\x73\x94\x43\x02\x00\x01\x94\x75\x2e",
    127);
// pickle.dumps({"x": s, "y": s}, protocol=4) with s = [1, 2]: the memo shares one list.
const std::string kShared(
    "\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x78\x94\x5d\x94\x28\x4b\x01"
    "\x4b\x02\x65\x8c\x01\x79\x94\x68\x02\x75\x2e",
    35);

}  // namespace

// The restricted unpickler on pickles CPython wrote and on hand-made hostile ones.
class TestPickleReader : public QObject {
  Q_OBJECT

 private slots:
  void readsCPythonPickles_data();
  void readsCPythonPickles();
  void memoSharesOneValue();
  void orderedDictAndTensor();
  void torchScriptObjectsAreAttributeHolders();
  void allowList_data();
  void allowList();
  void refusals_data();
  void refusals();
  void deepNestingNeedsNoRecursion();
  void stackIsBounded();
  void endOffsetAllowsConsecutivePickles();
  void copiesOfMemoisedTextAreBudgeted_data();
  void copiesOfMemoisedTextAreBudgeted();
};

void TestPickleReader::readsCPythonPickles_data() {
  QTest::addColumn<QByteArray>("pickle");
  QTest::newRow("protocol 2 (_codecs bytes)") << QByteArray::fromStdString(kProtocol2);
  QTest::newRow("protocol 4 (FRAME, MEMOIZE)") << QByteArray::fromStdString(kProtocol4);
  std::string p5 = kProtocol4;
  p5[1] = '\x05';
  QTest::newRow("protocol 5") << QByteArray::fromStdString(p5);
}

void TestPickleReader::readsCPythonPickles() {
  QFETCH(QByteArray, pickle);
  const std::string bytes = pickle.toStdString();
  PickleReader reader("f", "p");
  const PickleValue* v = reader.parse(bytesOf(bytes));
  QCOMPARE(v->kind, Kind::Dict);
  QCOMPARE(v->items.size(), std::size_t{18});
  QCOMPARE(v->get("a")->integer, std::int64_t{1});
  const PickleValue* b = v->get("b");
  QCOMPARE(b->kind, Kind::List);
  QCOMPARE(b->items[0]->real, 1.5);
  QCOMPARE(QString::fromStdString(b->items[1]->text), QStringLiteral("x"));
  const PickleValue* c = v->get("c");
  QCOMPARE(c->kind, Kind::Tuple);
  QCOMPARE(c->items[0]->kind, Kind::Bool);
  QCOMPARE(c->items[0]->integer, std::int64_t{1});
  QCOMPARE(c->items[1]->kind, Kind::None);
  QCOMPARE(c->items[2]->integer, std::int64_t{0});
  QCOMPARE(v->get("n")->integer, std::int64_t{-1});
  QCOMPARE(v->get("m")->integer, std::int64_t{300});
  QCOMPARE(v->get("big")->integer, std::int64_t{1} << 40);
  QCOMPARE(v->get("neg")->integer, -(std::int64_t{1} << 40));
  QCOMPARE(v->get("huge")->kind, Kind::BigInt);
  QCOMPARE(v->get("huge")->text.size(), std::size_t{9});
  QCOMPARE(v->get("bytes")->kind, Kind::Bytes);
  QCOMPARE(v->get("bytes")->text, std::string("\0\1", 2));
}

void TestPickleReader::memoSharesOneValue() {
  PickleReader reader("f", "p");
  const PickleValue* v = reader.parse(bytesOf(kShared));
  QVERIFY(v->get("x") == v->get("y"));
  QCOMPARE(v->get("x")->items.size(), std::size_t{2});
}

// What torch.save writes for {"w": tensor} (protocol 2): an OrderedDict for the hooks, a
// persistent-id storage, _rebuild_tensor_v2 with offset, size and stride.
void TestPickleReader::orderedDictAndTensor() {
  const std::string pid = "(X\x07\x00\x00\x00storage"s + "ctorch\nHalfStorage\n" +
                          "X\x01\x00\x00\x00"s + "7" + "X\x03\x00\x00\x00"s + "cpu" + "K\x30" +
                          "tQ";
  const std::string pickle =
      "\x80\x02}X\x01\x00\x00\x00w"s + "ctorch._utils\n_rebuild_tensor_v2\n(" + pid + "K\x02" +
      "(K\x03K\x04t" + "(K\x01K\x03t" + "\x89" + "ccollections\nOrderedDict\n)R" + "tRs.";
  PickleReader reader("f", "p");
  const PickleValue* v = reader.parse(bytesOf(pickle));
  const PickleValue* t = v->get("w");
  QVERIFY(t);
  QCOMPARE(t->kind, Kind::Tensor);
  QCOMPARE(t->integer, std::int64_t{2});
  QCOMPARE(t->sizes, (std::vector<std::int64_t>{3, 4}));
  QCOMPARE(t->strides, (std::vector<std::int64_t>{1, 3}));
  QCOMPARE(t->storage->kind, Kind::Storage);
  QCOMPARE(QString::fromStdString(t->storage->storageType), QStringLiteral("torch.HalfStorage"));
  QCOMPARE(QString::fromStdString(t->storage->text), QStringLiteral("7"));
  QCOMPARE(t->storage->integer, std::int64_t{48});
  QCOMPARE(reader.storages().size(), std::size_t{1});
}

void TestPickleReader::torchScriptObjectsAreAttributeHolders() {
  const std::string pickle = std::string("\x80\x02") + "c__torch__.model\nCLIP\n)\x81" +
                             "}X\x08\x00\x00\x00training\x88sb."s;
  PickleReader reader("f", "p");
  const PickleValue* v = reader.parse(bytesOf(pickle));
  QCOMPARE(v->kind, Kind::Object);
  QCOMPARE(QString::fromStdString(v->text), QStringLiteral("__torch__.model.CLIP"));
  QCOMPARE(v->items.size(), std::size_t{1});
  QCOMPARE(v->items[0]->get("training")->kind, Kind::Bool);
}

void TestPickleReader::allowList_data() {
  QTest::addColumn<QString>("module");
  QTest::addColumn<QString>("name");
  QTest::addColumn<bool>("allowed");
  QTest::newRow("OrderedDict") << "collections"
                               << "OrderedDict" << true;
  QTest::newRow("rebuild_tensor_v2") << "torch._utils"
                                     << "_rebuild_tensor_v2" << true;
  QTest::newRow("rebuild_parameter") << "torch._utils"
                                     << "_rebuild_parameter" << true;
  QTest::newRow("FloatStorage") << "torch"
                                << "FloatStorage" << true;
  QTest::newRow("BFloat16Storage") << "torch"
                                   << "BFloat16Storage" << true;
  QTest::newRow("UntypedStorage") << "torch.storage"
                                  << "UntypedStorage" << true;
  QTest::newRow("float16") << "torch"
                           << "float16" << true;
  QTest::newRow("Size") << "torch"
                        << "Size" << true;
  QTest::newRow("__torch__") << "__torch__.torch.nn.modules.conv"
                             << "Conv2d" << true;
  QTest::newRow("os.system") << "os"
                             << "system" << false;
  QTest::newRow("posix.system") << "posix"
                                << "system" << false;
  QTest::newRow("builtins.eval") << "builtins"
                                 << "eval" << false;
  QTest::newRow("builtins.getattr") << "builtins"
                                    << "getattr" << false;
  QTest::newRow("subprocess.Popen") << "subprocess"
                                    << "Popen" << false;
  QTest::newRow("torch.load") << "torch"
                              << "load" << false;
  QTest::newRow("torch._utils other") << "torch._utils"
                                      << "_rebuild_device_tensor_from_numpy" << false;
  QTest::newRow("__torch__ look-alike") << "__torch__x"
                                        << "C" << false;
  QTest::newRow("numpy reconstruct") << "numpy.core.multiarray"
                                     << "_reconstruct" << false;
}

void TestPickleReader::allowList() {
  QFETCH(QString, module);
  QFETCH(QString, name);
  QFETCH(bool, allowed);
  QCOMPARE(PickleReader::isAllowedGlobal(module.toStdString(), name.toStdString()), allowed);
}

void TestPickleReader::refusals_data() {
  QTest::addColumn<QByteArray>("pickle");
  QTest::addColumn<QString>("reason");
  const auto row = [](const char* tag, const std::string& p, const char* why) {
    QTest::newRow(tag) << QByteArray::fromStdString(p) << QString(why);
  };
  row("GLOBAL os.system", std::string("\x80\x02") + "cos\nsystem\nX\x01\x00\x00\x00x\x85R."s,
      "data.pkl: forbidden global os.system");
  row("STACK_GLOBAL eval",
      std::string("\x80\x04\x8c\x08") + "builtins" + "\x8c\x04" + "eval" + "\x93.",
      "forbidden global builtins.eval");
  row("control bytes in a name", std::string("\x80\x02") + "cos\x01\nx\n.",
      "forbidden global os?.x");
  row("calling a dtype", std::string("\x80\x02") + "ctorch\nfloat32\n)R.",
      "torch.float32 cannot be called");
  row("REDUCE on a string", "\x80\x02X\x01\x00\x00\x00x)R."s, "REDUCE/NEWOBJ on a str");
  row("protocol 1", std::string("\x80\x01N."), "pickle protocol 1");
  row("text INT", std::string("\x80\x02I1\n."), "unsupported pickle opcode 0x49");
  row("missing memo", std::string("\x80\x02h\x05."), "pickle memo has no entry 5");
  row("underflow", std::string("\x80\x02t."), "pickle MARK missing");
  row("pop past mark", std::string("\x80\x02N(0."), "pickle stack underflow");
  row("unbalanced", std::string("\x80\x02NN."), "unbalanced stack");
  row("truncated", "\x80\x02X\xff\x00\x00\x00"s + "ab", "truncated pickle");
  row("no STOP", std::string("\x80\x02N"), "truncated pickle");
  row("SETITEMS on a list", std::string("\x80\x02](NNu."), "SETITEMS on a list");
  row("BINUNICODE8 past end", "\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."s, "truncated pickle");
  row("persistent id not storage", "\x80\x02(X\x06\x00\x00\x00moduletQ."s, "a whole pickled model");
  row("negative tensor size",
      std::string("\x80\x02") + "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"s +
          "ctorch\nFloatStorage\nX\x01\x00\x00\x00"s + "0" + "X\x03\x00\x00\x00"s +
          "cpuK\x01tQK\x00"s + "(J\xff\xff\xff\xfft(K\x01t\x89)tR.",
      "size or stride is not a non-negative integer");
}

void TestPickleReader::refusals() {
  QFETCH(QByteArray, pickle);
  QFETCH(QString, reason);
  const std::string why = refusal(pickle.toStdString());
  QVERIFY2(why.find(reason.toStdString()) != std::string::npos, why.c_str());
}

// 200 000 nested lists: the reader is iterative, so no stack overflow.
void TestPickleReader::deepNestingNeedsNoRecursion() {
  const int depth = 200000;
  const std::string pickle =
      "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  PickleReader reader("f", "p");
  const PickleValue* v = reader.parse(bytesOf(pickle));
  int levels = 1;
  while (!v->items.empty()) {
    v = v->items[0];
    ++levels;
  }
  QCOMPARE(levels, depth);
}

void TestPickleReader::stackIsBounded() {
  const std::string pickle = "\x80\x02" + std::string(PickleReader::kMaxStack + 1, 'N') + ".";
  QVERIFY(refusal(pickle).find("pickle stack deeper than") != std::string::npos ||
          refusal(pickle).find("values") != std::string::npos);
}

void TestPickleReader::endOffsetAllowsConsecutivePickles() {
  const std::string two = std::string("\x80\x02K\x07.\x80\x02K\x08.");
  PickleReader reader("f", "p");
  std::size_t end = 0;
  QCOMPARE(reader.parse(bytesOf(two), 0, &end)->integer, std::int64_t{7});
  QCOMPARE(end, std::size_t{5});
  QCOMPARE(reader.parse(bytesOf(two), end, &end)->integer, std::int64_t{8});
  QCOMPARE(end, two.size());
}

// A 64 kB memoised string made into a new value again and again, popped each time: by
// STACK_GLOBAL of an allowed __torch__ class, by NEWOBJ of that class (its name copied into
// the object) or by _codecs.encode (the bytes it stands for). 5,000 uses would build 320 MB;
// the byte budget stops each long before, with a message naming the budget, and 100 uses
// parse: the memo itself shares, never copies.
void TestPickleReader::copiesOfMemoisedTextAreBudgeted_data() {
  QTest::addColumn<QByteArray>("head");
  QTest::addColumn<QByteArray>("use");
  const auto u32 = [](std::size_t n) {
    return std::string{static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                       static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  };
  const std::string module = "__torch__." + std::string(65536, 'a');
  // BINUNICODE module, BINPUT 0, BINUNICODE "M", BINPUT 1, POP, POP.
  const std::string classHead =
      "\x80\x02X"s + u32(module.size()) + module + "q\x00X\x01\x00\x00\x00Mq\x01"s + "00";
  // Per use: BINGET 0, BINGET 1, STACK_GLOBAL, POP.
  QTest::newRow("STACK_GLOBAL") << QByteArray::fromStdString(classHead)
                                << QByteArray::fromStdString("h\x00h\x01\x93"s + "0");
  // The class once (STACK_GLOBAL, BINPUT 2); per use: BINGET 2, EMPTY_TUPLE, NEWOBJ, POP.
  QTest::newRow("NEWOBJ") << QByteArray::fromStdString(classHead + "h\x00h\x01\x93q\x02"s + "0")
                          << QByteArray::fromStdString("h\x02)\x81"s + "0");
  // GLOBAL _codecs.encode (BINPUT 0), the text (BINPUT 1), 'latin1' (BINPUT 2), all popped;
  // per use: BINGET 0, BINGET 1, BINGET 2, TUPLE2, REDUCE, POP.
  const std::string text(65536, 'b');
  const std::string codecsHead =
      "\x80\x02"
      "c_codecs\nencode\nq\x00"s +
      "X"s + u32(text.size()) + text + "q\x01X\x06\x00\x00\x00latin1q\x02"s + "000";
  QTest::newRow("_codecs.encode") << QByteArray::fromStdString(codecsHead)
                                  << QByteArray::fromStdString("h\x00h\x01h\x02\x86R"s + "0");
}

void TestPickleReader::copiesOfMemoisedTextAreBudgeted() {
  QFETCH(QByteArray, head);
  QFETCH(QByteArray, use);
  std::string pickle = head.toStdString();
  for (int i = 0; i < 5000; ++i) pickle += use.toStdString();
  pickle += "N.";
  const std::string why = refusal(pickle);
  QVERIFY2(why.find("more than 256 MiB of values") != std::string::npos, why.c_str());
  std::string few = head.toStdString();
  for (int i = 0; i < 100; ++i) few += use.toStdString();
  few += "N.";
  const std::string fewWhy = refusal(few);
  QVERIFY2(fewWhy.empty(), fewWhy.c_str());
}

QTEST_GUILESS_MAIN(TestPickleReader)
#include "tst_pickle_reader.moc"
