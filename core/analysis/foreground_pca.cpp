#include "core/analysis/foreground_pca.h"

#include <algorithm>

#include "core/io/error.h"

namespace patchlens {

ForegroundPca foregroundPca(const RowMatrixF& patchTokens, const ForegroundPcaOptions& options) {
  const Eigen::Index n = patchTokens.rows();
  if (n < 2) throw Error("", "the foreground PCA needs at least 2 tokens");
  ForegroundPca out;
  const PcaResult first = tokenPca(patchTokens, 1);
  out.firstRatio = first.explainedVarianceRatio.size() > 0 ? first.explainedVarianceRatio(0) : 0;
  VectorF pc1 = first.projections.col(0);
  const float lo = pc1.minCoeff();
  const float hi = pc1.maxCoeff();
  out.firstComponent =
      hi > lo ? VectorF((pc1.array() - lo) / (hi - lo)) : VectorF(VectorF::Zero(n));
  if (options.flip) out.firstComponent = (1.0f - out.firstComponent.array()).matrix();
  out.foreground.assign(static_cast<std::size_t>(n), false);
  std::vector<Eigen::Index> rows;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (out.firstComponent(i) > options.threshold) {
      out.foreground[static_cast<std::size_t>(i)] = true;
      rows.push_back(i);
    }
  }
  out.foregroundCount = static_cast<int>(rows.size());
  out.rgb = RowMatrixF::Zero(n, 3);
  if (rows.size() < 2) return out;
  RowMatrixF fg(static_cast<Eigen::Index>(rows.size()), patchTokens.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    fg.row(static_cast<Eigen::Index>(i)) = patchTokens.row(rows[i]);
  out.second = tokenPca(fg, 3);
  const RowMatrixF colours = pcaToRgb(out.second);
  for (std::size_t i = 0; i < rows.size(); ++i)
    out.rgb.row(rows[i]) = colours.row(static_cast<Eigen::Index>(i));
  return out;
}

}  // namespace patchlens
