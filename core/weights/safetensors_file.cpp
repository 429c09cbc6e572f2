#include "core/weights/safetensors_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <unordered_set>
#include <utility>

#include "core/io/error.h"
#include "core/weights/half_float.h"

namespace patchlens {
namespace {

using Json = nlohmann::json;

// Every dtype of the safetensors spec, so that files with integer buffers (HF's position_ids)
// still validate; only the float ones can be read.
std::size_t dtypeSize(const std::string& dtype) {
  static const std::pair<const char*, std::size_t> kTable[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  for (const auto& [name, size] : kTable) {
    if (dtype == name) return size;
  }
  return 0;
}

std::uint64_t readU64le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// nlohmann's messages quote the offending input; keep them printable and short.
std::string jsonReason(const std::exception& e) {
  std::string what = e.what();
  if (const auto close = what.find("] ");
      what.rfind("[json.exception", 0) == 0 && close != std::string::npos) {
    what.erase(0, close + 2);
  }
  if (what.size() > 160) what = what.substr(0, 160) + "...";
  for (char& c : what) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
  }
  return what;
}

std::string quotedName(const std::string& key) {
  std::string s = key.size() > 80 ? key.substr(0, 80) + "..." : key;
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return "'" + s + "'";
}

std::uint64_t unsignedOrFail(const Json& v, const std::string& file, const std::string& what) {
  if (!v.is_number_unsigned()) throw Error(file, what + " is not a non-negative integer");
  return v.get<std::uint64_t>();
}

// Duplicate keys and nesting, checked as the header is read (see SafetensorsFile::parse).
class HeaderChecks : public nlohmann::json_sax<Json> {
 public:
  explicit HeaderChecks(std::string file) : m_file(std::move(file)) {}
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    if (m_objects.size() >= 2 || m_arrays > 0)
      throw Error(m_file, "safetensors header nests too deeply");
    m_objects.emplace_back();
    return true;
  }
  bool key(string_t& name) override {
    if (!m_objects.empty() && !m_objects.back().insert(name).second)
      throw Error(m_file, "safetensors header has a duplicate key " + quotedName(name));
    return true;
  }
  bool end_object() override {
    if (!m_objects.empty()) m_objects.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (m_arrays >= 1) throw Error(m_file, "safetensors header nests too deeply");
    ++m_arrays;
    return true;
  }
  bool end_array() override {
    --m_arrays;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw e;
  }

 private:
  std::string m_file;
  std::vector<std::unordered_set<std::string>> m_objects;
  int m_arrays = 0;
};

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path)
    : m_file(std::in_place, path), m_name(path) {
  m_bytes = m_file->bytes();
  parse();
}

SafetensorsFile::SafetensorsFile(std::span<const std::uint8_t> bytes, std::string name)
    : m_bytes(bytes), m_name(std::move(name)) {
  parse();
}

bool SafetensorsFile::looksLike(std::span<const std::uint8_t> head, std::uint64_t fileSize) {
  if (head.size() < 9) return false;
  const std::uint64_t n = readU64le(head.data());
  return n >= 2 && n <= kMaxHeaderBytes && n <= fileSize - 8 && head[8] == '{';
}

void SafetensorsFile::parse() {
  const std::string& file = m_name;
  const std::uint64_t size = m_bytes.size();
  if (size < 8) throw Error(file, "not a safetensors file: shorter than the 8-byte header length");
  const std::uint64_t headerBytes = readU64le(m_bytes.data());
  // Text where the binary length belongs (a JSON config or a README renamed) would otherwise
  // read as an absurd length: say what it is.
  const bool startsAsText = std::all_of(m_bytes.begin(), m_bytes.begin() + 8, [](std::uint8_t b) {
    return b == '\t' || b == '\n' || b == '\r' || (b >= 0x20 && b < 0x7f);
  });
  if (headerBytes > kMaxHeaderBytes && startsAsText) {
    throw Error(file, "not a safetensors file: it starts with text (\"" +
                          std::string(reinterpret_cast<const char*>(m_bytes.data()), 8) +
                          "\"), not the 8-byte little-endian header length");
  }
  if (headerBytes > kMaxHeaderBytes) {
    throw Error(file, "safetensors header length " + std::to_string(headerBytes) +
                          " exceeds the 100 MB limit");
  }
  if (headerBytes > size - 8) {
    throw Error(file, "safetensors header length " + std::to_string(headerBytes) +
                          " runs past the end of the file (" + std::to_string(size) + " bytes)");
  }
  m_dataStart = 8 + headerBytes;
  const char* text = reinterpret_cast<const char*>(m_bytes.data() + 8);
  if (headerBytes == 0 || text[0] != '{')
    throw Error(file, "safetensors header does not start with '{'");

  // The DOM parser would keep the last of two equal keys silently: a SAX pass sees each key as
  // it is read first (nlohmann's callback parser rescans the enclosing object at the end of
  // every nested one: quadratic over 120,000 tensors). Its key sets also bound the nesting.
  HeaderChecks checks(file);
  try {
    Json::sax_parse(text, text + headerBytes, &checks);
  } catch (const Json::exception& e) {
    throw Error(file, "safetensors header is not valid JSON: " + jsonReason(e));
  }
  Json header;
  try {
    header = Json::parse(text, text + headerBytes);
  } catch (const Json::exception& e) {
    throw Error(file, "safetensors header is not valid JSON: " + jsonReason(e));
  }
  if (!header.is_object()) throw Error(file, "safetensors header is not a JSON object");

  struct Parsed {
    TensorInfo info;
    Span span;
  };
  std::vector<Parsed> parsed;
  parsed.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw Error(file, "safetensors __metadata__ is not an object");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          throw Error(file,
                      "safetensors __metadata__ value " + quotedName(mkey) + " is not a string");
        }
        m_metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor " + quotedName(key);
    if (!value.is_object()) throw Error(file, what + " is not described by an object");
    const auto dtype = value.find("dtype");
    const auto shape = value.find("shape");
    const auto offsets = value.find("data_offsets");
    if (dtype == value.end() || shape == value.end() || offsets == value.end()) {
      throw Error(file, what + " lacks dtype, shape or data_offsets");
    }
    if (!dtype->is_string()) throw Error(file, what + ": dtype is not a string");
    Parsed p;
    p.info.name = key;
    p.info.dtype = dtype->get<std::string>();
    p.span.itemSize = dtypeSize(p.info.dtype);
    if (p.span.itemSize == 0)
      throw Error(file, what + " has unsupported dtype " + quotedName(p.info.dtype));
    if (!shape->is_array()) throw Error(file, what + ": shape is not an array");
    std::uint64_t count = 1;
    for (const Json& dim : *shape) {
      if (!dim.is_number_unsigned())
        throw Error(file, what + " has a non-integer or negative dimension");
      const auto d = dim.get<std::uint64_t>();
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw Error(file, what + " has a dimension too large");
      }
      if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d) {
        throw Error(file, what + ": shape product overflows");
      }
      count *= d;
      p.info.shape.push_back(static_cast<std::int64_t>(d));
    }
    if (!offsets->is_array() || offsets->size() != 2) {
      throw Error(file, what + ": data_offsets is not a pair [begin, end]");
    }
    p.span.begin = unsignedOrFail((*offsets)[0], file, what + ": data_offsets begin");
    p.span.end = unsignedOrFail((*offsets)[1], file, what + ": data_offsets end");
    if (p.span.end < p.span.begin) throw Error(file, what + ": data_offsets end before they begin");
    if (count > std::numeric_limits<std::uint64_t>::max() / p.span.itemSize) {
      throw Error(file, what + ": byte size overflows");
    }
    if (count * p.span.itemSize != p.span.end - p.span.begin) {
      throw Error(file,
                  what + ": shape x dtype size is " + std::to_string(count * p.span.itemSize) +
                      " bytes but data_offsets span " + std::to_string(p.span.end - p.span.begin));
    }
    parsed.push_back(std::move(p));
  }

  // Contiguous from 0, no holes, no overlaps, ending exactly at the end of the file.
  std::sort(parsed.begin(), parsed.end(), [](const Parsed& a, const Parsed& b) {
    return std::pair(a.span.begin, a.span.end) < std::pair(b.span.begin, b.span.end);
  });
  std::uint64_t expected = 0;
  for (const Parsed& p : parsed) {
    if (p.span.begin != expected) {
      throw Error(
          file, "tensor " + quotedName(p.info.name) + " starts at data offset " +
                    std::to_string(p.span.begin) + ", expected " + std::to_string(expected) +
                    (p.span.begin < expected ? " (overlapping tensors)" : " (a hole in the data)"));
    }
    expected = p.span.end;
  }
  const std::uint64_t dataBytes = size - m_dataStart;
  if (expected != dataBytes) {
    throw Error(file,
                expected > dataBytes
                    ? "truncated data: tensors need " + std::to_string(expected) +
                          " bytes, the file holds " + std::to_string(dataBytes)
                    : std::to_string(dataBytes - expected) +
                          " bytes after the last tensor (offsets must end at the end of the file)");
  }
  for (Parsed& p : parsed) {
    m_tensors.push_back(std::move(p.info));
    m_spans.push_back(p.span);
  }
}

NpyArray SafetensorsFile::read(const std::string& name) const {
  const TensorInfo* it = find(name);  // hashed: no scan per tensor
  if (!it) throw Error(m_name, "no tensor named " + quotedName(name));
  const Span& span = m_spans[static_cast<std::size_t>(it - m_tensors.data())];
  const std::string& dtype = it->dtype;
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16" && dtype != "F64") {
    throw Error(m_name, "tensor " + quotedName(name) + " has dtype " + dtype +
                            "; only F32, F16, BF16 and F64 tensors can be read");
  }
  NpyArray a;
  a.shape = it->shape;
  // parse() proved begin..end lies inside the file and equals count x itemSize.
  const std::size_t count = static_cast<std::size_t>((span.end - span.begin) / span.itemSize);
  a.data.resize(count);
  const std::uint8_t* src = m_bytes.data() + m_dataStart + span.begin;
  static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");
  if (dtype == "F32") {
    if (count > 0) std::memcpy(a.data.data(), src, count * 4);
  } else if (dtype == "F64") {
    for (std::size_t i = 0; i < count; ++i) {
      double v;
      std::memcpy(&v, src + 8 * i, 8);
      a.data[i] = narrowToFloat(v);
    }
  } else {
    const bool bf16 = dtype == "BF16";
    for (std::size_t i = 0; i < count; ++i) {
      const auto bits = static_cast<std::uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
      a.data[i] = bf16 ? bfloat16ToFloat(bits) : halfToFloat(bits);
    }
  }
  if (m_file) m_file->forgetResidentPages();  // the float32 copy is what the caller keeps
  return a;
}

}  // namespace patchlens
