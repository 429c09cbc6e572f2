#pragma once

#include <string>

#include "core/image/image_header.h"

namespace patchlens {

// Bytes a decode of this header allocates at its peak through OpenCV: the decoder's own image
// (channels x bytes per sample as stored, or 8-bit BGR where PatchLens asks for it), its
// working planes (OpenJPEG's 32-bit planes, libwebp's ARGB) and the conversions to 8-bit RGB
// after it. Counted in double: header sides reach 2^32 each. JPEG is sized by jpeg_decoder.
double decodeBytes(const ImageHeader& header);

// Throws Error(name, ...) when bytes exceeds limit: names the image, the size and the override.
void checkDecodeBudget(const std::string& name, const ImageHeader& header, double bytes,
                       double limit);

}  // namespace patchlens
