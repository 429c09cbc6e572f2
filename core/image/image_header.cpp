#include "core/image/image_header.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

namespace patchlens {
namespace {

using Bytes = std::span<const std::uint8_t>;

bool startsWith(Bytes b, const char* magic, std::size_t n, std::size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}
std::uint32_t be16(Bytes b, std::size_t i) {
  return (std::uint32_t{b[i]} << 8) | b[i + 1];
}
std::uint32_t be32(Bytes b, std::size_t i) {
  return (be16(b, i) << 16) | be16(b, i + 2);
}
std::uint32_t le16(Bytes b, std::size_t i) {
  return (std::uint32_t{b[i + 1]} << 8) | b[i];
}
std::uint32_t le32(Bytes b, std::size_t i) {
  return (le16(b, i + 2) << 16) | le16(b, i);
}

void setSize(ImageHeader& h, std::int64_t w, std::int64_t ht) {
  h.width = w;
  h.height = ht;
  h.hasSize = true;
}

// Walks the markers as libjpeg's next_marker() does, so the size found here is the one the
// decoder will use: bytes between segments are skipped as garbage, FF fill bytes and FF 00
// are not markers, and a length below 2 skips nothing past the length itself.
void readJpeg(Bytes b, ImageHeader& h) {
  std::size_t i = 2;
  for (;;) {
    while (i < b.size() && b[i] != 0xFF) ++i;  // discarded bytes
    while (i < b.size() && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= b.size()) break;
    const std::uint8_t marker = b[i++];
    if (marker == 0x00) continue;  // FF 00 outside a scan: garbage
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) break;  // end, or start of scan: size must be known
    if (i + 2 > b.size()) break;
    const bool isFrame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (isFrame) {
      if (i + 7 <= b.size()) setSize(h, be16(b, i + 5), be16(b, i + 3));
      break;
    }
    i += std::max<std::uint32_t>(be16(b, i), 2);
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

// Skips whitespace and '#' comments to the end of their line (the netpbm header syntax).
void skipSpaceAndComments(Bytes b, std::size_t& i) {
  while (i < b.size() && (std::isspace(b[i]) || b[i] == '#')) {
    if (b[i] == '#') {
      while (i < b.size() && b[i] != '\n') ++i;
    } else {
      ++i;
    }
  }
}

// Reads up to 12 decimal digits at i into v; false when there is none.
bool readDigits(Bytes b, std::size_t& i, std::int64_t& v) {
  std::size_t digits = 0;
  v = 0;
  while (i < b.size() && std::isdigit(b[i]) && digits < 12) {
    v = v * 10 + (b[i++] - '0');
    ++digits;
  }
  return digits > 0;
}

void readPnm(Bytes b, ImageHeader& h) {
  std::size_t i = 2;
  std::int64_t values[2] = {0, 0};
  for (auto& v : values) {
    skipSpaceAndComments(b, i);
    if (!readDigits(b, i, v)) return;
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

// PAM: "WIDTH n" and "HEIGHT n" lines before ENDHDR.
void readPam(Bytes b, ImageHeader& h) {
  std::int64_t w = -1, ht = -1;
  std::size_t i = 2;
  auto token = [&] {
    skipSpaceAndComments(b, i);
    const std::size_t start = i;
    while (i < b.size() && !std::isspace(b[i]) && i - start < 16) ++i;
    return std::string(reinterpret_cast<const char*>(b.data()) + start, i - start);
  };
  auto number = [&](std::int64_t& v) {
    skipSpaceAndComments(b, i);
    if (!readDigits(b, i, v)) v = -1;
  };
  for (int tokens = 0; tokens < 64 && i < b.size(); ++tokens) {
    const std::string t = token();
    if (t == "ENDHDR") break;
    if (t == "WIDTH") number(w);
    if (t == "HEIGHT") number(ht);
  }
  if (w >= 0 && ht >= 0) setSize(h, w, ht);
}

// Radiance HDR as OpenCV's RGBE reader takes it: the line after the first blank line
// is "-Y <height> +X <width>".
void readHdr(Bytes b, ImageHeader& h) {
  const std::size_t limit = std::min<std::size_t>(b.size(), 64 * 1024);
  std::size_t i = 0;
  while (i + 1 < limit && !(b[i] == '\n' && b[i + 1] == '\n')) ++i;
  if (i + 1 >= limit) return;
  i += 2;
  auto literal = [&](const char* text) {
    while (i < b.size() && std::isspace(b[i]) && b[i] != '\n') ++i;
    for (; *text; ++text, ++i) {
      if (i >= b.size() || b[i] != static_cast<std::uint8_t>(*text)) return false;
    }
    return true;
  };
  auto integer = [&](std::int64_t& v) {
    while (i < b.size() && std::isspace(b[i]) && b[i] != '\n') ++i;
    const bool negative = i < b.size() && b[i] == '-';
    if (i < b.size() && (b[i] == '-' || b[i] == '+')) ++i;
    if (!readDigits(b, i, v)) return false;
    if (negative) v = -v;
    return true;
  };
  std::int64_t ht = 0, w = 0;
  if (literal("-Y") && integer(ht) && literal("+X") && integer(w)) setSize(h, w, ht);
}

// JPEG 2000 codestream: the SIZ segment right after SOC gives the reference grid.
bool readJ2kSize(Bytes b, std::size_t at, std::int64_t& w, std::int64_t& ht) {
  if (at + 24 > b.size() || b[at] != 0xFF || b[at + 1] != 0x4F || b[at + 2] != 0xFF ||
      b[at + 3] != 0x51)
    return false;
  w = std::int64_t{be32(b, at + 8)} - std::int64_t{be32(b, at + 16)};
  ht = std::int64_t{be32(b, at + 12)} - std::int64_t{be32(b, at + 20)};
  return true;
}

// JP2: the larger of the 'ihdr' box and the codestream's SIZ, in case they disagree.
void readJp2(Bytes b, ImageHeader& h) {
  std::int64_t w = -1, ht = -1;
  auto keep = [&](std::int64_t bw, std::int64_t bh) {
    w = std::max(w, bw);
    ht = std::max(ht, bh);
  };
  // Boxes: 4-byte length (1: 8-byte length follows, 0: to the end), 4-byte type.
  auto walk = [&](std::size_t at, std::size_t end, auto& self, int depth) -> void {
    for (int boxes = 0; at + 8 <= end && boxes < 256; ++boxes) {
      std::uint64_t length = be32(b, at);
      std::size_t header = 8;
      if (length == 1) {
        if (at + 16 > end) return;
        length = (std::uint64_t{be32(b, at + 8)} << 32) | be32(b, at + 12);
        header = 16;
      } else if (length == 0) {
        length = end - at;
      }
      if (length < header || length > end - at) length = end - at;  // truncated: read what is there
      const std::size_t content = at + header;
      if (startsWith(b, "jp2h", 4, at + 4) && depth == 0) self(content, at + length, self, 1);
      if (startsWith(b, "ihdr", 4, at + 4) && content + 8 <= b.size())
        keep(be32(b, content + 4), be32(b, content));
      std::int64_t cw = 0, ch = 0;
      if (startsWith(b, "jp2c", 4, at + 4) && readJ2kSize(b, content, cw, ch)) keep(cw, ch);
      at += length;
    }
  };
  walk(0, b.size(), walk, 0);
  if (w >= 0 && ht >= 0) setSize(h, w, ht);
}

// OpenEXR: the dataWindow attribute (box2i: xMin, yMin, xMax, yMax) of the first header.
void readExr(Bytes b, ImageHeader& h) {
  std::size_t i = 8;
  auto cString = [&](std::string& out) {
    const std::size_t start = i;
    while (i < b.size() && b[i] != 0 && i - start < 256) ++i;
    if (i >= b.size() || b[i] != 0) return false;
    out.assign(reinterpret_cast<const char*>(b.data()) + start, i - start);
    ++i;
    return true;
  };
  for (int attributes = 0; attributes < 1024; ++attributes) {
    std::string name, type;
    if (!cString(name) || name.empty() || !cString(type) || i + 4 > b.size()) return;
    const std::uint32_t size = le32(b, i);
    i += 4;
    if (size > b.size() - i) return;
    if (name == "dataWindow" && type == "box2i" && size == 16) {
      const auto at = [&](std::size_t k) {
        return std::int64_t{static_cast<std::int32_t>(le32(b, i + 4 * k))};
      };
      setSize(h, at(2) - at(0) + 1, at(3) - at(1) + 1);
      return;
    }
    i += size;
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
    image(b[1] == '7' ? "PAM" : "PNM");
    if (b[1] == '7') {
      readPam(b, h);
    } else {
      readPnm(b, h);
    }
  } else if (startsWith(b, "\x76\x2f\x31\x01", 4)) {
    image("OpenEXR");
    readExr(b, h);
  } else if (startsWith(b, "#?RADIANCE", 10) || startsWith(b, "#?RGBE", 6)) {
    image("Radiance HDR");
    readHdr(b, h);
  } else if (startsWith(b, "\x00\x00\x00\x0cjP  ", 8)) {
    image("JPEG 2000");
    readJp2(b, h);
  } else if (startsWith(b, "\xff\x4f\xff\x51", 4)) {
    image("JPEG 2000");
    std::int64_t w = 0, ht = 0;
    if (readJ2kSize(b, 0, w, ht)) setSize(h, w, ht);
  } else if (startsWith(b, "\x59\xa6\x6a\x95", 4)) {
    image("Sun raster");
    if (b.size() >= 12) setSize(h, be32(b, 4), be32(b, 8));
  } else if (b.size() >= 3 && b[0] == 'P' && (b[1] == 'F' || b[1] == 'f') && std::isspace(b[2])) {
    image("PFM");
    readPnm(b, h);
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
