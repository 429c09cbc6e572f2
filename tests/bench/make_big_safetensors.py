#!/usr/bin/python3
"""Writes a ViT-B/16-sized timm checkpoint (~350 MB, F32, 152 tensors) as .safetensors, to
measure what opening a real checkpoint costs PatchLens (time, peak memory).

    /usr/bin/python3 tests/bench/make_big_safetensors.py /tmp/vit_b16_big.safetensors
    /usr/bin/time -v build/weights-rel/bin/patchlens-cli info /tmp/vit_b16_big.safetensors
    /usr/bin/time -v build/weights-rel/bin/patchlens-cli embed tests/data/chelsea.png \\
        --weights /tmp/vit_b16_big.safetensors -o /tmp/big.npy
    /usr/bin/time -v build/weights-rel/bin/patchlens-cli embed tests/data/chelsea.png \\
        --weights xavier -o /tmp/xavier.npy

Tensors are laid out in name order as the reference writer does, so the patch embedding sits
after the twelve blocks, ~340 MB into the file. Not committed: generated on demand.
"""
import json
import struct
import sys

import numpy as np

D, MLP, DEPTH, PATCH, CLASSES = 768, 3072, 12, 16, 1000


def tensors():
    yield "cls_token", (1, 1, D)
    yield "pos_embed", (1, 197, D)
    yield "patch_embed.proj.weight", (D, 3, PATCH, PATCH)
    yield "patch_embed.proj.bias", (D,)
    for i in range(DEPTH):
        b = f"blocks.{i}."
        yield b + "norm1.weight", (D,)
        yield b + "norm1.bias", (D,)
        yield b + "attn.qkv.weight", (3 * D, D)
        yield b + "attn.qkv.bias", (3 * D,)
        yield b + "attn.proj.weight", (D, D)
        yield b + "attn.proj.bias", (D,)
        yield b + "norm2.weight", (D,)
        yield b + "norm2.bias", (D,)
        yield b + "mlp.fc1.weight", (MLP, D)
        yield b + "mlp.fc1.bias", (MLP,)
        yield b + "mlp.fc2.weight", (D, MLP)
        yield b + "mlp.fc2.bias", (D,)
    yield "norm.weight", (D,)
    yield "norm.bias", (D,)
    yield "head.weight", (CLASSES, D)
    yield "head.bias", (CLASSES,)


def main(path):
    items = sorted(tensors())
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in items:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in items:
            f.write((rng.standard_normal(shape, dtype=np.float32) * 0.02).astype("<f4").tobytes())
    print(f"{path}: {len(items)} tensors, {(8 + len(h) + offset) / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vit_b16_big.safetensors")
