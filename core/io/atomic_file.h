#pragma once

#include <cstddef>
#include <string>

namespace patchlens {

// Writes a file so that readers see either the old file or the complete new one:
// data goes to a temporary file in the same directory, which commit() fsyncs and
// renames over the target. Destroyed without commit(), it removes the temporary file.
class AtomicFile {
 public:
  // Throws Error(path, reason) when the directory is missing or not writable.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws Error(path, reason) on a short write (disk full, file size limit).
  void write(const void* data, std::size_t size);
  void write(const std::string& text) { write(text.data(), text.size()); }
  void commit();

  const std::string& path() const { return m_path; }

 private:
  void discard() noexcept;

  std::string m_path;
  std::string m_tempPath;
  int m_fd = -1;
  bool m_committed = false;
};

}  // namespace patchlens
