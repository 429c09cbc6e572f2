#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/image/image_loader.h"
#include "core/image/pil_resampler.h"
#include "core/image/preprocess.h"

namespace patchlens {

class JpegDecoder;

// An image file straight to the model input: loadImage() + preprocess() with the same
// result, but for a JPEG resized with a filter fused: only the columns and
// rows the model input's filter support needs are decoded (libjpeg-turbo's crop and skip),
// 16 rows at a time into a buffer that stays in cache, each band resampled horizontally as it
// arrives. No whole-image buffer, no page faults for it; a 12 MP photo headed for 224 x 224
// decodes 69 % of its columns. A JPEG whose EXIF orientation turns it has the needed
// rectangle decoded whole and turned upright. Other files take loadImage() + preprocess().
// Reusable: a reader keeps its buffers from image to image (batch keeps one per thread).
class ModelInputReader {
 public:
  // Throws Error(path, reason) as loadImage() and preprocess() do (preprocess's refusals
  // are named after the file).
  void read(const std::string& path, const ImageLoadOptions& load, const PreprocessConfig& config,
            PreprocessResult& out);
  void decode(std::span<const std::uint8_t> bytes, const std::string& name,
              const ImageLoadOptions& load, const PreprocessConfig& config, PreprocessResult& out);

  // The last image's decoder warnings (truncated or damaged data, trailing bytes, pages).
  const std::vector<std::string>& warnings() const { return m_warnings; }
  // Whether the last image took the fused path (tests, benchmarks).
  bool fused() const { return m_fused; }

 private:
  bool decodeJpegFused(std::span<const std::uint8_t> bytes, const std::string& name,
                       const ImageHeader& header, const ImageLoadOptions& load,
                       const PreprocessConfig& config, PreprocessResult& out);

  void decodeOverlapped(JpegDecoder& decoder, cv::Range columns, int endRow);
  void decodeTurned(JpegDecoder& decoder, int orientation);

  std::vector<std::string> m_warnings;
  bool m_fused = false;
  PilResampler m_resampler;
  std::vector<cv::Mat> m_bands;  // decoded rows, reused
  cv::Mat m_turned;              // a turned JPEG's needed rectangle
  cv::Mat m_visible;             // the resized pixels the model input shows
};

}  // namespace patchlens
