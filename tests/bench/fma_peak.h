#pragma once

namespace patchlens::bench {

// Measures this core's FP32 fused multiply-add throughput in GFLOP/s with independent
// accumulator chains in the widest vector type the build targets.
double measureFmaPeakGflops(double seconds);

}  // namespace patchlens::bench
