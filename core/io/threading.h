#pragma once

namespace patchlens {

// Sets how many threads Eigen's GEMM and OpenCV's loops use; n <= 0 means all cores.
void setComputeThreads(int n);
int computeThreads();

}  // namespace patchlens
