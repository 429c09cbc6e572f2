#include "core/analysis/joint_pca.h"

#include <string>

#include "core/analysis/embedding_analysis.h"
#include "core/io/error.h"

namespace patchlens {

JointPca jointPca(const RowMatrixF& a, const RowMatrixF& b, const JointPcaOptions& options) {
  if (a.cols() != b.cols()) {
    throw Error("", "the two token sets have different widths (" + std::to_string(a.cols()) +
                        " and " + std::to_string(b.cols()) + " channels)");
  }
  const Eigen::Index na = a.rows();
  const Eigen::Index nb = b.rows();
  if (na + nb < 2) throw Error("", "the joint PCA needs at least 2 tokens");
  RowMatrixF both(na + nb, a.cols());
  both.topRows(na) = a;
  both.bottomRows(nb) = b;

  JointPca out;
  RowMatrixF rgb;
  std::vector<bool> foreground;
  if (options.foreground) {
    ForegroundPca fg = foregroundPca(both, options.threshold);
    out.pca = std::move(fg.second);
    rgb = std::move(fg.rgb);
    foreground = std::move(fg.foreground);
    out.foregroundCount = fg.foregroundCount;
  } else {
    out.pca = tokenPca(both, 3);
    rgb = pcaToRgb(out.pca);
    foreground.assign(static_cast<std::size_t>(na + nb), true);
    out.foregroundCount = static_cast<int>(na + nb);
  }
  out.rgbA = rgb.topRows(na);
  out.rgbB = rgb.bottomRows(nb);
  out.foregroundA.assign(foreground.begin(), foreground.begin() + na);
  out.foregroundB.assign(foreground.begin() + na, foreground.end());
  return out;
}

}  // namespace patchlens
