#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli/cli_runner.h"

namespace {

void writeAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // libzip converts every member's DOS time with mktime, and glibc re-reads /etc/localtime on
  // each call while TZ is unset: a checkpoint of 90,000 storages spent a third of its opening
  // there. Naming the same zone once changes no time, only the cost.
  ::setenv("TZ", ":/etc/localtime", 0);
  // A file-size limit must end in a clear error (EFBIG), not a killed process.
  std::signal(SIGXFSZ, SIG_IGN);
  // Decoders (libpng, libtiff, OpenCV) print their own complaints on stderr; the contract
  // is one line from us. Keep the real stderr for that line and send fd 2 to /dev/null,
  // unless PATCHLENS_LIBRARY_LOGS is set (for debugging a decoder).
  int errFd = STDERR_FILENO;
  if (std::getenv("PATCHLENS_LIBRARY_LOGS") == nullptr) {
    const int saved = ::dup(STDERR_FILENO);
    const int devNull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && devNull >= 0 && ::dup2(devNull, STDERR_FILENO) >= 0) errFd = saved;
    if (devNull >= 0) ::close(devNull);
  }
  std::ostringstream err;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int status = patchlens::cli::runCli(args, std::cout, err);
  std::cout.flush();
  writeAll(errFd, err.str());
  return status;
}
