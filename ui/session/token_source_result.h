#pragma once

#include <memory>

#include "core/model/eigen_types.h"
#include "core/model/qkv_features.h"

namespace patchlens {

struct ComputeResult;

// A block's queries, keys or values as a token view's result (issue 21): a copy of `base` (the
// block's output, layer index 1 + block) whose tokens are the source's [N x D] patch rows,
// every head side by side, with their norms, means, argmax, range and PCA. Heavy (a forward
// when `qkv` is empty, a PCA): the worker's, never the GUI thread's.
struct TokenSourceResult {
  std::shared_ptr<const RowMatrixF> qkv;  // the block's [T x 3D] q | k | v (reused for the others)
  std::shared_ptr<const ComputeResult> result;
};

TokenSourceResult computeTokenSourceResult(const std::shared_ptr<const ComputeResult>& base,
                                           std::shared_ptr<const RowMatrixF> qkv,
                                           TokenSource source);

}  // namespace patchlens
