#include "core/image/jpeg_decoder.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <algorithm>
#include <array>
#include <climits>
#include <csetjmp>
#include <cstring>
#include <opencv2/core.hpp>
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

// Phase 2: decodes every row into out (8-bit RGB, output size), through a CMYK row buffer
// when the source has four components.
bool decodeRows(Context& c, cv::Mat& out, std::vector<std::uint8_t>& cmyk) {
  if (setjmp(c.err.jump)) return false;
  jpeg_start_decompress(&c.cinfo);
  const bool fourComponents = c.cinfo.out_color_space == JCS_CMYK;
  constexpr int kRows = 16;
  std::array<JSAMPROW, kRows> rows{};
  const std::size_t cmykStride = std::size_t{c.cinfo.output_width} * 4;
  while (c.cinfo.output_scanline < c.cinfo.output_height) {
    const unsigned first = c.cinfo.output_scanline;
    const unsigned count = std::min<unsigned>(kRows, c.cinfo.output_height - first);
    for (unsigned r = 0; r < count; ++r) {
      rows[r] = fourComponents ? cmyk.data() + r * cmykStride
                               : out.ptr<std::uint8_t>(static_cast<int>(first + r));
    }
    const unsigned read = jpeg_read_scanlines(&c.cinfo, rows.data(), count);
    if (read == 0) break;  // cannot happen with a memory source; never spin
    if (fourComponents) {
      for (unsigned r = 0; r < read; ++r)
        cmykRowToRgb(rows[r], out.ptr<std::uint8_t>(static_cast<int>(first + r)),
                     c.cinfo.output_width);
    }
  }
  jpeg_finish_decompress(&c.cinfo);
  // libjpeg stops at EOI; what is left in the buffer comes after the image.
  const std::uint8_t* rest = c.cinfo.src->next_input_byte;
  std::size_t left = c.cinfo.src->bytes_in_buffer;
  while (left > 0 && rest[left - 1] == 0) --left;
  c.trailingBytes = left;
  return true;
}

// Destroys the libjpeg state on every path out of decodeJpeg.
struct ContextGuard {
  Context& c;
  ~ContextGuard() {
    if (c.created) jpeg_destroy_decompress(&c.cinfo);
  }
};

std::string libjpegReason(const Context& c) {
  return c.err.message;
}

}  // namespace

LoadedImage decodeJpeg(std::span<const std::uint8_t> bytes, const std::string& name,
                       const ImageHeader& header, const ImageLoadOptions& options, int reduction) {
  if (header.jpegScans > options.maxJpegScans) {
    throw Error(name, "the JPEG has " + std::to_string(header.jpegScans) +
                          " scans, more than the limit of " + std::to_string(options.maxJpegScans) +
                          " (raise it with --max-scans)");
  }
  Context c;
  c.monitor.maxScans = options.maxJpegScans;
  ContextGuard guard{c};
  if (!readHeader(c, bytes, reduction, options.maxDecodeBytes, options.applyExifOrientation)) {
    throw Error(name, "corrupt or truncated JPEG data (" + libjpegReason(c) + ")");
  }
  const jpeg_decompress_struct& d = c.cinfo;
  if (d.image_width != header.width || d.image_height != header.height) {
    // Our marker walk and libjpeg disagree: the size we checked is not the one it would use.
    throw Error(name, "corrupt JPEG header (libjpeg reads " + std::to_string(d.image_width) + "x" +
                          std::to_string(d.image_height) + ", the markers say " +
                          std::to_string(header.width) + "x" + std::to_string(header.height) + ")");
  }
  // Peak bytes: the RGB output, libjpeg's whole-image coefficients for a multi-scan file,
  // a transposed copy for orientations 5-8 and the CMYK row buffer.
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
  const bool transposed = c.orientation >= 5;
  ImageHeader described = header;
  described.channels = d.num_components;
  described.bitsPerSample = d.data_precision;
  checkDecodeBudget(name, described, outputBytes * (transposed ? 2 : 1) + coefficients,
                    static_cast<double>(options.maxDecodeBytes));

  cv::Mat rgb(static_cast<int>(d.output_height), static_cast<int>(d.output_width), CV_8UC3);
  std::vector<std::uint8_t> cmyk;
  if (d.out_color_space == JCS_CMYK) cmyk.resize(std::size_t{d.output_width} * 4 * 16);
  if (!decodeRows(c, rgb, cmyk)) {
    if (c.err.tooManyScans) {
      throw Error(name, "the JPEG has more than " + std::to_string(options.maxJpegScans) +
                            " scans (raise the limit with --max-scans)");
    }
    throw Error(name, "corrupt or truncated JPEG data (" + libjpegReason(c) + ")");
  }

  LoadedImage out;
  out.format = "JPEG";
  out.sourceBitDepth = 8;
  out.sourceChannels = d.num_components;
  out.decodeReduction = reduction;
  if (options.applyExifOrientation) applyExifOrientation(rgb, c.orientation);
  const bool swapped = options.applyExifOrientation && transposed;
  out.sourceWidth = static_cast<int>(swapped ? d.image_height : d.image_width);
  out.sourceHeight = static_cast<int>(swapped ? d.image_width : d.image_height);
  out.rgb = rgb;
  if (c.err.truncated) {
    out.warnings.push_back(
        "the JPEG data is truncated; the missing part of the image is filled in");
  } else if (c.err.damaged) {
    out.warnings.push_back(std::string("the JPEG data is corrupt (") + c.err.warning +
                           "); parts of the image may be wrong");
  }
  if (c.trailingBytes > 0 && !c.err.truncated) {  // a truncated file ends in libjpeg's fake EOI
    out.warnings.push_back(std::to_string(c.trailingBytes) +
                           " bytes of data after the end of the image are ignored");
  }
  return out;
}

}  // namespace patchlens
