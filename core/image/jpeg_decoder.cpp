#include "core/image/jpeg_decoder.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/image/decode_budget.h"
#include "core/image/exif_orientation.h"
#include "core/io/error.h"

namespace patchlens {
namespace {

// libjpeg's error manager, extended: errors longjmp back to the phase that started the work
// (never exit()); warnings are recorded, never printed.
struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg passes &pub and we cast back
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
  char warning[JMSG_LENGTH_MAX] = {};
  bool truncated = false;  // JWRN_JPEG_EOF: the data ended before the image did
  bool damaged = false;    // any other warning: corrupt entropy data, bad markers...
  bool tooManyScans = false;
};

// Counts the scans as libjpeg reads them: a progressive JPEG's work grows with its scans.
struct ScanMonitor {
  jpeg_progress_mgr pub;  // first, as above
  int maxScans = 500;
};

[[noreturn]] void onError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void onMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    err->truncated = true;
  } else if (!err->damaged) {
    err->damaged = true;
    (*cinfo->err->format_message)(cinfo, err->warning);
  }
  ++cinfo->err->num_warnings;
}

void onOutput(j_common_ptr) {}

void onProgress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  const auto* monitor = reinterpret_cast<ScanMonitor*>(cinfo->progress);
  if (d->input_scan_number > monitor->maxScans) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    err->tooManyScans = true;
    std::longjmp(err->jump, 1);
  }
}

// What the header phase learned; plain data, so that a longjmp loses nothing.
struct Context {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  ScanMonitor monitor;
  bool created = false;
  int orientation = 1;
  std::size_t trailingBytes = 0;  // after EOI, not counting zero padding
};

// Phase 1: markers and header, output size and colour space; allocates nothing large.
// setjmp lives in these two small functions, whose locals longjmp may clobber are unused after.
bool readHeader(Context& c, std::span<const std::uint8_t> bytes, int reduction,
                std::uint64_t memoryLimit, bool orientation) {
  c.cinfo.err = jpeg_std_error(&c.err.pub);
  c.err.pub.error_exit = onError;
  c.err.pub.emit_message = onMessage;
  c.err.pub.output_message = onOutput;
  if (setjmp(c.err.jump)) return false;
  jpeg_create_decompress(&c.cinfo);
  c.created = true;
  // libjpeg's own buffers (progressive coefficients) stop at this; no backing store.
  c.cinfo.mem->max_memory_to_use =
      static_cast<long>(std::min<std::uint64_t>(memoryLimit, static_cast<std::uint64_t>(LONG_MAX)));
  c.monitor.pub.progress_monitor = onProgress;
  c.cinfo.progress = &c.monitor.pub;
  jpeg_mem_src(&c.cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  if (orientation) jpeg_save_markers(&c.cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&c.cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = c.cinfo.marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
        std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      c.orientation = exifOrientation({m->data, m->data_length});
      break;
    }
  }
  c.cinfo.out_color_space =
      c.cinfo.num_components == 4 ? JCS_CMYK : JCS_EXT_RGB;  // gray is replicated to RGB
  c.cinfo.scale_num = 1;
  c.cinfo.scale_denom = static_cast<unsigned>(reduction);
  jpeg_calc_output_dimensions(&c.cinfo);
  return true;
}

// OpenCV's CMYK -> BGR (icvCvt_CMYK2BGR_8u_C4C3R), written as RGB: Adobe stores inverted
// CMYK, which this formula undoes, so the result equals cv::imread's.
void cmykRowToRgb(const std::uint8_t* cmyk, std::uint8_t* rgb, unsigned width) {
  for (unsigned x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    for (int i = 0; i < 3; ++i) rgb[i] = static_cast<std::uint8_t>(k - ((255 - cmyk[i]) * k >> 8));
  }
}

// Runs one libjpeg call; false when libjpeg raised an error (it longjmps back here). f must
// hold nothing with a destructor: a longjmp skips it.
template <typename F>
bool guarded(Context& c, F f) {
  if (setjmp(c.err.jump)) return false;
  f();
  return true;
}

}  // namespace

struct JpegDecoder::State {
  Context c;
  std::vector<std::uint8_t> cmyk;   // kRows rows of a four-component source
  std::vector<std::uint8_t> spare;  // one output row that finish() reads and drops
  int columns = 0;                  // decoded width after start()
  bool started = false;
  bool finished = false;
  static constexpr int kRows = 16;

  ~State() {
    if (c.created) jpeg_destroy_decompress(&c.cinfo);
  }
};

JpegDecoder::JpegDecoder(std::span<const std::uint8_t> bytes, std::string name,
                         const ImageHeader& header, const ImageLoadOptions& options, int reduction)
    : m_state(std::make_unique<State>()),
      m_name(std::move(name)),
      m_maxScans(options.maxJpegScans) {
  if (header.jpegScans > options.maxJpegScans) {
    throw Error(m_name, "the JPEG has " + std::to_string(header.jpegScans) +
                            " scans, more than the limit of " +
                            std::to_string(options.maxJpegScans) + " (raise it with --max-scans)");
  }
  Context& c = m_state->c;
  c.monitor.maxScans = options.maxJpegScans;
  if (!readHeader(c, bytes, reduction, options.maxDecodeBytes, options.applyExifOrientation))
    fail();
  const jpeg_decompress_struct& d = c.cinfo;
  if (d.image_width != header.width || d.image_height != header.height) {
    // Our marker walk and libjpeg disagree: the size we checked is not the one it would use.
    throw Error(m_name, "corrupt JPEG header (libjpeg reads " + std::to_string(d.image_width) +
                            "x" + std::to_string(d.image_height) + ", the markers say " +
                            std::to_string(header.width) + "x" + std::to_string(header.height) +
                            ")");
  }
  m_orientation = options.applyExifOrientation ? c.orientation : 1;
  // Peak bytes of a whole-image decode: the RGB output, libjpeg's whole-image coefficients
  // for a multi-scan file, a transposed copy for orientations 5-8 and the CMYK row buffer.
  // Judged on the whole image even when a caller decodes less: the same files pass.
  const double outputBytes = double(d.output_width) * double(d.output_height) * 3;
  double coefficients = 0;
  if (jpeg_has_multiple_scans(&c.cinfo)) {
    for (int i = 0; i < d.num_components; ++i) {
      const jpeg_component_info& comp = d.comp_info[i];
      const double blocksWide =
          std::ceil(double(comp.width_in_blocks) / comp.h_samp_factor) * comp.h_samp_factor;
      const double blocksHigh =
          std::ceil(double(comp.height_in_blocks) / comp.v_samp_factor) * comp.v_samp_factor;
      coefficients += blocksWide * blocksHigh * DCTSIZE2 * sizeof(JCOEF);
    }
  }
  ImageHeader described = header;
  described.channels = d.num_components;
  described.bitsPerSample = d.data_precision;
  checkDecodeBudget(m_name, described, outputBytes * (c.orientation >= 5 ? 2 : 1) + coefficients,
                    static_cast<double>(options.maxDecodeBytes));
}

JpegDecoder::~JpegDecoder() = default;

int JpegDecoder::width() const {
  return static_cast<int>(m_state->c.cinfo.output_width);
}

int JpegDecoder::height() const {
  return static_cast<int>(m_state->c.cinfo.output_height);
}

int JpegDecoder::components() const {
  return m_state->c.cinfo.num_components;
}

int JpegDecoder::orientation() const {
  return m_orientation;
}

void JpegDecoder::fail() const {
  const Context& c = m_state->c;
  if (c.err.tooManyScans) {
    throw Error(m_name, "the JPEG has more than " + std::to_string(m_maxScans) +
                            " scans (raise the limit with --max-scans)");
  }
  throw Error(m_name, std::string("corrupt or truncated JPEG data (") + c.err.message + ")");
}

cv::Range JpegDecoder::start(cv::Range columns) {
  State& s = *m_state;
  if (s.started) throw std::logic_error("JpegDecoder::start called twice");
  s.started = true;
  Context& c = s.c;
  if (!guarded(c, [&c] { jpeg_start_decompress(&c.cinfo); })) fail();
  const int full = width();
  columns.start = std::clamp(columns.start, 0, full);
  columns.end = std::clamp(columns.end, columns.start, full);
  if (columns.start > 0 || columns.end < full) {
    JDIMENSION x = static_cast<JDIMENSION>(columns.start);
    JDIMENSION w = static_cast<JDIMENSION>(std::max(1, columns.size()));
    if (!guarded(c, [&c, &x, &w] { jpeg_crop_scanline(&c.cinfo, &x, &w); })) fail();
    columns = cv::Range(static_cast<int>(x), static_cast<int>(x + w));
  } else {
    columns = cv::Range(0, full);
  }
  s.columns = columns.size();
  if (c.cinfo.out_color_space == JCS_CMYK)
    s.cmyk.resize(static_cast<std::size_t>(s.columns) * 4 * State::kRows);
  return columns;
}

int JpegDecoder::nextRow() const {
  return static_cast<int>(m_state->c.cinfo.output_scanline);
}

int JpegDecoder::read(std::uint8_t* const* rows, int count) {
  State& s = *m_state;
  Context& c = s.c;
  count = std::min(count, height() - nextRow());
  const bool fourComponents = c.cinfo.out_color_space == JCS_CMYK;
  std::array<JSAMPROW, State::kRows> cmykRows{};
  for (int r = 0; fourComponents && r < State::kRows; ++r)
    cmykRows[static_cast<std::size_t>(r)] =
        s.cmyk.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(s.columns) * 4;
  // libjpeg returns a few rows per call (its upsampler's row group): call until count.
  int total = 0;
  while (total < count) {
    const int chunk = fourComponents ? std::min(count - total, State::kRows) : count - total;
    JSAMPROW* target = fourComponents ? cmykRows.data() : const_cast<JSAMPROW*>(rows + total);
    JDIMENSION got = 0;
    const auto want = static_cast<JDIMENSION>(chunk);
    if (!guarded(c,
                 [&c, &got, target, want] { got = jpeg_read_scanlines(&c.cinfo, target, want); }))
      fail();
    if (fourComponents) {
      for (JDIMENSION r = 0; r < got; ++r)
        cmykRowToRgb(cmykRows[r], rows[total + static_cast<int>(r)],
                     static_cast<unsigned>(s.columns));
    }
    if (got == 0) break;  // cannot happen with a memory source; never spin
    total += static_cast<int>(got);
  }
  return total;
}

void JpegDecoder::skip(int count) {
  Context& c = m_state->c;
  count = std::min(count, height() - nextRow());
  if (count <= 0) return;
  const auto lines = static_cast<JDIMENSION>(count);
  if (!guarded(c, [&c, lines] { jpeg_skip_scanlines(&c.cinfo, lines); })) fail();
}

std::vector<std::string> JpegDecoder::finish() {
  State& s = *m_state;
  Context& c = s.c;
  if (!s.started) start(cv::Range(0, width()));
  // libjpeg-turbo's skip to the last row stops reading the data (no warnings for a damaged
  // or truncated tail, no count of trailing bytes): skip all but one row and read that one.
  const int left = height() - nextRow();
  if (left > 1) skip(left - 1);
  if (nextRow() < height()) {
    s.spare.resize(static_cast<std::size_t>(s.columns) * 3);
    std::uint8_t* row = s.spare.data();
    if (read(&row, 1) == 0) fail();
  }
  if (!guarded(c, [&c] { jpeg_finish_decompress(&c.cinfo); })) fail();
  s.finished = true;
  // libjpeg stops at EOI; what is left in the buffer comes after the image.
  const std::uint8_t* rest = c.cinfo.src->next_input_byte;
  std::size_t trailing = c.cinfo.src->bytes_in_buffer;
  while (trailing > 0 && rest[trailing - 1] == 0) --trailing;
  std::vector<std::string> warnings;
  if (c.err.truncated) {
    warnings.push_back("the JPEG data is truncated; the missing part of the image is filled in");
  } else if (c.err.damaged) {
    warnings.push_back(std::string("the JPEG data is corrupt (") + c.err.warning +
                       "); parts of the image may be wrong");
  }
  if (trailing > 0 && !c.err.truncated) {  // a truncated file ends in libjpeg's fake EOI
    warnings.push_back(std::to_string(trailing) +
                       " bytes of data after the end of the image are ignored");
  }
  return warnings;
}

LoadedImage decodeJpeg(std::span<const std::uint8_t> bytes, const std::string& name,
                       const ImageHeader& header, const ImageLoadOptions& options, int reduction) {
  JpegDecoder decoder(bytes, name, header, options, reduction);
  cv::Mat rgb(decoder.height(), decoder.width(), CV_8UC3);
  decoder.start(cv::Range(0, decoder.width()));
  constexpr int kRows = 16;
  std::array<std::uint8_t*, kRows> rows{};
  while (decoder.nextRow() < decoder.height()) {
    const int first = decoder.nextRow();
    const int count = std::min(kRows, decoder.height() - first);
    for (int r = 0; r < count; ++r)
      rows[static_cast<std::size_t>(r)] = rgb.ptr<std::uint8_t>(first + r);
    if (decoder.read(rows.data(), count) == 0) break;  // cannot happen with a memory source
  }
  LoadedImage out;
  out.warnings = decoder.finish();
  out.format = "JPEG";
  out.sourceBitDepth = 8;
  out.sourceChannels = decoder.components();
  out.decodeReduction = reduction;
  const int orientation = decoder.orientation();
  applyExifOrientation(rgb, orientation);
  const bool swapped = orientation >= 5;
  out.sourceWidth = static_cast<int>(swapped ? header.height : header.width);
  out.sourceHeight = static_cast<int>(swapped ? header.width : header.height);
  out.rgb = rgb;
  return out;
}

}  // namespace patchlens
