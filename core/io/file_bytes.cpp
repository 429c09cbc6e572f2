#include "core/io/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/io/error.h"

namespace patchlens {
namespace {

// Closes the descriptor on every path out.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

std::string sizeText(std::uint64_t bytes) {
  return std::to_string(bytes / (1024 * 1024)) + " MiB";
}

}  // namespace

std::uint64_t checkedRegularFileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error(path, "no such file");
    throw Error(path, std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) throw Error(path, "is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw Error(path, "is not a regular file");
  return static_cast<std::uint64_t>(st.st_size);
}

std::vector<std::uint8_t> readFileBytes(const std::string& path, std::uint64_t maxBytes) {
  checkedRegularFileSize(path);
  FileDescriptor file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) {
    if (errno == EACCES) throw Error(path, "permission denied");
    throw Error(path, std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw Error(path, std::strerror(errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > maxBytes) {
    throw Error(path,
                "file is " + sizeText(size) + ", larger than the limit of " + sizeText(maxBytes));
  }
  std::vector<std::uint8_t> bytes(size);
  std::uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(file.fd, bytes.data() + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path, std::string("read failed: ") + std::strerror(errno));
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<std::uint64_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace patchlens
