#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/weights/tensor_source.h"

// libzip's handle; kept out of this header so only npz_archive.cpp sees <zip.h>.
struct zip;

namespace patchlens {

// An .npz (a zip of .npy members, stored or deflated, zip64 included) read in place with
// libzip: nothing is extracted to disk, members are inflated into memory one at a time and
// never beyond the size they declare, and a declared size is believed only up to what the
// compressed bytes can produce (deflate expands at most 1032:1), so zip bombs are refused
// before any allocation.
class NpzArchive : public TensorSource {
 public:
  // Deflate's best case is 1032:1; anything claiming more is not honest deflate.
  static constexpr std::uint64_t kMaxDeflateRatio = 1032;
  // The same limit readNpy applies to a whole .npy.
  static constexpr std::uint64_t kMaxMemberBytes = std::uint64_t{4} << 30;

  explicit NpzArchive(const std::string& path);
  NpzArchive(std::span<const std::uint8_t> bytes, std::string name);
  ~NpzArchive() override;
  NpzArchive(const NpzArchive&) = delete;
  NpzArchive& operator=(const NpzArchive&) = delete;

  std::string format() const override { return "npz"; }
  // Names are member names without their ".npy" suffix, as numpy's NpzFile.files shows them.
  const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
  NpyArray read(const std::string& name) const override;

 private:
  struct Member {
    std::uint64_t index = 0;
    std::uint64_t size = 0;  // declared uncompressed size, already checked against the bound
  };

  void open();
  // Reads at most limit bytes of a member (all of it when limit >= its size), refusing a
  // member that inflates to more or fewer bytes than it declares when read whole.
  std::vector<std::uint8_t> readMember(const Member& m, const std::string& key,
                                       std::uint64_t limit) const;
  std::string memberError(const std::string& key, const std::string& why) const;

  std::optional<MappedFile> m_file;
  std::span<const std::uint8_t> m_bytes;
  // Frees the archive even when the constructor throws half-way.
  struct ZipDiscard {
    void operator()(::zip* archive) const;
  };

  std::string m_name;
  std::unique_ptr<::zip, ZipDiscard> m_zip;
  std::vector<TensorInfo> m_tensors;
  std::vector<Member> m_members;  // parallel to m_tensors
};

}  // namespace patchlens
