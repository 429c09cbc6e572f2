#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace patchlens {

// What the first bytes of a file say, read without decoding any pixels.
struct ImageHeader {
  std::string format;  // "PNG", "JPEG", ... or a non-image kind ("PDF", "ZIP", "NumPy") or ""
  bool isImage = false;
  bool hasSize = false;  // width/height were read from the header
  std::int64_t width = 0;
  std::int64_t height = 0;
  int pageCount = 1;  // TIFF: number of directories (bounded)
  // What a decoder allocates per pixel, as the header states it (0: the header does not say):
  // samples per pixel as stored (PNG colour type, TIFF SamplesPerPixel, JPEG components, JP2
  // components, EXR channels, WebP 3 or 4) and bits per sample (8, 16, 32, 64).
  int channels = 0;
  int bitsPerSample = 0;
  bool floatSamples = false;  // TIFF SampleFormat 3, EXR, PFM, HDR
  bool progressive = false;   // JPEG: progressive frame (libjpeg keeps every coefficient)
  bool lossless = false;      // WebP: VP8L (libwebp decodes to 32-bit ARGB first)
  int jpegScans = 0;          // JPEG: start-of-scan markers in the whole stream
  // Non-empty when the header contradicts itself about the size (a TIFF size tag given twice,
  // of a non-integer type or with its value outside the file): the file must be refused.
  std::string sizeError;
};

// Sniffs the content (never the file name). Never throws; bounded work on any input.
ImageHeader readImageHeader(std::span<const std::uint8_t> bytes);

}  // namespace patchlens
