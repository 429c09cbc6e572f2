#include "core/model/nonfinite.h"

#include <cmath>

namespace patchlens {

std::int64_t countNonFinite(const float* data, std::size_t count) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < count; ++i) bad += std::isfinite(data[i]) ? 0 : 1;
  return bad;
}

}  // namespace patchlens
