#include "core/analysis/channel_statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/io/error.h"

namespace patchlens {

namespace {

Histogram histogramOf(const float* values, Eigen::Index size, int bins, ValueRange range) {
  if (bins < 1) throw Error("", "a histogram needs at least one bin, got " + std::to_string(bins));
  double lo = range.lo;
  double hi = range.hi;
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    throw Error("", "histogram range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                        "] is not a finite interval");
  }
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  Histogram h;
  h.edges.resize(static_cast<std::size_t>(bins) + 1);
  // numpy.linspace: start + i * step, with the last edge exactly hi.
  const double step = (hi - lo) / bins;
  for (int i = 0; i < bins; ++i) h.edges[static_cast<std::size_t>(i)] = lo + i * step;
  h.edges.back() = hi;
  h.counts.assign(static_cast<std::size_t>(bins), 0);
  const double norm = bins / (hi - lo);
  for (Eigen::Index i = 0; i < size; ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) {
      ++h.nonFinite;
    } else if (v < lo) {
      ++h.underflow;
    } else if (v > hi) {
      ++h.overflow;
    } else {
      // The guess from the scaled value can be off by one against the stored edges; fix it
      // with exact comparisons, as numpy does, so that edge values land where numpy puts them.
      auto bin = std::min(static_cast<int>((v - lo) * norm), bins - 1);
      if (v < h.edges[static_cast<std::size_t>(bin)]) --bin;
      if (bin < bins - 1 && v >= h.edges[static_cast<std::size_t>(bin) + 1]) ++bin;
      ++h.counts[static_cast<std::size_t>(bin)];
    }
  }
  return h;
}

}  // namespace

ChannelStatistics channelStatistics(const RowMatrixF& tokens) {
  const Eigen::Index n = tokens.rows();
  if (n == 0) throw Error("", "channel statistics of an embedding without tokens");
  // Double sums: 196 x 768 floats are fine in float, but bigger grids lose digits.
  const Eigen::MatrixXd x = tokens.cast<double>();
  const Eigen::RowVectorXd mean = x.colwise().mean();
  ChannelStatistics s;
  s.mean = mean.transpose().cast<float>();
  s.std = ((x.rowwise() - mean).array().square().colwise().mean().sqrt()).transpose().cast<float>();
  s.min = tokens.colwise().minCoeff().transpose();
  s.max = tokens.colwise().maxCoeff().transpose();
  s.meanAbs = x.cwiseAbs().colwise().mean().transpose().cast<float>();
  s.positiveFraction = ((x.array() > 0.0).cast<double>().colwise().sum() / static_cast<double>(n))
                           .transpose()
                           .cast<float>();
  return s;
}

std::int64_t Histogram::total() const {
  return std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
}

Histogram histogram(const Eigen::Ref<const VectorF>& values, int bins, ValueRange range) {
  return histogramOf(values.data(), values.size(), bins, range);
}

Histogram matrixHistogram(const RowMatrixF& values, int bins, ValueRange range) {
  return histogramOf(values.data(), values.size(), bins, range);
}

}  // namespace patchlens
