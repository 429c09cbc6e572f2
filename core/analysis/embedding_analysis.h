#pragma once

#include <Eigen/Core>
#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Derived views of an embedding [N x D] that the GUI and the exports show. All functions
// are pure, Qt-free and throw Error on an out-of-range token or channel.

// Channel k at every token: column k of the embedding, [N].
VectorF channelMap(const RowMatrixF& tokens, int channel);
// Euclidean norm of every token, [N].
VectorF tokenNorms(const RowMatrixF& tokens);
// Mean over the D channels of every token, [N].
VectorF tokenMeans(const RowMatrixF& tokens);
// Index of the largest channel of every token (first one on ties), [N].
Eigen::VectorXi argmaxChannels(const RowMatrixF& tokens);
// Cosine similarity of every token to token `token`, [N]; 0 where a norm is 0.
VectorF cosineSimilarity(const RowMatrixF& tokens, int token);

// Principal components of the tokens (rows are samples, channels are variables).
struct PcaResult {
  VectorF mean;                    // [D] per-channel mean that was subtracted
  RowMatrixF components;           // [k x D] unit principal axes, strongest first
  RowMatrixF projections;          // [N x k] centred tokens projected on the axes
  VectorF explainedVariance;       // [k] variance along each axis (divided by N - 1)
  VectorF explainedVarianceRatio;  // [k] share of the total variance
};

// Top-k components via an SVD of the centred tokens. Sign convention: each component's
// entry with the largest |loading| is positive, so results are deterministic and
// comparable with sklearn up to that documented flip. k is clamped to min(N, D).
PcaResult tokenPca(const RowMatrixF& tokens, int components);

// PCA -> RGB as the DINO papers show it: the first three projections, each min-max
// scaled to [0, 1] on its own. [N x 3]; missing components (k < 3) stay 0; a constant
// component maps to 0.
RowMatrixF pcaToRgb(const PcaResult& pca);

struct VectorStats {
  float min = 0.0f;
  float max = 0.0f;
  float mean = 0.0f;
  float std = 0.0f;  // population standard deviation (ddof = 0, numpy's default)
  float l2 = 0.0f;
};

VectorStats vectorStats(const Eigen::Ref<const VectorF>& values);

// Indices of the k entries with the largest |value|, largest first (lower index on ties).
std::vector<int> topByMagnitude(const Eigen::Ref<const VectorF>& values, int k);
// Indices of the k largest entries, largest first (lower index on ties).
std::vector<int> topByValue(const Eigen::Ref<const VectorF>& values, int k);

// How a map's values are mapped onto a colormap.
enum class ScaleMode {
  MinMax,      // the map's own min / max
  Symmetric,   // +-max|v| of the map, so that 0 sits in the middle of a diverging map
  Global,      // min / max over the whole embedding, comparable across channels
  Percentile,  // the map's 2nd to 98th percentile, robust to a few outliers
};

struct ValueRange {
  float lo = 0.0f;
  float hi = 1.0f;
};

ValueRange minMaxRange(const Eigen::Ref<const VectorF>& values);
ValueRange symmetricRange(const Eigen::Ref<const VectorF>& values);
// numpy.percentile with the default linear interpolation; percentages in [0, 100].
float percentile(const Eigen::Ref<const VectorF>& values, double percent);
ValueRange percentileRange(const Eigen::Ref<const VectorF>& values, double lowPercent = 2.0,
                           double highPercent = 98.0);
// The range for `mode`; `global` is the range of the whole embedding (used by Global).
// A degenerate range (lo == hi) is widened so that callers can always divide by hi - lo.
ValueRange scaleRange(ScaleMode mode, const Eigen::Ref<const VectorF>& values, ValueRange global);
ValueRange globalRange(const RowMatrixF& tokens);

// A rows x cols tile that holds `length` values, close to a 3:4 landscape shape: 24 x 32
// for 768. Uses an exact factorisation when a reasonable one exists, else pads.
struct TileShape {
  int rows = 0;
  int cols = 0;
};
TileShape heatmapTileShape(int length);

}  // namespace patchlens
