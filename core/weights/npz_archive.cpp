#include "core/weights/npz_archive.h"

#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <utility>

#include "core/io/error.h"

namespace patchlens {
namespace {

std::string quotedName(const std::string& s) {
  std::string q = s.size() > 80 ? s.substr(0, 80) + "..." : s;
  for (char& c : q) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return "'" + q + "'";
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

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

void NpzArchive::open() {
  const std::string& file = m_name;
  m_zip = std::make_unique<ZipMembers>(m_bytes, file);
  std::set<std::string> keys;
  for (const ZipMembers::Member& m : m_zip->members()) {
    const std::string& name = m.name;
    const std::string key = endsWith(name, ".npy") ? name.substr(0, name.size() - 4) : name;
    TensorInfo info;
    info.name = key;
    const std::vector<std::uint8_t> prefix = m_zip->read(m, kNpyMaxPrefixBytes, key);
    if (prefix.size() >= 6 && std::memcmp(prefix.data(), "\x93NUMPY", 6) == 0) {
      try {
        const NpyHeader h = parseNpyHeader(prefix, m.size, key);
        info.dtype = h.descr;
        info.shape = h.shape;
      } catch (const Error& e) {
        throw Error(file, ZipMembers::memberError(key, e.reason()));
      }
    } else if (endsWith(name, ".npy")) {
      throw Error(file,
                  ZipMembers::memberError(key, "not a .npy array (missing the \\x93NUMPY magic)"));
    } else {
      info.dtype = "(not an array)";  // numpy would hand these back as raw bytes
    }
    if (!keys.insert(key).second) {
      throw Error(file, "zip archive holds two members for the key " + quotedName(key) +
                            " (with and without .npy)");
    }
    m_tensors.push_back(std::move(info));
    m_members.push_back(&m);
  }
}

NpyArray NpzArchive::read(const std::string& name) const {
  return readMember(name, NpyIntegers::Refuse);
}

NpyArray NpzArchive::readData(const std::string& name) const {
  return readMember(name, NpyIntegers::Exact);
}

NpyArray NpzArchive::readMember(const std::string& name, NpyIntegers integers) const {
  if (const TensorInfo* found = find(name)) {  // hashed: no scan per tensor
    const auto i = static_cast<std::size_t>(found - m_tensors.data());
    if (m_tensors[i].dtype == "(not an array)")
      throw Error(m_name, ZipMembers::memberError(name, "is not a .npy array"));
    const std::vector<std::uint8_t> bytes = m_zip->read(*m_members[i], UINT64_MAX, name);
    try {
      return parseNpy(bytes, name, integers);
    } catch (const Error& e) {
      throw Error(m_name, ZipMembers::memberError(name, e.reason()));
    }
  }
  throw Error(m_name, "no member named " + quotedName(name));
}

}  // namespace patchlens
