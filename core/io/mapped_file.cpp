#include "core/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "core/io/error.h"
#include "core/io/file_bytes.h"

namespace patchlens {

MappedFile::MappedFile(const std::string& path) : m_path(path) {
  checkedRegularFileSize(path);  // the plain-words errors for missing files and directories
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES) throw Error(path, "permission denied");
    throw Error(path, std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(path, std::strerror(err));
  }
  // The size of the file we actually opened, not of whatever the path named a moment ago.
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path, "is not a regular file");
  }
  if (size > std::numeric_limits<std::size_t>::max()) {
    ::close(fd);
    throw Error(path, "file too large to map");
  }
  if (size > 0) {
    void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(path, std::string("cannot map the file: ") + std::strerror(err));
    }
    m_data = static_cast<const std::uint8_t*>(p);
    m_size = static_cast<std::size_t>(size);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  release();
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : m_path(std::move(other.m_path)),
      m_data(std::exchange(other.m_data, nullptr)),
      m_size(std::exchange(other.m_size, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    m_path = std::move(other.m_path);
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

void MappedFile::forgetResidentPages() const noexcept {
  // A read-only file mapping: MADV_DONTNEED only unmaps pages, their content comes back from
  // the file. mmap returned a page-aligned address, so the whole range qualifies.
  if (m_data) ::madvise(const_cast<std::uint8_t*>(m_data), m_size, MADV_DONTNEED);
}

void MappedFile::release() noexcept {
  if (m_data) ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
  m_data = nullptr;
  m_size = 0;
}

}  // namespace patchlens
