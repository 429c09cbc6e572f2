#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/image/image_header.h"
#include "core/image/image_loader.h"

namespace patchlens {

// Decodes a JPEG with libjpeg-turbo straight into 8-bit RGB (no BGR round trip): gray,
// YCbCr, RGB, CMYK and YCCK (converted as OpenCV does), baseline and progressive, at 1/1 or
// a DCT scale-down, with the EXIF orientation applied. Before any pixel is decoded it
// refuses more scans than options.maxJpegScans and a decode whose buffers (output,
// progressive coefficients, rotation copy) exceed options.maxDecodeBytes; corrupt data is an
// Error, never an abort. Truncated or damaged data and bytes after the end of the image
// become warnings.
LoadedImage decodeJpeg(std::span<const std::uint8_t> bytes, const std::string& name,
                       const ImageHeader& header, const ImageLoadOptions& options, int reduction);

}  // namespace patchlens
