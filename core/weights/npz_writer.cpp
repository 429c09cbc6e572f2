#include "core/weights/npz_writer.h"

#include <zlib.h>

#include <limits>

#include "core/io/error.h"
#include "core/weights/npy_array.h"

namespace patchlens {
namespace {

constexpr std::uint64_t kZip32Limit = std::numeric_limits<std::uint32_t>::max();
// 1980-01-01 00:00, the zip epoch: a fixed stamp keeps outputs byte-identical across runs.
constexpr std::uint16_t kDosTime = 0;
constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;

void put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

std::uint32_t crcOf(std::uint32_t crc, const void* data, std::uint64_t size) {
  const auto* bytes = static_cast<const Bytef*>(data);
  while (size > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::uint64_t>(size, 1u << 30));
    crc = static_cast<std::uint32_t>(crc32(crc, bytes, chunk));
    bytes += chunk;
    size -= chunk;
  }
  return crc;
}

}  // namespace

NpzWriter::NpzWriter(std::string path) : m_file(std::move(path)) {}

void NpzWriter::add(const std::string& name, const std::vector<std::int64_t>& shape,
                    const float* data) {
  add(name, shape, std::vector<const float*>{data});
}

void NpzWriter::add(const std::string& name, const std::vector<std::int64_t>& shape,
                    const std::vector<const float*>& parts) {
  std::uint64_t count = 1;
  for (std::int64_t d : shape) count *= static_cast<std::uint64_t>(d);
  const std::uint64_t partBytes = parts.empty() ? 0 : count / parts.size() * sizeof(float);
  addMember(name, npyFloatHeader(shape), std::vector<const void*>(parts.begin(), parts.end()),
            partBytes);
}

void NpzWriter::addInt64(const std::string& name, const std::vector<std::int64_t>& shape,
                         const std::int64_t* data) {
  std::uint64_t count = 1;
  for (std::int64_t d : shape) count *= static_cast<std::uint64_t>(d);
  // The float header with its dtype swapped: '<i8' is as long as '<f4', so the padding holds.
  std::string header = npyFloatHeader(shape);
  header.replace(header.find("<f4"), 3, "<i8");
  addMember(name, header, {data}, count * sizeof(std::int64_t));
}

void NpzWriter::addMember(const std::string& name, const std::string& header,
                          const std::vector<const void*>& parts, std::uint64_t partBytes) {
  const std::uint64_t payload = partBytes * parts.size();
  const std::uint64_t size = header.size() + payload;
  const std::string member = name + ".npy";
  if (size > kZip32Limit || m_offset + 30 + member.size() + size > kZip32Limit) {
    throw Error(m_file.path(), "the .npz would exceed 4 GB at '" + name +
                                   "' (zip64 is not written); ask for less (--layer, no "
                                   "--attention) or a smaller image");
  }
  std::uint32_t crc = crcOf(0, header.data(), header.size());
  for (const void* part : parts) crc = crcOf(crc, part, partBytes);
  Entry e{member, crc, static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(m_offset)};
  std::string local;
  put32(local, 0x04034b50);
  put16(local, 20);  // version needed: 2.0
  put16(local, 0);   // flags
  put16(local, 0);   // stored
  put16(local, kDosTime);
  put16(local, kDosDate);
  put32(local, e.crc);
  put32(local, e.size);
  put32(local, e.size);
  put16(local, static_cast<std::uint32_t>(member.size()));
  put16(local, 0);
  local += member;
  local += header;
  m_file.write(local);
  for (const void* part : parts) m_file.write(part, partBytes);
  m_offset += local.size() + payload;
  m_entries.push_back(std::move(e));
}

void NpzWriter::commit() {
  std::string directory;
  for (const Entry& e : m_entries) {
    put32(directory, 0x02014b50);
    put16(directory, 20);  // made by
    put16(directory, 20);  // needed
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, kDosTime);
    put16(directory, kDosDate);
    put32(directory, e.crc);
    put32(directory, e.size);
    put32(directory, e.size);
    put16(directory, static_cast<std::uint32_t>(e.name.size()));
    put16(directory, 0);  // extra
    put16(directory, 0);  // comment
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, e.offset);
    directory += e.name;
  }
  if (m_offset + directory.size() > kZip32Limit || m_entries.size() > 0xFFFF)
    throw Error(m_file.path(), "the .npz would exceed 4 GB (zip64 is not written)");
  std::string end;
  put32(end, 0x06054b50);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<std::uint32_t>(m_entries.size()));
  put16(end, static_cast<std::uint32_t>(m_entries.size()));
  put32(end, static_cast<std::uint32_t>(directory.size()));
  put32(end, static_cast<std::uint32_t>(m_offset));
  put16(end, 0);
  m_file.write(directory);
  m_file.write(end);
  m_file.commit();
}

}  // namespace patchlens
