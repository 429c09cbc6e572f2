#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "core/analysis/embedding_analysis.h"
#include "core/model/eigen_types.h"

namespace patchlens {

// Statistics of every channel (column) of an embedding [N x D], for the per-channel plots.
struct ChannelStatistics {
  VectorF mean;              // [D]
  VectorF std;               // [D] population standard deviation (ddof = 0, numpy's default)
  VectorF min;               // [D]
  VectorF max;               // [D]
  VectorF meanAbs;           // [D] mean |v|: how strongly a channel responds, whatever the sign
  VectorF positiveFraction;  // [D] share of tokens with v > 0 (a ReLU-like view of the channel)
};

// Throws Error when the embedding has no token.
ChannelStatistics channelStatistics(const RowMatrixF& tokens);

// Counts of values in equal-width bins, numpy.histogram's convention: bins are half-open
// [e_i, e_{i+1}) except the last, which includes its right edge.
struct Histogram {
  std::vector<double> edges;         // bins + 1 edges, edges.front() = lo, edges.back() = hi
  std::vector<std::int64_t> counts;  // [bins]
  std::int64_t underflow = 0;        // values < lo
  std::int64_t overflow = 0;         // values > hi
  std::int64_t nonFinite = 0;        // NaN / Inf, counted nowhere else
  std::int64_t total() const;        // values inside [lo, hi]
};

// Throws Error when bins < 1 or the range is not finite or reversed. A zero-width range is
// widened by +-0.5 as numpy does.
Histogram histogram(const Eigen::Ref<const VectorF>& values, int bins, ValueRange range);
// Every value of a matrix (the whole embedding, or a filter bank).
Histogram matrixHistogram(const RowMatrixF& values, int bins, ValueRange range);

}  // namespace patchlens
