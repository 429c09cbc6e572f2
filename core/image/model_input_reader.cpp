#include "core/image/model_input_reader.h"

#include <algorithm>
#include <array>

#include "core/image/image_header.h"
#include "core/image/jpeg_decoder.h"
#include "core/io/error.h"
#include "core/io/file_bytes.h"

namespace patchlens {
namespace {

// Columns and rows decoded beyond what the filters need: libjpeg's upsampler treats the
// edges of a cropped or skipped-to region as image edges (one pixel differs there), and the
// pixels kept must equal a whole decode's.
constexpr int kDecodeMargin = 16;
constexpr int kBandRows = 16;

// preprocess() names no file; its refusals are about this image.
template <typename F>
void namingFile(const std::string& name, F f) {
  try {
    f();
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(name, e.reason());
  }
}

}  // namespace

void ModelInputReader::read(const std::string& path, const ImageLoadOptions& load,
                            const PreprocessConfig& config, PreprocessResult& out) {
  const std::vector<std::uint8_t> bytes = readFileBytes(path, load.maxFileBytes);
  decode(bytes, path, load, config, out);
}

void ModelInputReader::decode(std::span<const std::uint8_t> bytes, const std::string& name,
                              const ImageLoadOptions& load, const PreprocessConfig& config,
                              PreprocessResult& out) {
  m_warnings.clear();
  m_fused = false;
  const ImageHeader header = checkedImageHeader(bytes, name, load);
  if (header.format == "JPEG" && config.interpolation != Interpolation::Nearest &&
      decodeJpegFused(bytes, name, header, load, config, out)) {
    m_fused = true;
    return;
  }
  LoadedImage image = decodeImage(bytes, name, load);
  m_warnings = std::move(image.warnings);
  namingFile(name, [&] { out = preprocess(image.rgb, config); });
}

bool ModelInputReader::decodeJpegFused(std::span<const std::uint8_t> bytes, const std::string& name,
                                       const ImageHeader& header, const ImageLoadOptions& load,
                                       const PreprocessConfig& config, PreprocessResult& out) {
  JpegDecoder decoder(bytes, name, header, load,
                      reducedDecodeFactor(header, load.reducedDecodeMinSide));
  if (decoder.orientation() != 1) return false;  // rotated: the whole-image path
  PreprocessGeometry geometry;
  cv::Rect region;
  namingFile(name, [&] {
    geometry = preprocessGeometry(decoder.width(), decoder.height(), config);
    region = visibleRegion(geometry, config);
  });
  if (region.empty()) return false;
  m_resampler.configure(decoder.width(), decoder.height(), 3, geometry.resizedWidth,
                        geometry.resizedHeight, config.interpolation, region);
  const cv::Range needColumns = m_resampler.inputColumns();
  const cv::Range needRows = m_resampler.inputRows();
  const cv::Range columns =
      decoder.start(cv::Range(needColumns.start - kDecodeMargin, needColumns.end + kDecodeMargin));
  const int firstRow = std::max(0, needRows.start - kDecodeMargin);
  decoder.skip(firstRow);
  m_band.create(kBandRows, columns.size(), CV_8UC3);
  std::array<std::uint8_t*, kBandRows> rows{};
  while (decoder.nextRow() < needRows.end) {
    const int y = decoder.nextRow();
    const int count = std::min(kBandRows, needRows.end - y);
    for (int r = 0; r < count; ++r) rows[static_cast<std::size_t>(r)] = m_band.ptr<std::uint8_t>(r);
    const int got = decoder.read(rows.data(), count);
    if (got <= 0) break;  // cannot happen with a memory source
    m_resampler.addRows(m_band.rowRange(0, got), y, columns.start);
  }
  m_warnings = decoder.finish();
  m_resampler.finish(m_visible);
  namingFile(name, [&] { finishPreprocess(m_visible, geometry, config, out); });
  return true;
}

}  // namespace patchlens
