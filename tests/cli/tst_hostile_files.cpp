#include <sys/resource.h>

#include <QtTest>

#include "tests/common/test_support.h"

using namespace patchlens;

namespace {

struct Outcome {
  int exitCode = -1;
  QString err;
  qint64 milliseconds = 0;
  QString out;
};

// Runs patchlens-cli under an address-space limit (512 MB unless given); a hang past 20 s is
// a failure (60 s under the sanitizers, which run the same work 2-4x slower).
Outcome runLimited(const QStringList& args, unsigned long long limitBytes = 512ull << 20) {
  QProcess process;
  process.setProgram(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"));
  process.setArguments(args);
  if (!qEnvironmentVariableIsSet("PATCHLENS_NO_RLIMIT")) {  // sanitizers reserve more address space
    process.setChildProcessModifier([limitBytes] {
      const rlimit limit{limitBytes, limitBytes};
      ::setrlimit(RLIMIT_AS, &limit);
    });
  }
  QElapsedTimer timer;
  timer.start();
  process.start();
  if (!process.waitForFinished(qEnvironmentVariableIsSet("PATCHLENS_NO_RLIMIT") ? 60000 : 20000)) {
    process.kill();
    process.waitForFinished();
    return {};
  }
  const qint64 elapsed = timer.elapsed();
  return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2,
          QString::fromUtf8(process.readAllStandardError()), elapsed,
          QString::fromUtf8(process.readAllStandardOutput())};
}

void addManifestRows(const std::string& folder, const QStringList& argsBeforeFile,
                     const QStringList& argsAfterFile) {
  const auto rows = test::readTsv(test::dataPath(folder + "/expected.tsv"));
  for (const auto& r : rows) {
    const QString file = QString::fromStdString(test::dataPath(folder + "/" + r[0]));
    QStringList args = argsBeforeFile;
    args << file << argsAfterFile;
    QTest::newRow((folder + "/" + r[0]).c_str()) << args << file << QString::fromStdString(r[1]);
  }
}

// Files too large to commit (megabytes of headers), written by the test: the scale attacks of
// issue 24. Each holds a valid 8-wide patch embedding [8, 3, 16, 16] among the counted parts.
void appendLe(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

bool writeFile(const QString& path, const std::string& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly) &&
         f.write(bytes.data(), static_cast<qint64>(bytes.size())) == qint64(bytes.size());
}

// A safetensors file of 120,000 one-float tensors and the patch weight: names found by hashed
// lookups, not linear scans.
std::string manyNamesSafetensors(int count) {
  std::string header =
      "{\"patch_embed.proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,3,16,16],"
      "\"data_offsets\":[0,24576]}";
  std::uint64_t offset = 24576;
  for (int i = 0; i < count; ++i) {
    header += ",\"extra.t" + std::to_string(i) +
              "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" + std::to_string(offset) +
              "," + std::to_string(offset + 4) + "]}";
    offset += 4;
  }
  header += "}";
  std::string out;
  appendLe(out, header.size(), 8);
  out += header;
  out.append(offset, '\0');
  return out;
}

// A GGUF (v3) with 160,000 one-float tensor infos besides the patch weight.
std::string manyInfosGguf(int count) {
  std::string out = "GGUF";
  appendLe(out, 3, 4);
  appendLe(out, static_cast<std::uint64_t>(count) + 1, 8);
  appendLe(out, 1, 8);  // one metadata entry: general.architecture = "clip"
  const auto string = [&](const std::string& text) {
    appendLe(out, text.size(), 8);
    out += text;
  };
  string("general.architecture");
  appendLe(out, 8, 4);  // GGUF_TYPE_STRING
  string("clip");
  string("v.patch_embd.weight");
  appendLe(out, 4, 4);
  for (std::uint64_t dim : {16, 16, 3, 8}) appendLe(out, dim, 8);  // ggml order: fastest first
  appendLe(out, 0, 4);                                             // F32
  appendLe(out, 0, 8);
  std::uint64_t offset = 24576;
  for (int i = 0; i < count; ++i) {
    string("x." + std::to_string(i));
    appendLe(out, 1, 4);
    appendLe(out, 1, 8);
    appendLe(out, 0, 4);
    appendLe(out, offset, 8);
    offset += 32;  // each tensor aligned to general.alignment's default 32
  }
  out.append((32 - out.size() % 32) % 32, '\0');
  out.append(offset, '\0');
  return out;
}

// A legacy torch.save stream whose state dict holds, besides the patch weight, a list of
// `count` references to one memoised empty list (APPENDS in batches, so the pickle stack stays
// small): the state-dict walk must not name them all.
std::string memoisedListLegacyPth(std::size_t count) {
  const auto unicode = [](const std::string& text) {
    std::string op = "X";
    appendLe(op, text.size(), 4);
    return op + text;
  };
  std::string out;
  // The magic number (LONG1 of 10 bytes), protocol 1001, sys info {little_endian: True}.
  out += std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  out += std::string("\x80\x02M\xe9\x03.", 6);
  out += "\x80\x02}" + unicode("little_endian") + "\x88s.";
  // {"patch_embed.proj.weight": _rebuild_tensor_v2(storage '0', 0, (8,3,16,16), strides),
  //  "junk": [[]] * count}
  std::string p = "\x80\x02}";
  p += unicode("patch_embed.proj.weight");
  p += "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += std::string("(") + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") +
       unicode("cpu") + "J" + std::string("\x00\x18\x00\x00", 4) +
       "tQ";  // BINPERSID, 6144 elements
  p += std::string("K\x00", 2) + "(K\x08K\x03K\x10K\x10t" + "(J" +
       std::string("\x00\x03\x00\x00", 4) + "J" + std::string("\x00\x01\x00\x00", 4) +
       "K\x10K\x01t" + "\x89" + "ccollections\nOrderedDict\n)Rt" + "R" + "s";
  p += unicode("junk") + "](" + "]q" + std::string("\x00", 1);
  std::size_t done = 1;
  while (done < count) {
    const std::size_t batch = std::min<std::size_t>(1000, count - done);
    if (done > 1) p += "(";
    for (std::size_t i = 0; i < batch; ++i) p += std::string("h\x00", 2);
    p += "e";
    done += batch;
  }
  p += "s.";
  out += p;
  out += std::string("\x80\x02]") + unicode("0") + "a.";  // storage keys ['0']
  appendLe(out, 6144, 8);
  out.append(6144 * 4, '\0');
  return out;
}

std::uint32_t crc32Of(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : data) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A stored (uncompressed) zip of these members, with the zip64 end records that more than
// 65,535 members need (as Python's zipfile writes them).
std::string storedZip(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out, central;
  for (const auto& [name, data] : members) {
    const std::uint64_t offset = out.size();
    const std::uint32_t crc = crc32Of(data);
    const auto common = [&](std::string& s) {
      appendLe(s, 20, 2);    // version needed
      appendLe(s, 0, 2);     // flags
      appendLe(s, 0, 2);     // stored
      appendLe(s, 0, 2);     // time
      appendLe(s, 0x21, 2);  // date: 1980-01-01
      appendLe(s, crc, 4);
      appendLe(s, data.size(), 4);
      appendLe(s, data.size(), 4);
      appendLe(s, name.size(), 2);
      appendLe(s, 0, 2);  // extra
    };
    appendLe(out, 0x04034b50, 4);
    common(out);
    out += name;
    out += data;
    appendLe(central, 0x02014b50, 4);
    appendLe(central, 20, 2);  // version made by
    common(central);
    appendLe(central, 0, 2);  // comment
    appendLe(central, 0, 2);  // disk
    appendLe(central, 0, 2);  // internal attributes
    appendLe(central, 0, 4);  // external attributes
    appendLe(central, offset, 4);
    central += name;
  }
  const std::uint64_t centralAt = out.size();
  out += central;
  const std::uint64_t zip64At = out.size();
  appendLe(out, 0x06064b50, 4);
  appendLe(out, 44, 8);
  appendLe(out, 45, 2);
  appendLe(out, 45, 2);
  appendLe(out, 0, 4);
  appendLe(out, 0, 4);
  appendLe(out, members.size(), 8);
  appendLe(out, members.size(), 8);
  appendLe(out, central.size(), 8);
  appendLe(out, centralAt, 8);
  appendLe(out, 0x07064b50, 4);  // zip64 locator
  appendLe(out, 0, 4);
  appendLe(out, zip64At, 8);
  appendLe(out, 1, 4);
  appendLe(out, 0x06054b50, 4);  // end of central directory: counts in the zip64 record
  appendLe(out, 0, 2);
  appendLe(out, 0, 2);
  appendLe(out, 0xFFFF, 2);
  appendLe(out, 0xFFFF, 2);
  appendLe(out, central.size(), 4);
  appendLe(out, centralAt, 4);
  appendLe(out, 0, 2);
  return out;
}

// A torch.save zip whose pickle holds the patch weight (storage 'p') and a list of `count`
// further one-float storages, each its own zip member archive/data/<i>: every storage is matched
// to its member by a hashed lookup. 'storage', FloatStorage and 'cpu' are memoised, as
// torch.save writes them.
std::string manyStoragesPth(int count) {
  using namespace std::string_literals;
  const auto unicode = [](const std::string& text) {
    std::string op = "X";
    appendLe(op, text.size(), 4);
    return op + text;
  };
  std::string p = "\x80\x02}";
  p += unicode("patch_embed.proj.weight");
  p += "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += "(";
  p += unicode("storage") + "q\x00"s + "ctorch\nFloatStorage\nq\x01" + unicode("p") +
       unicode("cpu") + "q\x02" + "J" + std::string("\x00\x18\x00\x00", 4) + "tQ";
  p += std::string("K\x00", 2) + "(K\x08K\x03K\x10K\x10t" + "(J" +
       std::string("\x00\x03\x00\x00", 4) + "J" + std::string("\x00\x01\x00\x00", 4) +
       "K\x10K\x01t" + "\x89" + "ccollections\nOrderedDict\n)Rt" + "R" + "s";
  p += unicode("junk") + "](";
  for (int i = 0; i < count; ++i) {
    p += "(h\x00h\x01"s + unicode(std::to_string(i)) + "h\x02K\x01tQ";
    if (i % 1000 == 999) p += "e(";
  }
  p += "es.";
  std::vector<std::pair<std::string, std::string>> members;
  members.emplace_back("archive/data.pkl", p);
  members.emplace_back("archive/byteorder", "little");
  members.emplace_back("archive/data/p", std::string(6144 * 4, '\0'));
  for (int i = 0; i < count; ++i)
    members.emplace_back("archive/data/" + std::to_string(i), std::string(4, '\0'));
  members.emplace_back("archive/version", "3\n");
  return storedZip(members);
}
}  // namespace

// Every hostile file ends in exit 1 with one line naming it and the reason, inside the
// memory limit, leaving no output behind.
class TestHostileFiles : public QObject {
  Q_OBJECT

 private slots:
  void refusedWithOneLine_data();
  void refusedWithOneLine();
  void runtimeCases_data();
  void runtimeCases();
  void warnedOnStderr_data();
  void warnedOnStderr();
  void awkwardButValidInputsWork_data();
  void awkwardButValidInputsWork();
  void modelSettingsBounded_data();
  void modelSettingsBounded();
  void scaleAttacksBounded_data();
  void scaleAttacksBounded();
  void fullDiskLeavesNoPartialFile_data();
  void fullDiskLeavesNoPartialFile();

 private:
  QTemporaryDir m_dir;
};

void TestHostileFiles::refusedWithOneLine_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");
  addManifestRows("bad/images", {"embed"}, {});
  // Weight files: the corpus of the weights issue, through --weights.
  if (QFile::exists(QString::fromStdString(test::dataPath("bad/weights/expected.tsv")))) {
    addManifestRows("bad/weights",
                    {"embed", QString::fromStdString(test::dataPath("chelsea.png")), "--weights"},
                    {});
  }
  // Weight files the loader accepts but whose embedding the pipeline refuses before computing
  // (too large an output, a patch larger than the model input): the weight file is named.
  addManifestRows("bad/outputs",
                  {"embed", QString::fromStdString(test::dataPath("chelsea.png")), "--weights"},
                  {});
}

void TestHostileFiles::refusedWithOneLine() {
  QFETCH(QStringList, args);
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const QString target = m_dir.filePath("out.npy");
  const Outcome o = runLimited(args + QStringList{"-o", target});
  QVERIFY2(o.exitCode == 1, qPrintable(QString("exit %1: %2").arg(o.exitCode).arg(o.err)));
  QVERIFY2(o.err.startsWith("patchlens-cli: error: " + file + ": "), qPrintable(o.err));
  QVERIFY2(o.err.contains(reason), qPrintable(o.err));
  QCOMPARE(o.err.count('\n'), 1);
  QVERIFY(!QFile::exists(target));
  qInfo("%lld ms", o.milliseconds);
}

void TestHostileFiles::runtimeCases_data() {
  QTest::addColumn<QString>("path");
  QTest::addColumn<QString>("reason");
  QDir(m_dir.path()).mkdir("folder.png");
  QTest::newRow("directory named .png") << m_dir.filePath("folder.png") << "is a directory";
  QFile::link(m_dir.filePath("loop-b.png"), m_dir.filePath("loop-a.png"));
  QFile::link(m_dir.filePath("loop-a.png"), m_dir.filePath("loop-b.png"));
  QTest::newRow("symlink loop") << m_dir.filePath("loop-a.png") << "symbolic links";
  QFile::link(m_dir.filePath("nowhere.png"), m_dir.filePath("dangling.png"));
  QTest::newRow("dangling symlink") << m_dir.filePath("dangling.png") << "no such file";
  {
    QFile sparse(m_dir.filePath("huge.png"));
    if (sparse.open(QIODevice::WriteOnly)) sparse.resize(qint64{2} << 30);  // 2 GiB of holes
  }
  QTest::newRow("2 GiB file") << m_dir.filePath("huge.png") << "larger than the limit";
  QTest::newRow("device") << "/dev/zero"
                          << "not a regular file";
  // File names with control characters: escaped, the message stays one line.
  const QString truncated = QString::fromStdString(test::dataPath("bad/images/png_truncated.png"));
  QFile::copy(truncated, m_dir.filePath("line\nbreak.png"));
  QTest::newRow("newline in the file name")
      << m_dir.filePath("line\nbreak.png") << "line\\nbreak.png: corrupt or truncated PNG";
  QFile::copy(truncated, m_dir.filePath("\x1b[2J\x1b[31mclear.png"));
  QTest::newRow("ANSI escapes in the file name")
      << m_dir.filePath("\x1b[2J\x1b[31mclear.png")
      << "\\x1b[2J\\x1b[31mclear.png: corrupt or truncated PNG";
}

void TestHostileFiles::runtimeCases() {
  QFETCH(QString, path);
  QFETCH(QString, reason);
  const Outcome o = runLimited({"embed", path, "-o", m_dir.filePath("rt.npy")});
  QCOMPARE(o.exitCode, 1);
  QVERIFY2(o.err.contains(reason), qPrintable(o.err));
  QCOMPARE(o.err.count('\n'), 1);
  QVERIFY(!o.err.contains(QChar(0x1b)));
}

void TestHostileFiles::warnedOnStderr_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("warning");
  for (const auto& r : test::readTsv(test::dataPath("bad/warnings/expected.tsv"))) {
    QTest::newRow(r[0].c_str()) << QString::fromStdString(test::dataPath("bad/warnings/" + r[0]))
                                << QString::fromStdString(r[1]);
  }
}

// Images that decode but are damaged or carry extra data: exit 0, one warning line on
// stderr in the error format, nothing of it on stdout.
void TestHostileFiles::warnedOnStderr() {
  QFETCH(QString, file);
  QFETCH(QString, warning);
  const QString target = m_dir.filePath("warned.npy");
  const Outcome o = runLimited({"embed", file, "-o", target});
  QVERIFY2(o.exitCode == 0, qPrintable(o.err));
  QVERIFY2(o.err.startsWith("patchlens-cli: warning: " + file + ": "), qPrintable(o.err));
  QVERIFY2(o.err.contains(warning), qPrintable(o.err));
  QCOMPARE(o.err.count('\n'), 1);
  QVERIFY2(!o.out.contains("warning"), qPrintable(o.out));
  QVERIFY(QFile::exists(target));
  qInfo("%lld ms", o.milliseconds);
}

void TestHostileFiles::awkwardButValidInputsWork_data() {
  QTest::addColumn<QString>("path");
  const QString sample = QString::fromStdString(test::dataPath("images/rgb.png"));
  QFile::copy(sample, m_dir.filePath("Ünïcødé 画像 (1).png"));
  QTest::newRow("non-ASCII path") << m_dir.filePath("Ünïcødé 画像 (1).png");
  QFile::link(sample, m_dir.filePath("link.png"));
  QTest::newRow("symlink") << m_dir.filePath("link.png");
  QFile::copy(QString::fromStdString(test::dataPath("images/rgb.jpg")),
              m_dir.filePath("jpeg-named.png"));
  QTest::newRow("JPEG named .png") << m_dir.filePath("jpeg-named.png");
  // Smaller than one patch: the stated policy is to upscale to the model input like timm.
  cv::imwrite(m_dir.filePath("tiny.png").toStdString(),
              cv::Mat(8, 8, CV_8UC3, cv::Scalar(10, 200, 30)));
  QTest::newRow("8x8 image") << m_dir.filePath("tiny.png");
}

void TestHostileFiles::awkwardButValidInputsWork() {
  QFETCH(QString, path);
  const Outcome o = runLimited({"embed", path, "-o", m_dir.filePath("ok.npy")});
  QVERIFY2(o.exitCode == 0, qPrintable(o.err));
  QVERIFY(QFileInfo(m_dir.filePath("ok.npy")).size() == 128 + 196 * 768 * 4);
}

void TestHostileFiles::modelSettingsBounded_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("out");
  QTest::addColumn<int>("status");
  QTest::addColumn<QString>("text");
  QTest::addColumn<QString>("stdoutText");  // what stdout holds, when given
  const QString models = QString::fromStdString(test::dataPath("bad/models"));
  int n = 0;
  for (const auto& r : test::readTsv(test::dataPath("bad/models/expected.tsv"))) {
    const QString dir = models + "/" + QString::fromStdString(r[0]);
    const QString out = m_dir.filePath(QString("model-%1").arg(++n));
    const auto expand = [&](QString text) {
      return text.replace("{dir}", dir)
          .replace("{image}", models + "/input.png")
          .replace("{out}", out);
    };
    const QStringList args = expand(QString::fromStdString(r[1])).split(' ', Qt::SkipEmptyParts);
    QTest::newRow(
        QString("%1 %2: %3").arg(n).arg(QString::fromStdString(r[0]), args.front()).toUtf8())
        << args << out << std::stoi(r[2])
        << expand(r.size() > 3 ? QString::fromStdString(r[3]) : "")
        << (r.size() > 4 ? QString::fromStdString(r[4]) : QString());
  }
}

// Checkpoints whose own settings (sidecars, GGUF metadata, shapes) or options ask for
// unbounded work or would give NaN: refused from the plan before any compute (or from the
// validator) in one error line, under a 1 GiB address-space limit within 5 s, no output or
// temporary file left; the valid ones run.
void TestHostileFiles::modelSettingsBounded() {
  QFETCH(QStringList, args);
  QFETCH(QString, out);
  QFETCH(int, status);
  QFETCH(QString, text);
  QFETCH(QString, stdoutText);
  const Outcome o = runLimited(args, 1ull << 30);
  QVERIFY2(o.exitCode == status, qPrintable(QString("exit %1: %2").arg(o.exitCode).arg(o.err)));
  QVERIFY2(o.err.contains(text), qPrintable(o.err));
  const QStringList lines = o.err.split('\n', Qt::SkipEmptyParts);
  for (const QString& line : lines) QVERIFY2(line.startsWith("patchlens-cli: "), qPrintable(line));
  if (status != 0) {
    // One line says why (a note on the checkpoint's own preprocessing may come before it).
    QCOMPARE(lines.filter(QRegularExpression("^patchlens-cli: (error|usage):")).size(), 1);
    QVERIFY2(lines.back().contains(text), qPrintable(o.err));
  }
  // Nothing of a refused output, no temporary file beside it.
  const QFileInfo target(out);
  const QStringList left =
      QDir(target.absolutePath()).entryList({target.fileName() + "*"}, QDir::Files | QDir::Hidden);
  if (status != 0) QVERIFY2(left.isEmpty(), qPrintable(left.join(", ")));
  if (status == 0 && args.front() != "info") QCOMPARE(left.size(), 1);
  for (const QString& f : left) QFile::remove(target.absolutePath() + "/" + f);
  // E.g. info IMAGE --weights W: the grid line reports the file's width (8), not the default.
  QVERIFY2(o.out.contains(stdoutText), qPrintable(o.out.left(2000)));
  // A hang guard (as scaleAttacksBounded's), not a speed claim.
  if (!qEnvironmentVariableIsSet("PATCHLENS_NO_RLIMIT"))
    QVERIFY2(o.milliseconds < 30000, qPrintable(QString("%1 ms").arg(o.milliseconds)));
  qInfo("%lld ms", o.milliseconds);
}

void TestHostileFiles::scaleAttacksBounded_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("reason");  // empty: accepted (exit 0)
  QTest::addColumn<QString>("bytes");
  const QString names = m_dir.filePath("names_120000.safetensors");
  QVERIFY(writeFile(names, manyNamesSafetensors(120000)));
  QTest::newRow("120,000 tensor names") << names << ""
                                        << "9 MB";
  const QString infos = m_dir.filePath("infos_160000.gguf");
  QVERIFY(writeFile(infos, manyInfosGguf(160000)));
  QTest::newRow("160,000 GGUF tensor infos") << infos << ""
                                             << "10 MB";
  const QString list = m_dir.filePath("memoised_list_16600000.pth");
  QVERIFY(writeFile(list, memoisedListLegacyPth(16'600'000)));
  QTest::newRow("16.6 M references to one memoised list")
      << list << "the checkpoint names more than 2000000 values that could hold tensors"
      << "33 MB";
  const QString storages = m_dir.filePath("storages_90000.pth");
  QVERIFY(writeFile(storages, manyStoragesPth(90000)));
  QTest::newRow("90,000 storages matched to zip members") << storages << ""
                                                          << "12 MB";
  // The member cap (no real checkpoint has 100,000 tensors), said in one line.
  const QString over = m_dir.filePath("storages_100000.pth");
  QVERIFY(writeFile(over, manyStoragesPth(100000)));
  QTest::newRow("100,004 zip members")
      << over << "zip archive has 100004 members, more than the limit of 100000"
      << "13 MB";
}

// Counts no real checkpoint reaches, made in the test (megabytes of headers): loading and
// naming under the 1 GiB address-space limit; `embed` needs only the patch weight among them,
// `info` lists them. The 30 s bound is a hang guard, not a speed claim: each row takes 0.3-3 s
// alone, a quadratic pass over these counts takes minutes (2 busy cores made one row 5.1 s).
void TestHostileFiles::scaleAttacksBounded() {
  QFETCH(QString, file);
  QFETCH(QString, reason);
  const QString target = m_dir.filePath("scale.npy");
  QFile::remove(target);  // a row that failed before its end may have left it
  for (const QStringList& args :
       {QStringList{"embed", QString::fromStdString(test::dataPath("chelsea.png")), "--weights",
                    file, "-o", target},
        QStringList{"info", file}}) {
    const Outcome o = runLimited(args, 1ull << 30);
    if (reason.isEmpty()) {
      QVERIFY2(o.exitCode == 0, qPrintable(QString("exit %1: %2").arg(o.exitCode).arg(o.err)));
    } else {
      QVERIFY2(o.exitCode == 1, qPrintable(QString("exit %1: %2").arg(o.exitCode).arg(o.err)));
      QVERIFY2(o.err.startsWith("patchlens-cli: error: " + file + ": "), qPrintable(o.err));
      QVERIFY2(o.err.contains(reason), qPrintable(o.err));
      QCOMPARE(o.err.count('\n'), 1);
    }
    if (!qEnvironmentVariableIsSet("PATCHLENS_NO_RLIMIT"))
      QVERIFY2(o.milliseconds < 30000, qPrintable(QString("%1 ms").arg(o.milliseconds)));
    qInfo("%s: %lld ms", qPrintable(args.front()), o.milliseconds);
  }
  QCOMPARE(QFileInfo::exists(target), reason.isEmpty());
  QFile::remove(target);
  QFile::remove(file);
}

void TestHostileFiles::fullDiskLeavesNoPartialFile_data() {
  QTest::addColumn<QString>("name");
  QTest::newRow("npy") << "y.npy";
  QTest::newRow("csv") << "y.csv";
}

void TestHostileFiles::fullDiskLeavesNoPartialFile() {
  // A 64 kB file-size limit stands in for a full disk: the 600 kB embedding cannot fit.
  QFETCH(QString, name);
  QTemporaryDir dir;
  const QString target = dir.filePath(name);
  {
    QFile old(target);
    QVERIFY(old.open(QIODevice::WriteOnly));
    old.write("the previous result");
  }
  QProcess process;
  process.setProgram(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"));
  process.setArguments(
      {"embed", QString::fromStdString(test::dataPath("chelsea.png")), "-o", target});
  process.setChildProcessModifier([] {
    const rlimit limit{64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
  });
  process.start();
  QVERIFY(process.waitForFinished(60000));
  const QString err = QString::fromUtf8(process.readAllStandardError());
  QCOMPARE(process.exitStatus(), QProcess::NormalExit);  // not killed by SIGXFSZ
  QCOMPARE(process.exitCode(), 1);
  QVERIFY2(err.contains(target + ": file size limit exceeded"), qPrintable(err));
  QCOMPARE(err.count('\n'), 1);
  QFile old(target);
  QVERIFY(old.open(QIODevice::ReadOnly));
  QCOMPARE(old.readAll(), QByteArray("the previous result"));
  QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 1);  // no temp file left
}

QTEST_GUILESS_MAIN(TestHostileFiles)
#include "tst_hostile_files.moc"
