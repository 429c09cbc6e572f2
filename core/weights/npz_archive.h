#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/weights/tensor_source.h"
#include "core/weights/zip_members.h"

namespace patchlens {

// An .npz (a zip of .npy members, stored or deflated, zip64 included) read in place with
// libzip: nothing is extracted to disk, members are inflated into memory one at a time and
// never beyond the size they declare, and a declared size is believed only up to what the
// compressed bytes can produce (deflate expands at most 1032:1), so zip bombs are refused
// before any allocation.
class NpzArchive : public TensorSource {
 public:
  static constexpr std::uint64_t kMaxDeflateRatio = ZipMembers::kMaxDeflateRatio;
  // The same limit readNpy applies to a whole .npy.
  static constexpr std::uint64_t kMaxMemberBytes = ZipMembers::kMaxMemberBytes;

  explicit NpzArchive(const std::string& path);
  NpzArchive(std::span<const std::uint8_t> bytes, std::string name);
  ~NpzArchive() override;
  NpzArchive(const NpzArchive&) = delete;
  NpzArchive& operator=(const NpzArchive&) = delete;

  std::string format() const override { return "npz"; }
  // Names are member names without their ".npy" suffix, as numpy's NpzFile.files shows them.
  const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
  NpyArray read(const std::string& name) const override;  // float members only (weights)
  // Any numeric member, integers included when float32 holds them exactly (reading back an
  // explain output's int64 `class`).
  NpyArray readData(const std::string& name) const;

 private:
  void open();
  NpyArray readMember(const std::string& name, NpyIntegers integers) const;

  std::optional<MappedFile> m_file;
  std::span<const std::uint8_t> m_bytes;
  std::string m_name;
  std::unique_ptr<ZipMembers> m_zip;
  std::vector<TensorInfo> m_tensors;
  std::vector<const ZipMembers::Member*> m_members;  // parallel to m_tensors
};

}  // namespace patchlens
