#include "core/analysis/embedding_analysis.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/io/error.h"

namespace patchlens {

namespace {

void checkToken(const RowMatrixF& tokens, int token) {
  if (token < 0 || token >= tokens.rows()) {
    throw Error("", "token " + std::to_string(token) + " is outside 0.." +
                        std::to_string(tokens.rows() - 1));
  }
}

std::vector<int> topBy(const Eigen::Ref<const VectorF>& values, int k, bool magnitude) {
  std::vector<int> order(static_cast<std::size_t>(values.size()));
  std::iota(order.begin(), order.end(), 0);
  const auto key = [&](int i) { return magnitude ? std::abs(values(i)) : values(i); };
  const auto count = static_cast<std::ptrdiff_t>(std::clamp<Eigen::Index>(k, 0, values.size()));
  // Ties go to the lower index so that the order is deterministic.
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int a, int b) {
    const float ka = key(a);
    const float kb = key(b);
    return ka > kb || (ka == kb && a < b);
  });
  order.resize(static_cast<std::size_t>(count));
  return order;
}

ValueRange widened(ValueRange range) {
  if (!(range.hi > range.lo)) {
    const float pad = std::max(std::abs(range.lo) * 1e-6f, 1e-6f);
    range.lo -= pad;
    range.hi += pad;
  }
  return range;
}

}  // namespace

VectorF channelMap(const RowMatrixF& tokens, int channel) {
  if (channel < 0 || channel >= tokens.cols()) {
    throw Error("", "channel " + std::to_string(channel) + " is outside 0.." +
                        std::to_string(tokens.cols() - 1));
  }
  return tokens.col(channel);
}

VectorF tokenNorms(const RowMatrixF& tokens) {
  return tokens.rowwise().norm();
}

VectorF tokenMeans(const RowMatrixF& tokens) {
  if (tokens.cols() == 0) return VectorF::Zero(tokens.rows());
  return tokens.rowwise().mean();
}

Eigen::VectorXi argmaxChannels(const RowMatrixF& tokens) {
  Eigen::VectorXi result(tokens.rows());
  for (Eigen::Index r = 0; r < tokens.rows(); ++r) {
    Eigen::Index best = 0;
    // maxCoeff returns the first maximum, as numpy.argmax does.
    tokens.row(r).maxCoeff(&best);
    result(r) = static_cast<int>(best);
  }
  return result;
}

VectorF cosineSimilarity(const RowMatrixF& tokens, int token) {
  checkToken(tokens, token);
  const Eigen::VectorXd ref = tokens.row(token).transpose().cast<double>();
  const double refNorm = ref.norm();
  VectorF result(tokens.rows());
  for (Eigen::Index r = 0; r < tokens.rows(); ++r) {
    const Eigen::VectorXd row = tokens.row(r).transpose().cast<double>();
    const double denom = refNorm * row.norm();
    result(r) = denom > 0.0 ? static_cast<float>(row.dot(ref) / denom) : 0.0f;
  }
  return result;
}

PcaResult tokenPca(const RowMatrixF& tokens, int components) {
  const Eigen::Index n = tokens.rows();
  const Eigen::Index d = tokens.cols();
  if (n == 0 || d == 0) throw Error("", "PCA of an empty embedding");
  const Eigen::Index k = std::clamp<Eigen::Index>(components, 0, std::min(n, d));

  // Double precision: the covariance of 768 float channels loses digits otherwise.
  const Eigen::MatrixXd x = tokens.cast<double>();
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const Eigen::MatrixXd centred = x.rowwise() - mean;
  const double dof = n > 1 ? static_cast<double>(n - 1) : 1.0;

  // The principal axes are eigenvectors of the smaller of the two scatter matrices:
  // for 196 tokens x 768 channels the 196 x 196 Gram matrix is ~30x cheaper than an SVD.
  Eigen::VectorXd singular;  // descending
  Eigen::MatrixXd axes;      // [k x D]
  if (n < d) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(centred * centred.transpose());
    const Eigen::VectorXd values = eig.eigenvalues().reverse().cwiseMax(0.0);
    singular = values.cwiseSqrt();
    axes = Eigen::MatrixXd::Zero(k, d);
    for (Eigen::Index c = 0; c < k; ++c) {
      // v = X^T u / sigma; a (numerically) zero sigma has no direction to give.
      if (singular(c) > 1e-12 * singular(0)) {
        axes.row(c) =
            (centred.transpose() * eig.eigenvectors().col(n - 1 - c)).transpose() / singular(c);
      }
    }
  } else {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(centred.transpose() * centred);
    singular = eig.eigenvalues().reverse().cwiseMax(0.0).cwiseSqrt();
    axes = eig.eigenvectors().rowwise().reverse().leftCols(k).transpose();
  }
  const double total = singular.squaredNorm();

  PcaResult result;
  result.mean = mean.transpose().cast<float>();
  for (Eigen::Index c = 0; c < k; ++c) {
    Eigen::Index largest = 0;
    axes.row(c).cwiseAbs().maxCoeff(&largest);
    if (axes(c, largest) < 0.0) axes.row(c) *= -1.0;
  }
  result.components = axes.cast<float>();
  result.projections = (centred * axes.transpose()).cast<float>();
  result.explainedVariance.resize(k);
  result.explainedVarianceRatio.resize(k);
  for (Eigen::Index c = 0; c < k; ++c) {
    const double s2 = singular(c) * singular(c);
    result.explainedVariance(c) = static_cast<float>(s2 / dof);
    result.explainedVarianceRatio(c) = total > 0.0 ? static_cast<float>(s2 / total) : 0.0f;
  }
  return result;
}

RowMatrixF pcaToRgb(const PcaResult& pca) {
  const Eigen::Index n = pca.projections.rows();
  RowMatrixF rgb = RowMatrixF::Zero(n, 3);
  const Eigen::Index k = std::min<Eigen::Index>(3, pca.projections.cols());
  for (Eigen::Index c = 0; c < k; ++c) {
    const float lo = pca.projections.col(c).minCoeff();
    const float hi = pca.projections.col(c).maxCoeff();
    if (hi > lo) rgb.col(c) = (pca.projections.col(c).array() - lo) / (hi - lo);
  }
  return rgb;
}

VectorStats vectorStats(const Eigen::Ref<const VectorF>& values) {
  VectorStats stats;
  if (values.size() == 0) return stats;
  const Eigen::VectorXd v = values.cast<double>();
  const double mean = v.mean();
  stats.min = values.minCoeff();
  stats.max = values.maxCoeff();
  stats.mean = static_cast<float>(mean);
  stats.std = static_cast<float>(std::sqrt((v.array() - mean).square().mean()));
  stats.l2 = static_cast<float>(v.norm());
  return stats;
}

std::vector<int> topByMagnitude(const Eigen::Ref<const VectorF>& values, int k) {
  return topBy(values, k, true);
}
std::vector<int> topByValue(const Eigen::Ref<const VectorF>& values, int k) {
  return topBy(values, k, false);
}

ValueRange minMaxRange(const Eigen::Ref<const VectorF>& values) {
  if (values.size() == 0) return {};
  return {values.minCoeff(), values.maxCoeff()};
}

ValueRange symmetricRange(const Eigen::Ref<const VectorF>& values) {
  if (values.size() == 0) return {-1.0f, 1.0f};
  const float m = values.cwiseAbs().maxCoeff();
  return {-m, m};
}

namespace {

// Linear interpolation between the order statistics around `percent` (numpy's default), found
// with nth_element on `values` (reordered): O(n) where a sort of a 150k-value matrix is not.
float interpolatedPercentile(std::vector<float>& values, double percent) {
  const double position =
      std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const auto at = values.begin() + static_cast<std::ptrdiff_t>(below);
  std::nth_element(values.begin(), at, values.end());
  const float low = *at;
  // Everything after `below` is >= it: the next order statistic is their minimum.
  const float high = below + 1 < values.size() ? *std::min_element(at + 1, values.end()) : low;
  const double t = position - static_cast<double>(below);
  return static_cast<float>(static_cast<double>(low) * (1.0 - t) + static_cast<double>(high) * t);
}

}  // namespace

float percentile(const Eigen::Ref<const VectorF>& values, double percent) {
  if (values.size() == 0) return 0.0f;
  std::vector<float> copy(values.data(), values.data() + values.size());
  return interpolatedPercentile(copy, percent);
}

ValueRange percentileRange(const Eigen::Ref<const VectorF>& values, double lowPercent,
                           double highPercent) {
  if (values.size() == 0) return {0.0f, 0.0f};
  std::vector<float> copy(values.data(), values.data() + values.size());
  const float low = interpolatedPercentile(copy, lowPercent);
  return {low, interpolatedPercentile(copy, highPercent)};
}

ValueRange scaleRange(ScaleMode mode, const Eigen::Ref<const VectorF>& values, ValueRange global) {
  switch (mode) {
    case ScaleMode::MinMax:
      return widened(minMaxRange(values));
    case ScaleMode::Symmetric:
      return widened(symmetricRange(values));
    case ScaleMode::Global:
      return widened(global);
    case ScaleMode::Percentile:
      return widened(percentileRange(values));
  }
  return widened(minMaxRange(values));
}

ValueRange globalRange(const RowMatrixF& tokens) {
  if (tokens.size() == 0) return {};
  return {tokens.minCoeff(), tokens.maxCoeff()};
}

TileShape heatmapTileShape(int length) {
  if (length <= 0) return {0, 0};
  // Prefer rows:cols = 3:4; accept an exact factorisation no flatter than 1:3.
  const double ideal = std::sqrt(static_cast<double>(length) * 3.0 / 4.0);
  int best = 0;
  for (int rows = 1; rows * rows <= length; ++rows) {
    if (length % rows != 0) continue;
    if (best == 0 || std::abs(rows - ideal) < std::abs(best - ideal)) best = rows;
  }
  if (best > 0 && length / best <= 3 * best) return {best, length / best};
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(length) * 4.0 / 3.0)));
  return {(length + cols - 1) / cols, cols};
}

}  // namespace patchlens
