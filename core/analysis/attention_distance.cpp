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
  // Each query's row of distances is spread from the table once and used by every head, so
  // that a head's share is two vectorised reductions; queries are split between threads.
  const int headCount = static_cast<int>(heads.size());
  Eigen::VectorXd sums = Eigen::VectorXd::Zero(headCount);
  Eigen::VectorXi counts = Eigen::VectorXi::Zero(headCount);
  [[maybe_unused]] const int threads = Eigen::nbThreads();
#pragma omp parallel num_threads(threads) if (threads > 1 && n >= 64)
  {
    Eigen::VectorXd localSums = Eigen::VectorXd::Zero(headCount);
    Eigen::VectorXi localCounts = Eigen::VectorXi::Zero(headCount);
    Eigen::RowVectorXd distance(n);
    Eigen::RowVectorXd row(n);
#pragma omp for schedule(static)
    for (int q = 0; q < n; ++q) {
      const int qr = q / gridCols;
      const int qc = q % gridCols;
      for (int kr = 0; kr < gridRows; ++kr) {
        for (int kc = 0; kc < gridCols; ++kc)
          distance(kr * gridCols + kc) = table(std::abs(kr - qr), std::abs(kc - qc));
      }
      for (int h = 0; h < headCount; ++h) {
        row = heads[static_cast<std::size_t>(h)].row(prefixTokens + q).tail(n).cast<double>();
        const double weight = row.sum();
        if (weight <= 0.0) continue;
        localSums(h) += row.dot(distance) / weight;
        ++localCounts(h);
      }
    }
#pragma omp critical(patchlens_attention_distance)
    {
      sums += localSums;
      counts += localCounts;
    }
  }
  VectorF result(headCount);
  for (int h = 0; h < headCount; ++h)
    result(h) = counts(h) > 0 ? static_cast<float>(sums(h) / counts(h)) : 0.0f;
  return result;
}

}  // namespace patchlens
