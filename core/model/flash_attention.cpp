#include "core/model/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include "core/model/omp_thread.h"

namespace patchlens {
namespace {

constexpr int kRows = PackedGemm::kTileRows;     // queries per micro-row
constexpr int kLanes = PackedGemm::kPanelWidth;  // keys (or value columns) per panel
// Keys per tile: 256 keys of k and of v at dh = 64 are 2 x 64 kB, in L2 while a group's
// micro-rows use them; a multiple of the panel width, so a tile starts on a panel.
constexpr int kKeyTile = 256;
// Query micro-rows per work item (112 queries): the key tile is read from L3 once per group.
constexpr int kGroup = 8;

int panelsFor(int columns) {
  return (columns + kLanes - 1) / kLanes;
}

}  // namespace

void FlashAttention::run(const RowMatrixF& qkv, int heads, int headDim,
                         const std::vector<RowMatrixF>& positionBias, RowMatrixF& context) {
  const auto kernel = PackedGemm::hostKernel();
  const int tokens = static_cast<int>(qkv.rows());
  const int width = heads * headDim;
  const std::size_t qkvStride = static_cast<std::size_t>(3) * width;
  const float scale = 1.0f / std::sqrt(static_cast<float>(headDim));
  const int keyPanels = panelsFor(tokens);
  const int keyTiles = (tokens + kKeyTile - 1) / kKeyTile;
  const int valuePanels = panelsFor(headDim);
  const std::size_t keysPerHead = static_cast<std::size_t>(keyPanels) * headDim * kLanes;
  // Each key tile's values as their own panels (depth = the keys of that tile).
  const std::size_t valueTileSize = static_cast<std::size_t>(valuePanels) * kKeyTile * kLanes;
  const std::size_t valuesPerHead = valueTileSize * keyTiles;
  const int threads = std::max(1, Eigen::nbThreads());

  // Everything is allocated before the parallel regions: no exception may escape them.
  context.resize(tokens, width);
  // Not cleared between blocks: a padding lane (keys past T, value columns past dh) only
  // reaches output columns the kernel masks off.
  m_keys.resize(keysPerHead * heads);
  m_values.resize(valuesPerHead * heads);
  m_zeros.assign(static_cast<std::size_t>(std::max(keyPanels, valuePanels)) * kLanes, 0.0f);
  m_threads.resize(static_cast<std::size_t>(threads));
  for (ThreadTile& t : m_threads) {
    t.queries.resize(static_cast<std::size_t>(kGroup) * headDim * kRows);
    t.scores.resize(static_cast<std::size_t>(kRows) * kKeyTile);
    t.packedP.resize(static_cast<std::size_t>(kKeyTile) * kRows);
    t.product.resize(static_cast<std::size_t>(kRows) * headDim);
    t.accumulated.resize(static_cast<std::size_t>(kGroup) * kRows * headDim);
    t.runningMax.resize(static_cast<std::size_t>(kGroup) * kRows);
    t.runningSum.resize(static_cast<std::size_t>(kGroup) * kRows);
  }
  const float* data = qkv.data();

  // Pack k and v of every head (the padding lanes stay zero).
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int h = 0; h < heads; ++h) {
    float* keys = m_keys.data() + keysPerHead * h;
    float* values = m_values.data() + valuesPerHead * h;
    for (int key = 0; key < tokens; ++key) {
      const float* k = data + key * qkvStride + width + h * headDim;
      const float* v = k + width;
      float* kp = keys + static_cast<std::size_t>(key / kLanes) * headDim * kLanes + key % kLanes;
      for (int d = 0; d < headDim; ++d) kp[static_cast<std::size_t>(d) * kLanes] = k[d];
      const int tile = key / kKeyTile;
      const int inTile = key % kKeyTile;
      const int depth = std::min(kKeyTile, tokens - tile * kKeyTile);
      float* vp = values + valueTileSize * tile + static_cast<std::size_t>(inTile) * kLanes;
      for (int d = 0; d < headDim; ++d)
        vp[static_cast<std::size_t>(d / kLanes) * depth * kLanes + d % kLanes] = v[d];
    }
  }

  const int microRows = (tokens + kRows - 1) / kRows;
  const int groups = (microRows + kGroup - 1) / kGroup;
  const int items = heads * groups;
  float* out = context.data();
  std::exception_ptr failure;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (int item = 0; item < items; ++item) {
    try {
      const int h = item / groups;
      const int firstRow = (item % groups) * kGroup * kRows;
      const int groupRows = std::min(kGroup * kRows, tokens - firstRow);
      const int groupMicroRows = (groupRows + kRows - 1) / kRows;
      ThreadTile& t = m_threads[static_cast<std::size_t>(ompThreadIndex())];
      // The group's queries, packed and pre-scaled (as the Eigen paths scale q before q k^T).
      for (int m = 0; m < groupMicroRows; ++m) {
        const float* rows[kRows];
        const int count = std::min(kRows, groupRows - m * kRows);
        for (int r = 0; r < count; ++r)
          rows[r] =
              data + static_cast<std::size_t>(firstRow + m * kRows + r) * qkvStride + h * headDim;
        float* packed = t.queries.data() + static_cast<std::size_t>(m) * headDim * kRows;
        PackedGemm::packMicroRow(rows, count, headDim, packed);
        for (int i = 0; i < headDim * kRows; ++i) packed[i] *= scale;
      }
      std::fill(t.accumulated.begin(), t.accumulated.end(), 0.0f);
      std::fill(t.runningMax.begin(), t.runningMax.end(), -std::numeric_limits<float>::infinity());
      std::fill(t.runningSum.begin(), t.runningSum.end(), 0.0f);
      const float* keys = m_keys.data() + keysPerHead * h;
      const float* values = m_values.data() + valuesPerHead * h;
      for (int tile = 0; tile < keyTiles; ++tile) {
        const int k0 = tile * kKeyTile;
        const int kn = std::min(kKeyTile, tokens - k0);
        const float* tileKeys = keys + static_cast<std::size_t>(k0 / kLanes) * headDim * kLanes;
        const float* tileValues = values + valueTileSize * tile;
        for (int m = 0; m < groupMicroRows; ++m) {
          const int row0 = m * kRows;
          const int count = std::min(kRows, groupRows - row0);
          PackedGemm::multiplyPanels(
              *kernel, t.queries.data() + static_cast<std::size_t>(m) * headDim * kRows, count,
              t.scores.data(), kKeyTile, headDim, kn, tileKeys, m_zeros.data());
          const float* rows[kRows];
          float rescale[kRows];
          for (int r = 0; r < count; ++r) {
            Eigen::Map<Eigen::ArrayXf> s(t.scores.data() + static_cast<std::size_t>(r) * kKeyTile,
                                         kn);
            if (!positionBias.empty())
              s += positionBias[static_cast<std::size_t>(h)]
                       .block(firstRow + row0 + r, k0, 1, kn)
                       .transpose()
                       .array();
            const int g = row0 + r;
            const float newMax = std::max(t.runningMax[g], s.maxCoeff());
            s = (s - newMax).exp();
            rescale[r] = std::exp(t.runningMax[g] - newMax);  // 0 on the first tile
            t.runningSum[g] = t.runningSum[g] * rescale[r] + s.sum();
            t.runningMax[g] = newMax;
            rows[r] = s.data();
          }
          PackedGemm::packMicroRow(rows, count, kn, t.packedP.data());
          PackedGemm::multiplyPanels(*kernel, t.packedP.data(), count, t.product.data(), headDim,
                                     kn, headDim, tileValues, m_zeros.data());
          for (int r = 0; r < count; ++r) {
            Eigen::Map<Eigen::ArrayXf> acc(
                t.accumulated.data() + static_cast<std::size_t>(row0 + r) * headDim, headDim);
            const Eigen::Map<const Eigen::ArrayXf> add(
                t.product.data() + static_cast<std::size_t>(r) * headDim, headDim);
            acc = acc * rescale[r] + add;
          }
        }
      }
      for (int r = 0; r < groupRows; ++r) {
        Eigen::Map<Eigen::ArrayXf> dst(
            out + static_cast<std::size_t>(firstRow + r) * width + h * headDim, headDim);
        dst = Eigen::Map<const Eigen::ArrayXf>(
                  t.accumulated.data() + static_cast<std::size_t>(r) * headDim, headDim) /
              t.runningSum[r];
      }
    } catch (...) {
#pragma omp critical(patchlens_flash_attention_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace patchlens
