#pragma once

#include <cstddef>

namespace patchlens::detail {

// The AVX2 + FMA kernel behind PackedGemm on CPUs without AVX-512 (most laptops): the same
// packed layouts (X in micro-rows of 14 tokens, W in panels of 32 outputs), worked in
// register tiles of 5 rows x 16 outputs (a micro-row is 5 + 5 + 4 rows, a panel two halves).
// Arguments as PackedGemm::multiply, plus the packed weights and zero-padded bias.
void multiplyAvx2(const float* packedX, int rows, float* out, std::size_t rowStride, int panelBegin,
                  int panelEnd, int depth, int outputs, int depthSlice, const float* packedWeights,
                  const float* paddedBias);

}  // namespace patchlens::detail
