#pragma once

#include <cstdint>

namespace patchlens {

// IEEE 754 binary16 to float, exact for every value (subnormals, Inf, NaN included).
float halfToFloat(std::uint16_t bits);
// bfloat16 to float: the upper half of a float32.
float bfloat16ToFloat(std::uint16_t bits);

}  // namespace patchlens
