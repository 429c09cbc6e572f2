#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>

#include "tests/common/test_support.h"

// Runs patchlens-cli as a child process, as a user would (shared by the CLI suites).
namespace patchlens::test {

struct CliResult {
  int exitCode = -1;  // -1: did not finish in time, -2: crashed
  QString out;
  QString err;
};

inline CliResult runCli(const QStringList& args, int timeoutMs = 120000) {
  QProcess process;
  process.setProgram(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"));
  process.setArguments(args);
  process.start();
  process.closeWriteChannel();
  if (!process.waitForFinished(timeoutMs)) return {};
  return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2,
          QString::fromUtf8(process.readAllStandardOutput()),
          QString::fromUtf8(process.readAllStandardError())};
}

inline QString data(const char* relative) {
  return QString::fromStdString(dataPath(relative));
}

}  // namespace patchlens::test
