#include "core/image/normalization.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace patchlens {
namespace {

bool parseTriple(std::string_view text, std::array<float, 3>& out) {
  std::string s(text);
  std::size_t start = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t comma = s.find(',', start);
    const bool last = i == 2;
    if (last != (comma == std::string::npos)) return false;
    const std::string part = s.substr(start, last ? std::string::npos : comma - start);
    if (part.empty()) return false;
    char* end = nullptr;
    const float value = std::strtof(part.c_str(), &end);
    if (end != part.c_str() + part.size() || !std::isfinite(value)) return false;
    out[i] = value;
    start = comma + 1;
  }
  return true;
}

}  // namespace

std::optional<Normalization> Normalization::parse(std::string_view text) {
  if (text == "inception")
    return Normalization{{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, "inception"};
  if (text == "imagenet") {
    return Normalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, "imagenet"};
  }
  if (text == "clip") {
    return Normalization{
        {0.48145466f, 0.4578275f, 0.40821073f}, {0.26862954f, 0.26130258f, 0.27577711f}, "clip"};
  }
  if (text == "none") return Normalization{{0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f}, "none"};
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Normalization n;
  if (!parseTriple(text.substr(0, slash), n.mean) || !parseTriple(text.substr(slash + 1), n.std)) {
    return std::nullopt;
  }
  for (float s : n.std)
    if (!(s > 0.0f)) return std::nullopt;
  n.name = std::string(text);
  return n;
}

}  // namespace patchlens
