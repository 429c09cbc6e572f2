#!/usr/bin/python3
"""JPEG decoder parity fixtures: tests/data/images/jpeg/.

JPEGs written by PIL (quality 90, 4:2:0 and 4:4:4, progressive, gray, CMYK, every EXIF
orientation) and, next to each, PIL's own decode of it as a lossless PNG (<name>.pil.png):
PIL decodes with the same libjpeg-turbo (islow IDCT, fancy upsampling) as PatchLens, so
tst_jpeg_decoder expects equality. Run through make_reference.py or on its own.
"""
import io
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def main(data_dir):
    out = os.path.join(data_dir, "images", "jpeg")
    os.makedirs(out, exist_ok=True)
    chelsea = Image.open(os.path.join(data_dir, "chelsea.png")).convert("RGB")
    coffee = Image.open(os.path.join(data_dir, "coffee.png")).convert("RGB").crop((150, 80, 350, 230))
    cases = {
        "chelsea_q90_420": (chelsea, dict(quality=90, subsampling=2)),
        "chelsea_q90_444": (chelsea, dict(quality=90, subsampling=0)),
        "chelsea_q90_progressive": (chelsea, dict(quality=90, subsampling=2, progressive=True)),
        "coffee_q90_420": (coffee, dict(quality=90, subsampling=2)),
        "coffee_q90_422_progressive": (coffee, dict(quality=90, subsampling=1, progressive=True)),
        "chelsea_gray_q90": (chelsea.convert("L"), dict(quality=90)),
        "chelsea_cmyk_q90": (chelsea.convert("CMYK"), dict(quality=90)),
    }
    for name, (image, options) in cases.items():
        path = os.path.join(out, name + ".jpg")
        image.save(path, "JPEG", **options)
        decoded = Image.open(path)
        decoded.load()
        if image.mode != "CMYK":  # PIL converts CMYK its own way; the test compares with OpenCV
            decoded.convert("RGB").save(os.path.join(out, name + ".pil.png"))
    # Every EXIF orientation on a non-square image (the expected result comes from OpenCV's
    # imread in the test, which applies the tag as PatchLens must).
    small = chelsea.resize((48, 32), Image.BILINEAR)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        small.save(os.path.join(out, f"orientation_{orientation}.jpg"), "JPEG", quality=90, exif=exif.tobytes())
    # PNGs with an eXIf orientation (PIL writes the chunk; OpenCV applies it, so must we).
    for orientation in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        small.save(os.path.join(out, f"orientation_{orientation}.png"), "PNG", exif=exif.tobytes())
    print("JPEG fixtures in", os.path.normpath(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data"))
