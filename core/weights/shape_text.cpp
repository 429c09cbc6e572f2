#include "core/weights/shape_text.h"

#include <cmath>

namespace patchlens {

std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string quotedName(const std::string& name) {
  std::string q = name.size() > 80 ? name.substr(0, 80) + "..." : name;
  for (char& c : q) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return "'" + q + "'";
}

int exactSquareRoot(std::int64_t n) {
  if (n <= 0 || n > (std::int64_t{1} << 40)) return 0;
  const auto r = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return r * r == n ? static_cast<int>(r) : 0;
}

}  // namespace patchlens
