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

// One GGUF metadata value: a scalar, a string, or an array of them (kept up to a bound).
struct GgufValue {
  std::uint32_t type = 0;       // GGUF value type (0 UINT8 ... 12 FLOAT64), 9 for arrays
  std::uint32_t arrayType = 0;  // element type of an array
  std::uint64_t arrayCount = 0;
  double number = 0;                 // numeric and bool scalars
  std::string text;                  // strings
  std::vector<double> numbers;       // numeric arrays (the first kMaxKeptItems)
  std::vector<std::string> strings;  // string arrays (the first kMaxKeptItems)
};

// A GGUF file (llama.cpp; v2 and v3, little-endian), mapped: header, metadata of every type,
// tensor infos (dims stored fastest-first, reported as the C-order shape PyTorch would see),
// `general.alignment`, and F32/F16/BF16/F64/Q8_0 tensors read as float32. Other quantisations
// are listed and refused by name on read. Every count and length is checked against the bytes
// that remain before anything is allocated.
class GgufFile : public TensorSource {
 public:
  static constexpr std::uint64_t kMaxKeptItems = 1024;
  static constexpr std::uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

  explicit GgufFile(const std::string& path);
  GgufFile(std::span<const std::uint8_t> bytes, std::string name);

  std::string format() const override { return "gguf v" + std::to_string(m_version); }
  const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
  NpyArray read(const std::string& name) const override;
  // "key = value" for every metadata entry (arrays shortened).
  std::vector<std::string> details() const override;

  const std::map<std::string, GgufValue>& metadata() const { return m_metadata; }
  std::optional<std::string> metaString(const std::string& key) const;
  // A numeric or bool scalar.
  std::optional<double> metaNumber(const std::string& key) const;
  // A numeric array (whole only: nullopt when it is longer than kMaxKeptItems).
  std::optional<std::vector<double>> metaNumbers(const std::string& key) const;
  std::uint32_t alignment() const { return m_alignment; }

  static bool looksLike(std::span<const std::uint8_t> head);

 private:
  struct Span {
    std::uint32_t type = 0;    // ggml_type
    std::uint64_t offset = 0;  // absolute, in the file
    std::uint64_t bytes = 0;
  };

  void parse();

  std::optional<MappedFile> m_file;
  std::span<const std::uint8_t> m_bytes;
  std::string m_name;
  std::uint32_t m_version = 0;
  std::uint32_t m_alignment = 32;
  std::map<std::string, GgufValue> m_metadata;
  std::vector<std::string> m_metadataOrder;
  std::vector<TensorInfo> m_tensors;
  std::vector<Span> m_spans;  // parallel to m_tensors
};

}  // namespace patchlens
