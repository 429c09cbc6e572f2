#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace patchlens {

// A read-only memory map of a whole regular file: pages are read from disk only when touched,
// so parsing a header and a few tensors of a large checkpoint costs only those bytes.
class MappedFile {
 public:
  // Throws Error(path, reason) for a missing file, a directory, no permission or a failed map.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const std::uint8_t> bytes() const { return {m_data, m_size}; }
  // Drops this process's resident pages of the mapping (they stay in the page cache; a later
  // read faults them back in). Readers call it after copying a tensor out, so that the file's
  // bytes do not stay resident beside the float32 / packed copies built from them.
  void forgetResidentPages() const noexcept;
  const std::string& path() const { return m_path; }

 private:
  void release() noexcept;

  std::string m_path;
  const std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
};

}  // namespace patchlens
