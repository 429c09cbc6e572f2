#include "core/weights/npz_writer.h"

#include <zlib.h>

#include <algorithm>

#include "core/io/error.h"
#include "core/weights/npy_array.h"

namespace patchlens {
namespace {

constexpr std::uint32_t kZip64Marker = 0xFFFFFFFFu;  // "the value is in the zip64 extra field"
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint16_t kVersionZip = 20;    // 2.0: stored members
constexpr std::uint16_t kVersionZip64 = 45;  // 4.5: zip64 extensions
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
void put64(std::string& s, std::uint64_t v) {
  put32(s, static_cast<std::uint32_t>(v & 0xFFFFFFFFu));
  put32(s, static_cast<std::uint32_t>(v >> 32));
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

NpzWriter::NpzWriter(std::string path, std::uint64_t zip32Limit)
    : m_file(std::move(path)), m_zip32Limit(std::min<std::uint64_t>(zip32Limit, kZip32Limit)) {}

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
  std::uint32_t crc = crcOf(0, header.data(), header.size());
  for (const void* part : parts) crc = crcOf(crc, part, partBytes);
  Entry e{member, crc, size, m_offset};
  // A local header's zip64 extra field holds both sizes (APPNOTE 4.5.3).
  const bool zip64 = size > m_zip32Limit;
  std::string local;
  put32(local, 0x04034b50);
  put16(local, zip64 ? kVersionZip64 : kVersionZip);
  put16(local, 0);  // flags
  put16(local, 0);  // stored
  put16(local, kDosTime);
  put16(local, kDosDate);
  put32(local, e.crc);
  put32(local, zip64 ? kZip64Marker : static_cast<std::uint32_t>(size));
  put32(local, zip64 ? kZip64Marker : static_cast<std::uint32_t>(size));
  put16(local, static_cast<std::uint32_t>(member.size()));
  put16(local, zip64 ? 20 : 0);
  local += member;
  if (zip64) {
    put16(local, kZip64ExtraId);
    put16(local, 16);
    put64(local, size);
    put64(local, size);
  }
  local += header;
  m_file.write(local);
  for (const void* part : parts) m_file.write(part, partBytes);
  m_offset += local.size() + payload;
  m_entries.push_back(std::move(e));
}

void NpzWriter::commit() {
  std::string directory;
  for (const Entry& e : m_entries) {
    // The central zip64 extra field holds, in this order, only the values marked 0xFFFFFFFF.
    const bool bigSize = e.size > m_zip32Limit;
    const bool bigOffset = e.offset > m_zip32Limit;
    std::string extra;
    if (bigSize || bigOffset) {
      put16(extra, kZip64ExtraId);
      put16(extra, (bigSize ? 16 : 0) + (bigOffset ? 8 : 0));
      if (bigSize) {
        put64(extra, e.size);
        put64(extra, e.size);
      }
      if (bigOffset) put64(extra, e.offset);
    }
    const std::uint16_t version = extra.empty() ? kVersionZip : kVersionZip64;
    put32(directory, 0x02014b50);
    put16(directory, version);  // made by
    put16(directory, version);  // needed
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, kDosTime);
    put16(directory, kDosDate);
    put32(directory, e.crc);
    put32(directory, bigSize ? kZip64Marker : static_cast<std::uint32_t>(e.size));
    put32(directory, bigSize ? kZip64Marker : static_cast<std::uint32_t>(e.size));
    put16(directory, static_cast<std::uint32_t>(e.name.size()));
    put16(directory, static_cast<std::uint32_t>(extra.size()));
    put16(directory, 0);  // comment
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, bigOffset ? kZip64Marker : static_cast<std::uint32_t>(e.offset));
    directory += e.name;
    directory += extra;
  }
  const std::uint64_t entries = m_entries.size();
  const bool zip64End =
      entries >= 0xFFFF || directory.size() > m_zip32Limit || m_offset > m_zip32Limit;
  std::string end;
  if (zip64End) {
    // The zip64 end of central directory record, then its locator (APPNOTE 4.3.14, 4.3.15).
    const std::uint64_t recordOffset = m_offset + directory.size();
    put32(end, 0x06064b50);
    put64(end, 44);  // the record's size after this field
    put16(end, kVersionZip64);
    put16(end, kVersionZip64);
    put32(end, 0);  // this disk
    put32(end, 0);  // the directory's disk
    put64(end, entries);
    put64(end, entries);
    put64(end, directory.size());
    put64(end, m_offset);
    put32(end, 0x07064b50);
    put32(end, 0);
    put64(end, recordOffset);
    put32(end, 1);  // disks
  }
  put32(end, 0x06054b50);
  put16(end, 0);
  put16(end, 0);
  put16(end, zip64End ? 0xFFFF : static_cast<std::uint32_t>(entries));
  put16(end, zip64End ? 0xFFFF : static_cast<std::uint32_t>(entries));
  put32(end, zip64End ? kZip64Marker : static_cast<std::uint32_t>(directory.size()));
  put32(end, zip64End ? kZip64Marker : static_cast<std::uint32_t>(m_offset));
  put16(end, 0);
  m_file.write(directory);
  m_file.write(end);
  m_file.commit();
}

}  // namespace patchlens
