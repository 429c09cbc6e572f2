#include "fma_peak.h"

#include <immintrin.h>

#include <algorithm>
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
#if defined(__AVX512F__)
constexpr int kChains = 16;  // of 32 zmm registers
#else
constexpr int kChains = 12;  // of 16 ymm registers: 16 would spill (see fmaLoopAvx2)
#endif

__attribute__((noinline)) void fmaLoop(Vec* acc, Vec a, Vec b, long iterations) {
  Vec r[kChains];
  for (int i = 0; i < kChains; ++i) r[i] = acc[i];
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) r[i] = r[i] * a + b;
  }
  for (int i = 0; i < kChains; ++i) acc[i] = r[i];
}

// The same with 8-float AVX2 FMAs whatever the build targets: the ceiling of the AVX2
// kernel (half the AVX-512 one on a CPU with two 512-bit FMA units).
// 12 chains, not 16: without AVX-512 there are 16 ymm registers, and 16 accumulators plus the
// two constants spill to the stack, which measured 54 instead of 76 GFLOP/s on a Zen host (and
// made every "% of the AVX2 peak" 40 % too generous). 12 still hide 5 cycles x 2 pipes.
constexpr int kChainsAvx2 = 12;

__attribute__((noinline, target("avx2,fma"))) void fmaLoopAvx2(float* acc, long iterations) {
  __m256 r[kChainsAvx2];
  for (int i = 0; i < kChainsAvx2; ++i) r[i] = _mm256_set1_ps(acc[i]);
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChainsAvx2; ++i) r[i] = _mm256_fmadd_ps(r[i], a, b);
  }
  for (int i = 0; i < kChainsAvx2; ++i) acc[i] = _mm256_cvtss_f32(r[i]);
}

// Best GFLOP/s of `loop(iterations)` (flopsPerIteration each) over `seconds`.
template <typename Loop>
double bestRate(double seconds, double flopsPerIteration, Loop loop) {
  using Clock = std::chrono::steady_clock;
  long iterations = 1 << 16;
  double best = 0;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    const auto start = Clock::now();
    loop(iterations);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed < 1e-3) {
      iterations *= 2;
      continue;
    }
    best = std::max(best, flopsPerIteration * static_cast<double>(iterations) / elapsed);
  }
  return best / 1e9;
}

}  // namespace

double measureFmaPeakGflopsAvx2(double seconds) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0.0;
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = static_cast<float>(i);
  const double rate = bestRate(seconds, 2.0 * 8 * kChainsAvx2,
                               [&](long iterations) { fmaLoopAvx2(acc, iterations); });
  volatile float sink = acc[0];
  (void)sink;
  return rate;
}

double measureFmaPeakGflops(double seconds) {
  Vec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = Vec{} + static_cast<float>(i);
  const Vec a = Vec{} + 0.999999f;
  const Vec b = Vec{} + 1e-7f;
  const double rate = bestRate(seconds, 2.0 * kLanes * kChains,
                               [&](long iterations) { fmaLoop(acc, a, b, iterations); });
  volatile float sink = acc[0][0];
  (void)sink;
  return rate;
}

}  // namespace patchlens::bench
