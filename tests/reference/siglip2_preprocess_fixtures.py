#!/usr/bin/python3
"""Hugging Face Siglip2ImageProcessor (SigLIP 2 NaFlex) image preprocessing, written from its
documented behaviour with PIL as the resampler:

  1. the target size: a binary search over the scale s in [1e-6, 100] (bisect until the
     interval is under 1e-5) for the largest s whose height ceil(H*s/P)*P and width
     ceil(W*s/P)*P (each at least P) hold at most max_num_patches patches;
  2. the whole image resized to it with PIL's resize (BILINEAR, resample 2), no crop;
  3. float32(x * (1/255) in float64), then (x - mean) / std in float32, channels first.

The padding to max_num_patches is masked out of attention, so it is not part of the input.

--check-hf FILE runs FILE's own get_image_size_for_max_num_patches (transformers'
models/siglip2/image_processing_siglip2.py, fetched by hand, not vendored) on every row of
sizes.tsv and asserts it agrees with ours (done once, when the fixtures were made).

    /usr/bin/python3 tests/reference/siglip2_preprocess_fixtures.py [DATA_DIR] [--check-hf FILE]

Writes DATA_DIR/siglip2_hf/processor/: preprocessor_config.json (patch 8, the vision fixture's;
max_num_patches 24), sizes.tsv (H W P max -> target H W), <name>.png test images and
<name>_input.npy (float32 [3, h, w]) for each.
"""
import ast
import json
import math
import os
import sys

import numpy as np
from PIL import Image

PATCH = 8
MAX_PATCHES = 24


def target_size(height, width, patch, max_patches):
    def scaled(scale, size):
        return max(patch, math.ceil(size * scale / patch) * patch)

    low, high = 1e-6, 100.0
    while high - low >= 1e-5:
        mid = (low + high) / 2
        if (scaled(mid, height) / patch) * (scaled(mid, width) / patch) <= max_patches:
            low = mid
        else:
            high = mid
    return scaled(low, height), scaled(low, width)


def model_input(image, patch, max_patches, mean=0.5, std=0.5):
    h, w = target_size(image.height, image.width, patch, max_patches)
    resized = np.asarray(image.resize((w, h), resample=Image.BILINEAR))
    x = (resized.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x.transpose(2, 0, 1).astype(np.float32))


def size_rows():
    rows = []
    for (h, w) in [(1, 1), (3, 5), (7, 500), (500, 7), (1, 4000), (224, 224), (300, 451),
                   (451, 300), (480, 640), (720, 1280), (1080, 1920), (1000, 17), (33, 97),
                   (256, 256), (255, 257), (4000, 3000), (12345, 678)]:
        for (patch, budget) in [(16, 256), (16, 1024), (14, 729), (8, 24), (16, 1), (16, 2),
                                (32, 100)]:
            rows.append((h, w, patch, budget) + target_size(h, w, patch, budget))
    return rows


def check_hf(path, rows):
    # Only the function itself is taken from the file (its module imports transformers).
    tree = ast.parse(open(path).read())
    fn = next(n for n in tree.body
              if isinstance(n, ast.FunctionDef) and n.name == "get_image_size_for_max_num_patches")
    fn.decorator_list = []
    namespace = {"math": math, "Tuple": tuple}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), path, "exec"), namespace)
    hf = namespace["get_image_size_for_max_num_patches"]
    for h, w, patch, budget, th, tw in rows:
        assert hf(h, w, patch, budget) == (th, tw), (h, w, patch, budget, hf(h, w, patch, budget))
    print(f"{len(rows)} sizes agree with {path}")


def test_images(data_dir):
    rng = np.random.default_rng(7)
    images = {}
    # Smooth gradients with noise: resampling errors show, PNG stays small.
    for name, (h, w) in {"wide": (41, 93), "tall": (120, 37), "tiny": (3, 5)}.items():
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255.0 / max(w - 1, 1), y * 255.0 / max(h - 1, 1),
                         128 + 100 * np.sin((x + y) / 5.0)], axis=-1)
        noisy = base + rng.normal(0, 12, base.shape)
        images[name] = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")
    images["chelsea"] = Image.open(os.path.join(data_dir, "chelsea.png")).convert("RGB")
    return images


def main():
    args = sys.argv[1:]
    hf_file = None
    if "--check-hf" in args:
        i = args.index("--check-hf")
        hf_file = args[i + 1]
        del args[i:i + 2]
    data_dir = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "data")
    out = os.path.join(data_dir, "siglip2_hf", "processor")
    os.makedirs(out, exist_ok=True)
    rows = size_rows()
    if hf_file:
        check_hf(hf_file, rows)
    with open(os.path.join(out, "sizes.tsv"), "w") as f:
        f.write("# height\twidth\tpatch\tmax_patches\ttarget_height\ttarget_width\n")
        for row in rows:
            f.write("\t".join(str(v) for v in row) + "\n")
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "Siglip2ImageProcessor", "processor_class": "Siglip2Processor",
                   "do_resize": True, "max_num_patches": MAX_PATCHES, "patch_size": PATCH,
                   "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255,
                   "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                   "image_std": [0.5, 0.5, 0.5], "do_convert_rgb": None}, f, indent=1)
    for name, image in test_images(data_dir).items():
        if name != "chelsea":
            image.save(os.path.join(out, name + ".png"))
        x = model_input(image, PATCH, MAX_PATCHES)
        np.save(os.path.join(out, name + "_input.npy"), x)
        print(name, image.size, "->", x.shape)


if __name__ == "__main__":
    main()
