#include "core/image/exif_orientation.h"

namespace patchlens {

int exifOrientation(std::span<const std::uint8_t> app1) {
  // "Exif\0\0", then a TIFF header; IFD0's tag 0x0112 (SHORT) is the orientation.
  if (app1.size() < 6 + 8) return 1;
  const auto t = app1.subspan(6);
  const bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](std::size_t i) -> std::uint32_t {
    return little ? t[i] | (t[i + 1] << 8) : (t[i] << 8) | t[i + 1];
  };
  auto u32 = [&](std::size_t i) -> std::uint32_t {
    return little ? u16(i) | (u16(i + 2) << 16) : (u16(i) << 16) | u16(i + 2);
  };
  const std::size_t ifd = u32(4);
  if (ifd > t.size() || t.size() - ifd < 2) return 1;
  const std::size_t entries = u16(ifd);
  for (std::size_t e = 0; e < entries; ++e) {
    const std::size_t at = ifd + 2 + e * 12;
    if (at + 12 > t.size()) return 1;
    if (u16(at) == 0x0112 && u16(at + 2) == 3) {
      const std::uint32_t value = u16(at + 8);
      return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
  }
  return 1;
}

void applyExifOrientation(cv::Mat& image, int orientation) {
  switch (orientation) {
    case 2:
      cv::flip(image, image, 1);
      break;
    case 3:
      cv::flip(image, image, -1);
      break;
    case 4:
      cv::flip(image, image, 0);
      break;
    case 5:
      cv::transpose(image, image);
      break;
    case 6:
      cv::transpose(image, image);
      cv::flip(image, image, 1);
      break;
    case 7:
      cv::transpose(image, image);
      cv::flip(image, image, -1);
      break;
    case 8:
      cv::transpose(image, image);
      cv::flip(image, image, 0);
      break;
    default:
      break;
  }
}

}  // namespace patchlens
