#include "core/model/gemm_blocking.h"

#include <algorithm>
#include <cstddef>

#include "core/model/packed_gemm.h"

namespace patchlens {

GemmBlocking GemmBlocking::choose(const CpuCaches& caches, int depth, GemmKernel kernel) {
  const CpuCaches c = caches.withDefaults();
  constexpr std::size_t kFloat = sizeof(float);
  constexpr std::size_t kPanelRowBytes = PackedGemm::kPanelWidth * kFloat;  // 128 bytes
  GemmBlocking b;
  const int k = std::max(depth, 1);

  constexpr std::size_t kMicroRowBytes = PackedGemm::kTileRows * kFloat;  // 56 bytes
  const std::size_t maxSlice =
      kernel == GemmKernel::Avx2
          ? std::max<std::size_t>(c.l1d / 2 / (kPanelRowBytes + kMicroRowBytes) / 16 * 16, 16)
          : std::max<std::size_t>(c.l2 / 8 / kPanelRowBytes, 16);
  const auto slices = static_cast<int>((static_cast<std::size_t>(k) + maxSlice - 1) / maxSlice);
  b.depthSlice = (k + slices - 1) / slices;

  const std::size_t budget = c.l2 * 3 / 4;
  const std::size_t sliceBytes = static_cast<std::size_t>(b.depthSlice) * kPanelRowBytes;
  const std::size_t perToken = static_cast<std::size_t>(k) * kFloat + kPanelRowBytes;
  const std::size_t tokens =
      std::min<std::size_t>(budget > sliceBytes ? (budget - sliceBytes) / perToken : 0, 1u << 24);
  b.blockTiles = std::max(1, static_cast<int>(tokens / PackedGemm::kTileRows));
  return b;
}

std::string GemmBlocking::describe() const {
  return "K slice " + std::to_string(depthSlice) + ", " + std::to_string(blockTiles) +
         " micro-rows (" + std::to_string(blockTiles * PackedGemm::kTileRows) +
         " tokens) per block";
}

}  // namespace patchlens
