#include "core/analysis/patch_reconstruction.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "core/analysis/embedding_analysis.h"
#include "core/io/error.h"

namespace patchlens {

namespace {

// ||a - b|| / ||a||; 0 when both are zero, infinity when only the reference is.
double relative(double differenceNorm, double referenceNorm) {
  if (referenceNorm > 0.0) return differenceNorm / referenceNorm;
  return differenceNorm > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
}

}  // namespace

PatchReconstructor::PatchReconstructor(const PatchWeights& weights)
    : m_inChannels(weights.inChannels), m_patchSize(weights.patchSize) {
  const Eigen::Index d = weights.weight.rows();
  const Eigen::Index k = weights.weight.cols();
  if (d == 0 || k == 0) throw Error("", "cannot reconstruct from an empty patch embedding");
  if (k != weights.patchLength()) {
    throw Error("", "the weight has " + std::to_string(k) +
                        " columns, not C*P*P = " + std::to_string(weights.patchLength()));
  }
  if (weights.hasBias() && weights.bias.size() != d) {
    throw Error("", "the bias has " + std::to_string(weights.bias.size()) +
                        " entries, not D = " + std::to_string(d));
  }
  m_bias =
      weights.hasBias() ? Eigen::VectorXd(weights.bias.cast<double>()) : Eigen::VectorXd::Zero(d);
  // The weights and tokens are float: directions of W weaker than float rounding carry only
  // noise, so they count as rank-deficient instead of being amplified (numpy.matrix_rank's
  // tolerance, with float's epsilon).
  m_solver = Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd>(d, k);
  m_solver.setThreshold(static_cast<double>(std::max(d, k)) *
                        std::numeric_limits<float>::epsilon());
  m_solver.compute(weights.weight.cast<double>());
}

RowMatrixF PatchReconstructor::reconstructRows(const RowMatrixF& tokens, int pcaComponents) const {
  if (tokens.cols() != m_bias.size()) {
    throw Error("", "the tokens have " + std::to_string(tokens.cols()) +
                        " channels but the weights have D = " + std::to_string(m_bias.size()));
  }
  if (tokens.rows() == 0) return RowMatrixF(0, patchLength());
  Eigen::MatrixXd y;
  if (pcaComponents > 0) {
    const PcaResult pca = tokenPca(tokens, pcaComponents);
    y = (pca.projections.cast<double>() * pca.components.cast<double>()).rowwise() +
        pca.mean.cast<double>().transpose();
  } else {
    y = tokens.cast<double>();
  }
  // W X^T = (Y - b)^T: one solve with N right-hand sides, minimum norm when W is wide.
  const Eigen::MatrixXd rhs = (y.rowwise() - m_bias.transpose()).transpose();
  const Eigen::MatrixXd solution = m_solver.solve(rhs);
  return solution.transpose().cast<float>();
}

PatchReconstruction PatchReconstructor::reconstruct(const ChwTensor& input,
                                                    const Embedding& embedding,
                                                    const Normalization& norm, int pcaComponents,
                                                    RemainderPolicy policy) const {
  if (input.channels != m_inChannels) {
    throw Error("", "the input has " + std::to_string(input.channels) +
                        " channels but the weights expect " + std::to_string(m_inChannels));
  }
  const GridSize grid = PatchEmbedding::gridFor(input.height, input.width, m_patchSize, policy);
  if (grid.rows != embedding.grid.rows || grid.cols != embedding.grid.cols ||
      embedding.tokens.rows() != grid.tokens()) {
    throw Error("", "the embedding (" + std::to_string(embedding.grid.rows) + " x " +
                        std::to_string(embedding.grid.cols) + " tokens) does not belong to a " +
                        std::to_string(input.width) + "x" + std::to_string(input.height) +
                        " input with " + std::to_string(m_patchSize) + "x" +
                        std::to_string(m_patchSize) + " patches");
  }
  if (grid.tokens() == 0) throw Error("", "the input is smaller than one patch");

  PatchReconstruction result;
  result.grid = grid;
  result.patchSize = m_patchSize;
  result.components =
      pcaComponents > 0
          ? static_cast<int>(std::min<Eigen::Index>(
                pcaComponents, std::min(embedding.tokens.rows(), embedding.tokens.cols())))
          : 0;
  result.rank = rank();
  result.patches = reconstructRows(embedding.tokens, pcaComponents);

  const Eigen::MatrixXd original =
      PatchEmbedding::extractPatches(input, m_patchSize, policy).cast<double>();
  const Eigen::MatrixXd difference = original - result.patches.cast<double>();
  result.relativeError = relative(difference.norm(), original.norm());
  result.patchError.resize(grid.tokens());
  for (Eigen::Index i = 0; i < original.rows(); ++i) {
    result.patchError(i) =
        static_cast<float>(relative(difference.row(i).norm(), original.row(i).norm()));
  }
  result.image = patchesToImage(result.patches, grid, m_inChannels, m_patchSize);
  if (m_inChannels == 1 || m_inChannels == 3) result.rgb = denormalizeToRgb8(result.image, norm);
  return result;
}

PatchReconstruction reconstructPatches(const ChwTensor& input, const PatchWeights& weights,
                                       const Normalization& norm, int pcaComponents,
                                       RemainderPolicy policy) {
  const PatchEmbedding layer(weights);
  const Embedding embedding = layer.forward(input, policy);
  return PatchReconstructor(weights).reconstruct(input, embedding, norm, pcaComponents, policy);
}

ChwTensor patchesToImage(const RowMatrixF& patches, GridSize grid, int channels, int patchSize) {
  if (channels <= 0 || patchSize <= 0 || patches.rows() != grid.tokens() ||
      patches.cols() != static_cast<Eigen::Index>(channels) * patchSize * patchSize) {
    throw Error("", "patch rows [" + std::to_string(patches.rows()) + " x " +
                        std::to_string(patches.cols()) + "] do not fit a " +
                        std::to_string(grid.rows) + " x " + std::to_string(grid.cols) +
                        " grid of " + std::to_string(channels) + " x " + std::to_string(patchSize) +
                        " x " + std::to_string(patchSize) + " patches");
  }
  ChwTensor image(channels, grid.rows * patchSize, grid.cols * patchSize);
  for (int token = 0; token < grid.tokens(); ++token) {
    const int y0 = (token / grid.cols) * patchSize;
    const int x0 = (token % grid.cols) * patchSize;
    const float* src = patches.row(token).data();
    for (int c = 0; c < channels; ++c) {
      for (int y = 0; y < patchSize; ++y) {
        std::copy(src, src + patchSize, &image.at(c, y0 + y, x0));
        src += patchSize;
      }
    }
  }
  return image;
}

cv::Mat denormalizeToRgb8(const ChwTensor& tensor, const Normalization& norm) {
  if (tensor.channels != 1 && tensor.channels != 3) {
    throw Error("",
                "a tensor with " + std::to_string(tensor.channels) + " channels has no RGB view");
  }
  const int channels = tensor.channels;
  cv::Mat out(tensor.height, tensor.width, channels == 3 ? CV_8UC3 : CV_8UC1);
  for (int y = 0; y < tensor.height; ++y) {
    auto* row = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < tensor.width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const auto ci = static_cast<std::size_t>(c);
        const double value =
            (static_cast<double>(tensor.at(c, y, x)) * norm.std[ci] + norm.mean[ci]) * 255.0;
        row[x * channels + c] =
            static_cast<std::uint8_t>(std::clamp(std::round(value), 0.0, 255.0));
      }
    }
  }
  return out;
}

}  // namespace patchlens
