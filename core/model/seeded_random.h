#pragma once

#include <cstdint>

namespace patchlens {

// SplitMix64 (Steele, Lea & Flood 2014) with our own uniform and normal transforms, so a
// seed gives the same numbers on every platform (std::*_distribution output is
// implementation-defined).
class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : m_state(seed) {}

  std::uint64_t nextU64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform01();
  // Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform01(); }
  // Standard normal by Box-Muller (both values of a pair are used).
  double normal();

 private:
  std::uint64_t m_state;
  bool m_hasSpare = false;
  double m_spare = 0.0;
};

}  // namespace patchlens
