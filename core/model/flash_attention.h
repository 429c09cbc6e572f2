#pragma once

#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/packed_gemm.h"

namespace patchlens {

// Softmax attention without the T x T matrix, on the packed GEMM's register-tile kernels:
// per block the keys and values of every head are packed once into the kernel's panels; a work
// item is (head, group of query micro-rows); for each key tile, scores = q k^T (q pre-scaled by
// 1/sqrt(dh)), an online softmax (running max and sum per query row, the accumulator rescaled
// when the max grows), then exp-scores x v, and one division by the sum at the end. The key
// tile's panels stay in L2 while the group's micro-rows pass over them.
// Memory: the packed keys and values (2 T D floats) plus a few kB per thread.
class FlashAttention {
 public:
  // The kernel this host runs it on; std::nullopt: use the Eigen blocked attention instead.
  static std::optional<PackedGemm::Kernel> kernel() { return PackedGemm::hostKernel(); }

  // context [T x D] from the fused qkv [T x 3D] (q | k | v, head h at columns h*dh of each);
  // positionBias: empty, or one [T x T] per head added to the scaled scores (BEiT).
  // Allocates before its parallel region; throws std::bad_alloc from there only.
  void run(const RowMatrixF& qkv, int heads, int headDim,
           const std::vector<RowMatrixF>& positionBias, RowMatrixF& context);

 private:
  std::vector<float> m_keys;    // [head][key panel][dh][32]
  std::vector<float> m_values;  // [head][key tile][dh panel][key in tile][32]
  std::vector<float> m_zeros;   // the kernel's bias: zeros
  // 64-byte aligned: Eigen's sums over a row start vectorised at the first aligned float, so
  // an address that depended on the heap's history would change the order of the additions
  // (batch --resume must give the bytes of an uninterrupted run).
  using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;
  struct ThreadTile {
    AlignedFloats queries;  // a group's micro-rows of q, packed, [micro-row][dh][14]
    AlignedFloats scores;   // [14 x key tile]
    AlignedFloats packedP;  // the exp-scores of one micro-row, packed, [key][14]
    AlignedFloats product;  // [14 x dh]
    AlignedFloats accumulated, runningMax, runningSum;  // per query row of the group
  };
  std::vector<ThreadTile> m_threads;
};

}  // namespace patchlens
