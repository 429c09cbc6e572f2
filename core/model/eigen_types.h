#pragma once

#include <Eigen/Core>

namespace patchlens {

// Row-major float matrix: the layout of an embedding [N x D] and of weights [D x C*P*P],
// so that row r is contiguous exactly as in PyTorch's tensors.
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorF = Eigen::VectorXf;

}  // namespace patchlens
