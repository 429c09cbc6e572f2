#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "core/io/error.h"

namespace patchlens {
namespace {

std::string directoryOf(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string baseNameOf(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : m_path(std::move(path)) {
  if (m_path.empty() || m_path.back() == '/') throw Error(m_path, "output path names no file");
  const std::string dir = directoryOf(m_path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(m_path, "the directory " + dir + " does not exist");
  }
  if (::stat(m_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw Error(m_path, "is a directory, not a file");
  }
  std::string pattern = dir + "/." + baseNameOf(m_path) + ".tmp-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  m_fd = ::mkostemp(buffer.data(), O_CLOEXEC);
  if (m_fd < 0) {
    const int err = errno;
    if (err == EACCES || err == EROFS || err == EPERM) {
      throw Error(m_path, "cannot write to the directory " + dir + ": " + std::strerror(err));
    }
    throw Error(m_path, std::string("cannot create the output file: ") + std::strerror(err));
  }
  m_tempPath = buffer.data();
  ::fchmod(m_fd, 0644);
}

AtomicFile::~AtomicFile() {
  if (!m_committed) discard();
}

void AtomicFile::discard() noexcept {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  if (!m_tempPath.empty()) {
    ::unlink(m_tempPath.c_str());
    m_tempPath.clear();
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (m_fd < 0) throw Error(m_path, "write after the file was closed");
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(m_fd, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      if (err == ENOSPC) throw Error(m_path, "no space left on the device");
      if (err == EFBIG) throw Error(m_path, "file size limit exceeded");
      throw Error(m_path, std::string("write failed: ") + std::strerror(err));
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (m_fd < 0) throw Error(m_path, "commit after the file was closed");
  if (::fsync(m_fd) != 0 || ::close(m_fd) != 0) {
    m_fd = -1;
    const int err = errno;
    discard();
    throw Error(m_path, std::string("cannot finish writing: ") + std::strerror(err));
  }
  m_fd = -1;
  if (::rename(m_tempPath.c_str(), m_path.c_str()) != 0) {
    const int err = errno;
    discard();
    throw Error(m_path, std::string("cannot move the output into place: ") + std::strerror(err));
  }
  m_tempPath.clear();
  m_committed = true;
}

}  // namespace patchlens
