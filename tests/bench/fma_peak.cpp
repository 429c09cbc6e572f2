#include "fma_peak.h"

#include <chrono>

namespace patchlens::bench {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

// 16 independent chains hide the FMA latency (4 cycles x 2 pipes = 8 needed at least).
constexpr int kChains = 16;

__attribute__((noinline)) void fmaLoop(Vec* acc, Vec a, Vec b, long iterations) {
  Vec r[kChains];
  for (int i = 0; i < kChains; ++i) r[i] = acc[i];
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) r[i] = r[i] * a + b;
  }
  for (int i = 0; i < kChains; ++i) acc[i] = r[i];
}

}  // namespace

double measureFmaPeakGflops(double seconds) {
  Vec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = Vec{} + static_cast<float>(i);
  const Vec a = Vec{} + 0.999999f;
  const Vec b = Vec{} + 1e-7f;
  using Clock = std::chrono::steady_clock;
  long iterations = 1 << 16;
  double best = 0;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    const auto start = Clock::now();
    fmaLoop(acc, a, b, iterations);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed < 1e-3) {
      iterations *= 2;
      continue;
    }
    const double flops = 2.0 * kLanes * kChains * static_cast<double>(iterations);
    if (flops / elapsed > best) best = flops / elapsed;
  }
  volatile float sink = acc[0][0];
  (void)sink;
  return best / 1e9;
}

}  // namespace patchlens::bench
