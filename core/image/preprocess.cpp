#include "core/image/preprocess.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <opencv2/core/utility.hpp>

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
  if (name == "max-patches") return ResizeMode::MaxPatches;
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
    case ResizeMode::MaxPatches:
      return "max-patches";
  }
  return "unknown";
}

cv::Rect2d PreprocessGeometry::toSource(const cv::Rect2d& inputRect) const {
  const double sx = static_cast<double>(sourceWidth) / resizedWidth;
  const double sy = static_cast<double>(sourceHeight) / resizedHeight;
  return {(inputRect.x + offsetX) * sx, (inputRect.y + offsetY) * sy, inputRect.width * sx,
          inputRect.height * sy};
}

void normalizeInto(const cv::Mat& pixels, const Normalization& norm, ChwTensor& out) {
  const int channels = pixels.channels();
  out.channels = channels;
  out.height = pixels.rows;
  out.width = pixels.cols;
  out.data.resize(static_cast<std::size_t>(channels) * static_cast<std::size_t>(pixels.rows) *
                  static_cast<std::size_t>(pixels.cols));
  // Same float operations as ToTensor (div 255) then Normalize (sub, div), once per byte
  // value and channel: a table lookup per value gives the identical float.
  std::array<std::array<float, 256>, 3> table{};
  for (int c = 0; c < channels; ++c) {
    const float mean = norm.mean[static_cast<std::size_t>(c)];
    const float stddev = norm.std[static_cast<std::size_t>(c)];
    for (int v = 0; v < 256; ++v) {
      const float scaled = static_cast<float>(v) / 255.0f;
      table[static_cast<std::size_t>(c)][static_cast<std::size_t>(v)] = (scaled - mean) / stddev;
    }
  }
  for (int y = 0; y < pixels.rows; ++y) {
    const std::uint8_t* src = pixels.ptr<std::uint8_t>(y);
    if (channels == 3) {
      // One pass over the interleaved row, three planes out.
      float* __restrict r = &out.data[out.index(0, y, 0)];
      float* __restrict g = &out.data[out.index(1, y, 0)];
      float* __restrict b = &out.data[out.index(2, y, 0)];
      for (int x = 0; x < pixels.cols; ++x, src += 3) {
        r[x] = table[0][src[0]];
        g[x] = table[1][src[1]];
        b[x] = table[2][src[2]];
      }
      continue;
    }
    for (int c = 0; c < channels; ++c) {
      float* dst = &out.data[out.index(c, y, 0)];
      for (int x = 0; x < pixels.cols; ++x)
        dst[x] = table[static_cast<std::size_t>(c)][src[x * channels + c]];
    }
  }
}

ChwTensor toNormalizedTensor(const cv::Mat& pixels, const Normalization& norm) {
  ChwTensor t;
  normalizeInto(pixels, norm, t);
  return t;
}

InputSize maxPatchesInputSize(int sourceWidth, int sourceHeight, int patchSize, int maxPatches) {
  const double patch = patchSize;
  // Python's ceil(size * scale / patch) * patch, at least one patch; the same double arithmetic.
  const auto scaled = [&](double scale, int size) {
    const double s = std::ceil(size * scale / patch) * patch;
    return static_cast<int>(std::max(patch, s));
  };
  constexpr double kEps = 1e-5;
  double low = kEps / 10;
  double high = 100.0;
  while (high - low >= kEps) {
    const double scale = (low + high) / 2;
    const double patches =
        (scaled(scale, sourceHeight) / patch) * (scaled(scale, sourceWidth) / patch);
    if (patches <= maxPatches) {
      low = scale;
    } else {
      high = scale;
    }
  }
  return {scaled(low, sourceWidth), scaled(low, sourceHeight)};
}

int maxPatchesBoundingSide(int patchSize, int maxPatches) {
  int side = 1;
  while (side * side < maxPatches) ++side;
  return side * patchSize;
}

PreprocessConfig fixedSizeFor(const PreprocessConfig& config, int sourceWidth, int sourceHeight) {
  if (config.resize != ResizeMode::MaxPatches) return config;
  if (config.patchSize < 1 || config.patchSize > 1024)
    throw Error("", "max-patches resizing needs the model's patch size (1 to 1024 pixels)");
  if (config.maxPatches < 1 || config.maxPatches > 65536)
    throw Error("", "max-patches must be between 1 and 65536");
  if (sourceWidth <= 0 || sourceHeight <= 0)
    throw Error("", "preprocess needs a non-empty 8-bit RGB image");
  const InputSize size =
      maxPatchesInputSize(sourceWidth, sourceHeight, config.patchSize, config.maxPatches);
  PreprocessConfig fixed = config;
  fixed.resize = ResizeMode::Squash;
  fixed.width = size.width;
  fixed.height = size.height;
  return fixed;
}

PreprocessGeometry preprocessGeometry(int sourceWidth, int sourceHeight,
                                      const PreprocessConfig& config) {
  if (!config.imageRefusal.empty()) throw Error("", config.imageRefusal);
  if (sourceWidth <= 0 || sourceHeight <= 0)
    throw Error("", "preprocess needs a non-empty 8-bit RGB image");
  const PreprocessConfig c = fixedSizeFor(config, sourceWidth, sourceHeight);
  if (c.height <= 0 || c.width <= 0 || c.height > 16384 || c.width > 16384) {
    throw Error("", "image size must be between 1 and 16384 pixels per side");
  }
  if (!(c.cropPct > 0.0 && c.cropPct <= 1.0)) throw Error("", "crop pct must be in (0, 1]");
  if (c.channels != 1 && c.channels != 3)
    throw Error("", "the model input must have 1 or 3 channels");

  PreprocessGeometry g;
  g.sourceWidth = sourceWidth;
  g.sourceHeight = sourceHeight;
  g.inputWidth = c.width;
  g.inputHeight = c.height;
  ResizeStep step;
  switch (c.resize) {
    case ResizeMode::Crop:
      step = cropModeResize(sourceWidth, sourceHeight, c);
      break;
    case ResizeMode::Squash:
    case ResizeMode::MaxPatches:  // fixedSizeFor made it a squash
      step = {c.width, c.height};
      break;
    case ResizeMode::Pad: {
      const double scale = std::min(static_cast<double>(c.width) / sourceWidth,
                                    static_cast<double>(c.height) / sourceHeight);
      step = {std::clamp(pythonRound(sourceWidth * scale), 1, c.width),
              std::clamp(pythonRound(sourceHeight * scale), 1, c.height)};
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
    throw Error(
        "", "the image is " + std::to_string(sourceWidth) + "x" + std::to_string(sourceHeight) +
                ": its aspect ratio is too extreme for resize mode " + resizeModeName(c.resize) +
                " (the resize step would make " + std::to_string(step.width) + "x" +
                std::to_string(step.height) + " pixels); use --resize squash or pad");
  }
  g.resizedWidth = step.width;
  g.resizedHeight = step.height;
  if (c.resize == ResizeMode::Pad) {
    g.offsetX = -((c.width - step.width) / 2);
    g.offsetY = -((c.height - step.height) / 2);
  } else {
    // torchvision CenterCrop: round((size - crop) / 2), or pad by (crop - size) // 2 first.
    g.offsetX = step.width >= c.width ? pythonRound((step.width - c.width) / 2.0)
                                      : -((c.width - step.width) / 2);
    g.offsetY = step.height >= c.height ? pythonRound((step.height - c.height) / 2.0)
                                        : -((c.height - step.height) / 2);
  }
  return g;
}

cv::Rect visibleRegion(const PreprocessGeometry& g) {
  return cv::Rect(g.offsetX, g.offsetY, g.inputWidth, g.inputHeight) &
         cv::Rect(0, 0, g.resizedWidth, g.resizedHeight);
}

void finishPreprocess(const cv::Mat& visible, const PreprocessGeometry& g,
                      const PreprocessConfig& c, PreprocessResult& result) {
  result.geometry = g;
  const cv::Rect region = visibleRegion(g);
  cv::Mat& input = result.inputRgb;
  input.create(g.inputHeight, g.inputWidth, visible.type());
  if (region.width < g.inputWidth || region.height < g.inputHeight) input.setTo(cv::Scalar::all(0));
  if (!region.empty()) {
    visible.copyTo(
        input(cv::Rect(region.x - g.offsetX, region.y - g.offsetY, region.width, region.height)));
  }
  if (c.channels == 1) input = toLuma(input);
  normalizeInto(input, c.normalization, result.tensor);
}

PreprocessResult preprocess(const cv::Mat& rgb, const PreprocessConfig& c) {
  if (rgb.empty() || rgb.type() != CV_8UC3)
    throw Error("", "preprocess needs a non-empty 8-bit RGB image");
  const PreprocessGeometry g = preprocessGeometry(rgb.cols, rgb.rows, c);
  const cv::Rect region = visibleRegion(g);
  cv::Mat visible;
  if (region.empty()) {
    visible = cv::Mat(0, 0, rgb.type());
  } else if (c.interpolation == Interpolation::Nearest) {
    visible = resizeLikePil(rgb, g.resizedWidth, g.resizedHeight, c.interpolation)(region);
  } else {
    // Only the pixels the model input shows are resampled (a centre crop keeps 224 of 330
    // columns); they equal the same pixels of the whole resize.
    PilResampler resampler;
    resampler.configure(rgb.cols, rgb.rows, 3, g.resizedWidth, g.resizedHeight, c.interpolation,
                        region);
    const cv::Range rows = resampler.inputRows();
    constexpr int kBand = 64;
    const int bands = (rows.size() + kBand - 1) / kBand;
    cv::parallel_for_(cv::Range(0, bands), [&](const cv::Range& range) {
      for (int b = range.start; b < range.end; ++b) {
        const int y0 = rows.start + b * kBand;
        const int y1 = std::min(rows.end, y0 + kBand);
        resampler.addRows(rgb.rowRange(y0, y1), y0);
      }
    });
    resampler.finish(visible);
  }
  PreprocessResult result;
  finishPreprocess(visible, g, c, result);
  return result;
}

}  // namespace patchlens
