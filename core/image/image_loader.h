#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/image/image_header.h"

namespace patchlens {

struct ImageLoadOptions {
  // cv::imdecode rotates by the EXIF tag; PIL-based training pipelines do not.
  bool applyExifOrientation = true;
  // Refuse images with more pixels than this, judged from the header before decoding.
  std::int64_t maxPixels = 100'000'000;
  std::uint64_t maxFileBytes = std::uint64_t{1} << 30;
  // Refuse a decode whose buffers (the decoder's image at its stored depth and channels, its
  // working planes, the conversions to 8-bit RGB) would exceed this, judged from the header
  // before decoding. 256 MiB keeps a hostile file's whole process under 512 MiB.
  std::uint64_t maxDecodeBytes = std::uint64_t{256} << 20;
  // A progressive JPEG's decode time grows with its scans; libjpeg-turbo's tools allow 500.
  int maxJpegScans = 500;
  // When > 0, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling) as
  // long as its shorter side stays >= this many pixels: a 12 MP photo headed for a
  // 224 model input decodes several times faster. 0 decodes every pixel (exact path).
  int reducedDecodeMinSide = 0;
};

// A decoded image, always 8-bit RGB, with what was learned about the source.
struct LoadedImage {
  cv::Mat rgb;             // CV_8UC3, R G B order
  std::string format;      // content type sniffed from the bytes
  int sourceBitDepth = 8;  // 8 or 16 (32 for float formats)
  int sourceChannels = 3;  // before conversion: 1 gray, 3 colour, 4 with alpha
  int sourceWidth = 0;     // full-resolution size (EXIF orientation applied)
  int sourceHeight = 0;
  int decodeReduction = 1;            // 1, 2, 4 or 8: rgb is the source shrunk by this factor
  std::vector<std::string> warnings;  // e.g. truncated data, extra TIFF pages ignored
};

// Loads any format OpenCV reads; throws Error(path, reason) for missing, unreadable,
// empty, corrupt, too large or non-image files.
LoadedImage loadImage(const std::string& path, const ImageLoadOptions& options = {});

// The same from bytes already in memory; `name` is used in messages.
LoadedImage decodeImage(std::span<const std::uint8_t> bytes, const std::string& name,
                        const ImageLoadOptions& options = {});

// The checks decodeImage() makes on the header before decoding (a known format, a size,
// within options.maxPixels); throws the same Errors. The header is then safe to decode.
ImageHeader checkedImageHeader(std::span<const std::uint8_t> bytes, const std::string& name,
                               const ImageLoadOptions& options = {});

// The libjpeg DCT scale-down (1, 2, 4 or 8) a decode of these bytes would use with
// reducedDecodeMinSide = minSide: 1 for anything but a JPEG whose shorter side allows it.
int reducedDecodeFactor(std::span<const std::uint8_t> bytes, int minSide);
int reducedDecodeFactor(const ImageHeader& header, int minSide);

}  // namespace patchlens
