#pragma once

#include <string>

#include "core/model/cpu_caches.h"

namespace patchlens {

// How PackedGemm cuts Y = X W^T into cache-sized pieces: K in slices of depthSlice (each
// slice is one pass of a register tile over its output), tokens in blocks of blockTiles
// micro-rows whose packed patches stay in L2 while every weight panel streams past.
struct GemmBlocking {
  int depthSlice = 0;  // K per pass (kc)
  int blockTiles = 0;  // micro-rows of PackedGemm::kTileRows tokens per packed block (mc / 14)

  // The blocking for this CPU's caches and a K of `depth`, by the rules measured on the
  // kernel (see README, Performance):
  //  - a weight slice (depthSlice x 32 floats) is reused by every tile of a block and is
  //    streamed from L2, not kept in L1: each 128-byte row of it feeds 28 FMAs, while every
  //    extra slice costs the tile one more load and store of its 28 accumulators. So K is cut
  //    only when a slice would take more than 1/8 of L2, into equal slices.
  //  - a block's packed patches (blockTiles x 14 x depth floats), the weight slice and the
  //    block's output stripe (14 x 32 floats per micro-row) take at most 3/4 of L2.
  static GemmBlocking choose(const CpuCaches& caches, int depth);

  std::string describe() const;  // "K slice 768, 32 micro-rows (448 tokens) per block"
};

}  // namespace patchlens
