#include "core/image/decode_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/io/error.h"

namespace patchlens {
namespace {

double bytesPerSample(int bits) {
  if (bits <= 8) return 1;
  if (bits <= 16) return 2;
  if (bits <= 32) return 4;
  return 8;
}

std::string mebibytes(double bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.0f MiB", std::ceil(bytes / double(1 << 20)));
  return text;
}

}  // namespace

double decodeBytes(const ImageHeader& h) {
  const double pixels = static_cast<double>(h.width) * static_cast<double>(h.height);
  // Unknown: as wide as OpenCV goes (4 channels), 8 bits (a wider depth is in the header).
  const double channels = h.channels > 0 ? std::min(h.channels, 4) : 4;
  const double sample = bytesPerSample(h.bitsPerSample > 0 ? h.bitsPerSample : 8);
  if (h.format == "PNG") {
    // Decoded straight to 8-bit RGB (png_decoder: libpng strips 16 bits and alpha while it
    // reads); the inflated rows are also bounded, as work (libpng inflates no further).
    const double rowBytes = std::ceil(static_cast<double>(h.width) * std::max(h.channels, 1) *
                                      std::max(h.bitsPerSample, 1) / 8.0) +
                            1;
    return std::max(pixels * 3, rowBytes * static_cast<double>(h.height));
  }
  double decoder = pixels * channels * sample;
  if (h.format == "JPEG 2000") decoder += pixels * channels * 4;       // OpenJPEG's int32 planes
  if (h.format == "WebP") decoder += pixels * (h.lossless ? 4 : 1.5);  // ARGB or YUV planes
  const double eightBit = sample > 1 ? pixels * channels : 0;
  const double rgb = channels != 3 ? pixels * 3 : 0;
  return decoder + eightBit + rgb;
}

void checkDecodeBudget(const std::string& name, const ImageHeader& h, double bytes, double limit) {
  if (bytes <= limit) return;
  std::string what = std::to_string(h.width) + "x" + std::to_string(h.height) + " " + h.format;
  if (h.channels > 0 && h.bitsPerSample > 0) {
    what += " (" + std::to_string(h.channels) + " channel" + (h.channels == 1 ? "" : "s") + " of " +
            std::to_string(h.bitsPerSample) + (h.floatSamples ? "-bit float" : "-bit") + ")";
  }
  throw Error(name, "decoding this " + what + " needs about " + mebibytes(bytes) +
                        ", over the decode memory limit of " + mebibytes(limit) +
                        " (raise it with --max-decode-mb)");
}

}  // namespace patchlens
