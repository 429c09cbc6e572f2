#!/usr/bin/python3
"""Writes tests/data/analyses/attention.txt: numpy's answers for the attention analyses
(core/analysis: attention_maps, attention_rollout, attention_distance, depth_norms,
foreground_pca) on a fixture attention tensor.

Independent of the C++ code: plain numpy, written from the papers' formulas:
- rollout (Abnar & Zuidema 2020): prod over blocks 1..L of rownorm(0.5*mean_h A + 0.5*I),
  R_l = A_hat_l @ R_(l-1), computed here as one np.linalg.multi_dot;
- mean attention distance (ViT paper Fig. 7 right), prefix tokens excluded as queries and
  keys, rows renormalised over the patch keys, distances between patch centres in pixels
  computed from coordinates with np.linalg.norm over all pairs;
- token norms across depth with np.linalg.norm;
- DINOv2 foreground PCA with numpy.linalg.svd, sign convention: the largest |loading| of each
  component positive (the documented PatchLens/sklearn-like convention).
Run with Debian's interpreter, directly or through make_reference.py.
"""
import os
import sys

import numpy as np

from analyses_fixtures import DEFAULT_DATA, f32, write_blocks

PREFIX = 2   # cls + one register
ROWS, COLS, P = 3, 4, 16
HEADS, BLOCKS, DIM = 3, 3, 8


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def pca(x, k):
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:k].copy()
    for i in range(comps.shape[0]):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    proj = centred @ comps.T
    ratio = s[:k] ** 2 / np.sum(s ** 2)
    return proj, ratio


def minmax(v):
    lo, hi = v.min(), v.max()
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


def attention(rng):
    t = PREFIX + ROWS * COLS
    blocks = {}
    # Sharper and flatter heads, and a block whose head 1 attends mostly to the prefix.
    atts = []
    for b in range(BLOCKS):
        logits = rng.standard_normal((HEADS, t, t)) * np.array([0.5, 2.0, 4.0])[:, None, None]
        if b == 1:
            logits[1, :, :PREFIX] += 3.0
        a = f32(softmax(logits))
        atts.append(a)
        for h in range(HEADS):
            blocks["attn_%d_%d" % (b, h)] = a[h]

    eye = np.eye(t)
    aug = []
    for a in atts:
        m = 0.5 * a.mean(axis=0) + 0.5 * eye
        aug.append(m / m.sum(axis=1, keepdims=True))
    rollout = np.linalg.multi_dot(aug[::-1])  # A_L ... A_1
    blocks["rollout"] = rollout
    blocks["rollout_2"] = aug[1] @ aug[0]  # after two blocks
    blocks["rollout_cls_patches"] = rollout[0, PREFIX:]

    coords = np.array([[(c + 0.5) * P, (r + 0.5) * P] for r in range(ROWS) for c in range(COLS)])
    dist = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
    distances = np.zeros((BLOCKS, HEADS))
    for b, a in enumerate(atts):
        for h in range(HEADS):
            patch = a[h, PREFIX:, PREFIX:]
            patch = patch / patch.sum(axis=1, keepdims=True)
            distances[b, h] = (patch * dist).sum(axis=1).mean()
    blocks["distance"] = distances
    blocks["mean_head_map_block1_query5"] = atts[1].mean(axis=0)[PREFIX + 5, PREFIX:]
    return blocks


def depth(rng):
    t = PREFIX + ROWS * COLS
    patch = f32(rng.standard_normal((ROWS * COLS, DIM)))
    layers = [f32(rng.standard_normal((t, DIM)) * (1 + l)) for l in range(3)]
    layers[2][PREFIX + 4] *= 20.0  # a high-norm "artifact" token
    blocks = {"depth_patch": patch}
    for i, l in enumerate(layers):
        blocks["depth_layer_%d" % i] = l
    norms = np.full((t, 4), np.nan)
    norms[PREFIX:, 0] = np.linalg.norm(patch, axis=1)
    for i, l in enumerate(layers):
        norms[:, i + 1] = np.linalg.norm(l, axis=1)
    blocks["depth_norms"] = np.nan_to_num(norms, nan=-1.0)  # -1 marks NaN in the text file
    return blocks


def foreground(rng):
    n = 30
    # Two clusters along one direction (foreground / background) plus structure inside.
    base = rng.standard_normal((n, DIM)) * 0.3
    base[:12, 0] += 4.0
    base[:12, 1:4] += rng.standard_normal((12, 3)) * 1.5
    tokens = f32(base)
    blocks = {"fg_tokens": tokens}
    proj1, ratio1 = pca(tokens, 1)
    for flip, threshold in ((0, 0.5), (1, 0.4)):
        s = minmax(proj1[:, 0])
        if flip:
            s = 1.0 - s
        fg = s > threshold
        rgb = np.zeros((n, 3))
        proj2, _ = pca(tokens[fg], 3)
        rgb[fg] = np.stack([minmax(proj2[:, i]) for i in range(3)], axis=1)
        key = "fg_flip%d" % flip
        blocks[key + "_first"] = s
        blocks[key + "_mask"] = fg.astype(np.float64)
        blocks[key + "_rgb"] = rgb
    blocks["fg_first_ratio"] = ratio1
    return blocks


def main(data_dir=DEFAULT_DATA):
    out = os.path.join(data_dir, "analyses")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261130)
    blocks = {"shape": [PREFIX, ROWS, COLS, P, HEADS, BLOCKS]}
    blocks.update(attention(rng))
    blocks.update(depth(rng))
    blocks.update(foreground(rng))
    write_blocks(os.path.join(out, "attention.txt"), blocks,
                 "attention rollout, attention distance, depth norms, foreground PCA")
    print("attention fixtures in", os.path.normpath(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA)
