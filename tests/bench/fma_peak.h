#pragma once

namespace patchlens::bench {

// Measures this core's FP32 fused multiply-add throughput in GFLOP/s with independent
// accumulator chains in the widest vector type the build targets.
double measureFmaPeakGflops(double seconds);

// The same for 8-float AVX2 FMAs (0 on a CPU without AVX2 + FMA).
double measureFmaPeakGflopsAvx2(double seconds);

}  // namespace patchlens::bench
