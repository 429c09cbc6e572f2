#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace patchlens {

// What an .npy header declares.
struct NpyHeader {
  std::string descr;  // e.g. "<f4"
  bool fortranOrder = false;
  std::vector<std::int64_t> shape;
  std::size_t dataOffset = 0;  // bytes before the array data
  std::size_t itemSize = 0;
  std::uint64_t elementCount = 0;
};

// A float32 array in C (row-major) order.
struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

// double to float without undefined behaviour: out-of-range finite values become +-Inf (which
// PatchWeights::validate then refuses), as IEEE 754 rounding would make them.
float narrowToFloat(double value);

// Parses and checks the header: magic, version 1/2/3, header length <= 10 kB, a dict with
// exactly descr/fortran_order/shape, a float dtype (<f4 >f4 <f2 >f2 <f8 >f8) or an integer one
// (i1..i8, u1..u8: parseNpy refuses by name a value float32 cannot hold exactly; object and
// pickled dtypes refused), non-negative dims whose product and byte size do not overflow,
// and data that fits in the bytes given. Throws Error(name, reason).
NpyHeader parseNpyHeader(std::span<const std::uint8_t> bytes, const std::string& name);
// The same checks when only the first bytes of an .npy of totalBytes are at hand (an .npz
// member read as far as its header): the header must lie in prefix, the data must fill
// exactly totalBytes.
NpyHeader parseNpyHeader(std::span<const std::uint8_t> prefix, std::uint64_t totalBytes,
                         const std::string& name);
// Bytes enough to hold any header parseNpyHeader accepts (magic, version, length, 10 kB).
inline constexpr std::size_t kNpyMaxPrefixBytes = 12 + 10 * 1024;

// Parses a whole .npy (header + data), converting to float32 in C order.
// Integer arrays (i1..i8, u1..u8) are data, not weights: a weight or an input of integer dtype
// is refused by name ("unsupported dtype '<i4'"); NpyIntegers::Exact reads them (the explain
// output's int64 `class`), each value exactly representable in float32 or refused.
enum class NpyIntegers { Refuse, Exact };
NpyArray parseNpy(std::span<const std::uint8_t> bytes, const std::string& name,
                  NpyIntegers integers = NpyIntegers::Refuse);
NpyArray readNpy(const std::string& path);

// The .npy (version 1.0) header of a little-endian float32 C-order array of this shape.
std::string npyFloatHeader(const std::vector<std::int64_t>& shape);
// Writes float32 C-order data as .npy (version 1.0) atomically.
void writeNpy(const std::string& path, const std::vector<std::int64_t>& shape, const float* data);

}  // namespace patchlens
