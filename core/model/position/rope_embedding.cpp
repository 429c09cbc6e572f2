#include "core/model/position/rope_embedding.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace patchlens {

RopeGrid::RopeGrid(const RopeEmbedding& rope, int gridRows, int gridCols)
    : m_prefix(rope.prefixTokens), m_headDim(rope.headDim()) {
  const int quarter = static_cast<int>(rope.periods.size());
  const Eigen::Index patches = static_cast<Eigen::Index>(gridRows) * gridCols;
  m_sin.resize(patches, 2 * quarter);
  m_cos.resize(patches, 2 * quarter);
  float divideRows = static_cast<float>(gridRows), divideCols = static_cast<float>(gridCols);
  if (rope.normalize == RopeEmbedding::Normalize::Max) {
    divideRows = divideCols = static_cast<float>(std::max(gridRows, gridCols));
  } else if (rope.normalize == RopeEmbedding::Normalize::Min) {
    divideRows = divideCols = static_cast<float>(std::min(gridRows, gridCols));
  }
  // float32 throughout, in torch's order: coords = arange(0.5, H) / H; 2 * coords - 1;
  // angles = 2 pi * coords / period.
  const float twoPi = static_cast<float>(2.0 * 3.14159265358979323846);
  for (int i = 0; i < gridRows; ++i) {
    const float ch = 2.0f * ((static_cast<float>(i) + 0.5f) / divideRows) - 1.0f;
    for (int j = 0; j < gridCols; ++j) {
      const float cw = 2.0f * ((static_cast<float>(j) + 0.5f) / divideCols) - 1.0f;
      const Eigen::Index row = static_cast<Eigen::Index>(i) * gridCols + j;
      for (int p = 0; p < quarter; ++p) {
        const float period = rope.periods[static_cast<std::size_t>(p)];
        const float angleH = twoPi * ch / period;
        const float angleW = twoPi * cw / period;
        m_sin(row, p) = std::sin(angleH);
        m_cos(row, p) = std::cos(angleH);
        m_sin(row, quarter + p) = std::sin(angleW);
        m_cos(row, quarter + p) = std::cos(angleW);
      }
    }
  }
}

void RopeGrid::apply(RowMatrixF& qkv, int heads) const {
  const Eigen::Index patches = m_sin.rows();
  if (qkv.rows() != m_prefix + patches ||
      qkv.cols() != 3 * static_cast<Eigen::Index>(heads) * m_headDim) {
    throw std::logic_error("RoPE: qkv is " + std::to_string(qkv.rows()) + " x " +
                           std::to_string(qkv.cols()) + " for " + std::to_string(m_prefix) +
                           " prefix tokens, " + std::to_string(patches) + " patches, " +
                           std::to_string(heads) + " heads of " + std::to_string(m_headDim));
  }
  const int half = m_headDim / 2;
  const Eigen::Index width = static_cast<Eigen::Index>(heads) * m_headDim;
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel for num_threads(threads) if (threads > 1 && patches >= 64) schedule(static)
  for (Eigen::Index n = 0; n < patches; ++n) {
    float* row = qkv.data() + (m_prefix + n) * qkv.cols();
    const float* s = m_sin.data() + n * half;
    const float* c = m_cos.data() + n * half;
    // q (columns [0, D)) and k ([D, 2D)), every head: x * cos + rotate_half(x) * sin.
    for (Eigen::Index base = 0; base < 2 * width; base += m_headDim) {
      float* x = row + base;
      for (int t = 0; t < half; ++t) {
        const float x1 = x[t], x2 = x[t + half];
        x[t] = x1 * c[t] + (-x2) * s[t];
        x[t + half] = x2 * c[t] + x1 * s[t];
      }
    }
  }
}

}  // namespace patchlens
