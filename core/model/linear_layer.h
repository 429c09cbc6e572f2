#pragma once

#include <memory>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/packed_gemm.h"

namespace patchlens {

// What to apply to a linear layer's output while it is still in cache.
enum class LinearEpilogue { None, Gelu, GeluTanh, QuickGelu };

// A torch.nn.Linear, y = x W^T + b, with W [out x in] packed once for the AVX-512 kernel (the
// unpacked copy is then dropped) or kept for Eigen's GEMM on other CPUs.
class LinearLayer {
 public:
  LinearLayer() = default;
  LinearLayer(const RowMatrixF& weight, const VectorF& bias);
  // The sizes of a layer whose weights are not read (a shapes-only description): no apply().
  static LinearLayer shapeOnly(int outputs, int inputs) {
    LinearLayer layer;
    layer.m_outputs = outputs;
    layer.m_inputs = inputs;
    return layer;
  }

  int inputs() const { return m_inputs; }
  int outputs() const { return m_outputs; }

  // out [T x out] = epilogue(x [T x in] W^T + b). Threads (OpenMP, Eigen::nbThreads()) split
  // the packing by tiles and the GEMM by (row block, weight panel). scratch holds packed x.
  void apply(const RowMatrixF& x, RowMatrixF& out, LinearEpilogue epilogue,
             std::vector<float>& scratch) const;
  // The backward (explain): gradIn [T x in] = gradOut [T x out] W, from the packed panels on the
  // register-tile kernel (PackedGemm::multiplyTransposed). scratch holds packed gradOut.
  void applyTransposed(const RowMatrixF& gradOut, RowMatrixF& gradIn,
                       std::vector<float>& scratch) const;

 private:
  int m_inputs = 0;
  int m_outputs = 0;
  std::shared_ptr<const PackedGemm> m_gemm;  // null without AVX-512
  RowMatrixF m_weight;                       // only without AVX-512
  VectorF m_bias;                            // only without AVX-512
};

// In place on count floats: erf GELU, tanh GELU or CLIP's x * sigmoid(1.702 x).
void applyActivation(float* values, Eigen::Index count, LinearEpilogue epilogue);

}  // namespace patchlens
