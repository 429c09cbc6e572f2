#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_archive.h"
#include "tests/common/reference_compare.h"

// Comparing PatchLens' arrays with PyTorch references at the suite's tolerances: tokens
// <= 1e-4 x max|ref|, attention <= 1e-5 absolute.
namespace patchlens::test {

// max|got - want| / max|want| (tokens) or max|got - want| (attention); -1 on a size mismatch.
inline double arrayError(const float* got, const std::vector<float>& want, bool relative) {
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(got[i] - want[i])));
    scale = std::max(scale, static_cast<double>(std::abs(want[i])));
  }
  return relative ? worst / std::max(scale, 1e-30) : worst;
}

// Empty when `actual` [rows x cols] equals the reference array `name` within the token
// tolerance, else what differs.
inline std::string tokenMismatch(const NpzArchive& ref, const std::string& name,
                                 const RowMatrixF& actual) {
  const NpyArray a = ref.read(name);
  if (a.shape.size() != 2 || a.shape[0] != actual.rows() || a.shape[1] != actual.cols())
    return name + ": shape differs";
  const double err = arrayError(actual.data(), a.data, true);
  return err <= 1e-4 ? std::string() : name + ": max error " + std::to_string(err) + " x max|ref|";
}

// The same for one block's attention, one [T x T] per head against attention_L [H, T, T].
inline std::string attentionMismatch(const NpzArchive& ref, int block,
                                     const std::vector<RowMatrixF>& heads) {
  const std::string name = "attention_" + std::to_string(block);
  const NpyArray a = ref.read(name);
  if (a.shape.size() != 3 || a.shape[0] != static_cast<std::int64_t>(heads.size()))
    return name + ": head count differs";
  const std::size_t perHead = a.data.size() / heads.size();
  for (std::size_t h = 0; h < heads.size(); ++h) {
    if (static_cast<std::size_t>(heads[h].size()) != perHead) return name + ": shape differs";
    const std::vector<float> want(a.data.begin() + static_cast<std::ptrdiff_t>(h * perHead),
                                  a.data.begin() + static_cast<std::ptrdiff_t>((h + 1) * perHead));
    const double err = arrayError(heads[h].data(), want, false);
    if (err > 1e-5)
      return name + " head " + std::to_string(h) + ": max error " + std::to_string(err);
  }
  return {};
}

}  // namespace patchlens::test
