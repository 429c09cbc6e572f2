#include "core/io/threading.h"

#include <Eigen/Core>
#include <opencv2/core/utility.hpp>
#include <thread>

namespace patchlens {

void setComputeThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Eigen::setNbThreads(n);
  cv::setNumThreads(n);
}

int computeThreads() {
  return Eigen::nbThreads();
}

}  // namespace patchlens
