#include "image_header.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace patchlens {
namespace {

using Bytes = std::span<const std::uint8_t>;

bool startsWith(Bytes b, const char* magic, std::size_t n, std::size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}
std::uint32_t be16(Bytes b, std::size_t i) { return (std::uint32_t{b[i]} << 8) | b[i + 1]; }
std::uint32_t be32(Bytes b, std::size_t i) { return (be16(b, i) << 16) | be16(b, i + 2); }
std::uint32_t le16(Bytes b, std::size_t i) { return (std::uint32_t{b[i + 1]} << 8) | b[i]; }
std::uint32_t le32(Bytes b, std::size_t i) { return (le16(b, i + 2) << 16) | le16(b, i); }

void setSize(ImageHeader& h, std::int64_t w, std::int64_t ht) {
  h.width = w;
  h.height = ht;
  h.hasSize = true;
}

void readJpeg(Bytes b, ImageHeader& h) {
  std::size_t i = 2;
  while (i + 4 <= b.size()) {
    if (b[i] != 0xFF) return;
    while (i < b.size() && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= b.size()) return;
    const std::uint8_t marker = b[i++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) break;  // end, or start of scan: size must be known
    if (i + 2 > b.size()) return;
    const std::uint32_t length = be16(b, i);
    const bool isFrame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (isFrame && i + 7 <= b.size()) {
      setSize(h, be16(b, i + 5), be16(b, i + 3));
      break;
    }
    if (length < 2) return;
    i += length;
  }
  // A complete stream ends with EOI (FF D9), possibly followed by padding.
  std::size_t end = b.size();
  while (end > 2 && b[end - 1] == 0x00) --end;
  h.jpegHasEndMarker = end >= 2 && b[end - 2] == 0xFF && b[end - 1] == 0xD9;
}

void readTiff(Bytes b, ImageHeader& h) {
  const bool little = b[0] == 'I';
  auto u16 = [&](std::size_t i) { return little ? le16(b, i) : be16(b, i); };
  auto u32 = [&](std::size_t i) { return little ? le32(b, i) : be32(b, i); };
  std::size_t ifd = u32(4);
  int pages = 0;
  constexpr int kMaxPages = 4096;
  while (ifd != 0 && ifd + 2 <= b.size() && pages < kMaxPages) {
    const std::size_t entries = u16(ifd);
    if (ifd + 2 + entries * 12 + 4 > b.size()) break;
    if (pages == 0) {
      std::int64_t w = -1, ht = -1;
      for (std::size_t e = 0; e < entries; ++e) {
        const std::size_t at = ifd + 2 + e * 12;
        const std::uint32_t tag = u16(at);
        const std::uint32_t type = u16(at + 2);
        const std::int64_t value = type == 3 ? u16(at + 8) : u32(at + 8);
        if (tag == 256) w = value;
        if (tag == 257) ht = value;
      }
      if (w >= 0 && ht >= 0) setSize(h, w, ht);
    }
    ++pages;
    const std::size_t next = u32(ifd + 2 + entries * 12);
    if (next <= ifd) break;  // refuse loops
    ifd = next;
  }
  h.pageCount = std::max(pages, 1);
}

void readPnm(Bytes b, ImageHeader& h) {
  std::size_t i = 2;
  std::int64_t values[2] = {0, 0};
  for (auto& v : values) {
    while (i < b.size() && (std::isspace(b[i]) || b[i] == '#')) {
      if (b[i] == '#') {
        while (i < b.size() && b[i] != '\n') ++i;
      } else {
        ++i;
      }
    }
    std::size_t digits = 0;
    while (i < b.size() && std::isdigit(b[i]) && digits < 12) {
      v = v * 10 + (b[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return;
  }
  setSize(h, values[0], values[1]);
}

void readWebp(Bytes b, ImageHeader& h) {
  if (startsWith(b, "VP8 ", 4, 12) && b.size() >= 30) {
    setSize(h, le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF);
  } else if (startsWith(b, "VP8L", 4, 12) && b.size() >= 25) {
    const std::uint32_t bits = le32(b, 21);
    setSize(h, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  } else if (startsWith(b, "VP8X", 4, 12) && b.size() >= 30) {
    const std::int64_t w = (b[24] | (b[25] << 8) | (b[26] << 16)) + 1;
    const std::int64_t ht = (b[27] | (b[28] << 8) | (b[29] << 16)) + 1;
    setSize(h, w, ht);
  }
}

}  // namespace

ImageHeader readImageHeader(std::span<const std::uint8_t> b) {
  ImageHeader h;
  auto image = [&](const char* name) {
    h.format = name;
    h.isImage = true;
  };
  if (startsWith(b, "\x89PNG\r\n\x1a\n", 8)) {
    image("PNG");
    if (b.size() >= 24 && startsWith(b, "IHDR", 4, 12)) setSize(h, be32(b, 16), be32(b, 20));
  } else if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    image("JPEG");
    readJpeg(b, h);
  } else if (startsWith(b, "GIF87a", 6) || startsWith(b, "GIF89a", 6)) {
    image("GIF");
    if (b.size() >= 10) setSize(h, le16(b, 6), le16(b, 8));
  } else if (startsWith(b, "BM", 2) && b.size() >= 26) {
    image("BMP");
    if (le32(b, 14) == 12) {
      setSize(h, le16(b, 18), le16(b, 20));
    } else {
      const auto w = static_cast<std::int32_t>(le32(b, 18));
      const auto ht = static_cast<std::int32_t>(le32(b, 22));
      setSize(h, std::abs(static_cast<std::int64_t>(w)), std::abs(static_cast<std::int64_t>(ht)));
    }
  } else if (startsWith(b, "RIFF", 4) && startsWith(b, "WEBP", 4, 8)) {
    image("WebP");
    readWebp(b, h);
  } else if (b.size() >= 8 && (startsWith(b, "II*\0", 4) || startsWith(b, "MM\0*", 4))) {
    image("TIFF");
    readTiff(b, h);
  } else if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && std::isspace(b[2])) {
    image("PNM");
    if (b[1] != '7') readPnm(b, h);
  } else if (startsWith(b, "\x76\x2f\x31\x01", 4)) {
    image("OpenEXR");
  } else if (startsWith(b, "#?RADIANCE", 10) || startsWith(b, "#?RGBE", 6)) {
    image("Radiance HDR");
  } else if (startsWith(b, "\x00\x00\x00\x0cjP  ", 8) || startsWith(b, "\xff\x4f\xff\x51", 4)) {
    image("JPEG 2000");
  } else if (startsWith(b, "\x59\xa6\x6a\x95", 4)) {
    image("Sun raster");
  } else if (startsWith(b, "PF\n", 3) || startsWith(b, "Pf\n", 3)) {
    image("PFM");
  } else if (startsWith(b, "%PDF", 4)) {
    h.format = "PDF";
  } else if (startsWith(b, "PK\x03\x04", 4) || startsWith(b, "PK\x05\x06", 4)) {
    h.format = "ZIP";
  } else if (startsWith(b, "\x93NUMPY", 6)) {
    h.format = "NumPy";
  } else if (b.size() >= 10 && b[8] == '{' && b[9] == '"') {
    h.format = "safetensors";
  }
  return h;
}

}  // namespace patchlens
