#include "core/model/position/rope_embedding.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace patchlens {

int RopeEmbedding::headDim() const {
  if (!periods.empty()) return 4 * static_cast<int>(periods.size());
  if (!inverseFrequencies.empty()) return 4 * static_cast<int>(inverseFrequencies.size());
  if (!bands.empty()) return 4 * static_cast<int>(bands.size());
  const std::size_t tables = 2 * static_cast<std::size_t>(std::max(1, mixedDepth * mixedHeads));
  return 2 * static_cast<int>(mixedFrequencies.size() / tables);
}

RopeGrid::RopeGrid(const RopeEmbedding& rope, int gridRows, int gridCols)
    : m_prefix(rope.prefixTokens),
      m_headDim(rope.headDim()),
      m_interleaved(rope.pairs == RopeEmbedding::Pairs::Interleaved) {
  if (rope.mixed()) {
    buildMixed(rope, gridRows, gridCols);
  } else {
    buildAxial(rope, gridRows, gridCols);
  }
}

void RopeGrid::buildAxial(const RopeEmbedding& rope, int gridRows, int gridCols) {
  const bool dinov3 = rope.coordinates == RopeEmbedding::Coordinates::Dinov3Centered;
  // Hugging Face's DINOv3: (2 pi c) * inv_freq where Meta divides by the period.
  const bool inverse = dinov3 && rope.periods.empty();
  const std::vector<float>& perAxis =
      dinov3 ? (inverse ? rope.inverseFrequencies : rope.periods) : rope.bands;
  const int quarter = static_cast<int>(perAxis.size());
  const Eigen::Index patches = static_cast<Eigen::Index>(gridRows) * gridCols;
  m_sin.assign(1, RowMatrixF(patches, 2 * quarter));
  m_cos.assign(1, RowMatrixF(patches, 2 * quarter));
  // The two coordinates of patch (i, j), float32 in torch's order.
  float divideRows = static_cast<float>(gridRows), divideCols = static_cast<float>(gridCols);
  if (rope.normalize == RopeEmbedding::Normalize::Max) {
    divideRows = divideCols = static_cast<float>(std::max(gridRows, gridCols));
  } else if (rope.normalize == RopeEmbedding::Normalize::Min) {
    divideRows = divideCols = static_cast<float>(std::min(gridRows, gridCols));
  }
  // timm: t = arange(s) + offset, then t / s * ref per axis (eva's rescaling to the pre-train
  // grid).
  const auto timmCoordinate = [&](int index, int size, int ref) {
    float t = static_cast<float>(index) + rope.gridOffset;
    if (ref > 0) t = t / static_cast<float>(size) * static_cast<float>(ref);
    return t;
  };
  const float twoPi = static_cast<float>(2.0 * 3.14159265358979323846);
  for (int i = 0; i < gridRows; ++i) {
    for (int j = 0; j < gridCols; ++j) {
      float first, second;  // the coordinates of the first and second angle blocks
      if (dinov3) {
        // coords = arange(0.5, H) / H; 2 * coords - 1; angles = 2 pi * coords / period.
        first = 2.0f * ((static_cast<float>(i) + 0.5f) / divideRows) - 1.0f;
        second = 2.0f * ((static_cast<float>(j) + 0.5f) / divideCols) - 1.0f;
      } else {
        const float row = timmCoordinate(i, gridRows, rope.refRows);
        const float col = timmCoordinate(j, gridCols, rope.refCols);
        first = rope.columnsFirst ? col : row;
        second = rope.columnsFirst ? row : col;
      }
      const Eigen::Index n = static_cast<Eigen::Index>(i) * gridCols + j;
      for (int p = 0; p < quarter; ++p) {
        const float f = perAxis[static_cast<std::size_t>(p)];
        const float angleFirst =
            dinov3 ? (inverse ? twoPi * first * f : twoPi * first / f) : first * f;
        const float angleSecond =
            dinov3 ? (inverse ? twoPi * second * f : twoPi * second / f) : second * f;
        m_sin[0](n, p) = std::sin(angleFirst);
        m_cos[0](n, p) = std::cos(angleFirst);
        m_sin[0](n, quarter + p) = std::sin(angleSecond);
        m_cos[0](n, quarter + p) = std::cos(angleSecond);
      }
    }
  }
}

// get_mixed_grid + get_mixed_freqs: angle = x * fx + y * fy, both products in float32 and then
// their sum, one table per (block, head).
void RopeGrid::buildMixed(const RopeEmbedding& rope, int gridRows, int gridCols) {
  const int half = m_headDim / 2;
  const int tables = rope.mixedDepth * rope.mixedHeads;
  m_tablesPerBlock = rope.mixedHeads;
  const Eigen::Index patches = static_cast<Eigen::Index>(gridRows) * gridCols;
  m_sin.assign(static_cast<std::size_t>(tables), RowMatrixF(patches, half));
  m_cos.assign(static_cast<std::size_t>(tables), RowMatrixF(patches, half));
  const float* fx = rope.mixedFrequencies.data();
  const float* fy = fx + static_cast<std::size_t>(tables) * half;
  for (int table = 0; table < tables; ++table) {
    for (int i = 0; i < gridRows; ++i) {
      for (int j = 0; j < gridCols; ++j) {
        const float x = static_cast<float>(rope.columnsFirst ? j : i);
        const float y = static_cast<float>(rope.columnsFirst ? i : j);
        const Eigen::Index n = static_cast<Eigen::Index>(i) * gridCols + j;
        for (int t = 0; t < half; ++t) {
          const float ax = x * fx[table * half + t];
          const float ay = y * fy[table * half + t];
          const float angle = ax + ay;
          m_sin[static_cast<std::size_t>(table)](n, t) = std::sin(angle);
          m_cos[static_cast<std::size_t>(table)](n, t) = std::cos(angle);
        }
      }
    }
  }
}

void RopeGrid::apply(RowMatrixF& qkv, int heads, int block) const {
  const Eigen::Index patches = m_sin.front().rows();
  const bool perHead = m_tablesPerBlock > 0;
  if (qkv.rows() != m_prefix + patches ||
      qkv.cols() != 3 * static_cast<Eigen::Index>(heads) * m_headDim ||
      (perHead && (heads != m_tablesPerBlock || block < 0 ||
                   static_cast<std::size_t>(block + 1) * heads > m_sin.size()))) {
    throw std::logic_error("RoPE: qkv is " + std::to_string(qkv.rows()) + " x " +
                           std::to_string(qkv.cols()) + " for " + std::to_string(m_prefix) +
                           " prefix tokens, " + std::to_string(patches) + " patches, " +
                           std::to_string(heads) + " heads of " + std::to_string(m_headDim) +
                           " (block " + std::to_string(block) + ")");
  }
  const int half = m_headDim / 2;
  const Eigen::Index width = static_cast<Eigen::Index>(heads) * m_headDim;
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel for num_threads(threads) if (threads > 1 && patches >= 64) schedule(static)
  for (Eigen::Index n = 0; n < patches; ++n) {
    float* row = qkv.data() + (m_prefix + n) * qkv.cols();
    // q (columns [0, D)) and k ([D, 2D)), every head: x * cos + rotate(x) * sin.
    for (Eigen::Index base = 0; base < 2 * width; base += m_headDim) {
      const std::size_t table =
          perHead ? static_cast<std::size_t>(block * heads + (base % width) / m_headDim) : 0;
      const float* s = m_sin[table].data() + n * half;
      const float* c = m_cos[table].data() + n * half;
      float* x = row + base;
      if (m_interleaved) {  // pairs (2t, 2t + 1): timm's rot(x) = [-x1, x0, -x3, x2, ...]
        for (int t = 0; t < half; ++t) {
          const float x1 = x[2 * t], x2 = x[2 * t + 1];
          x[2 * t] = x1 * c[t] + (-x2) * s[t];
          x[2 * t + 1] = x2 * c[t] + x1 * s[t];
        }
      } else {  // pairs (t, t + half): rotate_half(x) = [-x2, x1]
        for (int t = 0; t < half; ++t) {
          const float x1 = x[t], x2 = x[t + half];
          x[t] = x1 * c[t] + (-x2) * s[t];
          x[t + half] = x2 * c[t] + x1 * s[t];
        }
      }
    }
  }
}

}  // namespace patchlens
