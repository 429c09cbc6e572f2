#!/usr/bin/python3
"""Writes a random ViT-B checkpoint in timm's names (safetensors, F32) for the memory and speed
checks of `patchlens-cli forward`:

    /usr/bin/python3 tests/bench/make_vit_checkpoint.py OUT.safetensors [--patch 14 --grid 37]

The defaults are DINOv2 ViT-B/14 at 518 x 518: a 37 x 37 grid, 1,369 patches + the class token.
12 blocks, width 768, MLP 3072; heads are not stored (PatchLens guesses 12 from the width).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from weight_fixtures import raw_safetensors  # noqa: E402
import json  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--patch", type=int, default=14)
    parser.add_argument("--grid", type=int, default=37)
    parser.add_argument("--depth", type=int, default=12)
    args = parser.parse_args()
    d, m, p = 768, 3072, args.patch
    rng = np.random.default_rng(0)
    tensors = {"cls_token": (1, 1, d), "pos_embed": (1, 1 + args.grid ** 2, d),
               "patch_embed.proj.weight": (d, 3, p, p), "patch_embed.proj.bias": (d,),
               "norm.weight": (d,), "norm.bias": (d,)}
    for i in range(args.depth):
        b = f"blocks.{i}."
        tensors.update({b + "norm1.weight": (d,), b + "norm1.bias": (d,), b + "attn.qkv.weight": (3 * d, d),
                        b + "attn.qkv.bias": (3 * d,), b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
                        b + "norm2.weight": (d,), b + "norm2.bias": (d,), b + "mlp.fc1.weight": (m, d),
                        b + "mlp.fc1.bias": (m,), b + "mlp.fc2.weight": (d, m), b + "mlp.fc2.bias": (d,)})
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    head = raw_safetensors(json.dumps(header, separators=(",", ":")).encode(), b"")
    with open(args.out, "wb") as f:
        f.write(head)
        for name, shape in tensors.items():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                a = np.ones(shape, np.float32)
            else:
                a = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype("<f4")
            f.write(a.tobytes())
    print(f"wrote {args.out}: {os.path.getsize(args.out) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
