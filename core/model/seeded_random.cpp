#include "core/model/seeded_random.h"

#include <cmath>
#include <numbers>

namespace patchlens {

std::uint64_t SeededRandom::nextU64() {
  std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SeededRandom::uniform01() {
  return static_cast<double>(nextU64() >> 11) * 0x1.0p-53;
}

double SeededRandom::normal() {
  if (m_hasSpare) {
    m_hasSpare = false;
    return m_spare;
  }
  // 1 - u keeps the logarithm's argument in (0, 1].
  const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform01()));
  const double angle = 2.0 * std::numbers::pi * uniform01();
  m_spare = radius * std::sin(angle);
  m_hasSpare = true;
  return radius * std::cos(angle);
}

}  // namespace patchlens
