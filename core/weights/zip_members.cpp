#include "core/weights/zip_members.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "core/io/error.h"

namespace patchlens {
namespace {

constexpr std::size_t kReadChunk = std::size_t{1} << 20;

std::string quotedName(const std::string& s) {
  std::string q = s.size() > 80 ? s.substr(0, 80) + "..." : s;
  for (char& c : q) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return "'" + q + "'";
}

// Never extracted, but a name that would escape a directory is a sign of a hostile archive.
// Returns why the name is refused, or nothing.
std::string pathTrick(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.front() == '/' || (name.size() >= 2 && name[1] == ':')) return "is an absolute path";
  if (name.find('\\') != std::string::npos) return "holds a backslash";
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) return "holds control characters";
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('/', start), name.size());
    if (end - start == 2 && name.compare(start, 2, "..") == 0) return "climbs out with '..'";
    start = end + 1;
  }
  return {};
}

// Owns a zip_file_t for one member read.
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

}  // namespace

void ZipMembers::ZipDiscard::operator()(::zip* archive) const {
  zip_discard(archive);
}

ZipMembers::~ZipMembers() = default;

std::string ZipMembers::memberError(const std::string& name, const std::string& why) {
  return "member " + quotedName(name) + ": " + why;
}

bool ZipMembers::looksLike(std::span<const std::uint8_t> b) {
  return b.size() >= 4 && (std::memcmp(b.data(), "PK\x03\x04", 4) == 0 ||
                           std::memcmp(b.data(), "PK\x05\x06", 4) == 0);
}

ZipMembers::ZipMembers(std::span<const std::uint8_t> bytes, std::string file)
    : m_file(std::move(file)) {
  if (bytes.size() < 22)
    throw Error(m_file, "not a zip archive: shorter than an end-of-central-directory record");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source) {
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(m_file, "cannot read the zip archive: " + why);
  }
  // ZIP_CHECKCONS makes libzip compare local and central headers, as a careful reader must.
  m_zip.reset(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!m_zip) {
    // libzip's own words for the one refusal it makes about names are too terse.
    const std::string why = zip_error_code_zip(&error) == ZIP_ER_EXISTS
                                ? "it holds a member name twice"
                                : zip_error_strerror(&error);
    zip_error_fini(&error);
    zip_source_free(source);
    throw Error(m_file, "not a valid zip archive: " + why);
  }
  zip_error_fini(&error);

  const zip_int64_t count = zip_get_num_entries(m_zip.get(), 0);
  if (count < 0) throw Error(m_file, "cannot count the zip members");
  if (static_cast<std::uint64_t>(count) > kMaxMembers) {
    throw Error(m_file, "zip archive has " + std::to_string(count) +
                            " members, more than the limit of " + std::to_string(kMaxMembers));
  }
  std::set<std::string> seen;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(m_zip.get(), i, 0, &st) != 0) {
      throw Error(m_file,
                  "cannot read zip member " + std::to_string(i) + ": " + zip_strerror(m_zip.get()));
    }
    const zip_uint64_t needed =
        ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((st.valid & needed) != needed || !st.name)
      throw Error(m_file, "zip member " + std::to_string(i) + " lacks a name or sizes");
    const std::string name = st.name;
    if (const std::string trick = pathTrick(name); !trick.empty()) {
      throw Error(m_file, "zip member name " + quotedName(name) + " " + trick);
    }
    if (!seen.insert(name).second)
      throw Error(m_file, "zip archive holds member " + quotedName(name) + " twice");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
      throw Error(m_file, memberError(name, "is encrypted"));
    }
    if (!name.empty() && name.back() == '/') {
      if (st.size != 0) throw Error(m_file, memberError(name, "a directory entry with data"));
      continue;
    }
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
      throw Error(m_file, memberError(name, "compression method " + std::to_string(st.comp_method) +
                                                " is not supported (stored or deflated only)"));
    }
    if (st.comp_size > bytes.size()) {
      throw Error(m_file, memberError(name, "compressed size " + std::to_string(st.comp_size) +
                                                " exceeds the archive's " +
                                                std::to_string(bytes.size()) + " bytes"));
    }
    if (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) {
      throw Error(m_file, memberError(name, "stored (uncompressed) but declares " +
                                                std::to_string(st.size) + " bytes for " +
                                                std::to_string(st.comp_size) + " stored"));
    }
    if (st.size > st.comp_size * kMaxDeflateRatio + 64) {
      throw Error(m_file,
                  memberError(name, "declares " + std::to_string(st.size) + " bytes from " +
                                        std::to_string(st.comp_size) +
                                        " compressed, more than deflate can produce (zip bomb?)"));
    }
    if (st.size > kMaxMemberBytes) {
      throw Error(m_file, memberError(name, "declares " + std::to_string(st.size) +
                                                " bytes, over the 4 GiB limit"));
    }
    m_byName.emplace(name, m_members.size());
    m_members.push_back({name, i, st.size});
  }
}

const ZipMembers::Member* ZipMembers::find(const std::string& name) const {
  const auto it = m_byName.find(name);
  return it == m_byName.end() ? nullptr : &m_members[it->second];
}

std::vector<std::uint8_t> ZipMembers::read(const Member& m, std::uint64_t limit,
                                           const std::string& label) const {
  const std::string& name = label.empty() ? m.name : label;
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(m_zip.get(), m.index, 0));
  if (!f) {
    throw Error(m_file,
                memberError(name, std::string("cannot open: ") + zip_strerror(m_zip.get())));
  }
  const std::uint64_t want = std::min(limit, m.size);
  std::vector<std::uint8_t> out;
  // Grow as bytes really arrive, so a member that declares more than it holds costs nothing.
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(want, 64 * kReadChunk)));
  while (out.size() < want) {
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, want - out.size()));
    const std::size_t done = out.size();
    out.resize(done + chunk);
    const zip_int64_t n = zip_fread(f.get(), out.data() + done, chunk);
    if (n < 0) {
      throw Error(m_file,
                  memberError(name, std::string("cannot inflate: ") + zip_file_strerror(f.get())));
    }
    out.resize(done + static_cast<std::size_t>(n));
    if (n == 0) break;
  }
  if (limit >= m.size) {
    if (out.size() < m.size) {
      throw Error(m_file, memberError(name, "truncated: declares " + std::to_string(m.size) +
                                                " bytes, holds " + std::to_string(out.size())));
    }
    // Never read past the declared size; one probe byte tells whether there is more.
    std::uint8_t probe = 0;
    const zip_int64_t extra = zip_fread(f.get(), &probe, 1);
    if (extra > 0) {
      throw Error(m_file, memberError(name, "inflates beyond its declared size of " +
                                                std::to_string(m.size) + " bytes"));
    }
    if (extra < 0) {
      throw Error(m_file,
                  memberError(name, std::string("cannot inflate: ") + zip_file_strerror(f.get())));
    }
  }
  return out;
}

}  // namespace patchlens
