#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <string>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/weights/npy_array.h"

// Comparing our arrays with the PyTorch / numpy fixtures of tests/reference (one definition
// for every numerical suite).
namespace patchlens::test {

// A model input [C, H, W] saved by the reference scripts as .npy.
inline ChwTensor readChwInput(const std::string& path) {
  const NpyArray a = readNpy(path);
  ChwTensor t(static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]),
              static_cast<int>(a.shape[2]));
  t.data = a.data;
  return t;
}

// max |actual - expected| / max |expected| (the issues' "1e-4 x max|ref|"); 1e30 when the
// sizes differ. maxRef receives max |expected|, so a test can also assert the reference is
// not trivially small.
inline double relativeError(const float* actual, std::size_t size, const NpyArray& expected,
                            double* maxRef = nullptr) {
  if (size != expected.data.size()) return 1e30;
  if (size == 0) return 0;
  const Eigen::Map<const Eigen::ArrayXf> ref(expected.data.data(), static_cast<Eigen::Index>(size));
  const Eigen::Map<const Eigen::ArrayXf> got(actual, static_cast<Eigen::Index>(size));
  const double scale = ref.abs().maxCoeff();
  if (maxRef) *maxRef = scale;
  return (got - ref).abs().maxCoeff() / std::max(scale, 1e-30);
}

inline double relativeError(const RowMatrixF& actual, const NpyArray& expected,
                            double* maxRef = nullptr) {
  return relativeError(actual.data(), static_cast<std::size_t>(actual.size()), expected, maxRef);
}

// Shapes must agree too (1e30 when they do not).
inline double relativeError(const NpyArray& actual, const NpyArray& expected) {
  if (actual.shape != expected.shape) return 1e30;
  return relativeError(actual.data.data(), actual.data.size(), expected);
}

}  // namespace patchlens::test
