#include "core/weights/npy_array.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <limits>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/file_bytes.h"
#include "core/weights/half_float.h"

namespace patchlens {
namespace {

constexpr std::size_t kMaxHeaderBytes = 10 * 1024;
constexpr std::uint64_t kMaxNpyFileBytes = std::uint64_t{4} << 30;

// A tiny reader for the Python literal numpy writes: {'descr': '<f4', 'fortran_order':
// False, 'shape': (3, 4), }
class HeaderDictParser {
 public:
  HeaderDictParser(std::string_view text, const std::string& name) : m_text(text), m_name(name) {}

  NpyHeader parse() {
    NpyHeader h;
    bool haveDescr = false, haveOrder = false, haveShape = false;
    expect('{');
    while (true) {
      skipSpace();
      if (peek() == '}') break;
      const std::string key = parseString();
      expect(':');
      if (key == "descr") {
        if (haveDescr) fail("duplicate key 'descr'");
        skipSpace();
        if (peek() != '\'' && peek() != '"')
          fail("dtype is not a simple type string (structured or object dtypes are refused)");
        h.descr = parseString();
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (haveOrder) fail("duplicate key 'fortran_order'");
        h.fortranOrder = parseBool();
        haveOrder = true;
      } else if (key == "shape") {
        if (haveShape) fail("duplicate key 'shape'");
        h.shape = parseShape();
        haveShape = true;
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      skipSpace();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      skipSpace();
      if (peek() != '}') fail("malformed header dictionary");
    }
    ++m_pos;
    if (!haveDescr || !haveOrder || !haveShape) fail("header lacks descr, fortran_order or shape");
    skipSpace();
    if (m_pos != m_text.size()) fail("unexpected text after the header dictionary");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(m_name, "bad .npy header: " + why);
  }
  char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
  void skipSpace() {
    while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos])))
      ++m_pos;
  }
  void expect(char c) {
    skipSpace();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++m_pos;
  }
  std::string parseString() {
    skipSpace();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++m_pos;
    const std::size_t end = m_text.find(quote, m_pos);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(m_text.substr(m_pos, end - m_pos));
    m_pos = end + 1;
    return s;
  }
  bool parseBool() {
    skipSpace();
    if (m_text.substr(m_pos, 4) == "True") {
      m_pos += 4;
      return true;
    }
    if (m_text.substr(m_pos, 5) == "False") {
      m_pos += 5;
      return false;
    }
    fail("fortran_order is neither True nor False");
  }
  std::vector<std::int64_t> parseShape() {
    expect('(');
    std::vector<std::int64_t> shape;
    while (true) {
      skipSpace();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("shape holds a non-integer or negative dimension");
      std::int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (value > (std::numeric_limits<std::int64_t>::max() - 9) / 10)
          fail("dimension too large");
        value = value * 10 + (peek() - '0');
        ++m_pos;
      }
      if (peek() == 'L') ++m_pos;  // Python 2 long suffix
      shape.push_back(value);
      if (shape.size() > 32) fail("more than 32 dimensions");
      skipSpace();
      if (peek() == ',') {
        ++m_pos;
        continue;
      }
      if (peek() != ')') fail("malformed shape tuple");
    }
    ++m_pos;
    return shape;
  }

  std::string_view m_text;
  const std::string& m_name;
  std::size_t m_pos = 0;
};

std::uint32_t readLittle(std::span<const std::uint8_t> b, std::size_t at, std::size_t bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v |= std::uint32_t{b[at + i]} << (8 * i);
  return v;
}

// An integer element as float32 when it is exactly representable there (the explain output's
// int64 `class`); Error naming the array otherwise, never a rounded value.
float decodeInteger(const std::uint8_t* raw, std::size_t size, bool isSigned,
                    const std::string& name) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < size; ++i) bits |= std::uint64_t{raw[i]} << (8 * i);
  const bool negative = isSigned && ((bits >> (8 * size - 1)) & 1) != 0;
  if (negative && size < 8) bits |= ~std::uint64_t{0} << (8 * size);  // sign-extend
  const auto magnitude = negative ? ~bits + 1 : bits;  // |value| (2^63 for INT64_MIN)
  // Exact in float32: at most 24 significant bits between the highest and lowest set bit.
  const int high = 63 - std::countl_zero(magnitude | 1);
  const int low = std::countr_zero(magnitude | (std::uint64_t{1} << 63));
  if (magnitude != 0 && high - low >= 24) {
    throw Error(name, "integer value " +
                          (negative ? "-" + std::to_string(magnitude) : std::to_string(magnitude)) +
                          " is not exactly representable in float32");
  }
  const auto value = static_cast<float>(magnitude);  // exact by the check above
  return negative ? -value : value;
}

float decodeElement(const std::uint8_t* p, const std::string& descr, const std::string& name) {
  const bool big = descr[0] == '>';
  const std::size_t size = descr[2] - '0';
  std::uint8_t raw[8];
  for (std::size_t i = 0; i < size; ++i) raw[i] = big ? p[size - 1 - i] : p[i];
  if (descr[1] != 'f') return decodeInteger(raw, size, descr[1] == 'i', name);
  switch (size) {
    case 2:
      return halfToFloat(static_cast<std::uint16_t>(raw[0] | (raw[1] << 8)));
    case 4: {
      std::uint32_t bits;
      std::memcpy(&bits, raw, 4);
      return std::bit_cast<float>(bits);
    }
    default: {
      std::uint64_t bits;
      std::memcpy(&bits, raw, 8);
      return narrowToFloat(std::bit_cast<double>(bits));
    }
  }
}

}  // namespace

float narrowToFloat(double value) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (value > kMax) return std::numeric_limits<float>::infinity();
  if (value < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(value);
}

NpyHeader parseNpyHeader(std::span<const std::uint8_t> b, const std::string& name) {
  return parseNpyHeader(b, b.size(), name);
}

NpyHeader parseNpyHeader(std::span<const std::uint8_t> b, std::uint64_t totalBytes,
                         const std::string& name) {
  if (totalBytes < b.size()) throw Error(name, "internal error: .npy prefix longer than the file");
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) {
    throw Error(name, "not a .npy file (missing the \\x93NUMPY magic)");
  }
  const int major = b[6];
  std::size_t headerLength = 0;
  std::size_t prefix = 0;
  if (major == 1) {
    headerLength = readLittle(b, 8, 2);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw Error(name, "truncated .npy header");
    headerLength = readLittle(b, 8, 4);
    prefix = 12;
  } else {
    throw Error(name, "unsupported .npy format version " + std::to_string(major));
  }
  if (headerLength > kMaxHeaderBytes) {
    throw Error(name,
                ".npy header is " + std::to_string(headerLength) + " bytes, over the 10 kB limit");
  }
  if (prefix + headerLength > b.size()) throw Error(name, "truncated .npy header");
  std::string_view text(reinterpret_cast<const char*>(b.data() + prefix), headerLength);
  NpyHeader h = HeaderDictParser(text, name).parse();
  h.dataOffset = prefix + headerLength;

  const std::string& d = h.descr;
  const bool order = d.size() == 3 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=');
  const bool known = order && ((d[1] == 'f' && (d[2] == '2' || d[2] == '4' || d[2] == '8')) ||
                               ((d[1] == 'i' || d[1] == 'u') &&
                                (d[2] == '1' || d[2] == '2' || d[2] == '4' || d[2] == '8')));
  if (d == "|O" || d == "O" || (!d.empty() && d.back() == 'O')) {
    throw Error(name, "object arrays (pickled Python objects) are refused");
  }
  if (!known)
    throw Error(name, "unsupported dtype '" + d + "' (float16/32/64 or an integer type only)");
  if (d[0] == '=' || d[0] == '|') h.descr[0] = '<';
  h.itemSize = static_cast<std::size_t>(d[2] - '0');

  std::uint64_t count = 1;
  for (std::int64_t dim : h.shape) {
    const auto u = static_cast<std::uint64_t>(dim);
    if (u != 0 && count > std::numeric_limits<std::uint64_t>::max() / u) {
      throw Error(name, "shape product overflows");
    }
    count *= u;
  }
  if (count > std::numeric_limits<std::uint64_t>::max() / h.itemSize)
    throw Error(name, "array byte size overflows");
  const std::uint64_t dataBytes = count * h.itemSize;
  const std::uint64_t available = totalBytes - h.dataOffset;
  if (dataBytes > available) {
    throw Error(name, "truncated data: the header declares " + std::to_string(dataBytes) +
                          " bytes, the file holds " + std::to_string(available));
  }
  if (dataBytes < available) {
    throw Error(name,
                std::to_string(available - dataBytes) + " unexpected bytes after the array data");
  }
  h.elementCount = count;
  return h;
}

NpyArray parseNpy(std::span<const std::uint8_t> b, const std::string& name, NpyIntegers integers) {
  const NpyHeader h = parseNpyHeader(b, name);
  if (integers == NpyIntegers::Refuse && h.descr[1] != 'f')
    throw Error(name, "unsupported dtype '" + h.descr + "' (float16/32/64 only)");
  NpyArray a;
  a.shape = h.shape;
  a.data.resize(h.elementCount);
  const std::uint8_t* src = b.data() + h.dataOffset;
  for (std::uint64_t i = 0; i < h.elementCount; ++i)
    a.data[i] = decodeElement(src + i * h.itemSize, h.descr, name);
  if (h.fortranOrder && a.shape.size() > 1) {
    // Fortran order: the first index varies fastest. Rebuild C order.
    std::vector<float> c(a.data.size());
    const std::size_t rank = a.shape.size();
    std::vector<std::int64_t> index(rank, 0);
    for (std::uint64_t f = 0; f < h.elementCount; ++f) {
      std::uint64_t offset = 0;
      for (std::size_t k = 0; k < rank; ++k)
        offset =
            offset * static_cast<std::uint64_t>(a.shape[k]) + static_cast<std::uint64_t>(index[k]);
      c[offset] = a.data[f];
      for (std::size_t k = 0; k < rank; ++k) {
        if (++index[k] < a.shape[k]) break;
        index[k] = 0;
      }
    }
    a.data = std::move(c);
  }
  return a;
}

NpyArray readNpy(const std::string& path) {
  const std::vector<std::uint8_t> bytes = readFileBytes(path, kMaxNpyFileBytes);
  return parseNpy(bytes, path);
}

std::string npyFloatHeader(const std::vector<std::int64_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // Pad with spaces so that magic + length + dict + '\n' is a multiple of 64 bytes.
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xFF);
  header += static_cast<char>((dict.size() >> 8) & 0xFF);
  header += dict;
  return header;
}

void writeNpy(const std::string& path, const std::vector<std::int64_t>& shape, const float* data) {
  std::uint64_t count = 1;
  for (std::int64_t d : shape) count *= static_cast<std::uint64_t>(d);
  const std::string header = npyFloatHeader(shape);
  static_assert(std::endian::native == std::endian::little,
                "the .npy writer assumes little-endian");
  AtomicFile file(path);
  file.write(header);
  file.write(data, count * sizeof(float));
  file.commit();
}

}  // namespace patchlens
