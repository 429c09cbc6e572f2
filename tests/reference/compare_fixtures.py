#!/usr/bin/python3
"""Writes tests/data/compare/: numpy's answers for the two-image analyses (core/analysis:
correspondences, joint_pca) and for `patchlens-cli export A --compare B --data matches`.

Independent of the C++ code: plain numpy from the definitions.
- cosine similarity: rows divided by their np.linalg.norm (a zero row stays 0), S = A_n B_n^T;
- mutual nearest neighbours: j = np.argmax(S[i]) and i = np.argmax(S[:, j]) (numpy's argmax
  takes the first maximum: ties go to the lower index), pairs sorted by (-similarity, i, j);
  the "mnn" tokens are +-1/4 in 16 channels, so every norm is exactly 1 and every similarity a
  multiple of 1/8, exact in float: the ties below are real ties on both sides;
- foreground PCA (DINOv2 recipe) and PCA with numpy.linalg.svd, sign convention: the largest
  |loading| of each component positive (PatchLens's documented convention);
- the CLI case: two 64 x 64 crops of chelsea.png written as PNG, ToTensor + ImageNet
  Normalize in float32 (no resize: the crops are the model's input size; B is A moved 7 px), the patch
  embedding of tests/data/transformer/timm_vit_f32 as a matrix product, then the pairs.
Run with Debian's interpreter, directly or through make_reference.py.
"""
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

from analyses_fixtures import DEFAULT_DATA, f32, write_blocks


def normalised(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(n > 0, x / np.where(n > 0, n, 1), 0)


def similarity(a, b):
    return normalised(a) @ normalised(b).T


def mutual_pairs(s, use_a=None, use_b=None):
    na, nb = s.shape
    use_a = np.ones(na, bool) if use_a is None else use_a
    use_b = np.ones(nb, bool) if use_b is None else use_b
    ia = np.flatnonzero(use_a)
    ib = np.flatnonzero(use_b)
    sub = s[np.ix_(ia, ib)]
    pairs = []
    if sub.size == 0:
        return np.zeros((0, 3))
    row_best = np.argmax(sub, axis=1)
    col_best = np.argmax(sub, axis=0)
    for k, i in enumerate(ia):
        j = row_best[k]
        if col_best[j] == k:
            pairs.append((i, ib[j], s[i, ib[j]]))
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return np.array(pairs, dtype=np.float64).reshape(-1, 3)


def pca(x, k):
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:k].copy()
    for i in range(comps.shape[0]):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    return comps, centred @ comps.T


def minmax(v):
    lo, hi = v.min(), v.max()
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


def foreground_mask(x, threshold):
    _, proj = pca(x, 1)
    return minmax(proj[:, 0]) > threshold


def clustered(rng, n, d, fg):
    """Tokens with a strong foreground / background split along channel 0, structure inside."""
    x = rng.standard_normal((n, d)) * 0.3
    x[:fg, 0] += 4.0
    x[:fg, 1:4] += rng.standard_normal((fg, 3)) * 1.5
    return f32(x)


def core_blocks(rng):
    blocks = {}
    a = f32(rng.standard_normal((7, 8)))
    a[2] = 0.0  # a zero token: similarity 0 everywhere
    b = f32(rng.standard_normal((9, 8)))
    blocks.update(sim_a=a, sim_b=b, sim=similarity(a, b))

    a = rng.choice([-0.25, 0.25], size=(12, 16))
    b = rng.choice([-0.25, 0.25], size=(12, 16))
    b[5] = b[2]    # B's 2 and 5 tie for every A token: the lower index wins
    a[4] = a[1]    # A's 1 and 4 tie for every B token
    b[7] = a[1]    # an exact match of that tied pair: 1 <-> 7, not 4 <-> 7
    s = a @ b.T    # unit rows: exact multiples of 1/8
    blocks.update(mnn_a=a, mnn_b=b, mnn_pairs=mutual_pairs(s))
    mask_a = rng.random(12) < 0.7
    mask_b = rng.random(12) < 0.7
    blocks.update(mnn_mask_a=mask_a.astype(float)[None], mnn_mask_b=mask_b.astype(float)[None],
                  mnn_masked_pairs=mutual_pairs(s, mask_a, mask_b))

    a = clustered(rng, 20, 6, 9)
    b = clustered(rng, 16, 6, 7)
    fa, fb = foreground_mask(a, 0.5), foreground_mask(b, 0.5)
    blocks.update(fg_a=a, fg_b=b, fg_mask_a=fa.astype(float)[None], fg_mask_b=fb.astype(float)[None],
                  fg_pairs=mutual_pairs(similarity(a, b), fa, fb))

    a = clustered(rng, 14, 6, 8)
    b = clustered(rng, 10, 6, 5)
    both = np.vstack([a, b])
    fg = foreground_mask(both, 0.5)
    comps, proj = pca(both[fg], 3)
    rgb = np.zeros((both.shape[0], 3))
    rgb[fg] = np.stack([minmax(proj[:, c]) for c in range(3)], axis=1)
    pcomps, pproj = pca(both, 3)
    prgb = np.stack([minmax(pproj[:, c]) for c in range(3)], axis=1)
    blocks.update(joint_a=a, joint_b=b, joint_fg=fg.astype(float)[None], joint_components=comps,
                  joint_projections=proj, joint_rgb=rgb, joint_plain_components=pcomps,
                  joint_plain_projections=pproj, joint_plain_rgb=prgb)
    return blocks


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", name
        lo, hi = meta["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(meta["shape"])
    return out


def patch_tokens(image, weight, bias):
    x = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    x = ((x - mean) / std).transpose(2, 0, 1).astype(np.float64)  # [3, H, W]
    p = weight.shape[-1]
    rows, cols = x.shape[1] // p, x.shape[2] // p
    w = weight.reshape(weight.shape[0], -1).astype(np.float64)
    tokens = []
    for r in range(rows):
        for c in range(cols):
            tokens.append(w @ x[:, r * p:(r + 1) * p, c * p:(c + 1) * p].ravel() + bias)
    return np.array(tokens), cols


def cli_blocks(data_dir, out):
    source = Image.open(os.path.join(data_dir, "chelsea.png")).convert("RGB")
    wide = source.resize((96, 64), Image.BICUBIC)
    image_a = wide.crop((20, 0, 84, 64))   # B is A shifted by 7 px: similar, never equal, patches
    image_b = wide.crop((13, 0, 77, 64))
    image_a.save(os.path.join(out, "a.png"))
    image_b.save(os.path.join(out, "b.png"))
    state = read_safetensors(os.path.join(data_dir, "transformer", "timm_vit_f32", "model.safetensors"))
    w, bias = state["patch_embed.proj.weight"], state["patch_embed.proj.bias"].astype(np.float64)
    ta, cols_a = patch_tokens(image_a, w, bias)
    tb, cols_b = patch_tokens(image_b, w, bias)
    pairs = mutual_pairs(similarity(ta, tb))
    # The C++ side computes in float: the order must not hinge on a near tie.
    assert np.all(np.diff(pairs[:, 2]) < -1e-4), pairs[:, 2]
    rows = [(int(i) // cols_a, int(i) % cols_a, int(j) // cols_b, int(j) % cols_b, s)
            for i, j, s in pairs]
    return {"cli_pairs": np.array(rows, dtype=np.float64).reshape(-1, 5)}


def main(data_dir=DEFAULT_DATA):
    out = os.path.join(data_dir, "compare")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261207)
    write_blocks(os.path.join(out, "compare.txt"), core_blocks(rng),
                 "similarity maps, mutual nearest neighbours, joint PCA (compare_fixtures.py)")
    write_blocks(os.path.join(out, "cli_pairs.txt"), cli_blocks(data_dir, out),
                 "export a.png --compare b.png --data matches at the patch embedding of timm_vit_f32")
    print("compare fixtures in", os.path.normpath(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA)
