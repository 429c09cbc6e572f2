#!/usr/bin/python3
"""Writes tests/data/dino_attention/masks.npz: DINO's per-head attention masks and maps.

The thresholding and upsampling lines below are facebookresearch/dino's visualize_attention.py
(commit 7c446df, lines 184-200) run as they are written there, in torch, on:
- `tiny`: a hand-made attention [1 head, 1 + 2x2 tokens] (its answer is in the C++ test by
  hand too), patch size 2;
- `random`: softmax of random logits [3 heads, 1 + 3x4 tokens], patch size 4, thresholds 0.6,
  0.3 and 0.9;
- `timm`: the PyTorch attention of tests/data/transformer/timm_vit_f32 (expected_4x4.npz,
  written by transformer_fixtures.py) at blocks 1 and 3, patch size 16, threshold 0.6.
Members per case C and threshold T: C_attention [H, T, T] (the input, softmax rows),
C_th_attn_T [H, rows*P, cols*P] (DINO's th_attn, 0/1), C_attentions [H, rows*P, cols*P]
(DINO's upsampled maps), C_grid [rows, cols, P] (int64).
Run with Debian's interpreter: /usr/bin/python3 tests/reference/dino_attention_fixtures.py
"""
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def dino(attentions_full, w_featmap, h_featmap, patch_size, threshold):
    """visualize_attention.py from `attentions = model.get_last_selfattention(...)` on."""
    attentions = torch.from_numpy(attentions_full)[None]  # [1, nh, T, T] as the model gives
    nh = attentions.shape[1]  # number of head
    # we keep only the output patch attention
    attentions = attentions[0, :, 0, 1:].reshape(nh, -1)
    # we keep only a certain percentage of the mass
    val, idx = torch.sort(attentions)
    val /= torch.sum(val, dim=1, keepdim=True)
    cumval = torch.cumsum(val, dim=1)
    th_attn = cumval > (1 - threshold)
    idx2 = torch.argsort(idx)
    for head in range(nh):
        th_attn[head] = th_attn[head][idx2[head]]
    th_attn = th_attn.reshape(nh, w_featmap, h_featmap).float()
    # interpolate
    th_attn = nn.functional.interpolate(th_attn.unsqueeze(0), scale_factor=patch_size,
                                        mode="nearest")[0].cpu().numpy()
    attentions = attentions.reshape(nh, w_featmap, h_featmap)
    attentions = nn.functional.interpolate(attentions.unsqueeze(0), scale_factor=patch_size,
                                           mode="nearest")[0].cpu().numpy()
    return th_attn, attentions


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main():
    out = {}

    def case(name, attention, rows, cols, p, thresholds):
        attention = attention.astype(np.float32)
        out[name + "_attention"] = attention
        out[name + "_grid"] = np.array([rows, cols, p], dtype=np.int64)
        for t in thresholds:
            th, maps = dino(attention.copy(), rows, cols, p, t)
            out["%s_th_attn_%s" % (name, t)] = th.astype(np.float32)
            out[name + "_attentions"] = maps.astype(np.float32)

    # Hand case: the class token's row over 4 patches is 0.1, 0.4, 0.2, 0.3 (its own
    # attention 0 so that the patches sum to 1). Ascending: 0.1 (p0), 0.2 (p2), 0.3 (p3),
    # 0.4 (p1); cumsum 0.1, 0.3, 0.6, 1.0; kept > 0.4: p3 and p1.
    tiny = np.full((1, 5, 5), 0.2, dtype=np.float32)
    tiny[0, 0] = [0.0, 0.1, 0.4, 0.2, 0.3]
    case("tiny", tiny, 2, 2, 2, [0.6])

    rng = np.random.default_rng(21)
    logits = rng.standard_normal((3, 13, 13)) * np.array([0.5, 2.0, 4.0])[:, None, None]
    case("random", softmax(logits), 3, 4, 4, [0.6, 0.3, 0.9])

    timm = np.load(os.path.join(DATA, "transformer", "timm_vit_f32", "expected_4x4.npz"))
    for block in (1, 3):
        case("timm_block%d" % block, timm["attention_%d" % block], 4, 4, 16, [0.6])

    target = os.path.join(DATA, "dino_attention")
    os.makedirs(target, exist_ok=True)
    np.savez_compressed(os.path.join(target, "masks.npz"), **out)
    print("wrote", os.path.join(target, "masks.npz"), sorted(out))


if __name__ == "__main__":
    main()
