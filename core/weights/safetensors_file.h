#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// A .safetensors file (8-byte little-endian header length, JSON header, raw data), checked as
// strictly as the reference implementation: header <= 100 MB and inside the file, valid JSON
// without duplicate keys, offsets contiguous from 0 to the end of the file, and every byte span
// equal to its shape product x dtype size. Reads F32, F16, BF16 and F64 tensors as float32.
class SafetensorsFile : public TensorSource {
 public:
  static constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

  // Maps the file; only the header and the tensors read are paged in.
  explicit SafetensorsFile(const std::string& path);
  // Parses bytes the caller keeps alive (fuzzing, tests); name appears in error messages.
  SafetensorsFile(std::span<const std::uint8_t> bytes, std::string name);

  std::string format() const override { return "safetensors"; }
  const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
  NpyArray read(const std::string& name) const override;
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }

  // True when bytes start like a safetensors file (a plausible length, then '{').
  static bool looksLike(std::span<const std::uint8_t> head, std::uint64_t fileSize);

 private:
  struct Span {
    std::uint64_t begin = 0;  // relative to the first data byte
    std::uint64_t end = 0;
    std::size_t itemSize = 0;
  };

  void parse();

  std::optional<MappedFile> m_file;
  std::span<const std::uint8_t> m_bytes;
  std::string m_name;
  std::uint64_t m_dataStart = 0;
  std::vector<TensorInfo> m_tensors;  // in file (offset) order
  std::vector<Span> m_spans;          // parallel to m_tensors
  std::map<std::string, std::string> m_metadata;
};

}  // namespace patchlens
