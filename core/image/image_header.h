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
  int pageCount = 1;             // TIFF: number of directories (bounded)
  bool jpegHasEndMarker = true;  // false for a JPEG whose stream does not end with EOI
};

// Sniffs the content (never the file name). Never throws; bounded work on any input.
ImageHeader readImageHeader(std::span<const std::uint8_t> bytes);

}  // namespace patchlens
