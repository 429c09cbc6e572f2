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
// are not markers, and a length below 2 skips nothing past the length itself. After the
// frame header it goes on through the entropy-coded data to count the scans (SOS markers),
// which bounds a progressive decode's work before it starts.
void readJpeg(Bytes b, ImageHeader& h) {
  std::size_t i = 2;
  bool frame = false;
  for (;;) {
    // Discarded bytes, or entropy-coded data (memchr: the scan walk was 1.6 % of a batch).
    if (i < b.size()) {
      const void* ff = std::memchr(b.data() + i, 0xFF, b.size() - i);
      i = ff ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(ff) - b.data()) : b.size();
    }
    while (i < b.size() && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= b.size()) break;
    const std::uint8_t marker = b[i++];
    if (marker == 0x00) continue;  // FF 00: stuffed zero in a scan, garbage outside
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9) break;  // end of image
    if (marker == 0xDA) {
      if (!frame) break;  // a scan before the frame header: the size must be known first
      ++h.jpegScans;
    }
    if (i + 2 > b.size()) break;
    const bool isFrame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (isFrame && !frame) {
      if (i + 8 > b.size()) break;
      frame = true;
      setSize(h, be16(b, i + 5), be16(b, i + 3));
      h.bitsPerSample = b[i + 2];
      h.channels = b[i + 7];
      h.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE;
    }
    i += std::max<std::uint32_t>(be16(b, i), 2);
  }
}

// Every TIFF field type, by its byte size (0: not a type TIFF or BigTIFF defines).
std::size_t tiffTypeSize(std::uint32_t type) {
  switch (type) {
    case 1:  // BYTE
    case 2:  // ASCII
    case 6:  // SBYTE
    case 7:  // UNDEFINED
      return 1;
    case 3:  // SHORT
    case 8:  // SSHORT
      return 2;
    case 4:   // LONG
    case 9:   // SLONG
    case 11:  // FLOAT
    case 13:  // IFD
      return 4;
    case 5:   // RATIONAL
    case 10:  // SRATIONAL
    case 12:  // DOUBLE
    case 16:  // LONG8 (BigTIFF)
    case 17:  // SLONG8
    case 18:  // IFD8
      return 8;
    default:
      return 0;
  }
}

// Classic TIFF and BigTIFF: the first directory's size and sample tags, read whatever their
// type and wherever their value is (inline or at an offset), as libtiff reads them. A size
// tag given twice, of a non-integer type or pointing outside the file is a contradiction the
// decoder might resolve another way: it is reported in sizeError, never guessed.
void readTiff(Bytes b, ImageHeader& h) {
  const bool little = b[0] == 'I';
  const bool big = (little ? le16(b, 2) : be16(b, 2)) == 43;
  auto u16 = [&](std::size_t i) -> std::uint64_t { return little ? le16(b, i) : be16(b, i); };
  auto u32 = [&](std::size_t i) -> std::uint64_t { return little ? le32(b, i) : be32(b, i); };
  auto u64 = [&](std::size_t i) -> std::uint64_t {
    return little ? (u32(i + 4) << 32) | u32(i) : (u32(i) << 32) | u32(i + 4);
  };
  const std::size_t countSize = big ? 8 : 2;    // entries in a directory
  const std::size_t entrySize = big ? 20 : 12;  // tag, type, count, value or offset
  const std::size_t inlineSize = big ? 8 : 4;
  if (big && (b.size() < 16 || u16(4) != 8)) return;
  std::uint64_t ifd = big ? u64(8) : u32(4);
  int pages = 0;
  constexpr int kMaxPages = 4096;
  while (ifd != 0 && ifd <= b.size() - countSize && pages < kMaxPages) {
    const std::uint64_t entries = big ? u64(ifd) : u16(ifd);
    if (entries > (b.size() - ifd - countSize) / entrySize) break;
    const std::size_t first = ifd + countSize;
    const std::size_t nextAt = first + entries * entrySize;
    if (nextAt + (big ? 8 : 4) > b.size()) break;
    if (pages == 0) {
      std::int64_t w = -1, ht = -1, spp = 1, bps = 1, format = 1;
      bool seen[5] = {};  // width, height, bits, samples, format
      for (std::size_t e = 0; e < entries; ++e) {
        const std::size_t at = first + e * entrySize;
        const auto tag = static_cast<std::uint32_t>(u16(at));
        int slot = -1;
        if (tag == 256) slot = 0;
        if (tag == 257) slot = 1;
        if (tag == 258) slot = 2;
        if (tag == 277) slot = 3;
        if (tag == 339) slot = 4;
        if (slot < 0) continue;
        static const char* const kNames[] = {"ImageWidth", "ImageLength", "BitsPerSample",
                                             "SamplesPerPixel", "SampleFormat"};
        const std::string name = kNames[slot];
        if (seen[slot]) {
          h.sizeError = "the TIFF header gives " + name + " twice";
          return;
        }
        seen[slot] = true;
        const auto type = static_cast<std::uint32_t>(u16(at + 2));
        const std::uint64_t count = big ? u64(at + 4) : u32(at + 4);
        const std::size_t size = tiffTypeSize(type);
        const bool integer = type == 1 || type == 3 || type == 4 || type == 6 || type == 8 ||
                             type == 9 || type == 16 || type == 17;
        if (!integer || count == 0 || (slot < 2 && count != 1)) {
          h.sizeError = "the TIFF tag " + name + " has type " + std::to_string(type) + " and " +
                        std::to_string(count) + " values";
          return;
        }
        std::size_t value = at + 4 + (big ? 8 : 4);
        if (count > inlineSize / size) {
          const std::uint64_t offset = big ? u64(value) : u32(value);
          if (offset > b.size() || count > (b.size() - offset) / size) {
            if (slot == 2 || slot == 4) continue;  // per-sample lists only refine the estimate
            h.sizeError = "the TIFF tag " + name + " points outside the file";
            return;
          }
          value = offset;
        }
        // Signed types are read as two's complement; a negative size is a contradiction.
        auto read = [&](std::size_t k) -> std::int64_t {
          const std::size_t p = value + k * size;
          switch (type) {
            case 1:
              return b[p];
            case 6:
              return static_cast<std::int8_t>(b[p]);
            case 3:
              return static_cast<std::int64_t>(u16(p));
            case 8:
              return static_cast<std::int16_t>(u16(p));
            case 4:
              return static_cast<std::int64_t>(u32(p));
            case 9:
              return static_cast<std::int32_t>(u32(p));
            default:  // 16, 17: LONG8 / SLONG8; above 2^62 is no image size anyway
              return static_cast<std::int64_t>(std::min<std::uint64_t>(u64(p), 1ULL << 62));
          }
        };
        std::int64_t v = read(0);
        for (std::uint64_t k = 1; k < std::min<std::uint64_t>(count, 16); ++k)
          v = std::max(v, read(k));  // BitsPerSample per sample: the widest decides
        if (v < 0) {
          h.sizeError = "the TIFF tag " + name + " is negative";
          return;
        }
        (slot == 0 ? w : slot == 1 ? ht : slot == 2 ? bps : slot == 3 ? spp : format) = v;
      }
      if (w >= 0 && ht >= 0) setSize(h, w, ht);
      h.channels = static_cast<int>(std::clamp<std::int64_t>(spp, 1, 1 << 16));
      h.bitsPerSample = static_cast<int>(std::clamp<std::int64_t>(bps, 1, 1 << 16));
      h.floatSamples = format == 3;
    }
    ++pages;
    const std::uint64_t next = big ? u64(nextAt) : u32(nextAt);
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
  h.bitsPerSample = 8;
  h.channels = 3;
  if (startsWith(b, "VP8 ", 4, 12) && b.size() >= 30) {
    setSize(h, le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF);
  } else if (startsWith(b, "VP8L", 4, 12) && b.size() >= 25) {
    const std::uint32_t bits = le32(b, 21);
    setSize(h, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
    h.lossless = true;
    if (bits & (1u << 28)) h.channels = 4;  // alpha_is_used
  } else if (startsWith(b, "VP8X", 4, 12) && b.size() >= 30) {
    const std::int64_t w = (b[24] | (b[25] << 8) | (b[26] << 16)) + 1;
    const std::int64_t ht = (b[27] | (b[28] << 8) | (b[29] << 16)) + 1;
    setSize(h, w, ht);
    if (b[20] & 0x10) h.channels = 4;  // alpha flag
    // The image chunk after VP8X (possibly after ALPH/ICCP/...) may be lossless: assume it.
    h.lossless = true;
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
// Also keeps the component count (Csiz) and the widest precision (Ssiz) in h.
bool readJ2kSize(Bytes b, std::size_t at, std::int64_t& w, std::int64_t& ht, ImageHeader& h) {
  if (at + 24 > b.size() || b[at] != 0xFF || b[at + 1] != 0x4F || b[at + 2] != 0xFF ||
      b[at + 3] != 0x51)
    return false;
  w = std::int64_t{be32(b, at + 8)} - std::int64_t{be32(b, at + 16)};
  ht = std::int64_t{be32(b, at + 12)} - std::int64_t{be32(b, at + 20)};
  if (at + 42 <= b.size()) {
    const int components = static_cast<int>(be16(b, at + 40));
    h.channels = std::max(h.channels, components);
    for (int c = 0; c < components && at + 45 + 3 * static_cast<std::size_t>(c) <= b.size(); ++c)
      h.bitsPerSample = std::max(h.bitsPerSample, (b[at + 42 + 3 * c] & 0x7F) + 1);
  }
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
      if (startsWith(b, "ihdr", 4, at + 4) && content + 11 <= b.size()) {
        keep(be32(b, content + 4), be32(b, content));
        h.channels = std::max(h.channels, static_cast<int>(be16(b, content + 8)));
        h.bitsPerSample = std::max(h.bitsPerSample, (b[content + 10] & 0x7F) + 1);
      }
      std::int64_t cw = 0, ch = 0;
      if (startsWith(b, "jp2c", 4, at + 4) && readJ2kSize(b, content, cw, ch, h)) keep(cw, ch);
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
  h.floatSamples = true;
  h.bitsPerSample = 32;  // OpenCV reads every channel as float
  for (int attributes = 0; attributes < 1024; ++attributes) {
    std::string name, type;
    if (!cString(name) || name.empty() || !cString(type) || i + 4 > b.size()) return;
    const std::uint32_t size = le32(b, i);
    i += 4;
    if (size > b.size() - i) return;
    if (name == "dataWindow" && type == "box2i" && size == 16 && !h.hasSize) {
      const auto at = [&](std::size_t k) {
        return std::int64_t{static_cast<std::int32_t>(le32(b, i + 4 * k))};
      };
      setSize(h, at(2) - at(0) + 1, at(3) - at(1) + 1);
    }
    if (name == "channels" && type == "chlist") {
      // Entries: name NUL, then 16 bytes (type, pLinear, reserved, x and y sampling).
      int channels = 0;
      for (std::size_t k = i, end = i + size; k < end && b[k] != 0; ++channels) {
        while (k < end && b[k] != 0) ++k;
        k += 17;
      }
      h.channels = channels;
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
    if (b.size() >= 26) {
      static const int kChannels[] = {1, 0, 3, 3, 2, 0, 4};  // by colour type
      h.bitsPerSample = b[24];
      h.channels = b[25] <= 6 ? kChannels[b[25]] : 0;
    }
  } else if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    image("JPEG");
    readJpeg(b, h);
  } else if (startsWith(b, "GIF87a", 6) || startsWith(b, "GIF89a", 6)) {
    image("GIF");
    if (b.size() >= 10) setSize(h, le16(b, 6), le16(b, 8));
  } else if (startsWith(b, "BM", 2) && b.size() >= 26) {
    image("BMP");
    h.bitsPerSample = 8;
    h.channels = b.size() >= 30 && le16(b, 28) == 32 ? 4 : 3;
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
  } else if (b.size() >= 8 && (startsWith(b, "II*\0", 4) || startsWith(b, "MM\0*", 4) ||
                               startsWith(b, "II+\0", 4) || startsWith(b, "MM\0+", 4))) {
    image("TIFF");
    readTiff(b, h);
  } else if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && std::isspace(b[2])) {
    image(b[1] == '7' ? "PAM" : "PNM");
    h.channels = b[1] == '3' || b[1] == '6' ? 3 : 1;
    h.bitsPerSample = 16;  // maxval may exceed 255; the estimate stays on the safe side
    if (b[1] == '7') {
      h.channels = 4;
      readPam(b, h);
    } else {
      readPnm(b, h);
    }
  } else if (startsWith(b, "\x76\x2f\x31\x01", 4)) {
    image("OpenEXR");
    readExr(b, h);
  } else if (startsWith(b, "#?RADIANCE", 10) || startsWith(b, "#?RGBE", 6)) {
    image("Radiance HDR");
    h.channels = 3;
    h.bitsPerSample = 32;
    h.floatSamples = true;
    readHdr(b, h);
  } else if (startsWith(b, "\x00\x00\x00\x0cjP  ", 8)) {
    image("JPEG 2000");
    readJp2(b, h);
  } else if (startsWith(b, "\xff\x4f\xff\x51", 4)) {
    image("JPEG 2000");
    std::int64_t w = 0, ht = 0;
    if (readJ2kSize(b, 0, w, ht, h)) setSize(h, w, ht);
  } else if (startsWith(b, "\x59\xa6\x6a\x95", 4)) {
    image("Sun raster");
    h.channels = 4;
    h.bitsPerSample = 8;
    if (b.size() >= 12) setSize(h, be32(b, 4), be32(b, 8));
  } else if (b.size() >= 3 && b[0] == 'P' && (b[1] == 'F' || b[1] == 'f') && std::isspace(b[2])) {
    image("PFM");
    h.channels = b[1] == 'F' ? 3 : 1;
    h.bitsPerSample = 32;
    h.floatSamples = true;
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
