#!/usr/bin/python3
"""Regenerates the PyTorch reference fixtures under tests/data/.

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-pil,
python3-numpy):   /usr/bin/python3 tests/reference/make_reference.py

The C++ tests compare PatchLens against these files. Nothing here calls PatchLens:
every expected value comes from PIL, torchvision or torch.nn.functional.conv2d.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
REF = os.path.join(DATA, "reference")

INTERP = {
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "nearest": transforms.InterpolationMode.NEAREST,
}
NORMS = {
    "inception": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def resize_crop_pipeline(height, width, crop_pct, interp):
    """timm's eval transform (transforms_factory.transforms_imagenet_eval), crop mode."""
    scale = (math.floor(height / crop_pct), math.floor(width / crop_pct))
    if scale[0] == scale[1]:
        resize = transforms.Resize(scale[0], interpolation=INTERP[interp])
    else:
        # timm's ResizeKeepRatio (longest=0): the shorter side matches its target.
        def resize(img, scale=scale):
            w, h = img.size
            ratio = min(h / scale[0], w / scale[1])
            size = (round(h / ratio), round(w / ratio))
            return transforms.functional.resize(img, size, interpolation=INTERP[interp])
    return [resize, transforms.CenterCrop((height, width))]


def squash_pipeline(height, width, interp):
    return [transforms.Resize((height, width), interpolation=INTERP[interp])]


def pad_pipeline(height, width, interp):
    """Letterbox: fit inside, centre on black, offsets floor((target - size) / 2)."""
    def letterbox(img):
        w, h = img.size
        scale = min(width / w, height / h)
        nw = min(max(round(w * scale), 1), width)
        nh = min(max(round(h * scale), 1), height)
        resized = img.resize((nw, nh), resample=INTERP_PIL[interp])
        canvas = Image.new("RGB", (width, height))
        canvas.paste(resized, ((width - nw) // 2, (height - nh) // 2))
        return canvas
    return [letterbox]


INTERP_PIL = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST}


def model_input(img, mode, height, width, crop_pct, interp):
    if mode == "crop":
        steps = resize_crop_pipeline(height, width, crop_pct, interp)
    elif mode == "squash":
        steps = squash_pipeline(height, width, interp)
    else:
        steps = pad_pipeline(height, width, interp)
    for step in steps:
        img = step(img)
    return img


def save_png(img, path):
    img.save(path, optimize=True)


def make_preprocess_fixtures():
    """8-bit model inputs (PNG) for every interpolation and resize mode, plus one
    normalised float tensor per normalisation to pin ToTensor + Normalize."""
    out = os.path.join(REF, "preprocess")
    os.makedirs(out, exist_ok=True)
    cases = []
    small = Image.open(os.path.join(DATA, "coffee.png")).convert("RGB").crop((200, 40, 290, 110))
    small.save(os.path.join(DATA, "coffee_small.png"))  # 90x70: the upscaling path
    images = ["chelsea.png", "coffee.png", "coffee_small.png"]
    for name in images:
        img = Image.open(os.path.join(DATA, name)).convert("RGB")
        stem = os.path.splitext(name)[0]
        for mode in ("crop", "squash", "pad"):
            for interp in ("bicubic", "bilinear", "nearest"):
                cases.append((stem, name, mode, interp, 224, 224, 0.9))
        cases.append((stem, name, "crop", "bicubic", 160, 256, 0.9))
        cases.append((stem, name, "crop", "bilinear", 224, 224, 1.0))
    lines = []
    for stem, name, mode, interp, h, w, pct in cases:
        img = Image.open(os.path.join(DATA, name)).convert("RGB")
        result = model_input(img, mode, h, w, pct, interp)
        fixture = f"{stem}_{mode}_{interp}_{h}x{w}_{int(pct * 100)}.png"
        save_png(result, os.path.join(out, fixture))
        lines.append(f"{fixture}\t{name}\t{mode}\t{interp}\t{h}\t{w}\t{pct}\n")
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# fixture\timage\tresize\tinterp\theight\twidth\tcrop_pct\n")
        f.writelines(lines)

    # Full torchvision tensors (ToTensor + Normalize) for the default pipeline.
    img = Image.open(os.path.join(DATA, "chelsea.png")).convert("RGB")
    for norm, (mean, std) in NORMS.items():
        t = transforms.Compose(resize_crop_pipeline(224, 224, 0.9, "bicubic") +
                               [transforms.ToTensor(), transforms.Normalize(mean, std)])(img)
        np.save(os.path.join(out, f"chelsea_tensor_{norm}.npy"), t.numpy().astype("<f4"))


class SplitMix64:
    """The generator PatchLens documents for its initializers (core/model/seeded_random.h)."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def uniform01(self):
        return (self.next() >> 11) * 2.0 ** -53


def xavier_reference(dim, channels, patch, seed):
    """Glorot uniform on the [D, C*P*P] view, drawn in row-major order, bias zero."""
    fan_in = channels * patch * patch
    bound = math.sqrt(6.0 / (fan_in + dim))
    rng = SplitMix64(seed)
    values = np.empty(dim * fan_in, dtype=np.float64)
    for i in range(values.size):
        values[i] = -bound + (2.0 * bound) * rng.uniform01()
    return values.astype(np.float32).reshape(dim, channels, patch, patch)


def conv_reference(x, w, b, patch):
    """What a ViT computes: proj(x).flatten(2).transpose(1, 2)."""
    xt = torch.from_numpy(x)[None]
    wt = torch.from_numpy(w)
    bt = torch.from_numpy(b) if b is not None else None
    y = F.conv2d(xt, wt, bt, stride=patch)
    return y.flatten(2).transpose(1, 2)[0].contiguous().numpy().astype("<f4")


def make_embedding_fixtures():
    out = os.path.join(REF, "embed")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261126)
    lines = []
    # name, C, H, W, P, D, bias
    cases = [
        ("d64_p16_64x64", 3, 64, 64, 16, 64, True),
        ("d64_p16_48x80", 3, 48, 80, 16, 64, True),
        ("d64_p16_50x83_remainder", 3, 50, 83, 16, 64, True),
        ("d64_p14_56x84", 3, 56, 84, 14, 64, True),
        ("d64_p32_96x64", 3, 96, 64, 32, 64, True),
        ("d48_p8_gray_40x24_nobias", 1, 40, 24, 8, 48, False),
    ]
    for name, c, h, w, p, d, bias in cases:
        x = rng.standard_normal((c, h, w)).astype(np.float32)
        wt = (rng.standard_normal((d, c, p, p)) * 0.05).astype(np.float32)
        b = (rng.standard_normal(d) * 0.1).astype(np.float32) if bias else None
        y = conv_reference(x, wt, b, p)
        np.save(os.path.join(out, f"{name}_input.npy"), x)
        np.save(os.path.join(out, f"{name}_weight.npy"), wt)
        if b is not None:
            np.save(os.path.join(out, f"{name}_bias.npy"), b)
        np.save(os.path.join(out, f"{name}_output.npy"), y)
        lines.append(f"{name}\t{p}\t{int(bias)}\n")
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# name\tpatch\thas_bias\n")
        f.writelines(lines)

    # The real thing: vit_base_patch16_224's input for chelsea, xavier seed 0 weights
    # (re-derived here from the documented generator), torch's conv2d.
    x = np.load(os.path.join(REF, "preprocess", "chelsea_tensor_inception.npy"))
    w = xavier_reference(768, 3, 16, 0)
    y = conv_reference(x, w, np.zeros(768, np.float32), 16)
    np.save(os.path.join(out, "vitb16_chelsea_xavier0_output.npy"), y)
    # A few weights to pin the generator itself without committing 2.4 MB.
    np.save(os.path.join(out, "xavier0_d768_first_filters.npy"), w[:4])


def make_image_fixtures():
    """Decoder corner cases written by PIL: gray, gray+alpha, RGBA, palette, 16-bit, EXIF."""
    out = os.path.join(DATA, "images")
    os.makedirs(out, exist_ok=True)
    base = Image.open(os.path.join(DATA, "coffee.png")).convert("RGB").resize((120, 80), Image.BICUBIC)
    base.save(os.path.join(out, "rgb.png"))
    base.convert("L").save(os.path.join(out, "gray.png"))
    base.convert("LA").save(os.path.join(out, "gray_alpha.png"))
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(os.path.join(out, "rgba.png"))
    base.convert("P", palette=Image.ADAPTIVE, colors=16).save(os.path.join(out, "palette.png"))
    base.save(os.path.join(out, "rgb.jpg"), quality=95)
    base.save(os.path.join(out, "rgb.bmp"))
    base.save(os.path.join(out, "rgb.tiff"))
    base.save(os.path.join(out, "rgb.webp"), lossless=True)
    # 16-bit RGB PNG holding v * 256 + x: its high byte is v (PIL cannot write 16-bit RGB).
    arr16 = np.asarray(base).astype(np.uint16) * 256 + np.arange(120, dtype=np.uint16)[None, :, None]
    write_png16(os.path.join(out, "rgb16.png"), arr16)
    base.convert("CMYK").save(os.path.join(out, "cmyk.jpg"), quality=95)
    base.save(os.path.join(out, "two_pages.tiff"), save_all=True, append_images=[base.transpose(Image.FLIP_LEFT_RIGHT)])
    # EXIF orientation 6 (rotate 90 clockwise to display): stored 120 wide x 80 high.
    exif = Image.Exif()
    exif[0x0112] = 6
    base.save(os.path.join(out, "exif_rotate90.jpg"), quality=95, exif=exif.tobytes())


def make_npy_fixtures():
    """numpy's own .npy writer in every dtype/order the reader accepts: values
    arange(24) * 0.25 - 2 in shape (2, 3, 4), exact in every float width."""
    out = os.path.join(DATA, "npy")
    os.makedirs(out, exist_ok=True)
    base = (np.arange(24, dtype=np.float64) * 0.25 - 2.0).reshape(2, 3, 4)
    for descr in ("<f4", ">f4", "<f2", ">f2", "<f8", ">f8"):
        np.save(os.path.join(out, f"arange_{descr[0] == '<' and 'le' or 'be'}_{descr[1:]}.npy"), base.astype(descr))
    np.save(os.path.join(out, "arange_fortran_f4.npy"), np.asfortranarray(base.astype("<f4")))
    for version in ((2, 0), (3, 0)):
        with open(os.path.join(out, f"arange_v{version[0]}_f4.npy"), "wb") as f:
            np.lib.format.write_array(f, base.astype("<f4"), version=version)


def write_png16(path, arr):
    import struct
    import zlib
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    torch.set_num_threads(1)
    make_preprocess_fixtures()
    make_embedding_fixtures()
    make_image_fixtures()
    make_npy_fixtures()
    try:
        import weight_fixtures  # written alongside: pretrained-weight layouts per family
    except ImportError:
        weight_fixtures = None
    if weight_fixtures is not None:
        weight_fixtures.main(DATA)
        # PyTorch .pth/.bin/.pt and GGUF checkpoints, hostile pickles (appended to the corpus
        # weight_fixtures just wrote), fuzz seeds; writers reusable in checkpoint_writers.py.
        import checkpoint_fixtures
        checkpoint_fixtures.main(DATA)
    import jpeg_fixtures  # PIL-written JPEGs and PIL's decode of each, for the JPEG decoder
    jpeg_fixtures.main(DATA)
    import analyses_fixtures  # numpy references for the core analyses (PCA, similarity, lstsq)
    analyses_fixtures.main(DATA)
    import attention_fixtures  # numpy references for rollout, attention distance, depth norms, foreground PCA
    attention_fixtures.main(DATA)
    import compare_fixtures  # numpy references for correspondences, joint PCA, --compare matches
    compare_fixtures.main(DATA)
    import transformer_fixtures  # tiny ViTs of every family and their PyTorch forward
    transformer_fixtures.main(DATA)
    # DINOv3 from Meta's own code (a checkout named by DINOV3_SRC; kept fixtures otherwise).
    if os.environ.get("DINOV3_SRC"):
        import dinov3_fixtures
        dinov3_fixtures.main(os.environ["DINOV3_SRC"], DATA)
        if os.environ.get("TIMM_SRC"):  # timm's DINOv3 port, rows appended to the same cases.tsv
            import dinov3_timm_fixtures
            dinov3_timm_fixtures.main(os.environ["TIMM_SRC"], DATA)
        import dinov3_hf_fixtures  # HF DINOv3ViTModel names, rows appended after timm's
        dinov3_hf_fixtures.main(os.environ["DINOV3_SRC"], DATA)
    else:
        print("DINOV3_SRC unset: tests/data/dinov3 kept as committed")
    if os.environ.get("TIMM_SRC"):  # timm eva.py: EVA-02, RoPE-ViT (tests/data/eva)
        import eva_fixtures
        eva_fixtures.main(os.environ["TIMM_SRC"], DATA)
    else:
        print("TIMM_SRC unset: tests/data/eva kept as committed")
    # BEiT / BEiT v2 / data2vec from timm's own beit.py (HF names by the conversion's renames).
    if os.environ.get("TIMM_SRC"):
        import beit_fixtures
        beit_fixtures.main(os.environ["TIMM_SRC"], DATA)
    else:
        print("TIMM_SRC unset: tests/data/beit kept as committed")
    import long_sequence_fixtures  # 993 tokens for the blocked attention
    long_sequence_fixtures.main(DATA)
    import explain_fixtures  # classifier heads and the exact backward: torch autograd references
    explain_fixtures.main(DATA)
    print("fixtures written under", os.path.normpath(DATA))


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
