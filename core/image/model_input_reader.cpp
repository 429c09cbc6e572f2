#include "core/image/model_input_reader.h"

#include <algorithm>
#include <array>
#include <thread>

#include "core/image/exif_orientation.h"
#include "core/image/image_header.h"
#include "core/image/jpeg_decoder.h"
#include "core/io/error.h"
#include "core/io/file_bytes.h"
#include "core/io/threading.h"
#include "core/io/work_queue.h"

namespace patchlens {
namespace {

// Columns and rows decoded beyond what the filters need: libjpeg's upsampler treats the
// edges of a cropped or skipped-to region as image edges (one pixel differs there), and the
// pixels kept must equal a whole decode's.
constexpr int kDecodeMargin = 16;
constexpr int kBandRows = 32;
// From this many decoded pixels on (and with a second compute thread), the horizontal pass
// runs on a second thread while the decoder goes on with the next bands.
constexpr std::int64_t kOverlapPixels = std::int64_t{2} << 20;
constexpr int kOverlapBands = 4;

// Decodes the next rows (up to the band's height, not past `end`) into `band`.
int readBand(JpegDecoder& decoder, cv::Mat& band, int end) {
  std::array<std::uint8_t*, kBandRows> rows{};
  const int count = std::min({band.rows, kBandRows, end - decoder.nextRow()});
  for (int r = 0; r < count; ++r) rows[static_cast<std::size_t>(r)] = band.ptr<std::uint8_t>(r);
  return decoder.read(rows.data(), count);
}

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

void ModelInputReader::decodeOverlapped(JpegDecoder& decoder, cv::Range columns, int endRow) {
  // The decoding thread (this one) fills bands and queues them; a helper resamples each and
  // gives it back. The libjpeg state never leaves this thread.
  struct Filled {
    int band = 0;
    int y = 0;
    int rows = 0;
  };
  m_bands.resize(kOverlapBands);
  WorkQueue<int> free;
  WorkQueue<Filled> filled;
  for (int b = 0; b < kOverlapBands; ++b) {
    m_bands[static_cast<std::size_t>(b)].create(kBandRows, columns.size(), CV_8UC3);
    free.push(b);
  }
  std::thread helper([&] {
    while (const auto item = filled.pop()) {
      m_resampler.addRows(m_bands[static_cast<std::size_t>(item->band)].rowRange(0, item->rows),
                          item->y, columns.start);
      free.push(item->band);
    }
  });
  try {
    while (decoder.nextRow() < endRow) {
      const int band = *free.pop();
      const int y = decoder.nextRow();
      const int got = readBand(decoder, m_bands[static_cast<std::size_t>(band)], endRow);
      if (got <= 0) break;  // cannot happen with a memory source
      filled.push({band, y, got});
    }
  } catch (...) {
    filled.close();
    helper.join();
    throw;
  }
  filled.close();
  helper.join();
}

void ModelInputReader::decodeTurned(JpegDecoder& decoder, int orientation) {
  // The stored rectangle under the upright one the resampler needs (with margins) is decoded
  // whole, turned upright (the same flips and transposes as for the whole image, which map
  // a rectangle onto a rectangle) and handed over at its upright position.
  const bool transposed = orientation >= 5;
  const int uprightW = transposed ? decoder.height() : decoder.width();
  const int uprightH = transposed ? decoder.width() : decoder.height();
  const cv::Range needX = m_resampler.inputColumns();
  const cv::Range needY = m_resampler.inputRows();
  const cv::Range ux(std::max(0, needX.start - kDecodeMargin),
                     std::min(uprightW, needX.end + kDecodeMargin));
  const cv::Range uy(std::max(0, needY.start - kDecodeMargin),
                     std::min(uprightH, needY.end + kDecodeMargin));
  // Upright x' is stored u or size - 1 - u along the stored axis it comes from (columns for
  // orientations 1-4, rows for 5-8); y' alike.
  const auto mirrored = [](cv::Range r, int size) {
    return cv::Range(size - r.end, size - r.start);
  };
  const bool flipX = orientation == 2 || orientation == 3 || orientation == 6 || orientation == 7;
  const bool flipY = orientation == 3 || orientation == 4 || orientation == 7 || orientation == 8;
  const cv::Range fromX = flipX ? mirrored(ux, uprightW) : ux;
  const cv::Range fromY = flipY ? mirrored(uy, uprightH) : uy;
  const cv::Range storedX = transposed ? fromY : fromX;
  const cv::Range storedY = transposed ? fromX : fromY;
  const cv::Range columns = decoder.start(storedX);
  decoder.skip(storedY.start);
  m_turned.create(storedY.size(), columns.size(), CV_8UC3);
  while (decoder.nextRow() < storedY.end) {
    cv::Mat rest = m_turned.rowRange(decoder.nextRow() - storedY.start, m_turned.rows);
    if (readBand(decoder, rest, storedY.end) <= 0) break;  // cannot happen with a memory source
  }
  applyExifOrientation(m_turned, orientation);
  // Where the decoded stored rectangle lands upright.
  const cv::Range sourceX = transposed ? storedY : columns;
  const cv::Range sourceY = transposed ? columns : storedY;
  const int x0 = flipX ? uprightW - sourceX.end : sourceX.start;
  const int y0 = flipY ? uprightH - sourceY.end : sourceY.start;
  m_resampler.addRows(m_turned, y0, x0);
}

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
  const int orientation = decoder.orientation();
  const bool transposed = orientation >= 5;
  const int uprightWidth = transposed ? decoder.height() : decoder.width();
  const int uprightHeight = transposed ? decoder.width() : decoder.height();
  PreprocessGeometry geometry;
  cv::Rect region;
  namingFile(name, [&] {
    geometry = preprocessGeometry(uprightWidth, uprightHeight, config);
    region = visibleRegion(geometry);
  });
  if (region.empty()) return false;
  m_resampler.configure(uprightWidth, uprightHeight, 3, geometry.resizedWidth,
                        geometry.resizedHeight, config.interpolation, region);
  if (orientation != 1) {
    decodeTurned(decoder, orientation);
    m_warnings = decoder.finish();
    m_resampler.finish(m_visible);
    namingFile(name, [&] { finishPreprocess(m_visible, geometry, config, out); });
    return true;
  }
  const cv::Range needColumns = m_resampler.inputColumns();
  const cv::Range needRows = m_resampler.inputRows();
  const cv::Range columns =
      decoder.start(cv::Range(needColumns.start - kDecodeMargin, needColumns.end + kDecodeMargin));
  const int firstRow = std::max(0, needRows.start - kDecodeMargin);
  decoder.skip(firstRow);
  const bool overlap =
      computeThreads() > 1 &&
      static_cast<std::int64_t>(columns.size()) * needRows.size() >= kOverlapPixels;
  if (overlap) {
    decodeOverlapped(decoder, columns, needRows.end);
  } else {
    m_bands.resize(1);
    cv::Mat& band = m_bands.front();
    band.create(kBandRows, columns.size(), CV_8UC3);
    while (decoder.nextRow() < needRows.end) {
      const int y = decoder.nextRow();
      const int got = readBand(decoder, band, needRows.end);
      if (got <= 0) break;  // cannot happen with a memory source
      m_resampler.addRows(band.rowRange(0, got), y, columns.start);
    }
  }
  m_warnings = decoder.finish();
  m_resampler.finish(m_visible);
  namingFile(name, [&] { finishPreprocess(m_visible, geometry, config, out); });
  return true;
}

}  // namespace patchlens
