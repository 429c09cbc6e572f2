#!/usr/bin/python3
"""Writes a randomly initialised ViT-B/16 (224) in timm's tensor names as safetensors, with a
config.json beside it (timm's pretrained_cfg layout: model_args.num_heads), for screenshots
and GUI measurements. Not a fixture: the file is 330 MB and is not committed.

    /usr/bin/python3 tests/reference/make_random_vit.py /tmp/vit_b16_random
    /usr/bin/python3 tests/reference/make_random_vit.py /tmp/vit_s16_random small

"small" writes a random ViT-S/16 instead (D 384, 6 blocks, 6 heads): the second model of the
two-models compare screenshots, of another depth and width.
    /usr/bin/python3 tests/reference/make_random_vit.py /tmp/dinov2_b14_random dinov2

"dinov2" writes a random DINOv2 ViT-B/14 in timm's layout (vit_base_patch14_dinov2: 37 x 37
position table for 518 x 518 inputs, LayerScale ls1/ls2.gamma, LayerNorm eps 1e-6): the model of
the long-sequence measurements (518^2 = 1,370 tokens, 1036^2 = 5,477).
    /usr/bin/python3 tests/reference/make_random_vit.py --head /tmp/vit_b16_random_in1k

--head adds a random 1000-class classifier (timm's head.weight [1000, 768], head.bias; std 0.1,
so that the softmax is not flat), which PatchLens labels with the ImageNet-1k names: a random
classifier for the Prediction dock and the Grad-CAM / relevance screenshots. Its predictions
mean nothing.

Weights: timm-like truncated-normal init (std 0.02) except the attention's qkv (std 0.05,
so that the softmax is not flat) and the position embedding, which is the fixed 2-D sin-cos
table of MAE (He et al. 2022) so that attention has some spatial structure. The weights are
random: nothing here was trained.
"""
import json
import os
import struct
import sys

import numpy as np

D, DEPTH, HEADS, MLP, P, GRID = 768, 12, 12, 3072, 16, 14
ARCH = "vit_base_patch16_224"
LAYER_SCALE = False


def sincos_2d(dim, grid):
    """MAE's get_2d_sincos_pos_embed: half the channels encode the row, half the column."""
    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    gy, gx = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64),
                         indexing="ij")
    return np.concatenate([one(dim // 2, gy), one(dim // 2, gx)], axis=1)


def main(out_dir, head=False):
    rng = np.random.default_rng(12)
    t = {}

    def tn(shape, std):
        return np.clip(rng.standard_normal(shape), -2, 2).astype(np.float32) * np.float32(std)

    t["cls_token"] = tn((1, 1, D), 1e-6)
    pos = np.zeros((1, 1 + GRID * GRID, D), np.float32)
    pos[0, 1:] = sincos_2d(D, GRID)
    t["pos_embed"] = pos
    t["patch_embed.proj.weight"] = tn((D, 3, P, P), 0.02)
    t["patch_embed.proj.bias"] = np.zeros(D, np.float32)
    for b in range(DEPTH):
        k = "blocks.%d." % b
        t[k + "norm1.weight"] = np.ones(D, np.float32)
        t[k + "norm1.bias"] = np.zeros(D, np.float32)
        t[k + "attn.qkv.weight"] = tn((3 * D, D), 0.05)
        t[k + "attn.qkv.bias"] = np.zeros(3 * D, np.float32)
        t[k + "attn.proj.weight"] = tn((D, D), 0.02)
        t[k + "attn.proj.bias"] = np.zeros(D, np.float32)
        t[k + "norm2.weight"] = np.ones(D, np.float32)
        t[k + "norm2.bias"] = np.zeros(D, np.float32)
        t[k + "mlp.fc1.weight"] = tn((MLP, D), 0.02)
        t[k + "mlp.fc1.bias"] = np.zeros(MLP, np.float32)
        t[k + "mlp.fc2.weight"] = tn((D, MLP), 0.02)
        t[k + "mlp.fc2.bias"] = np.zeros(D, np.float32)
        if LAYER_SCALE:
            t[k + "ls1.gamma"] = tn((D,), 0.1)
            t[k + "ls2.gamma"] = tn((D,), 0.1)
    t["norm.weight"] = np.ones(D, np.float32)
    t["norm.bias"] = np.zeros(D, np.float32)
    if head:  # drawn after every other tensor: the encoder is the same with or without it
        t["head.weight"] = tn((1000, D), 0.1)
        t["head.bias"] = tn((1000,), 0.1)

    header, offset, blobs = {}, 0, []
    for name, a in t.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    header["__metadata__"] = {"format": "pt", "note": "random weights, not trained"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({"architecture": ARCH, "model_args": {"num_heads": HEADS}}, f)
    print("wrote", os.path.join(out_dir, "model.safetensors"))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--head"]
    if len(args) > 1 and args[1] == "small":
        D, DEPTH, HEADS, MLP, ARCH = 384, 6, 6, 1536, "vit_small_patch16_224"
    if len(args) > 1 and args[1] == "dinov2":
        P, GRID, ARCH, LAYER_SCALE = 14, 37, "vit_base_patch14_dinov2", True
    main(args[0] if args else "/tmp/vit_b16_random", head="--head" in sys.argv[1:])
