#pragma once

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/image/image_header.h"
#include "core/image/image_loader.h"

namespace patchlens {

// libjpeg-turbo decoding a JPEG straight into 8-bit RGB rows (no BGR round trip): gray,
// YCbCr, RGB, CMYK and YCCK (converted as OpenCV does), baseline and progressive, at 1/1 or
// a DCT scale-down. Band by band, and optionally only some columns (jpeg_crop_scanline)
// and rows (jpeg_skip_scanlines), so that a caller that needs part of the image neither
// decodes nor stores the rest. Corrupt data is an Error, never an abort; truncated or
// damaged data and bytes after the end of the image become warnings.
class JpegDecoder {
 public:
  // Reads the header and, before any pixel is decoded, refuses more scans than
  // options.maxJpegScans and a decode whose buffers (the whole RGB output, progressive
  // coefficients, a rotation copy) would exceed options.maxDecodeBytes. Throws Error.
  JpegDecoder(std::span<const std::uint8_t> bytes, std::string name, const ImageHeader& header,
              const ImageLoadOptions& options, int reduction);
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  int width() const;  // output size, as stored (before the EXIF orientation), after reduction
  int height() const;
  int components() const;   // in the file: 1, 3 or 4
  int orientation() const;  // EXIF orientation 1..8 (1 when absent or not asked for)

  // Starts decoding columns [columns.start, columns.end) only; libjpeg widens them to whole
  // iMCUs (and its upsampler treats the widened edges as image edges: keep a margin).
  // Returns the columns the rows will hold.
  cv::Range start(cv::Range columns);
  int nextRow() const;  // the row the next read() returns
  // Up to `count` rows into rows[0..count) (3 bytes per decoded column); returns how many.
  int read(std::uint8_t* const* rows, int count);
  // Skips rows without converting them (entropy decoding still runs).
  void skip(int count);
  // Skips what is left and ends the decode; the warnings (truncation, damage, trailing data).
  std::vector<std::string> finish();

 private:
  struct State;
  [[noreturn]] void fail() const;

  std::unique_ptr<State> m_state;
  std::string m_name;
  int m_maxScans = 0;
  int m_orientation = 1;
};

// The whole image through JpegDecoder, with the EXIF orientation applied when asked for.
LoadedImage decodeJpeg(std::span<const std::uint8_t> bytes, const std::string& name,
                       const ImageHeader& header, const ImageLoadOptions& options, int reduction);

}  // namespace patchlens
