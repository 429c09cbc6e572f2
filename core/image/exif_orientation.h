#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

namespace patchlens {

// The EXIF orientation (1..8) in an APP1 "Exif\0\0" payload (a JPEG marker, or a PNG eXIf
// chunk with that prefix added), or 1 when there is none or it is malformed.
int exifOrientation(std::span<const std::uint8_t> app1);

// Turns a decoded image upright for an EXIF orientation, exactly as OpenCV's imread does
// (its ApplyExifOrientation), so that PatchLens' own decoders agree with it.
void applyExifOrientation(cv::Mat& image, int orientation);

}  // namespace patchlens
