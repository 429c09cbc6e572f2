#include "core/weights/gguf_file.h"

#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <utility>

#include "core/io/error.h"
#include "core/weights/half_float.h"
#include "core/weights/npy_array.h"
#include "core/weights/shape_text.h"

namespace patchlens {
namespace {

// GGUF metadata value types.
enum : std::uint32_t {
  kUint8 = 0,
  kInt8,
  kUint16,
  kInt16,
  kUint32,
  kInt32,
  kFloat32,
  kBool,
  kString,
  kArray,
  kUint64,
  kInt64,
  kFloat64,
};

// ggml tensor types: name, elements per block, bytes per block (ggml.c type_traits).
struct GgmlType {
  std::uint32_t id;
  const char* name;
  std::uint64_t blockElements;
  std::uint64_t blockBytes;
};

constexpr GgmlType kTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},
};

const GgmlType* ggmlType(std::uint32_t id) {
  for (const GgmlType& t : kTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

constexpr std::uint64_t kTypeBytes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

std::string numberText(double v) {
  std::ostringstream s;
  s.precision(7);
  s << v;
  return s.str();
}

// A bounds-checked little-endian cursor over the file.
class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> b, const std::string& file) : m_b(b), m_file(file) {}

  std::uint64_t remaining() const { return m_b.size() - m_pos; }
  std::uint64_t position() const { return m_pos; }
  void need(std::uint64_t n, const char* what) const {
    if (n > remaining()) {
      throw Error(m_file, std::string("truncated: ") + what + " needs " + std::to_string(n) +
                              " bytes at offset " + std::to_string(m_pos) + ", " +
                              std::to_string(remaining()) + " remain");
    }
  }
  std::uint64_t le(std::size_t n, const char* what) {
    need(n, what);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{m_b[m_pos + i]} << (8 * i);
    m_pos += n;
    return v;
  }
  std::string string(const char* what) {
    const std::uint64_t n = le(8, what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(m_b.data() + m_pos), static_cast<std::size_t>(n));
    m_pos += n;
    return s;
  }

 private:
  std::span<const std::uint8_t> m_b;
  const std::string& m_file;
  std::uint64_t m_pos = 0;
};

double scalar(Cursor& c, std::uint32_t type) {
  const std::uint64_t v = c.le(static_cast<std::size_t>(kTypeBytes[type]), "a metadata value");
  switch (type) {
    case kInt8:
      return static_cast<std::int8_t>(v);
    case kInt16:
      return static_cast<std::int16_t>(v);
    case kInt32:
      return static_cast<std::int32_t>(v);
    case kInt64:
      return static_cast<double>(static_cast<std::int64_t>(v));
    case kFloat32: {
      const auto bits = static_cast<std::uint32_t>(v);
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case kFloat64: {
      double d;
      std::memcpy(&d, &v, 8);
      return d;
    }
    default:
      return static_cast<double>(v);
  }
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : m_file(std::in_place, path), m_name(path) {
  m_bytes = m_file->bytes();
  parse();
}

GgufFile::GgufFile(std::span<const std::uint8_t> bytes, std::string name)
    : m_bytes(bytes), m_name(std::move(name)) {
  parse();
}

bool GgufFile::looksLike(std::span<const std::uint8_t> head) {
  return head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0;
}

void GgufFile::parse() {
  Cursor c(m_bytes, m_name);
  if (m_bytes.size() < 24 || !looksLike(m_bytes)) {
    throw Error(m_name, looksLike(m_bytes) ? "truncated GGUF header (24 bytes needed)"
                                           : "not a GGUF file (no 'GGUF' magic)");
  }
  c.le(4, "magic");
  const auto version = static_cast<std::uint32_t>(c.le(4, "version"));
  if (version == 1) throw Error(m_name, "GGUF version 1 is not supported (2 and 3 are)");
  if (version != 2 && version != 3) {
    if ((version & 0xFFFF) == 0) throw Error(m_name, "big-endian GGUF is not supported");
    throw Error(m_name, "unknown GGUF version " + std::to_string(version));
  }
  m_version = version;
  const std::uint64_t tensorCount = c.le(8, "tensor count");
  const std::uint64_t kvCount = c.le(8, "metadata count");
  // Each metadata entry takes at least 13 bytes, each tensor info at least 24: counts that
  // cannot fit in the file are refused before anything is allocated.
  if (kvCount > c.remaining() / 13) {
    throw Error(m_name, "absurd metadata count " + std::to_string(kvCount) + " for a file of " +
                            std::to_string(m_bytes.size()) + " bytes");
  }
  if (tensorCount > c.remaining() / 24) {
    throw Error(m_name, "absurd tensor count " + std::to_string(tensorCount) + " for a file of " +
                            std::to_string(m_bytes.size()) + " bytes");
  }
  for (std::uint64_t i = 0; i < kvCount; ++i) {
    std::string key = c.string("a metadata key");
    const auto type = static_cast<std::uint32_t>(c.le(4, "a metadata type"));
    GgufValue v;
    v.type = type;
    if (type == kString) {
      v.text = c.string("a metadata string");
    } else if (type == kArray) {
      v.arrayType = static_cast<std::uint32_t>(c.le(4, "an array type"));
      v.arrayCount = c.le(8, "an array length");
      if (v.arrayType > kFloat64 || v.arrayType == kArray) {
        throw Error(m_name, "metadata " + quotedName(key) + ": array of unknown or nested type " +
                                std::to_string(v.arrayType));
      }
      const std::uint64_t minBytes = v.arrayType == kString ? 8 : kTypeBytes[v.arrayType];
      if (v.arrayCount > c.remaining() / minBytes) {
        throw Error(m_name, "metadata " + quotedName(key) + ": absurd array length " +
                                std::to_string(v.arrayCount) + " for the bytes that remain");
      }
      for (std::uint64_t k = 0; k < v.arrayCount; ++k) {
        if (v.arrayType == kString) {
          std::string s = c.string("an array string");
          if (k < kMaxKeptItems) v.strings.push_back(std::move(s));
        } else {
          const double x = scalar(c, v.arrayType);
          if (k < kMaxKeptItems) v.numbers.push_back(x);
        }
      }
    } else if (type <= kFloat64) {
      v.number = scalar(c, type);
    } else {
      throw Error(m_name,
                  "metadata " + quotedName(key) + " has unknown type " + std::to_string(type));
    }
    if (m_metadata.count(key)) throw Error(m_name, "metadata key " + quotedName(key) + " twice");
    m_metadataOrder.push_back(key);
    m_metadata.emplace(std::move(key), std::move(v));
  }
  if (const auto it = m_metadata.find("general.alignment"); it != m_metadata.end()) {
    const GgufValue& a = it->second;
    // The range is checked on the double before converting: a negative or huge value
    // (from a uint32 field, but the type is checked in the same breath) must not be cast.
    const bool inRange = a.type == kUint32 && a.number >= 1.0 && a.number <= double(1u << 20);
    const std::uint64_t n = inRange ? static_cast<std::uint64_t>(a.number) : 0;
    static const char* const kTypeNames[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                             "int32",  "float32", "bool",   "string", "array",
                                             "uint64", "int64",   "float64"};
    if (a.type != kUint32) {
      throw Error(m_name, "bad alignment: general.alignment " + numberText(a.number) +
                              " is stored as " +
                              (a.type <= kFloat64 ? kTypeNames[a.type] : "an unknown type") +
                              ", not as the uint32 the format defines");
    }
    if (!inRange || (n & (n - 1)) != 0) {
      throw Error(m_name, "bad alignment: general.alignment " + numberText(a.number) +
                              " is not a power of two from 1 to 2^20");
    }
    m_alignment = static_cast<std::uint32_t>(n);
  }

  std::set<std::string> names;
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t i = 0; i < tensorCount; ++i) {
    TensorInfo info;
    info.name = c.string("a tensor name");
    if (info.name.size() > 1024) throw Error(m_name, "tensor name over 1024 bytes");
    if (!names.insert(info.name).second)
      throw Error(m_name, "tensor " + quotedName(info.name) + " listed twice");
    const auto dims = static_cast<std::uint32_t>(c.le(4, "a tensor's dimension count"));
    if (dims == 0 || dims > kMaxDims) {
      throw Error(m_name, "tensor " + quotedName(info.name) + " has " + std::to_string(dims) +
                              " dimensions (1 to 4)");
    }
    std::vector<std::uint64_t> ne(dims);
    std::uint64_t numel = 1;
    for (std::uint32_t d = 0; d < dims; ++d) {
      ne[d] = c.le(8, "a tensor dimension");
      if (ne[d] > (std::uint64_t{1} << 40) || __builtin_mul_overflow(numel, ne[d], &numel) ||
          numel > (std::uint64_t{1} << 40)) {
        throw Error(m_name, "tensor " + quotedName(info.name) + " declares an absurd size");
      }
    }
    const auto typeId = static_cast<std::uint32_t>(c.le(4, "a tensor type"));
    const GgmlType* type = ggmlType(typeId);
    if (!type) {
      throw Error(m_name, "tensor " + quotedName(info.name) + " has unknown ggml type " +
                              std::to_string(typeId));
    }
    const std::uint64_t offset = c.le(8, "a tensor offset");
    if (ne[0] % type->blockElements != 0) {
      throw Error(m_name, "tensor " + quotedName(info.name) + ": " + type->name + " rows of " +
                              std::to_string(ne[0]) + " are not whole blocks of " +
                              std::to_string(type->blockElements));
    }
    if (offset % m_alignment != 0) {
      throw Error(m_name, "bad alignment: tensor " + quotedName(info.name) + " at offset " +
                              std::to_string(offset) + " is not a multiple of " +
                              std::to_string(m_alignment));
    }
    for (std::uint32_t d = dims; d-- > 0;) info.shape.push_back(static_cast<std::int64_t>(ne[d]));
    info.dtype = type->name;
    m_tensors.push_back(std::move(info));
    m_spans.push_back({typeId, offset, numel / type->blockElements * type->blockBytes});
  }
  const std::uint64_t pos = c.position();
  const std::uint64_t dataStart = (pos + m_alignment - 1) / m_alignment * m_alignment;
  const std::uint64_t dataBytes = dataStart <= m_bytes.size() ? m_bytes.size() - dataStart : 0;
  for (std::size_t i = 0; i < m_spans.size(); ++i) {
    Span& s = m_spans[i];
    if (s.offset > dataBytes || s.bytes > dataBytes - s.offset) {
      throw Error(m_name, "truncated: tensor " + quotedName(m_tensors[i].name) + " " +
                              shapeText(m_tensors[i].shape) + " needs bytes " +
                              std::to_string(s.offset) + ".." + std::to_string(s.offset + s.bytes) +
                              " of a data section of " + std::to_string(dataBytes));
    }
    s.offset += dataStart;
  }
}

NpyArray GgufFile::read(const std::string& name) const {
  if (const TensorInfo* found = find(name)) {  // hashed: no scan per tensor
    const auto i = static_cast<std::size_t>(found - m_tensors.data());
    const TensorInfo& t = m_tensors[i];
    const Span& s = m_spans[i];
    NpyArray out;
    out.shape = t.shape;
    std::size_t numel = 1;
    for (std::int64_t d : t.shape) numel *= static_cast<std::size_t>(d);
    if (numel == 0) return out;  // a zero dimension: nothing to copy (and memcpy of null is UB)
    const std::uint8_t* p = m_bytes.data() + s.offset;
    switch (s.type) {
      case 0:
        out.data.resize(numel);
        std::memcpy(out.data.data(), p, numel * 4);
        break;
      case 1:
      case 30:
        out.data.resize(numel);
        for (std::size_t k = 0; k < numel; ++k) {
          const auto bits = static_cast<std::uint16_t>(p[2 * k] | (p[2 * k + 1] << 8));
          out.data[k] = s.type == 1 ? halfToFloat(bits) : bfloat16ToFloat(bits);
        }
        break;
      case 28:
        out.data.resize(numel);
        for (std::size_t k = 0; k < numel; ++k) {
          double d;
          std::memcpy(&d, p + 8 * k, 8);
          out.data[k] = narrowToFloat(d);
        }
        break;
      case 8:  // Q8_0: blocks of an f16 scale and 32 int8 quants
        out.data.resize(numel);
        for (std::size_t b = 0; b < numel / 32; ++b) {
          const std::uint8_t* block = p + 34 * b;
          const float scale = halfToFloat(static_cast<std::uint16_t>(block[0] | (block[1] << 8)));
          for (std::size_t k = 0; k < 32; ++k)
            out.data[32 * b + k] =
                scale * static_cast<float>(static_cast<std::int8_t>(block[2 + k]));
        }
        break;
      default:
        throw Error(m_name,
                    "tensor " + quotedName(name) + " is " + t.dtype +
                        ", which PatchLens does not dequantise (F32, F16, BF16, F64, Q8_0)");
    }
    if (m_file) m_file->forgetResidentPages();  // the float32 copy is what the caller keeps
    return out;
  }
  throw Error(m_name, "no tensor named " + quotedName(name));
}

std::optional<std::string> GgufFile::metaString(const std::string& key) const {
  const auto it = m_metadata.find(key);
  if (it == m_metadata.end() || it->second.type != kString) return std::nullopt;
  return it->second.text;
}

std::optional<double> GgufFile::metaNumber(const std::string& key) const {
  const auto it = m_metadata.find(key);
  if (it == m_metadata.end() || it->second.type == kString || it->second.type == kArray)
    return std::nullopt;
  return it->second.number;
}

std::optional<std::vector<double>> GgufFile::metaNumbers(const std::string& key) const {
  const auto it = m_metadata.find(key);
  if (it == m_metadata.end() || it->second.type != kArray || it->second.arrayType == kString ||
      it->second.arrayCount > kMaxKeptItems) {
    return std::nullopt;
  }
  return it->second.numbers;
}

std::vector<std::string> GgufFile::details() const {
  std::vector<std::string> lines;
  lines.push_back("alignment " + std::to_string(m_alignment) + ", " +
                  std::to_string(m_metadata.size()) + " metadata entries");
  for (const std::string& key : m_metadataOrder) {
    const GgufValue& v = m_metadata.at(key);
    std::string value;
    if (v.type == kString) {
      value = quotedName(v.text);
    } else if (v.type == kArray) {
      value = "[";
      const std::size_t shown =
          std::min<std::size_t>(8, v.arrayType == kString ? v.strings.size() : v.numbers.size());
      for (std::size_t k = 0; k < shown; ++k) {
        value += (k ? ", " : "") +
                 (v.arrayType == kString ? quotedName(v.strings[k]) : numberText(v.numbers[k]));
      }
      if (v.arrayCount > shown) value += ", ... (" + std::to_string(v.arrayCount) + " items)";
      value += "]";
    } else if (v.type == kBool) {
      value = v.number != 0 ? "true" : "false";
    } else {
      value = numberText(v.number);
    }
    lines.push_back(quotedName(key).substr(1, quotedName(key).size() - 2) + " = " + value);
  }
  return lines;
}

}  // namespace patchlens
