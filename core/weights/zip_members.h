#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

// libzip's handle; kept out of this header so only zip_members.cpp sees <zip.h>.
struct zip;

namespace patchlens {

// The members of a zip archive held in memory (a mapped file), listed and checked the way a
// careful reader must: local and central headers agree, no duplicate or path-trick names, no
// encryption, stored or deflated only, and every declared size bounded by what the compressed
// bytes can produce, so nothing is extracted to disk and zip bombs are refused before any
// allocation. Shared by the .npz reader and the PyTorch zip checkpoint reader.
class ZipMembers {
 public:
  // Deflate's best case is 1032:1; anything claiming more is not honest deflate.
  static constexpr std::uint64_t kMaxDeflateRatio = 1032;
  static constexpr std::uint64_t kMaxMemberBytes = std::uint64_t{4} << 30;
  // More members than any model has; keeps the listing bounded.
  static constexpr std::uint64_t kMaxMembers = 100'000;

  struct Member {
    std::string name;
    std::uint64_t index = 0;
    std::uint64_t size = 0;  // declared uncompressed size, already checked against the bounds
  };

  // bytes must outlive this object; file names the archive in errors. Throws Error(file, ...).
  ZipMembers(std::span<const std::uint8_t> bytes, std::string file);
  ~ZipMembers();
  ZipMembers(const ZipMembers&) = delete;
  ZipMembers& operator=(const ZipMembers&) = delete;

  // Files only (directory entries are checked, then left out), in archive order.
  const std::vector<Member>& members() const { return m_members; }
  const Member* find(const std::string& name) const;

  // Reads at most limit bytes of a member (all of it when limit >= its size), refusing a
  // member that inflates to more or fewer bytes than it declares when read whole. Errors name
  // the member as label (the member name when empty).
  std::vector<std::uint8_t> read(const Member& m, std::uint64_t limit = UINT64_MAX,
                                 const std::string& label = {}) const;

  // "member 'name': why", the wording every member refusal uses.
  static std::string memberError(const std::string& name, const std::string& why);

  // True when bytes start with a zip local header or an empty archive's end record.
  static bool looksLike(std::span<const std::uint8_t> head);

 private:
  struct ZipDiscard {
    void operator()(::zip* archive) const;
  };

  std::string m_file;
  std::unique_ptr<::zip, ZipDiscard> m_zip;
  std::vector<Member> m_members;
  std::unordered_map<std::string, std::size_t> m_byName;  // hashed: 90,000 lookups stay linear
};

}  // namespace patchlens
