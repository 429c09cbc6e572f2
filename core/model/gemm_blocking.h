#pragma once

#include <string>

#include "core/model/cpu_caches.h"

namespace patchlens {

// The register-tile kernels behind PackedGemm (PackedGemm::Kernel): they share the packed
// layouts but not the blocking that suits them.
enum class GemmKernel { Avx512, Avx2 };

// How PackedGemm cuts Y = X W^T into cache-sized pieces: K in slices of depthSlice (each
// slice is one pass of a register tile over its output), tokens in blocks of blockTiles
// micro-rows whose packed patches stay in L2 while every weight panel streams past.
struct GemmBlocking {
  int depthSlice = 0;  // K per pass (kc)
  int blockTiles = 0;  // micro-rows of PackedGemm::kTileRows tokens per packed block (mc / 14)

  // The blocking for this CPU's caches, a K of `depth` and a kernel, by the rules measured on
  // each kernel (see README, Performance):
  //  - AVX-512 (14 x 32 tiles, 28 accumulators): a weight slice (depthSlice x 32 floats) is reused
  //  by every tile of a block and is
  //    streamed from L2, not kept in L1: each 128-byte row of it feeds 28 FMAs, while every
  //    extra slice costs the tile one more load and store of its 28 accumulators. So K is cut
  //    only when a slice would take more than 1/8 of L2, into equal slices.
  //  - AVX2 (6 x 16 tiles, a micro-row is 3 tiles per half panel): a slice of the whole panel
  //    (32 floats per k) and of one micro-row (14 floats per k) are read by every k step of
  //    six tiles, so both stay in L1: K is cut into equal slices of at most L1 / 2 / 184 bytes,
  //    rounded down to 16 (32 kB: 80; 48 kB: 128). On Zen 5 (48 kB L1) the kernel reached
  //    62-70 % of the peak with one slice of 768 read from L2, 90-93 % with slices of 64-128,
  //    85-90 % with 160-192.
  static GemmBlocking choose(const CpuCaches& caches, int depth, GemmKernel kernel);

  std::string describe() const;  // "K slice 768, 32 micro-rows (448 tokens) per block"
};

}  // namespace patchlens
