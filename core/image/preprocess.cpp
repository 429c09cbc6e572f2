#include "core/image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/image/pil_resampler.h"
#include "core/io/error.h"

namespace patchlens {
namespace {

// Python's round(): halves go to the even neighbour (nearbyint in the default mode).
int pythonRound(double value) {
  return static_cast<int>(std::nearbyint(value));
}

struct ResizeStep {
  int width = 0;
  int height = 0;
};

// timm's transforms: torchvision Resize(int) for a square target, ResizeKeepRatio otherwise.
ResizeStep cropModeResize(int srcW, int srcH, const PreprocessConfig& c) {
  const int scaleH = static_cast<int>(std::floor(c.height / c.cropPct));
  const int scaleW = static_cast<int>(std::floor(c.width / c.cropPct));
  if (scaleH == scaleW) {
    // torchvision: the shorter side becomes `size`, the longer int(size * long / short).
    const int size = scaleH;
    if (srcW <= srcH) {
      return {size, static_cast<int>(static_cast<double>(size) * srcH / srcW)};
    }
    return {static_cast<int>(static_cast<double>(size) * srcW / srcH), size};
  }
  const double ratio =
      std::min(static_cast<double>(srcH) / scaleH, static_cast<double>(srcW) / scaleW);
  return {pythonRound(srcW / ratio), pythonRound(srcH / ratio)};
}

// Copies `src` into a zero canvas of width x height at (x, y); parts outside are dropped.
cv::Mat placeOnCanvas(const cv::Mat& src, int width, int height, int x, int y) {
  cv::Mat canvas(height, width, src.type(), cv::Scalar::all(0));
  const cv::Rect dstRect = cv::Rect(x, y, src.cols, src.rows) & cv::Rect(0, 0, width, height);
  if (dstRect.area() > 0) {
    src(cv::Rect(dstRect.x - x, dstRect.y - y, dstRect.width, dstRect.height))
        .copyTo(canvas(dstRect));
  }
  return canvas;
}

// PIL's convert("L"): ITU-R 601-2 luma in 16-bit fixed point.
cv::Mat toLuma(const cv::Mat& rgb) {
  cv::Mat gray(rgb.rows, rgb.cols, CV_8UC1);
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* src = rgb.ptr<cv::Vec3b>(y);
    auto* dst = gray.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      const unsigned value = src[x][0] * 19595u + src[x][1] * 38470u + src[x][2] * 7471u + 0x8000u;
      dst[x] = static_cast<std::uint8_t>(value >> 16);
    }
  }
  return gray;
}

}  // namespace

std::optional<ResizeMode> parseResizeMode(std::string_view name) {
  if (name == "crop") return ResizeMode::Crop;
  if (name == "squash") return ResizeMode::Squash;
  if (name == "pad") return ResizeMode::Pad;
  return std::nullopt;
}

std::string resizeModeName(ResizeMode mode) {
  switch (mode) {
    case ResizeMode::Crop:
      return "crop";
    case ResizeMode::Squash:
      return "squash";
    case ResizeMode::Pad:
      return "pad";
  }
  return "unknown";
}

cv::Rect2d PreprocessGeometry::toSource(const cv::Rect2d& inputRect) const {
  const double sx = static_cast<double>(sourceWidth) / resizedWidth;
  const double sy = static_cast<double>(sourceHeight) / resizedHeight;
  return {(inputRect.x + offsetX) * sx, (inputRect.y + offsetY) * sy, inputRect.width * sx,
          inputRect.height * sy};
}

ChwTensor toNormalizedTensor(const cv::Mat& pixels, const Normalization& norm) {
  const int channels = pixels.channels();
  ChwTensor t(channels, pixels.rows, pixels.cols);
  for (int c = 0; c < channels; ++c) {
    const float mean = norm.mean[static_cast<std::size_t>(c)];
    const float stddev = norm.std[static_cast<std::size_t>(c)];
    for (int y = 0; y < pixels.rows; ++y) {
      const std::uint8_t* src = pixels.ptr<std::uint8_t>(y);
      float* dst = &t.data[t.index(c, y, 0)];
      for (int x = 0; x < pixels.cols; ++x) {
        // Same float operations as ToTensor (div 255) then Normalize (sub, div).
        const float scaled = static_cast<float>(src[x * channels + c]) / 255.0f;
        dst[x] = (scaled - mean) / stddev;
      }
    }
  }
  return t;
}

PreprocessResult preprocess(const cv::Mat& rgb, const PreprocessConfig& c) {
  if (rgb.empty() || rgb.type() != CV_8UC3)
    throw Error("", "preprocess needs a non-empty 8-bit RGB image");
  if (c.height <= 0 || c.width <= 0 || c.height > 16384 || c.width > 16384) {
    throw Error("", "image size must be between 1 and 16384 pixels per side");
  }
  if (!(c.cropPct > 0.0 && c.cropPct <= 1.0)) throw Error("", "crop pct must be in (0, 1]");
  if (c.channels != 1 && c.channels != 3)
    throw Error("", "the model input must have 1 or 3 channels");

  PreprocessResult result;
  PreprocessGeometry& g = result.geometry;
  g.sourceWidth = rgb.cols;
  g.sourceHeight = rgb.rows;
  ResizeStep step;
  switch (c.resize) {
    case ResizeMode::Crop:
      step = cropModeResize(rgb.cols, rgb.rows, c);
      break;
    case ResizeMode::Squash:
      step = {c.width, c.height};
      break;
    case ResizeMode::Pad: {
      const double scale = std::min(static_cast<double>(c.width) / rgb.cols,
                                    static_cast<double>(c.height) / rgb.rows);
      step = {std::clamp(pythonRound(rgb.cols * scale), 1, c.width),
              std::clamp(pythonRound(rgb.rows * scale), 1, c.height)};
      break;
    }
  }
  step.width = std::max(step.width, 1);
  step.height = std::max(step.height, 1);
  // An extreme aspect ratio (a 1 x 4,000,000 strip) would make crop mode's "shorter side
  // to 248" step billions of pixels: refuse it instead of exhausting memory.
  const std::int64_t resizedPixels = std::int64_t{step.width} * step.height;
  const std::int64_t maxResized =
      std::max<std::int64_t>(100'000'000, 4 * std::int64_t{c.width} * c.height);
  if (resizedPixels > maxResized) {
    throw Error("", "the image is " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) +
                        ": its aspect ratio is too extreme for resize mode " +
                        resizeModeName(c.resize) + " (the resize step would make " +
                        std::to_string(step.width) + "x" + std::to_string(step.height) +
                        " pixels); use --resize squash or pad");
  }
  const cv::Mat resized = resizeLikePil(rgb, step.width, step.height, c.interpolation);
  g.resizedWidth = resized.cols;
  g.resizedHeight = resized.rows;

  if (c.resize == ResizeMode::Pad) {
    g.offsetX = -((c.width - resized.cols) / 2);
    g.offsetY = -((c.height - resized.rows) / 2);
  } else {
    // torchvision CenterCrop: round((size - crop) / 2), or pad by (crop - size) // 2 first.
    g.offsetX = resized.cols >= c.width ? pythonRound((resized.cols - c.width) / 2.0)
                                        : -((c.width - resized.cols) / 2);
    g.offsetY = resized.rows >= c.height ? pythonRound((resized.rows - c.height) / 2.0)
                                         : -((c.height - resized.rows) / 2);
  }
  cv::Mat input = placeOnCanvas(resized, c.width, c.height, -g.offsetX, -g.offsetY);
  if (c.channels == 1) input = toLuma(input);
  result.tensor = toNormalizedTensor(input, c.normalization);
  result.inputRgb = std::move(input);
  return result;
}

}  // namespace patchlens
