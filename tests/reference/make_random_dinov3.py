#!/usr/bin/python3
"""A random DINOv3 checkpoint in Meta's .pth layout, made by Meta's own constructor (dinov3's
DinoVisionTransformer with the hub's ViT settings, every parameter redrawn as in
dinov3_fixtures.py), for screenshots and the bench: no trained checkpoint can be downloaded here,
so its maps show a random model's structure, not DINOv3's.

    /usr/bin/python3 tests/reference/make_random_dinov3.py DINOV3_SRC OUT.pth [small|base]

small: ViT-S/16 (384 wide, 6 heads, 12 blocks); base: ViT-B/16 (768, 12, 12). 4 storage tokens,
RoPE base 100, LayerScale, MLP ratio 4, 224 x 224 native size.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dinov3_fixtures  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    size = sys.argv[3] if len(sys.argv) > 3 else "small"
    widths = {"small": (384, 6), "base": (768, 12)}
    if size not in widths:
        sys.exit(f"unknown size {size!r}: small or base")
    dim, heads = widths[size]
    cls = dinov3_fixtures.import_dinov3(src)
    torch.manual_seed(0)
    model = dinov3_fixtures.make_model(cls, np.random.default_rng(3), img_size=224, patch_size=16,
                                       embed_dim=dim, depth=12, num_heads=heads, ffn_ratio=4)
    torch.save(dinov3_fixtures.state_dict(model), out)
    print(f"wrote {out}: random DINOv3 ViT-{size[0].upper()}/16, Meta layout")


if __name__ == "__main__":
    main()
