#include "core/analysis/attention_distance.h"

#include <cmath>
#include <cstdlib>

#include "core/analysis/attention_maps.h"
#include "core/io/error.h"

namespace patchlens {

VectorF meanAttentionDistance(const std::vector<RowMatrixF>& heads, int prefixTokens, int gridRows,
                              int gridCols, int patchSize) {
  checkAttentionShape(heads, prefixTokens, gridRows, gridCols);
  if (patchSize <= 0) throw Error("", "the patch size must be positive");
  const int n = gridRows * gridCols;
  // Distances depend only on |Δrow| and |Δcol|: one small table instead of N² square roots.
  Eigen::MatrixXd table(gridRows, gridCols);
  for (int dr = 0; dr < gridRows; ++dr) {
    for (int dc = 0; dc < gridCols; ++dc) {
      table(dr, dc) = patchSize * std::sqrt(static_cast<double>(dr * dr + dc * dc));
    }
  }
  VectorF result(static_cast<Eigen::Index>(heads.size()));
  for (std::size_t h = 0; h < heads.size(); ++h) {
    const RowMatrixF& a = heads[h];
    double sum = 0.0;
    int queries = 0;
    for (int q = 0; q < n; ++q) {
      const int qr = q / gridCols;
      const int qc = q % gridCols;
      const float* row = a.row(prefixTokens + q).data() + prefixTokens;
      double weight = 0.0;
      double weighted = 0.0;
      for (int k = 0; k < n; ++k) {
        const double v = row[k];
        weight += v;
        weighted += v * table(std::abs(k / gridCols - qr), std::abs(k % gridCols - qc));
      }
      if (weight <= 0.0) continue;
      sum += weighted / weight;
      ++queries;
    }
    result(static_cast<Eigen::Index>(h)) = queries > 0 ? static_cast<float>(sum / queries) : 0.0f;
  }
  return result;
}

}  // namespace patchlens
