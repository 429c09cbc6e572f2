#pragma once

#include <cstddef>
#include <cstdint>

#include "core/model/eigen_types.h"

namespace patchlens {

// How many of the values are NaN or +-Inf. Outputs are checked before they are written: a
// negative eps, a subnormal std or overflowing weights must not end in NaN with exit 0.
std::int64_t countNonFinite(const float* data, std::size_t count);
inline std::int64_t countNonFinite(const RowMatrixF& m) {
  return countNonFinite(m.data(), static_cast<std::size_t>(m.size()));
}

}  // namespace patchlens
