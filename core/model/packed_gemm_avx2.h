#pragma once

#include <cstddef>

namespace patchlens::detail {

// The AVX2 + FMA kernel behind PackedGemm on CPUs without AVX-512 (most laptops): the same
// packed layouts (X in micro-rows of 14 tokens, W in panels of 32 outputs), worked in
// register tiles of 6 rows x 16 outputs (a micro-row is 6 + 4 + 4 rows, a panel two halves),
// K in slices that keep a panel's slice and a micro-row's in L1 (GemmBlocking, GemmKernel::Avx2).
// Each output is the bias plus its k terms in ascending order (one FMA chain; a slice boundary
// only stores and reloads the float), as the AVX-512 kernel sums them: both give the same bits.
// Arguments as PackedGemm::multiply, plus the packed weights and zero-padded bias.
void multiplyAvx2(const float* packedX, int rows, float* out, std::size_t rowStride, int panelBegin,
                  int panelEnd, int depth, int outputs, int depthSlice, const float* packedWeights,
                  const float* paddedBias);

// dst [outputs rounded up to 32][32] = W[:, k0:k0+width] (zeros from column width on) from the
// packed panels ([panel][k][32], `depth` k per panel): the B panel of the transposed product
// (PackedGemm::multiplyTransposed), by 8 x 8 transposes in ymm registers.
void packTransposedPanelAvx2(const float* packedWeights, int depth, int outputs, int k0, int width,
                             float* dst);

}  // namespace patchlens::detail
