#pragma once

#include <memory>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "core/model/packed_gemm.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

// What to do with the pixels right of / below the last whole patch.
enum class RemainderPolicy {
  Crop,  // ignore them, as Conv2d(stride = P) does
  Pad,   // zero-pad to the next multiple of P, as timm's dynamic_img_pad does
};

// Grid geometry of an embedding: token (r, c) is row r * cols + c.
struct GridSize {
  int rows = 0;
  int cols = 0;
  int tokens() const { return rows * cols; }
};

// The [N x D] output of the patch embedding, tokens in row-major grid order.
struct Embedding {
  GridSize grid;
  RowMatrixF tokens;  // [N x D]

  int tokenIndex(int row, int col) const { return row * grid.cols + col; }
  int embedDim() const { return static_cast<int>(tokens.cols()); }
};

// Conv2d(kernel = stride = P) computed as im2col + one GEMM: Y = X W^T + b.
class PatchEmbedding {
 public:
  explicit PatchEmbedding(PatchWeights weights);
  // With an explicit GEMM blocking instead of the one chosen from this CPU's caches (tests).
  PatchEmbedding(PatchWeights weights, const GemmBlocking& blocking);

  const PatchWeights& weights() const { return m_weights; }
  static GridSize gridFor(int height, int width, int patchSize, RemainderPolicy policy);

  // Throws Error when the tensor's channel count differs from the weights' or it is
  // smaller than one patch.
  Embedding forward(const ChwTensor& input, RemainderPolicy policy = RemainderPolicy::Crop) const;
  // The same into an existing embedding, reusing its storage when the shape is unchanged:
  // a loop over images (batch, benchmarks) then never faults in fresh output pages.
  void forwardInto(const ChwTensor& input, Embedding& out,
                   RemainderPolicy policy = RemainderPolicy::Crop) const;

  // The patches as rows [N x C*P*P], flattened channel-first (c, kh, kw) like the weights.
  static RowMatrixF extractPatches(const ChwTensor& input, int patchSize, RemainderPolicy policy);

 private:
  void forwardPacked(const ChwTensor& input, Embedding& out) const;
  void forwardEigen(const ChwTensor& input, Embedding& out) const;

  PatchWeights m_weights;
  // Weights packed once for the AVX-512 kernel (null in builds without it); shared so
  // that copies of a layer do not repack.
  std::shared_ptr<const PackedGemm> m_gemm;
};

}  // namespace patchlens
