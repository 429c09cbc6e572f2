#!/usr/bin/python3
"""Writes the hostile image corpus tests/data/bad/images/ and its manifest.

Each file is something a person might drop on PatchLens; expected.tsv says how it must
end: exit status 1 with a one-line reason containing the given text (CLI), the same
message in the window (GUI). Run: /usr/bin/python3 tests/reference/make_bad_files.py
(with `models`: only tests/data/bad/models/, the checkpoints whose settings ask too much).
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "bad", "images")


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, idat=None, depth=8, colour=2):
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    if idat is not None:
        body += chunk(b"IDAT", idat)
    return body + chunk(b"IEND", b"")


def real_png():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def real_jpeg():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def jpeg_with_size(width, height):
    """A JPEG whose SOF0 declares width x height, followed by no usable scan."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + b"\x00" * 64 + b"\xff\xd9"


def tiff(width, height, next_ifd=0, ifd_offset=8):
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 0)]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        ifd += struct.pack("<HHII", tag, typ, count, value)
    ifd += struct.pack("<I", next_ifd)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd


def tiff_entries(entries, extra=b"", big=False):
    """A little-endian TIFF (or BigTIFF) whose first IFD holds the given (tag, type, count, value)
    entries in that order; value is an int (inline) or bytes (stored after the IFD, offset filled in)."""
    if big:
        head = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16)
        ifd_at, entry_size, count_fmt, entry_fmt, next_fmt = 16, 20, "<Q", "<HHQQ", "<Q"
    else:
        head = b"II*\x00" + struct.pack("<I", 8)
        ifd_at, entry_size, count_fmt, entry_fmt, next_fmt = 8, 12, "<H", "<HHII", "<I"
    data_at = ifd_at + struct.calcsize(count_fmt) + entry_size * len(entries) + struct.calcsize(next_fmt)
    ifd, data = struct.pack(count_fmt, len(entries)), b""
    for tag, typ, count, value in entries:
        if isinstance(value, bytes):
            ifd += struct.pack(entry_fmt, tag, typ, count, data_at + len(data))
            data += value
        else:
            ifd += struct.pack(entry_fmt, tag, typ, count, value)
    return head + ifd + struct.pack(next_fmt, 0) + data + extra


def tiff_wide(width, height, samples, bits, sample_format=1):
    """A strip TIFF declaring samples x bits per pixel (BitsPerSample and SampleFormat per sample)."""
    bps = struct.pack("<%dH" % samples, *([bits] * samples))
    fmt = struct.pack("<%dH" % samples, *([sample_format] * samples))
    return tiff_entries([(256, 4, 1, width), (257, 4, 1, height), (258, 3, samples, bps), (259, 3, 1, 1),
                         (262, 3, 1, 2), (273, 4, 1, 0), (277, 3, 1, samples), (278, 4, 1, height),
                         (279, 4, 1, 0), (339, 3, samples, fmt)])


def progressive_jpeg(size=64, cmyk=False):
    buf = io.BytesIO()
    rng = np.random.default_rng(3)
    if cmyk:
        Image.fromarray(rng.integers(0, 255, (size, size, 4), dtype=np.uint8), "CMYK").save(buf, "JPEG", progressive=True)
    else:
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90, progressive=True)
    return buf.getvalue()


def jpeg_segments(data):
    """Splits a JPEG into (marker, bytes) pieces: headers, and each scan with its entropy data."""
    pieces, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        if marker == 0xD9:
            pieces.append((marker, data[i:i + 2]))
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        end = i + 2 + length
        if marker == 0xDA:  # entropy-coded data up to the next marker that is not FF00 / RSTn
            while not (data[end] == 0xFF and data[end + 1] not in (0x00,) and not 0xD0 <= data[end + 1] <= 0xD7):
                end += 1
        pieces.append((marker, data[i:end]))
        i = end
    return pieces


def many_scans(scans):
    """A valid progressive JPEG whose last AC refinement scan is repeated until it has `scans` scans:
    legal markers, each scan a full pass over the image for libjpeg."""
    pieces = jpeg_segments(progressive_jpeg(16))
    head = b"".join(p for m, p in pieces if m != 0xDA and m != 0xD9)
    scan_list = [p for m, p in pieces if m == 0xDA]
    body = b"".join(scan_list) + scan_list[-1] * (scans - len(scan_list))
    return b"\xff\xd8" + head + body + b"\xff\xd9"


def jpeg_sof2(width, height, components):
    """A progressive frame header with no scan data (150 bytes claiming a huge image)."""
    comps = b"".join(struct.pack(">BBB", c + 1, 0x11, 0) for c in range(components))
    sof = b"\xff\xc2" + struct.pack(">HBHHB", 8 + 3 * components, 8, height, width, components) + comps
    dqt = b"\xff\xdb\x00\x43\x00" + bytes(range(1, 65))
    # A DC-first scan of every component with no entropy-coded data at all.
    sos = b"\xff\xda" + struct.pack(">HB", 6 + 2 * components, components) + \
        b"".join(struct.pack(">BB", c + 1, 0) for c in range(components)) + b"\x00\x00\x00"
    return b"\xff\xd8" + dqt + sof + sos + b"\xff\xd9"


def jp2_empty(width, height, components):
    """A JP2 box structure (ihdr + a codestream SIZ) with no packet data: about 90 bytes."""
    ihdr = b"ihdr" + struct.pack(">IIHBBBB", height, width, components, 7, 7, 0, 0)
    jp2h = struct.pack(">I", 8 + 8 + len(ihdr) - 4) + b"jp2h" + struct.pack(">I", 4 + len(ihdr)) + ihdr
    siz = b"\xff\x4f\xff\x51" + struct.pack(">HHIIIIIIIIH", 38 + 3 * components, 0, width, height, 0, 0,
                                             width, height, 0, 0, components) + b"\x07\x01\x01" * components
    jp2c = struct.pack(">I", 8 + len(siz) + 2) + b"jp2c" + siz + b"\xff\xd9"
    return b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00\x00\x00\x14ftypjp2 \x00\x00\x00\x00jp2 " + jp2h + jp2c


def webp_lossless(width, height, alpha):
    bits = (width - 1) | ((height - 1) << 14) | ((1 if alpha else 0) << 28)
    payload = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 16
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBPVP8L" + struct.pack("<I", len(payload)) + payload


def bmp(width, height, truncate=False):
    header = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 16, 2835, 2835, 0, 0)
    return header + dib + (b"" if truncate else b"\x00" * 16)


def main():
    os.makedirs(OUT, exist_ok=True)
    good_png = real_png()
    good_jpeg = real_jpeg()
    rng = np.random.default_rng(42)
    cases = [
        # file, bytes, expected text in the one-line reason
        ("empty.png", b"", "empty file"),
        ("plain_text.png", b"this is not an image\n" * 10, "not an image format"),
        ("pdf_named.png", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "content is a PDF"),
        ("zip_named.jpg", b"PK\x03\x04" + b"\x00" * 60, "content is a ZIP"),
        ("numpy_named.png", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "content is a NumPy"),
        ("random_bytes.jpg", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not an image format"),
        ("zeros.png", b"\x00" * 4096, "not an image format"),
        ("png_signature_only.png", b"\x89PNG\r\n\x1a\n", "corrupt or truncated PNG"),
        ("png_truncated.png", good_png[: len(good_png) // 3], "corrupt or truncated PNG"),
        ("png_bad_idat.png", png(64, 64, zlib.compress(b"\x00" * 10)[:-4] + b"\xde\xad\xbe\xef"), "corrupt or truncated PNG"),
        ("png_no_idat.png", png(64, 64), "corrupt or truncated PNG"),
        ("png_bomb_60000.png", png(60000, 60000, zlib.compress(b"\x00" * 1000)), "over the limit"),
        ("png_bomb_1x200m.png", png(1, 200_000_000, zlib.compress(b"\x00" * 1000)), "over the limit"),
        ("png_dims_2g.png", png(0x7FFFFFFF, 0x7FFFFFFF, b""), "over the limit"),
        ("png_zero_width.png", png(0, 64, zlib.compress(b"\x00" * 100)), "empty image"),
        ("png_16bit_truncated.png", png(64, 64, zlib.compress(b"\x00" * 1000)[:20], depth=16), "corrupt or truncated PNG"),
        ("jpeg_soi_only.jpg", b"\xff\xd8\xff", "corrupt or truncated JPEG"),
        ("jpeg_header_only.jpg", good_jpeg[:200], "corrupt or truncated JPEG"),
        ("jpeg_bomb_65500.jpg", jpeg_with_size(65500, 65500), "over the limit"),
        ("jpeg_zero_size.jpg", jpeg_with_size(0, 0), "empty image"),
        # Found by fuzz_image: an APP0 of length 0 and garbage before the SOF, which libjpeg
        # skips; a header reader that stopped there let a 400 MP frame through to decode.
        ("jpeg_bad_app0_bomb.jpg", b"\xff\xd8\xff\xe0\x00\x00garbage" + jpeg_with_size(20000, 20000)[2:], "over the limit"),
        ("jpeg_garbage_after_soi.jpg", b"\xff\xd8\xff\xe0" + rng.integers(0, 256, 2048, dtype=np.uint8).tobytes(), "corrupt or truncated JPEG"),
        ("gif_bomb.gif", b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00;", "over the limit"),
        ("gif_truncated.gif", b"GIF89a" + struct.pack("<HH", 10, 10) + b"\x80", "GIF is not supported"),
        ("bmp_bomb.bmp", bmp(100000, 100000), "over the limit"),
        ("bmp_truncated.bmp", bmp(64, 64, truncate=True), "corrupt or truncated BMP"),
        ("tiff_bomb.tiff", tiff(100000, 100000), "over the limit"),
        # Found by fuzz_image: 32-bit sides whose product overflows int64.
        ("tiff_dims_4g.tiff", tiff(0xFFFFFFFF, 0xD2DAD2D1), "over the limit"),
        ("tiff_ifd_loop.tiff", tiff(64, 64, next_ifd=8), "corrupt or truncated TIFF"),
        ("tiff_truncated.tiff", b"II*\x00\x08\x00\x00\x00\x09\x00", "corrupt or truncated TIFF"),
        ("webp_bomb.webp", b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
         + (16383 - 1).to_bytes(3, "little") + (16383 - 1).to_bytes(3, "little"), "over the limit"),
        ("webp_truncated.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00", "corrupt or truncated WebP"),
        ("pnm_bomb.ppm", b"P6\n100000 100000\n255\n" + b"\x00" * 100, "over the limit"),
        ("pnm_truncated.ppm", b"P6\n64 64\n255\n" + b"\x00" * 100, "corrupt or truncated PNM"),
        ("exr_garbage.exr", b"\x76\x2f\x31\x01" + rng.integers(0, 256, 512, dtype=np.uint8).tobytes(), "corrupt or truncated OpenEXR"),
        ("hdr_garbage.hdr", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 999999 +X 999999\n" + b"\x02" * 64, "over the limit"),
        ("jp2_garbage.jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 64, "corrupt or truncated JPEG 2000"),
        # Valid (0.9 MP; libpng caps height at 1M) but crop mode would resize the 1 px side to 248: 248 x 223M px.
        ("png_strip_1x900000.png", png(1, 900_000, zlib.compress(b"\x00\x80\x80\x80" * 900_000, 9)), "aspect ratio is too extreme"),
        ("sunraster_garbage.ras", b"\x59\xa6\x6a\x95" + b"\xff" * 28, "over the limit"),
        ("sunraster_truncated.ras", b"\x59\xa6\x6a\x95" + struct.pack(">IIIIIII", 64, 64, 24, 64 * 64 * 3, 1, 0, 0), "corrupt or truncated Sun raster"),
        # Every format is sized from its header before decoding (bombs of 40000 x 40000).
        ("exr_bomb.exr", b"\x76\x2f\x31\x01\x02\x00\x00\x00" + b"dataWindow\x00box2i\x00" + struct.pack("<Iiiii", 16, 0, 0, 39999, 39999) + b"\x00", "over the limit"),
        ("exr_no_size.exr", b"\x76\x2f\x31\x01\x02\x00\x00\x00" + b"compression\x00compression\x00" + struct.pack("<IB", 1, 0) + b"\x00", "no image size"),
        ("j2k_bomb.j2k", b"\xff\x4f\xff\x51" + struct.pack(">HHIIIIIIIIH", 41, 0, 40000, 40000, 0, 0, 40000, 40000, 0, 0, 3) + b"\x07\x01\x01" * 3, "over the limit"),
        ("jp2_bomb.jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + struct.pack(">I", 45) + b"jp2h" + struct.pack(">I", 22) + b"ihdr" + struct.pack(">IIHBBBB", 40000, 40000, 3, 7, 7, 0, 0) + b"\x00" * 15, "over the limit"),
        ("pam_bomb.pam", b"P7\nWIDTH 40000\nHEIGHT 40000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + b"\x00" * 64, "over the limit"),
        ("pfm_bomb.pfm", b"PF\n40000 40000\n-1\n" + b"\x00" * 64, "over the limit"),
        ("hdr_bad_size_line.hdr", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n+X 64 -Y 64\n" + b"\x02" * 64, "no image size"),
        # ---- Memory bombs under the pixel limit (issue 13, class 1): refused by the decode budget.
        ("png16_rgba_10000.png", png(10000, 10000, zlib.compress(b"\x00" * 1000), depth=16, colour=6), "over the decode memory limit"),
        ("png16_rgb_9000.png", png(9000, 9000, zlib.compress(b"\x00" * 1000), depth=16, colour=2), "over the decode memory limit"),
        ("tiff16_rgba_10000.tiff", tiff_wide(10000, 10000, 4, 16), "over the decode memory limit"),
        ("tiff_f64_rgb_10000.tiff", tiff_wide(10000, 10000, 3, 64, 3), "over the decode memory limit"),
        ("webp_lossless_rgba_10000.webp", webp_lossless(10000, 10000, True), "over the decode memory limit"),
        ("webp_lossless_rgb_9000.webp", webp_lossless(9000, 9000, False), "over the decode memory limit"),
        ("jpeg_progressive_10000.jpg", jpeg_sof2(10000, 10000, 3), "over the decode memory limit"),
        ("jpeg_progressive_cmyk_8000.jpg", jpeg_sof2(8000, 8000, 4), "over the decode memory limit"),
        ("jp2_empty_10000.jp2", jp2_empty(10000, 10000, 3), "over the decode memory limit"),
        ("jp2_empty_gray_9000.jp2", jp2_empty(9000, 9000, 1), "over the decode memory limit"),
        # ---- TIFF header tricks (class 2): every tag type read; duplicates and odd types refused.
        ("tiff_long8_size.tiff", tiff_entries([(256, 16, 1, struct.pack("<Q", 16000)), (257, 16, 1, struct.pack("<Q", 16000)),
                                               (258, 3, 1, 8), (262, 3, 1, 1), (273, 4, 1, 0), (279, 4, 1, 0)]), "over the limit"),
        ("bigtiff_long8_size.tiff", tiff_entries([(256, 16, 1, 30000), (257, 16, 1, 30000), (258, 3, 1, 8), (262, 3, 1, 1),
                                                  (273, 16, 1, 0), (279, 16, 1, 0)], big=True), "over the limit"),
        ("tiff_width_twice.tiff", tiff_entries([(256, 4, 1, 16000), (256, 4, 1, 100), (257, 4, 1, 100), (258, 3, 1, 8),
                                                (262, 3, 1, 1), (273, 4, 1, 0), (279, 4, 1, 0)]), "gives ImageWidth twice"),
        ("tiff_height_twice_short_long.tiff", tiff_entries([(256, 3, 1, 100), (257, 3, 1, 100), (257, 4, 1, 16000), (258, 3, 1, 8),
                                                            (262, 3, 1, 1), (273, 4, 1, 0), (279, 4, 1, 0)]), "gives ImageLength twice"),
        ("tiff_width_rational.tiff", tiff_entries([(256, 5, 1, struct.pack("<II", 16000, 1)), (257, 4, 1, 100), (258, 3, 1, 8),
                                                   (262, 3, 1, 1), (273, 4, 1, 0), (279, 4, 1, 0)]), "ImageWidth has type 5"),
        ("tiff_width_offset_outside.tiff", tiff_entries([(256, 16, 1, 0xFFFFFF00), (257, 4, 1, 100), (258, 3, 1, 8), (262, 3, 1, 1)]),
         "points outside the file"),
        # ---- JPEG CPU bombs (class 3): more scans than libjpeg-turbo's tools allow.
        ("jpeg_600_scans.jpg", many_scans(600), "more than the limit of 500"),
        ("jpeg_4000_scans.jpg", many_scans(4000), "more than the limit of 500"),
    ]
    with open(os.path.join(OUT, "expected.tsv"), "w") as manifest:
        manifest.write("# file\texpected text in the error (exit status 1)\n")
        for name, data, reason in cases:
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(data)
            manifest.write(f"{name}\t{reason}\n")
    print(len(cases), "hostile images in", os.path.normpath(OUT))
    make_warnings(good_jpeg)


WARN_OUT = os.path.join(HERE, "..", "data", "bad", "warnings")


def make_warnings(good_jpeg):
    """Images that decode (exit 0) but must be warned about on stderr, one line each."""
    os.makedirs(WARN_OUT, exist_ok=True)
    big = io.BytesIO()
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(big, "JPEG", quality=90)
    baseline = big.getvalue()
    progressive = progressive_jpeg(256)
    zip_tail = b"PK\x03\x04" + bytes(range(256)) * 4
    # A 100 x 100 gray PNG whose single IDAT inflates to 100 MB: 10 kB of rows, then zeros.
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(b"\x00" * (1 << 20)) for _ in range(100)) + z.flush()
    cases = [
        ("png_idat_inflates_100mb.png", png(100, 100, idat, depth=8, colour=0),
         "the compressed image data goes on after the last row"),
        ("jpeg_trailer.jpg", good_jpeg + bytes(range(1, 256)) * 8, "bytes of data after the end of the image are ignored"),
        ("jpeg_zip_polyglot.jpg", good_jpeg + zip_tail, "bytes of data after the end of the image are ignored"),
        ("jpeg_truncated_progressive_eoi.jpg", progressive[: len(progressive) // 2] + b"\xff\xd9", "the JPEG data is corrupt"),
        ("jpeg_truncated_baseline_eoi.jpg", baseline[: len(baseline) // 2] + b"\xff\xd9", "the JPEG data is corrupt"),
        ("jpeg_truncated_baseline.jpg", baseline[: len(baseline) // 2], "the JPEG data is truncated"),
        ("jpeg_truncated_progressive.jpg", progressive[: len(progressive) // 2], "the JPEG data is truncated"),
    ]
    with open(os.path.join(WARN_OUT, "expected.tsv"), "w") as manifest:
        manifest.write("# file\texpected text in the one warning line on stderr (exit status 0)\n")
        for name, data, warning in cases:
            with open(os.path.join(WARN_OUT, name), "wb") as f:
                f.write(data)
            manifest.write(f"{name}\t{warning}\n")
    print(len(cases), "images to warn about in", os.path.normpath(WARN_OUT))


MODELS_OUT = os.path.join(HERE, "..", "data", "bad", "models")


def make_models():
    """Checkpoints whose own settings (config sidecars, GGUF metadata, shapes) or the options
    ask for unbounded work or would give silent NaN: tiny files, one folder each (a sidecar is
    found beside its weights). expected.tsv: folder, the CLI arguments ({dir} is the folder,
    {image} a 64 x 64 PNG, {out} the output), the exit status, text of the one stderr line."""
    import json
    import shutil
    import sys
    sys.path.insert(0, HERE)
    from checkpoint_writers import T_FLOAT32, T_UINT32, T_UINT64, Typed, save_gguf
    from transformer_fixtures import Canon, state_gguf, state_timm, write_safetensors

    if os.path.isdir(MODELS_OUT):
        shutil.rmtree(MODELS_OUT)
    os.makedirs(MODELS_OUT)
    rng = np.random.default_rng(2412)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        os.path.join(MODELS_OUT, "input.png"))
    rows = []

    def folder(name):
        path = os.path.join(MODELS_OUT, name)
        os.makedirs(path)
        return path

    def timm(name, config=None, preprocessor=None, edit=None, patch=16, d=8, heads=2, regs=0):
        m = Canon(rng, d, 1, heads, patch, 4, 16, "F32", regs=regs, pos_prefix=0 if regs else None)
        state = state_timm(m)
        if edit:
            edit(state)
        path = folder(name)
        write_safetensors(os.path.join(path, "model.safetensors"), state, "F32")
        if config is not None:
            with open(os.path.join(path, "config.json"), "w") as f:
                json.dump(config, f)
        if preprocessor is not None:
            with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
                json.dump(preprocessor, f)

    def gguf(name, metadata, alignment=32):
        m = Canon(rng, 8, 1, 2, 16, 4, 16, "F32")
        meta = {"general.architecture": "clip", "clip.has_vision_encoder": True,
                "clip.vision.embedding_length": Typed(T_UINT32, 8),
                "clip.vision.block_count": Typed(T_UINT32, 1),
                "clip.vision.attention.head_count": Typed(T_UINT32, 2)}
        meta.update(metadata)
        save_gguf({k: np.asarray(v, np.float32) for k, v in state_gguf(m).items()}, meta,
                  os.path.join(folder(name), "mmproj.gguf"), alignment=alignment)

    def row(name, args, status, text, stdout=""):
        rows.append((name, args, str(status), text) + ((stdout,) if stdout else ()))

    st = "--weights {dir}/model.safetensors"
    fwd = "forward {image} " + st + " -o {out}.npz"
    heads2 = {"model_args": {"num_heads": 2}}

    # Valid: the tiny model runs (the harness itself is checked).
    timm("valid", heads2)
    row("valid", fwd, 0, "")
    # Sidecar values: integers exact and in range, floats finite and in range, activations by name.
    timm("heads_4294967300", {"num_attention_heads": 4294967300})
    row("heads_4294967300", fwd, 1, "num_attention_heads 4294967300 is not from 1 to 4096")
    timm("heads_4_5", {"num_attention_heads": 4.5})
    row("heads_4_5", fwd, 1, "num_attention_heads 4.5 is not an integer")
    timm("heads_string", {"model_args": {"num_heads": "2"}})
    row("heads_string", fwd, 1, "model_args.num_heads is not a number")
    timm("eps_negative", {"num_attention_heads": 2, "layer_norm_eps": -1e-3})
    row("eps_negative", fwd, 1, "layer_norm_eps -0.001 is not positive")
    timm("eps_huge", {"num_attention_heads": 2, "layer_norm_eps": 1e30})
    row("eps_huge", fwd, 1, "layer_norm_eps 1e+30 is not in")
    timm("eps_underflows_float", {"num_attention_heads": 2, "layer_norm_eps": 1e-60})
    row("eps_underflows_float", fwd, 1, "layer_norm_eps 1e-60 is not in")
    timm("act_relu", {"num_attention_heads": 2, "hidden_act": "relu"})
    row("act_relu", fwd, 1, "hidden_act 'relu' is not an activation the encoder runs")
    timm("act_layer_silu", {"model_args": {"num_heads": 2, "act_layer": "silu"}})
    row("act_layer_silu", fwd, 1, "model_args.act_layer 'silu' is not an activation")
    # GGUF metadata through the same validator.
    gguf("gguf_heads_float_4_5", {"clip.vision.attention.head_count": Typed(T_FLOAT32, 4.5)})
    row("gguf_heads_float_4_5", "forward {image} --weights {dir}/mmproj.gguf -o {out}.npz", 1,
        "clip.vision.attention.head_count 4.5 is not an integer")
    gguf("gguf_heads_4294967300", {"clip.vision.attention.head_count": Typed(T_UINT64, 4294967300)})
    row("gguf_heads_4294967300", "forward {image} --weights {dir}/mmproj.gguf -o {out}.npz", 1,
        "clip.vision.attention.head_count 4294967300 is not from 1 to 4096")
    gguf("gguf_eps_negative", {"clip.vision.attention.layer_norm_epsilon": Typed(T_FLOAT32, -1e-5)})
    row("gguf_eps_negative", "forward {image} --weights {dir}/mmproj.gguf -o {out}.npz", 1,
        "clip.vision.attention.layer_norm_epsilon -1")
    gguf("gguf_alignment_uint64", {"general.alignment": Typed(T_UINT64, 32)})
    row("gguf_alignment_uint64", "forward {image} --weights {dir}/mmproj.gguf -o {out}.npz", 1,
        "general.alignment 32 is stored as uint64, not as the uint32 the format defines")
    # Preprocessing sidecars: a bad value is named in a warning and the defaults are kept.
    gguf("gguf_mean_nan", {"clip.vision.image_mean": [float("nan"), 0.5, 0.5],
                           "clip.vision.image_std": [0.5, 0.5, 0.5]})
    row("gguf_mean_nan", "embed {image} --weights {dir}/mmproj.gguf -o {out}.npy", 0,
        "warning: {dir}/mmproj.gguf: clip.vision.image_mean[0] nan is not a finite number")
    gguf("gguf_std_subnormal", {"clip.vision.image_mean": [0.5, 0.5, 0.5],
                                "clip.vision.image_std": [1e-40, 0.5, 0.5]})
    row("gguf_std_subnormal", "embed {image} --weights {dir}/mmproj.gguf -o {out}.npy", 0,
        "clip.vision.image_std[0] 9.99995e-41 is not in [1e-06, 1000000]")
    timm("hf_std_subnormal", heads2, {"image_mean": [0.5, 0.5, 0.5], "image_std": [1e-39, 0.5, 0.5]})
    row("hf_std_subnormal", fwd, 0, "image_std[0] 1e-39 is not in [1e-06, 1000000]")
    timm("crop_pct_1e-9", {"num_heads": 2, "pretrained_cfg": {"crop_pct": 1e-9}})
    row("crop_pct_1e-9", "preprocess {image} " + st + " -o {out}.npy", 0,
        "crop_pct 1e-09 is not in [0.05, 1]")
    row("valid", "preprocess {image} " + st + " --crop-pct 1e-300 -o {out}.npy", 2,
        "--crop-pct needs a number in [0.05, 1]")
    # Resources: refused from the plan, before any compute, in one line naming the option.
    timm("patch_1", heads2, patch=1)
    # The blocked attention runs such sequences in O(T x D) memory: asking for the [H, T, T]
    # attention is what must be refused, before any compute.
    row("patch_1", fwd + " --img-size 224 --attention", 1, "(50177 tokens)")
    timm("registers_50000", heads2, d=4, regs=50000)
    row("registers_50000", fwd + " --attention", 1, "(50197 tokens)")
    timm("input_4096", {"num_heads": 2, "pretrained_cfg": {"input_size": [3, 4096, 4096]}})
    row("input_4096", fwd, 1, "pretrained_cfg.input_size 4096x4096 gives a 256 x 256 grid")
    row("input_4096", "preprocess {image} " + st + " --max-output-mb 100 -o {out}.npy", 1,
        "preprocess would write 192 MiB, over the output limit of 100 MiB; --max-output-mb N raises it")
    timm("input_16384", {"num_heads": 2, "pretrained_cfg": {"input_size": [3, 16384, 16384]}})
    row("input_16384", "preprocess {image} " + st + " -o {out}.npy", 1,
        "preprocess would write 3072 MiB")
    row("input_16384", "info {image} " + st, 1, "over the memory limit")
    row("valid", fwd + " --attention --img-size 4096", 1, "forward would write 32778 MiB (65537 tokens)")
    row("valid", "forward {image} " + st + " --layer final --img-size 1024 -o {out}.npy", 0, "")
    row("valid", "forward {image} " + st + " --attention --img-size 1536 -o {out}.npz", 1,
        "over the output limit of 256 MiB; --max-output-mb N raises it (or ask for less: "
        "--layer L, no --attention)")
    row("valid", "forward {image} " + st + " --img-size 2048 --max-memory-mb 64 -o {out}.npz", 1,
        "over the memory limit of 64 MiB; --max-memory-mb N raises it")
    row("valid", "export {image} " + st + " --plot attention:1 --img-size 4096 -o {out}.png", 1,
        "65537 tokens, attention")
    row("input_16384", "embed {image} " + st + " -o {out}.npy", 1, "the output limit of 256 MiB")
    # No silent NaN/Inf: huge-but-finite weights overflow in the MLP.
    def overflow(state):
        state["blocks.0.mlp.fc2.weight"] = np.full_like(state["blocks.0.mlp.fc2.weight"], 3e38)
    timm("weights_overflow", heads2, edit=overflow)
    row("weights_overflow", fwd, 1, "non-finite values (NaN/Inf) in the output, first appearing in tokens_1")
    row("weights_overflow", fwd + " --allow-nonfinite", 0,
        "warning: {dir}/model.safetensors: ")
    ex = "explain {image} " + st + " --target similar:0,0 -o {out}.npz"
    row("weights_overflow", ex, 1, "non-finite values (NaN/Inf) in explain's arrays, first in the final tokens")
    row("weights_overflow", ex + " --allow-nonfinite", 0, "warning: {dir}/model.safetensors: ")
    def patch_overflow(state):
        state["patch_embed.proj.weight"] = np.full_like(state["patch_embed.proj.weight"], 3e38)
    timm("patch_overflow", heads2, edit=patch_overflow)
    row("patch_overflow", "embed {image} " + st + " -o {out}.npy", 1,
        "non-finite values (NaN/Inf) in the output, first appearing in the patch embedding")
    # Memory follows the file's real bytes: a stride-0 view of one float as an MLP weight.
    import torch
    from checkpoint_writers import save_torch_zip
    m = Canon(rng, 8, 1, 2, 16, 4, 16, "F32")
    sd = {k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in state_timm(m).items()}
    sd["blocks.0.mlp.fc1.weight"] = torch.ones(1).expand(16, 8)
    save_torch_zip(sd, os.path.join(folder("pth_stride0_mlp"), "model.pth"))
    row("pth_stride0_mlp", "forward {image} --weights {dir}/model.pth -o {out}.npz", 1,
        "tensor 'blocks.0.mlp.fc1.weight' [16, 8] (strides [0, 0]) has 128 elements from a storage of 1")
    # info IMAGE --weights W reports the file's width, not the default 768.
    row("valid", "info {image} " + st, 0, "", "embedding [196, 8] with --weights")

    def rezip_deflated(path):
        # torch.save stores its members; deflated (as any zip tool may rewrite them) the
        # shared or zero storages below take a few kB.
        import zipfile
        with zipfile.ZipFile(path) as zi:
            members = [(i.filename, zi.read(i.filename)) for i in zi.infolist()]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zo:
            for name, data in members:  # a fixed date: the same bytes on every run
                zo.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                            compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)

    # 3,000 blocks sharing block 1's storages (a small file once deflated): 2.3 GiB of
    # float32 weights to hold. `info` describes it from the headers (nothing converted); a
    # load is refused from the weights' plan before any block tensor is converted. The block's
    # values are one constant (they are never run), so its storages deflate to nothing.
    d = 128
    m = Canon(rng, d, 1, 2, 16, 4, 4 * d, "F32")
    sd = {k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in state_timm(m).items()}
    block = {k[len("blocks.0."):]: torch.full_like(v, 0.01)
             for k, v in sd.items() if k.startswith("blocks.0.")}
    for k, v in block.items():
        sd["blocks.0." + k] = v
    # The patch weight of few distinct values (embed runs it), so it deflates too.
    sd["patch_embed.proj.weight"] = torch.from_numpy(
        (rng.integers(-2, 3, size=(d, 3, 16, 16)) * 0.05).astype(np.float32))
    for i in range(1, 3000):
        for k, v in block.items():
            sd["blocks.%d.%s" % (i, k)] = v
    path = os.path.join(folder("pth_tied_3000_blocks"), "model.pth")
    save_torch_zip(sd, path)
    rezip_deflated(path)
    with open(os.path.join(MODELS_OUT, "pth_tied_3000_blocks", "config.json"), "w") as f:
        json.dump(heads2, f)
    row("pth_tied_3000_blocks", "info {dir}/model.pth", 0, "", "timm ViT, depth 3000, 2 heads")
    row("pth_tied_3000_blocks", "forward {image} --weights {dir}/model.pth -o {out}.npz", 1,
        "loading the encoder needs 2")
    row("pth_tied_3000_blocks", "embed {image} --weights {dir}/model.pth -o {out}.npy", 0, "")
    # Every tensor a small view at the start of one 256 MiB zero storage (0.25 MB deflated):
    # each read inflates only up to its view's end, not the whole storage.
    m = Canon(rng, 8, 1, 2, 16, 4, 16, "F32")
    big = torch.zeros(1 << 26)
    sd, offset = {}, 0
    for k, v in state_timm(m).items():
        v = torch.from_numpy(np.asarray(v, np.float32).copy())
        big[offset:offset + v.numel()] = v.flatten()
        sd[k] = big[offset:offset + v.numel()].view(v.shape)
        offset += v.numel()
    path = os.path.join(folder("pth_views_of_256mib_storage"), "model.pth")
    save_torch_zip(sd, path)
    rezip_deflated(path)
    with open(os.path.join(MODELS_OUT, "pth_views_of_256mib_storage", "config.json"), "w") as f:
        json.dump(heads2, f)
    row("pth_views_of_256mib_storage", "forward {image} --weights {dir}/model.pth -o {out}.npz", 0, "")

    # ---- Round three, rows added after the acceptance review (appended: the files above stay
    # byte-identical). A stride-0 pos_embed [1, 50,000,000, 8] of one float (1.6 GB as float32):
    # refused by name when the checkpoint is opened, by every command, before any tensor is read.
    m = Canon(rng, 8, 1, 2, 16, 4, 16, "F32")
    sd = {k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in state_timm(m).items()}
    sd["pos_embed"] = torch.ones(1).expand(1, 50_000_000, 8)
    save_torch_zip(sd, os.path.join(folder("pth_stride0_pos_embed"), "model.pth"))
    stride0 = ("tensor 'pos_embed' [1, 50000000, 8] (strides [0, 0, 0]) has 400000000 elements "
               "from a storage of 1")
    row("pth_stride0_pos_embed", "embed {image} --weights {dir}/model.pth -o {out}.npy", 1, stride0)
    row("pth_stride0_pos_embed", "forward {image} --weights {dir}/model.pth -o {out}.npz", 1, stride0)
    row("pth_stride0_pos_embed", "info {dir}/model.pth", 1, stride0)
    # Overlapping (not zero) strides: 17 rows of 8 read from a storage of 24 floats.
    sd = {k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in state_timm(m).items()}
    sd["pos_embed"] = torch.arange(24, dtype=torch.float32).as_strided((1, 17, 8), (0, 1, 1))
    save_torch_zip(sd, os.path.join(folder("pth_overlapping_pos_embed"), "model.pth"))
    row("pth_overlapping_pos_embed", "forward {image} --weights {dir}/model.pth -o {out}.npz", 1,
        "tensor 'pos_embed' [1, 17, 8] (strides [0, 1, 1]) has 136 elements from a storage of 24")

    # Hand-made .pth pickles: negative strides and offsets, a member name climbing out with '..'.
    from checkpoint_fixtures import torch_zip, tensor_pickle
    kernel = np.zeros((8, 3, 16, 16), "<f4").tobytes()

    def pth(name, data):
        with open(os.path.join(folder(name), "model.pth"), "wb") as f:
            f.write(data)

    pth("pth_negative_stride", torch_zip(tensor_pickle((8, 3, 16, 16), (768, 256, 16, -1)), {"0": kernel}))
    row("pth_negative_stride", "embed {image} --weights {dir}/model.pth -o {out}.npy", 1,
        "tensor size or stride is not a non-negative integer")
    pth("pth_negative_offset", torch_zip(tensor_pickle((8, 3, 16, 16), (768, 256, 16, 1), offset=-4),
                                         {"0": kernel}))
    row("pth_negative_offset", "embed {image} --weights {dir}/model.pth -o {out}.npy", 1,
        "tensor has a negative storage offset")
    pth("pth_member_dotdot", torch_zip(tensor_pickle((8, 3, 16, 16), (768, 256, 16, 1)), {"0": kernel},
                                       extra={"archive/data/../../../tmp/evil": b"x"}))
    row("pth_member_dotdot", "embed {image} --weights {dir}/model.pth -o {out}.npy", 1,
        "zip member name 'archive/data/../../../tmp/evil' climbs out with '..'")
    pth("pth_storage_key_dotdot", torch_zip(tensor_pickle((8, 3, 16, 16), (768, 256, 16, 1),
                                                          key="../../x"), {"../../x": kernel}))
    row("pth_storage_key_dotdot", "info {dir}/model.pth", 1, "climbs out with '..'")

    # The unpickler's byte budget through the CLI: a 64 kB memoised string made into a new value
    # 30,000 times (1.9 GB if copied) by NEWOBJ of a __torch__ class, STACK_GLOBAL, or
    # _codecs.encode; deflated, each file is a few kB.
    def u32(n):
        return struct.pack("<I", n)

    module = b"__torch__." + b"a" * 65536
    class_head = b"\x80\x02X" + u32(len(module)) + module + b"q\x00X\x01\x00\x00\x00Mq\x01" + b"00"
    text = b"b" * 65536
    amplifiers = {
        "newobj": (class_head + b"h\x00h\x01\x93q\x02" + b"0", b"h\x02)\x81" + b"0"),
        "stack_global": (class_head, b"h\x00h\x01\x93" + b"0"),
        "codecs_encode": (b"\x80\x02c_codecs\nencode\nq\x00X" + u32(len(text)) + text +
                          b"q\x01X\x06\x00\x00\x00latin1q\x02" + b"000", b"h\x00h\x01h\x02\x86R" + b"0"),
    }
    for name, (head, use) in amplifiers.items():
        folder_name = "pth_memo_amplifier_" + name
        path = os.path.join(folder(folder_name), "model.pth")
        with open(path, "wb") as f:
            f.write(torch_zip(head + use * 30000 + b"N."))
        rezip_deflated(path)
        row(folder_name, "info {dir}/model.pth", 1, "more than 256 MiB of values")

    # Sidecar and metadata values an attacker would try next: absurd sizes, NaN written as JSON
    # NaN (not valid JSON) or as a string, a head count that does not divide the width.
    timm("input_size_1e308", {"num_heads": 2, "pretrained_cfg": {"input_size": [3, 1e308, 1e308]}})
    row("input_size_1e308", fwd, 0, "input_size H 1e+308 is not from 1 to 16384; preprocessing defaults kept")
    timm("eps_nan_literal", {"num_attention_heads": 2, "layer_norm_eps": float("nan")})
    row("eps_nan_literal", fwd, 1, "is not valid JSON (a NaN or Infinity literal is not JSON)")
    timm("eps_nan_string", {"num_attention_heads": 2, "layer_norm_eps": "nan"})
    row("eps_nan_string", fwd, 1, "layer_norm_eps is not a number")
    timm("heads_3_of_8", {"num_attention_heads": 3})
    row("heads_3_of_8", fwd, 1, "3 heads (config.json num_attention_heads) do not divide the width 8")
    timm("heads_0", {"model_args": {"num_heads": 0}})
    row("heads_0", fwd, 1, "model_args.num_heads 0 is not from 1 to 4096")
    row("valid", fwd + " --heads 3", 1, "3 heads (--heads) do not divide the width 8")
    timm("mean_1e308", heads2, {"image_mean": [1e308, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
    row("mean_1e308", fwd, 0, "image_mean[0] 1e+308 is not in [-1000000, 1000000]")
    timm("crop_pct_nan", {"num_heads": 2, "pretrained_cfg": {"crop_pct": float("nan")}})
    row("crop_pct_nan", "preprocess {image} " + st + " -o {out}.npy", 0,
        "not valid JSON; preprocessing defaults kept")
    gguf("gguf_image_size_4e9", {"clip.vision.image_size": Typed(T_UINT32, 4_000_000_000)})
    row("gguf_image_size_4e9", "forward {image} --weights {dir}/mmproj.gguf --img-size 64 -o {out}.npz", 0,
        "clip.vision.image_size 4000000000 is not from 1 to 16384")
    gguf("gguf_heads_3_of_8", {"clip.vision.attention.head_count": Typed(T_UINT32, 3)})
    row("gguf_heads_3_of_8", "forward {image} --weights {dir}/mmproj.gguf -o {out}.npz", 1,
        "3 heads (GGUF metadata clip.vision.attention.head_count) do not divide the width 8")
    gguf("gguf_eps_nan", {"clip.vision.attention.layer_norm_epsilon": Typed(T_FLOAT32, float("nan"))})
    row("gguf_eps_nan", "forward {image} --weights {dir}/mmproj.gguf -o {out}.npz", 1,
        "clip.vision.attention.layer_norm_epsilon nan is not a finite number")
    # info describes the family readers' checkpoints (DINOv3, timm eva.py, BEiT) from their
    # headers alone: every tensor but the patch embedding, class token and pos_embed (which the
    # patch embedding's description reads) NaN (right names, shapes and dtypes;
    # deflated to a few kB) is still described, while forward refuses the first one it converts.
    data = os.path.join(HERE, "..", "data")
    for name, source, weights, family in [
            ("dinov3_nan_tensors", "dinov3/meta_vit_swiglu_pth", "model.pth",
             "transformer: Meta DINOv3 (4 storage tokens, RoPE, SwiGLU), depth 2, 4 heads"),
            ("eva_nan_tensors", "eva/eva02_base_clip", "model.pth", "transformer: timm EVA-02 (RoPE"),
            ("beit_nan_tensors", "beit/hf_beit", "pytorch_model.bin", "transformer: HF BeitModel")]:
        sd = torch.load(os.path.join(data, source, weights))
        for k, v in sd.items():
            if v.is_floating_point() and not any(s in k for s in ("patch_embed", "cls_token", "pos_embed")):
                sd[k] = torch.full_like(v, float("nan"))
        path = os.path.join(folder(name), weights)
        save_torch_zip(sd, path)
        rezip_deflated(path)
        for sidecar in ("config.json", "preprocessor_config.json"):
            if os.path.exists(os.path.join(data, source, sidecar)):
                shutil.copy(os.path.join(data, source, sidecar), os.path.join(MODELS_OUT, name, sidecar))
        row(name, "info {dir}/" + weights, 0, "", family)
        row(name, "forward {image} --weights {dir}/" + weights + " -o {out}.npz", 1,
            "holds non-finite values (NaN or Inf)")

    # The encoder's own image-size keys (the native grid): never ignored when they hold no size.
    timm("img_size_negative", {"model_args": {"num_heads": 2, "img_size": -224}})
    row("img_size_negative", fwd, 1, "model_args.img_size -224 is not an image size")
    timm("image_size_1e308", {"num_attention_heads": 2, "image_size": 1e308})
    row("image_size_1e308", fwd, 1, "image_size 1e+308 is not an image size")

    with open(os.path.join(MODELS_OUT, "expected.tsv"), "w") as manifest:
        manifest.write("# folder\targuments\texit status\ttext of the one stderr line"
                       "\t(optional) text stdout holds\n")
        for r in rows:
            manifest.write("\t".join(r) + "\n")
    print(len(rows), "model cases in", os.path.normpath(MODELS_OUT))


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["models"]:
        make_models()
    else:
        main()
        make_models()
