#include "core/weights/npz_archive.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <utility>

#include "core/io/error.h"

namespace patchlens {
namespace {

// More members than any model has; keeps the listing (one header read per member) bounded.
constexpr std::uint64_t kMaxMembers = 100'000;
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

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Owns a zip_file_t for one member read.
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

}  // namespace

NpzArchive::NpzArchive(const std::string& path) : m_file(std::in_place, path), m_name(path) {
  m_bytes = m_file->bytes();
  open();
}

NpzArchive::NpzArchive(std::span<const std::uint8_t> bytes, std::string name)
    : m_bytes(bytes), m_name(std::move(name)) {
  open();
}

NpzArchive::~NpzArchive() = default;

void NpzArchive::ZipDiscard::operator()(::zip* archive) const {
  zip_discard(archive);
}

std::string NpzArchive::memberError(const std::string& key, const std::string& why) const {
  return "member " + quotedName(key) + ": " + why;
}

void NpzArchive::open() {
  const std::string& file = m_name;
  if (m_bytes.size() < 22)
    throw Error(file, "not a zip archive: shorter than an end-of-central-directory record");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(m_bytes.data(), m_bytes.size(), 0, &error);
  if (!source) {
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(file, "cannot read the zip archive: " + why);
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
    throw Error(file, "not a valid zip archive: " + why);
  }
  zip_error_fini(&error);

  const zip_int64_t count = zip_get_num_entries(m_zip.get(), 0);
  if (count < 0) throw Error(file, "cannot count the zip members");
  if (static_cast<std::uint64_t>(count) > kMaxMembers) {
    throw Error(file, "zip archive has " + std::to_string(count) +
                          " members, more than the limit of " + std::to_string(kMaxMembers));
  }
  std::set<std::string> seen, keys;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(m_zip.get(), i, 0, &st) != 0) {
      throw Error(file,
                  "cannot read zip member " + std::to_string(i) + ": " + zip_strerror(m_zip.get()));
    }
    const zip_uint64_t needed =
        ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((st.valid & needed) != needed || !st.name)
      throw Error(file, "zip member " + std::to_string(i) + " lacks a name or sizes");
    const std::string name = st.name;
    if (const std::string trick = pathTrick(name); !trick.empty()) {
      throw Error(file, "zip member name " + quotedName(name) + " " + trick);
    }
    if (!seen.insert(name).second)
      throw Error(file, "zip archive holds member " + quotedName(name) + " twice");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
      throw Error(file, memberError(name, "is encrypted"));
    }
    if (endsWith(name, "/")) {
      if (st.size != 0) throw Error(file, memberError(name, "a directory entry with data"));
      continue;
    }
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
      throw Error(file, memberError(name, "compression method " + std::to_string(st.comp_method) +
                                              " is not supported (stored or deflated only)"));
    }
    if (st.comp_size > m_bytes.size()) {
      throw Error(file, memberError(name, "compressed size " + std::to_string(st.comp_size) +
                                              " exceeds the archive's " +
                                              std::to_string(m_bytes.size()) + " bytes"));
    }
    if (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) {
      throw Error(
          file, memberError(name, "stored (uncompressed) but declares " + std::to_string(st.size) +
                                      " bytes for " + std::to_string(st.comp_size) + " stored"));
    }
    if (st.size > st.comp_size * kMaxDeflateRatio + 64) {
      throw Error(file,
                  memberError(name, "declares " + std::to_string(st.size) + " bytes from " +
                                        std::to_string(st.comp_size) +
                                        " compressed, more than deflate can produce (zip bomb?)"));
    }
    if (st.size > kMaxMemberBytes) {
      throw Error(file, memberError(name, "declares " + std::to_string(st.size) +
                                              " bytes, over the 4 GiB limit"));
    }
    Member m{i, st.size};
    const std::string key = endsWith(name, ".npy") ? name.substr(0, name.size() - 4) : name;
    TensorInfo info;
    info.name = key;
    const std::vector<std::uint8_t> prefix = readMember(m, key, kNpyMaxPrefixBytes);
    if (prefix.size() >= 6 && std::memcmp(prefix.data(), "\x93NUMPY", 6) == 0) {
      try {
        const NpyHeader h = parseNpyHeader(prefix, m.size, key);
        info.dtype = h.descr;
        info.shape = h.shape;
      } catch (const Error& e) {
        throw Error(file, memberError(key, e.reason()));
      }
    } else if (endsWith(name, ".npy")) {
      throw Error(file, memberError(key, "not a .npy array (missing the \\x93NUMPY magic)"));
    } else {
      info.dtype = "(not an array)";  // numpy would hand these back as raw bytes
    }
    if (!keys.insert(key).second) {
      throw Error(file, "zip archive holds two members for the key " + quotedName(key) +
                            " (with and without .npy)");
    }
    m_tensors.push_back(std::move(info));
    m_members.push_back(m);
  }
}

std::vector<std::uint8_t> NpzArchive::readMember(const Member& m, const std::string& key,
                                                 std::uint64_t limit) const {
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(m_zip.get(), m.index, 0));
  if (!f)
    throw Error(m_name, memberError(key, std::string("cannot open: ") + zip_strerror(m_zip.get())));
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
    if (n < 0)
      throw Error(m_name,
                  memberError(key, std::string("cannot inflate: ") + zip_file_strerror(f.get())));
    out.resize(done + static_cast<std::size_t>(n));
    if (n == 0) break;
  }
  if (limit >= m.size) {
    if (out.size() < m.size) {
      throw Error(m_name, memberError(key, "truncated: declares " + std::to_string(m.size) +
                                               " bytes, holds " + std::to_string(out.size())));
    }
    // Never read past the declared size; one probe byte tells whether there is more.
    std::uint8_t probe = 0;
    const zip_int64_t extra = zip_fread(f.get(), &probe, 1);
    if (extra > 0)
      throw Error(m_name, memberError(key, "inflates beyond its declared size of " +
                                               std::to_string(m.size) + " bytes"));
    if (extra < 0)
      throw Error(m_name,
                  memberError(key, std::string("cannot inflate: ") + zip_file_strerror(f.get())));
  }
  return out;
}

NpyArray NpzArchive::read(const std::string& name) const {
  for (std::size_t i = 0; i < m_tensors.size(); ++i) {
    if (m_tensors[i].name != name) continue;
    if (m_tensors[i].dtype == "(not an array)")
      throw Error(m_name, memberError(name, "is not a .npy array"));
    const std::vector<std::uint8_t> bytes =
        readMember(m_members[i], name, std::numeric_limits<std::uint64_t>::max());
    try {
      return parseNpy(bytes, name);
    } catch (const Error& e) {
      throw Error(m_name, memberError(name, e.reason()));
    }
  }
  throw Error(m_name, "no member named " + quotedName(name));
}

}  // namespace patchlens
