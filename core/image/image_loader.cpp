#include "core/image/image_loader.h"

#include <algorithm>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>  // the IMREAD_ flags only: the library is OpenCvCodecs's
#include <opencv2/imgproc.hpp>

#include "core/image/decode_budget.h"
#include "core/image/image_header.h"
#include "core/image/jpeg_decoder.h"
#include "core/image/opencv_codecs.h"
#include "core/image/png_decoder.h"
#include "core/io/error.h"
#include "core/io/file_bytes.h"

namespace patchlens {
namespace {

// Header sizes are up to 2^32 per side, so their product can overflow int64: count in double.
std::string megapixels(double pixels) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MP", pixels / 1e6);
  return text;
}

// Brings any decoded depth to 8 bits: 16-bit keeps its high byte (as PIL's RGB;16B
// reader does), float is clamped from [0, 1].
cv::Mat toEightBit(const cv::Mat& image) {
  switch (image.depth()) {
    case CV_8U:
      return image;
    case CV_16U: {
      cv::Mat out(image.size(), CV_MAKETYPE(CV_8U, image.channels()));
      const cv::Mat src = image.isContinuous() ? image : image.clone();
      const auto* in = src.ptr<std::uint16_t>();
      auto* dst = out.ptr<std::uint8_t>();
      for (std::size_t i = 0, n = src.total() * static_cast<std::size_t>(src.channels()); i < n;
           ++i) {
        dst[i] = static_cast<std::uint8_t>(in[i] >> 8);
      }
      return out;
    }
    default: {
      cv::Mat out;
      image.convertTo(out, CV_8U, 255.0);
      return out;
    }
  }
}

// BGR -> RGB in place, a band of rows at a time through a small buffer: cv::cvtColor with
// src == dst copies the whole image first (for 12 MP, 36 MB and its page faults: 13 % of
// the file-to-embedding time).
void swapRedBlueInPlace(cv::Mat& image) {
  constexpr int kBandRows = 16;
  cv::Mat band;
  for (int y = 0; y < image.rows; y += kBandRows) {
    const cv::Range rows(y, std::min(image.rows, y + kBandRows));
    cv::cvtColor(image.rowRange(rows), band, cv::COLOR_BGR2RGB);
    band.copyTo(image.rowRange(rows));
  }
}

// The largest libjpeg DCT scale-down that keeps the shorter side >= minSide (1 = none).
int jpegReduction(const ImageHeader& header, int minSide) {
  if (minSide <= 0 || header.format != "JPEG" || !header.hasSize) return 1;
  const std::int64_t shorter = std::min(header.width, header.height);
  for (int factor : {8, 4, 2}) {
    if (shorter / factor >= minSide) return factor;
  }
  return 1;
}

}  // namespace

ImageHeader checkedImageHeader(std::span<const std::uint8_t> bytes, const std::string& name,
                               const ImageLoadOptions& options) {
  if (bytes.empty()) throw Error(name, "empty file (0 bytes)");
  const ImageHeader header = readImageHeader(bytes);
  if (!header.isImage && !header.format.empty()) {
    throw Error(name, "not an image: the content is a " + header.format + " file");
  }
  // Decode only what we have sized: a decoder allocates from the size it reads, so a
  // header we cannot read is a limit we cannot enforce.
  if (header.format.empty()) throw Error(name, "not an image format PatchLens can read");
  if (!header.sizeError.empty()) throw Error(name, "corrupt header: " + header.sizeError);
  if (!header.hasSize) {
    throw Error(name,
                "corrupt or truncated " + header.format + " data (no image size in its header)");
  }
  if (header.width <= 0 || header.height <= 0) {
    throw Error(name, "the " + header.format + " header gives an empty image (" +
                          std::to_string(header.width) + "x" + std::to_string(header.height) + ")");
  }
  const double pixels = static_cast<double>(header.width) * static_cast<double>(header.height);
  if (header.width > options.maxPixels / header.height) {
    throw Error(name, "image is " + std::to_string(header.width) + "x" +
                          std::to_string(header.height) + " (" + megapixels(pixels) +
                          "), over the limit of " +
                          megapixels(static_cast<double>(options.maxPixels)) +
                          " (raise it with --max-pixels)");
  }

  return header;
}

LoadedImage decodeImage(std::span<const std::uint8_t> bytes, const std::string& name,
                        const ImageLoadOptions& options) {
  const ImageHeader header = checkedImageHeader(bytes, name, options);
  if (header.format == "JPEG") {
    return decodeJpeg(bytes, name, header, options,
                      jpegReduction(header, options.reducedDecodeMinSide));
  }
  checkDecodeBudget(name, header, decodeBytes(header), static_cast<double>(options.maxDecodeBytes));
  if (header.format == "PNG") return decodePng(bytes, name, header, options);

  // Other decoders keep their depth and channels; toEightBit follows.
  int flags = cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR;
  if (!options.applyExifOrientation) flags |= cv::IMREAD_IGNORE_ORIENTATION;
  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                        const_cast<std::uint8_t*>(bytes.data()));
  cv::Mat decoded;
  try {
    decoded = OpenCvCodecs::decode(encoded, flags, name);
  } catch (const cv::Exception& e) {
    const std::string kind = header.format.empty() ? std::string("image") : header.format;
    if (e.err.find("CV_IO_MAX_IMAGE_PIXELS") != std::string::npos) {
      throw Error(name, "the " + kind + " header declares more pixels than OpenCV decodes (2^30)");
    }
    throw Error(name, "corrupt " + kind + " data (" + e.err + ")");
  }
  if (decoded.empty()) {
    if (header.format == "GIF") {
      throw Error(name, "GIF is not supported (OpenCV 4.6 has no GIF decoder); convert it to PNG");
    }
    throw Error(name, "corrupt or truncated " + header.format + " data (decoding failed)");
  }
  if (static_cast<std::int64_t>(decoded.total()) > options.maxPixels) {
    // The decoder read another size than the header did: never pass that on.
    throw Error(name, "the decoded " + header.format + " image (" + std::to_string(decoded.cols) +
                          "x" + std::to_string(decoded.rows) +
                          ") is over the pixel limit, unlike its header");
  }

  LoadedImage out;
  out.format = header.format.empty() ? "image" : header.format;
  out.sourceWidth = decoded.cols;
  out.sourceHeight = decoded.rows;
  out.sourceChannels = decoded.channels();
  out.sourceBitDepth = decoded.depth() == CV_8U ? 8 : decoded.depth() == CV_16U ? 16 : 32;
  cv::Mat eight = toEightBit(decoded);
  decoded.release();
  switch (eight.channels()) {
    case 1:
      cv::cvtColor(eight, out.rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      swapRedBlueInPlace(eight);
      out.rgb = eight;
      break;
    case 4:
      cv::cvtColor(eight, out.rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      throw Error(name, "unsupported channel count " + std::to_string(eight.channels()));
  }
  if (header.pageCount > 1) {
    out.warnings.push_back("the file has " + std::to_string(header.pageCount) +
                           " pages; only the first is used");
  }
  return out;
}

int reducedDecodeFactor(std::span<const std::uint8_t> bytes, int minSide) {
  return jpegReduction(readImageHeader(bytes), minSide);
}

int reducedDecodeFactor(const ImageHeader& header, int minSide) {
  return jpegReduction(header, minSide);
}

LoadedImage loadImage(const std::string& path, const ImageLoadOptions& options) {
  const std::vector<std::uint8_t> bytes = readFileBytes(path, options.maxFileBytes);
  return decodeImage(bytes, path, options);
}

}  // namespace patchlens
