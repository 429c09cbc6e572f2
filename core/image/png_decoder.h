#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/image/image_header.h"
#include "core/image/image_loader.h"

namespace patchlens {

// Decodes a PNG with libpng straight into 8-bit RGB: 16-bit samples keep their high byte
// (png_set_strip_16, as OpenCV and PIL's RGB;16B reader), alpha and tRNS are dropped (as
// PIL's convert("RGB")), palette and gray are expanded, interlaced files are handled, and the
// eXIf orientation is applied as OpenCV applies it. It stops after the last row: image data
// past the rows the header declares (an IDAT that inflates to 900 MB) is never inflated.
// libpng errors are an Error, never an abort.
LoadedImage decodePng(std::span<const std::uint8_t> bytes, const std::string& name,
                      const ImageHeader& header, const ImageLoadOptions& options);

}  // namespace patchlens
