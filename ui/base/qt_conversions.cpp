#include "ui/base/qt_conversions.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace patchlens {

QImage toQImage(const cv::Mat& image) {
  if (image.empty()) return {};
  const QImage::Format format =
      image.channels() == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888;
  const QImage view(image.data, image.cols, image.rows, static_cast<qsizetype>(image.step), format);
  return view.copy();
}

QImage toRgb32QImage(const cv::Mat& rgb, int maxSide) {
  if (rgb.empty()) return {};
  cv::Mat shown = rgb;
  const int longer = std::max(rgb.cols, rgb.rows);
  if (maxSide > 0 && longer > maxSide) {
    const double scale = static_cast<double>(maxSide) / longer;
    const cv::Size size(std::max(1, static_cast<int>(std::lround(rgb.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(rgb.rows * scale))));
    cv::resize(rgb, shown, size, 0, 0, cv::INTER_AREA);
  }
#if Q_BYTE_ORDER == Q_LITTLE_ENDIAN
  // RGB32 is 0xffRRGGBB per pixel: bytes B, G, R, 255 in memory, which is OpenCV's BGRA.
  QImage image(shown.cols, shown.rows, QImage::Format_RGB32);
  if (image.isNull()) return {};
  cv::Mat target(image.height(), image.width(), CV_8UC4, image.bits(),
                 static_cast<std::size_t>(image.bytesPerLine()));
  cv::cvtColor(shown, target, shown.channels() == 1 ? cv::COLOR_GRAY2BGRA : cv::COLOR_RGB2BGRA);
  return image;
#else
  return toQImage(shown).convertToFormat(QImage::Format_RGB32);
#endif
}

QString toQString(const std::string& text) {
  return QString::fromStdString(text);
}

QRectF toQRectF(const cv::Rect2d& rect) {
  return {rect.x, rect.y, rect.width, rect.height};
}

QColor toQColor(Rgb8 rgb) {
  return {rgb.r, rgb.g, rgb.b};
}

QColor colormapColor(ColormapId map, double value, ValueRange range) {
  return toQColor(Colormap::get(map).map(value, range.lo, range.hi));
}

QImage valuesToQImage(const Eigen::Ref<const VectorF>& values, int rows, int cols, ColormapId map,
                      ValueRange range) {
  QImage image(std::max(cols, 1), std::max(rows, 1), QImage::Format_ARGB32);
  image.fill(Qt::transparent);
  const Colormap& colormap = Colormap::get(map);
  for (int r = 0; r < rows; ++r) {
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(r));
    for (int c = 0; c < cols; ++c) {
      const Eigen::Index i = static_cast<Eigen::Index>(r) * cols + c;
      if (i >= values.size()) break;
      const Rgb8 rgb = colormap.map(static_cast<double>(values(i)), range.lo, range.hi);
      line[c] = qRgb(rgb.r, rgb.g, rgb.b);
    }
  }
  return image;
}

QImage rgbRowsToQImage(const RowMatrixF& rgb, int rows, int cols) {
  QImage image(std::max(cols, 1), std::max(rows, 1), QImage::Format_ARGB32);
  image.fill(Qt::transparent);
  const auto toByte = [](float v) {
    return static_cast<int>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
  };
  for (int r = 0; r < rows; ++r) {
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(r));
    for (int c = 0; c < cols; ++c) {
      const Eigen::Index i = static_cast<Eigen::Index>(r) * cols + c;
      if (i >= rgb.rows()) break;
      line[c] = qRgb(toByte(rgb(i, 0)), toByte(rgb(i, 1)), toByte(rgb(i, 2)));
    }
  }
  return image;
}

QImage matrixToQImage(const RowMatrixF& matrix, ColormapId map, ValueRange range) {
  const auto rows = static_cast<int>(matrix.rows());
  const auto cols = static_cast<int>(matrix.cols());
  const Eigen::Map<const VectorF> flat(matrix.data(), matrix.size());
  return valuesToQImage(flat, rows, cols, map, range);
}

RowMatrixF tensorPatch(const ChwTensor& tensor, int channel, int x0, int y0, int p) {
  RowMatrixF patch = RowMatrixF::Zero(p, p);
  for (int y = 0; y < p; ++y) {
    for (int x = 0; x < p; ++x) {
      if (y0 + y < tensor.height && x0 + x < tensor.width)
        patch(y, x) = tensor.at(channel, y0 + y, x0 + x);
    }
  }
  return patch;
}

QImage colormapStrip(ColormapId map) {
  QImage strip(256, 1, QImage::Format_RGB32);
  const Colormap& colormap = Colormap::get(map);
  for (int i = 0; i < 256; ++i) {
    const Rgb8 rgb = colormap.at((i + 0.5) / 256.0);
    strip.setPixel(i, 0, qRgb(rgb.r, rgb.g, rgb.b));
  }
  return strip;
}

}  // namespace patchlens
