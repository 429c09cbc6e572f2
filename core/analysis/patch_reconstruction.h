#pragma once

#include <Eigen/QR>
#include <opencv2/core.hpp>

#include "core/image/chw_tensor.h"
#include "core/image/normalization.h"
#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

// What the embedding keeps of an image: the patches recovered from the tokens.
struct PatchReconstruction {
  GridSize grid;
  int patchSize = 0;
  RowMatrixF patches;          // X^ [N x C*P*P], flattened (c, kh, kw) like the weights
  ChwTensor image;             // X^ as C x rows*P x cols*P (the grid area), normalised space
  VectorF patchError;          // [N] ||x_i - x^_i|| / ||x_i|| per patch
  double relativeError = 0.0;  // ||X - X^||_F / ||X||_F over the grid area
  int components = 0;          // token PCA components kept; 0 = the whole embedding
  int rank = 0;                // numerical rank of W: at most this many dimensions survive
  cv::Mat rgb;                 // image de-normalised to 8 bits: CV_8UC3 (RGB) or CV_8UC1;
                               // empty for other channel counts
};

// Inverts Y = X W^T + b in the least-squares sense: X^ = (Y - b) pinv(W^T). With D < C*P*P
// (or W rank-deficient) the minimum-norm solution, i.e. the part of each patch that lies in
// the row space of W; with full column rank the patches come back exactly. W is decomposed
// once (complete orthogonal decomposition, in double), so one instance serves many images.
class PatchReconstructor {
 public:
  // Throws Error when the weights are empty or their shapes disagree.
  explicit PatchReconstructor(const PatchWeights& weights);

  int rank() const { return static_cast<int>(m_solver.rank()); }
  int embedDim() const { return static_cast<int>(m_bias.size()); }
  int patchLength() const { return m_inChannels * m_patchSize * m_patchSize; }

  // X^ [N x C*P*P] from tokens [N x D]. pcaComponents > 0 first replaces the tokens by their
  // projection on their own top-k principal components (mean kept), to show what k
  // components of this image's tokens hold.
  RowMatrixF reconstructRows(const RowMatrixF& tokens, int pcaComponents = 0) const;

  // The whole reconstruction of `input` from its `embedding` (computed with these weights and
  // `policy`); errors are measured in the normalised space the embedding sees. Throws Error
  // when the embedding does not belong to the input.
  PatchReconstruction reconstruct(const ChwTensor& input, const Embedding& embedding,
                                  const Normalization& norm, int pcaComponents = 0,
                                  RemainderPolicy policy = RemainderPolicy::Crop) const;

 private:
  int m_inChannels = 0;
  int m_patchSize = 0;
  Eigen::VectorXd m_bias;  // [D], zeros when the layer has none
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> m_solver;
};

// One-shot: embeds `input` with `weights`, then reconstructs it.
PatchReconstruction reconstructPatches(const ChwTensor& input, const PatchWeights& weights,
                                       const Normalization& norm, int pcaComponents = 0,
                                       RemainderPolicy policy = RemainderPolicy::Crop);

// Patch rows [N x C*P*P] back into a C x rows*P x cols*P image (inverse of extractPatches).
ChwTensor patchesToImage(const RowMatrixF& patches, GridSize grid, int channels, int patchSize);

// x * std + mean, scaled to 8 bits and clamped: CV_8UC3 (RGB) for 3 channels, CV_8UC1 for 1.
// Throws Error for other channel counts.
cv::Mat denormalizeToRgb8(const ChwTensor& tensor, const Normalization& norm);

}  // namespace patchlens
