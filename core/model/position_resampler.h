#pragma once

#include "core/model/eigen_types.h"

namespace patchlens {

// torch.nn.functional.interpolate(mode="bicubic" or "bilinear", align_corners=False) of a grid of
// D-vectors: table [rows*cols x D] (row-major grid) to [outRows*outCols x D].
class PositionResampler {
 public:
  // Without antialias: torch's cubic convolution (A = -0.75), taps clamped at the border.
  // scaleRows/scaleCols are the source step per output pixel: in/out for `size=`, or
  // 1/scale_factor when the caller passed `scale_factor=` (HF interpolate_pos_encoding).
  static RowMatrixF bicubic(const RowMatrixF& table, int rows, int cols, int outRows, int outCols,
                            double scaleRows, double scaleCols);
  // With antialias=True (timm resample_abs_pos_embed): torch's separable AA filter, PIL's
  // cubic (A = -0.5), support widened by the scale when shrinking, weights normalised.
  static RowMatrixF bicubicAntialias(const RowMatrixF& table, int rows, int cols, int outRows,
                                     int outCols);
  // F.interpolate(mode="bilinear", align_corners=False, antialias=True) with `size=` (timm
  // naflexvit pos_embed_interp_mode='bilinear', HF Siglip2): the same separable AA filter with
  // PIL's triangle (support max(scale, 1)), weights normalised.
  static RowMatrixF bilinearAntialias(const RowMatrixF& table, int rows, int cols, int outRows,
                                      int outCols);
};

}  // namespace patchlens
