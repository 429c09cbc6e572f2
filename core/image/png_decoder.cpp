#include "core/image/png_decoder.h"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <opencv2/core.hpp>
#include <vector>

#include "core/image/exif_orientation.h"
#include "core/io/error.h"

namespace patchlens {
namespace {

// What a longjmp out of libpng must not lose: plain data only.
struct PngContext {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::span<const std::uint8_t> bytes;
  std::size_t offset = 0;
  char message[256] = {};
  int orientation = 1;
  int channels = 0;  // as stored
  int bitDepth = 0;
  int passes = 1;
  // While the last row is read: how many more input bytes that may take (its compressed
  // data, deflate's worst-case overhead and libpng's read-ahead), and whether libpng asked
  // for more, i.e. went on inflating past the rows the header declares.
  bool lastRow = false;
  std::size_t lastRowBudget = 0;
  std::size_t lastRowRead = 0;
  bool dataAfterRows = false;
};

void onError(png_structp png, png_const_charp text) {
  auto* c = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(c->message, sizeof c->message, "%s", text);
  png_longjmp(png, 1);
}

void onWarning(png_structp, png_const_charp) {}  // ancillary trouble: OpenCV ignores it too

void onRead(png_structp png, png_bytep out, png_size_t length) {
  auto* c = static_cast<PngContext*>(png_get_io_ptr(png));
  if (c->lastRow) {
    c->lastRowRead += length;
    if (c->lastRowRead > c->lastRowBudget) {
      // Every row is in the image by now; libpng's png_read_finish_IDAT would inflate the
      // rest of the stream (900 MB in a 1 MB file), so stop it here.
      c->dataAfterRows = true;
      png_error(png, "compressed data goes on past the last row");
    }
  }
  if (length > c->bytes.size() - c->offset) png_error(png, "the file ends inside the image data");
  std::memcpy(out, c->bytes.data() + c->offset, length);
  c->offset += length;
}

// Phase 1: the header chunks and the transforms to 8-bit RGB. setjmp lives here and in
// readRows; neither keeps a local that longjmp could clobber and that is used afterwards.
bool readInfo(PngContext& c, bool orientation) {
  if (setjmp(png_jmpbuf(c.png))) return false;
  png_set_read_fn(c.png, &c, onRead);
  png_read_info(c.png, c.info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, colour = 0, interlace = 0;
  png_get_IHDR(c.png, c.info, &width, &height, &depth, &colour, &interlace, nullptr, nullptr);
  c.bitDepth = depth;
  c.channels = colour == PNG_COLOR_TYPE_PALETTE ? 3 : png_get_channels(c.png, c.info);
  if (orientation) {
    png_uint_32 exifLength = 0;
    png_bytep exif = nullptr;
    if (png_get_eXIf_1(c.png, c.info, &exifLength, &exif) && exif && exifLength > 0) {
      std::vector<std::uint8_t> app1 = {'E', 'x', 'i', 'f', 0, 0};
      app1.insert(app1.end(), exif, exif + exifLength);
      c.orientation = exifOrientation(app1);
    }
  }
  if (depth == 16) png_set_strip_16(c.png);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(c.png);
  if ((colour & PNG_COLOR_MASK_COLOR) == 0) {
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(c.png);
    png_set_gray_to_rgb(c.png);
  }
  png_set_strip_alpha(c.png);
  c.passes = png_set_interlace_handling(c.png);
  png_read_update_info(c.png, c.info);
  if (png_get_channels(c.png, c.info) != 3 || png_get_bit_depth(c.png, c.info) != 8) {
    std::snprintf(c.message, sizeof c.message, "unexpected PNG layout after conversion");
    return false;
  }
  return true;
}

// Row by row (every pass of an interlaced file), never png_read_end: what follows the last
// row is not image data.
bool readRows(PngContext& c, std::vector<png_bytep>& rows) {
  if (setjmp(png_jmpbuf(c.png))) return c.dataAfterRows;  // rows complete, the rest refused
  const std::size_t height = rows.size();
  for (int pass = 0; pass < c.passes; ++pass) {
    for (std::size_t y = 0; y < height; ++y) {
      if (pass == c.passes - 1 && y + 1 == height) c.lastRow = true;
      png_read_row(c.png, rows[y], nullptr);
    }
  }
  return true;
}

struct PngGuard {
  PngContext& c;
  ~PngGuard() { png_destroy_read_struct(&c.png, c.info ? &c.info : nullptr, nullptr); }
};

}  // namespace

LoadedImage decodePng(std::span<const std::uint8_t> bytes, const std::string& name,
                      const ImageHeader& header, const ImageLoadOptions& options) {
  PngContext c;
  c.bytes = bytes;
  c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, onError, onWarning);
  if (!c.png) throw Error(name, "cannot start the PNG decoder");
  PngGuard guard{c};
  c.info = png_create_info_struct(c.png);
  if (!c.info) throw Error(name, "cannot start the PNG decoder");
  // Our header check already bounded the size; libpng's own limits say the same.
  png_set_user_limits(c.png, 0x7fffffff, 0x7fffffff);
  if (!readInfo(c, options.applyExifOrientation)) {
    throw Error(name, std::string("corrupt or truncated PNG data (") + c.message + ")");
  }
  const png_uint_32 width = png_get_image_width(c.png, c.info);
  const png_uint_32 height = png_get_image_height(c.png, c.info);
  if (width != header.width || height != header.height) {
    throw Error(name, "corrupt PNG header (libpng reads another size than its IHDR)");
  }
  cv::Mat rgb(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
  const std::size_t rowBytes = png_get_rowbytes(c.png, c.info);
  // Deflate stores at worst 5 bytes per 64 kB block more than its input; libpng reads ahead
  // in IDAT_read_size (8 kB) steps and chunk headers; 64 kB covers the rest.
  c.lastRowBudget = rowBytes + rowBytes / 1000 + (64 << 10);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = rgb.ptr<png_byte>(static_cast<int>(y));
  if (!readRows(c, rows)) {
    throw Error(name, std::string("corrupt or truncated PNG data (") + c.message + ")");
  }
  LoadedImage out;
  out.format = "PNG";
  if (c.dataAfterRows) {
    out.warnings.push_back(
        "the compressed image data goes on after the last row; the rest is "
        "ignored");
  }
  out.sourceChannels = c.channels;
  out.sourceBitDepth = c.bitDepth > 8 ? 16 : 8;
  if (options.applyExifOrientation) applyExifOrientation(rgb, c.orientation);
  out.rgb = rgb;
  out.sourceWidth = rgb.cols;
  out.sourceHeight = rgb.rows;
  return out;
}

}  // namespace patchlens
