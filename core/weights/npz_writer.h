#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/io/atomic_file.h"

namespace patchlens {

// Writes a NumPy .npz (a zip of .npy members, stored without compression, as np.savez does)
// atomically, one member at a time: each array goes to disk as soon as it is added, so a
// caller can stream large arrays (every layer's attention) without holding them all. Archives
// up to 4 GB are plain zip (byte-identical to before); a member, offset or directory beyond the
// 32-bit fields is written with zip64 records (as numpy's zipfile and libzip read them).
class NpzWriter {
 public:
  static constexpr std::uint64_t kZip32Limit = 0xFFFFFFFFu;

  // Throws Error(path, reason) when the directory is missing or not writable. zip32Limit: sizes
  // and offsets above it go to zip64 fields; tests lower it to exercise zip64 on small files.
  explicit NpzWriter(std::string path, std::uint64_t zip32Limit = kZip32Limit);

  // Adds member "<name>.npy" holding float32 C-order data of this shape.
  void add(const std::string& name, const std::vector<std::int64_t>& shape, const float* data);
  // The same from equal consecutive parts (e.g. one [T x T] matrix per head of [H, T, T]).
  void add(const std::string& name, const std::vector<std::int64_t>& shape,
           const std::vector<const float*>& parts);
  // An int64 member (e.g. a 0-d class index, shape {}).
  void addInt64(const std::string& name, const std::vector<std::int64_t>& shape,
                const std::int64_t* data);
  // Writes the central directory and renames the file into place.
  void commit();

 private:
  struct Entry {
    std::string name;
    std::uint32_t crc = 0;
    std::uint64_t size = 0;
    std::uint64_t offset = 0;
  };

  void addMember(const std::string& name, const std::string& header,
                 const std::vector<const void*>& parts, std::uint64_t partBytes);

  AtomicFile m_file;
  std::uint64_t m_zip32Limit;
  std::vector<Entry> m_entries;
  std::uint64_t m_offset = 0;
};

}  // namespace patchlens
