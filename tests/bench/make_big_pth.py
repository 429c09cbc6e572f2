#!/usr/bin/python3
"""Writes a ViT-B/16-sized timm checkpoint (~350 MB, F32, 152 tensors) as a DeiT-style
torch.save zip {"model": state_dict, "epoch": 299} (or the legacy stream with --legacy), to
measure what opening a real PyTorch checkpoint costs PatchLens (time, peak memory).

    /usr/bin/python3 tests/bench/make_big_pth.py /tmp/vit_b16_big.pth [--legacy]
    /usr/bin/time -v build/release/bin/patchlens-cli embed tests/data/chelsea.png \\
        --weights /tmp/vit_b16_big.pth -o /tmp/big.npy
    /usr/bin/time -v build/release/bin/patchlens-cli embed tests/data/chelsea.png \\
        --weights xavier -o /tmp/xavier.npy          # the baseline without a checkpoint

Not committed: generated on demand.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import checkpoint_writers as cw  # noqa: E402
from make_big_safetensors import tensors  # noqa: E402  (the same 152 names and shapes)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/vit_b16_big.pth"
    g = torch.Generator().manual_seed(0)
    sd = {name: torch.randn(shape, generator=g) * 0.02 for name, shape in tensors()}
    ckpt = {"model": sd, "epoch": 299}
    if "--legacy" in sys.argv:
        cw.save_torch_legacy(ckpt, path)
    else:
        cw.save_torch_zip(ckpt, path)
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB, {len(sd)} tensors")


if __name__ == "__main__":
    main()
