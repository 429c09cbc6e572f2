#pragma once

#include <QColor>
#include <QImage>
#include <QRectF>
#include <QString>
#include <opencv2/core.hpp>
#include <string>

#include "core/analysis/embedding_analysis.h"
#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"
#include "ui/base/colormap.h"

namespace patchlens {

// The one place where core types (cv::Mat, Eigen, colormap tables) become Qt types.

// Deep-copies an 8-bit RGB (or gray) cv::Mat into a QImage.
QImage toQImage(const cv::Mat& rgb);
// An 8-bit RGB (or gray) cv::Mat as an RGB32 QImage (what the raster engine draws without a
// per-paint conversion), shrunk with area averaging so that no side exceeds `maxSide`
// (0: full size). One pass, no intermediate full-size copy.
QImage toRgb32QImage(const cv::Mat& rgb, int maxSide = 0);

QString toQString(const std::string& text);
QRectF toQRectF(const cv::Rect2d& rect);

QColor toQColor(Rgb8 rgb);
QColor colormapColor(ColormapId map, double value, ValueRange range);

// A rows x cols image of `values` (row-major, values(r * cols + c) is pixel (c, r)) through
// `map` with [range.lo, range.hi] spanning it; cells past values.size() are transparent.
QImage valuesToQImage(const Eigen::Ref<const VectorF>& values, int rows, int cols, ColormapId map,
                      ValueRange range);

// A rows x cols image from [N x 3] RGB rows in [0, 1] (PCA -> RGB).
QImage rgbRowsToQImage(const RowMatrixF& rgb, int rows, int cols);

// A whole matrix [rows x cols] as an image, one pixel per entry.
QImage matrixToQImage(const RowMatrixF& matrix, ColormapId map, ValueRange range);

// Channel `channel` of a CHW tensor restricted to the square patch at (x0, y0), size p x p.
RowMatrixF tensorPatch(const ChwTensor& tensor, int channel, int x0, int y0, int p);

// A 256 x 1 strip of the colormap, low values on the left (for colorbars).
QImage colormapStrip(ColormapId map);

}  // namespace patchlens
