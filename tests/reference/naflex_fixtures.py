#!/usr/bin/python3
"""SigLIP 2 NaFlex from timm's own naflexvit.py (NaFlexVit, NaFlexEmbeds): tiny models built with
timm.create_model(<registered architecture>, pretrained=False, <small dims>), every parameter
redrawn (eva_fixtures.redraw: nothing zero or identity), saved as model.safetensors with timm's
config.json beside it, forward captured with hooks on an image tensor [1, 3, gh*P, gw*P]:

- the Linear patch embedding over patches flattened (ph, pw, c) (batch_patchify channels_last),
- the learned [1, gh0, gw0, D] position grid (here a non-square 4 x 6) resized to the input grid
  by F.interpolate(mode=pos_embed_interp_mode (timm default 'bicubic'), align_corners=False,
  antialias=True) unless the grid is the native one,
- no class token, no padding, no mask (one image whose patches fill the sequence).

The script also runs timm's NaFlex mode (pre-patchified patches + patch_coord + patch_valid all
true) and asserts it gives the same tokens: the image-tensor path is the NaFlex path without
padding.

    TIMM_FUSED_ATTN=0 /usr/bin/python3 tests/reference/naflex_fixtures.py TIMM_SRC [DATA_DIR]

Writes DATA_DIR/naflex/{cases.tsv, <case>/{model.safetensors, config.json, input_<g>.npy,
expected_<g>.npz}, resample.npz, bad/}: bad/<case>/ holds the same file with one tensor naflexvit.py does not
have, refused by name (bad/expected.tsv).
"""
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import timm_capture  # noqa: E402
from eva_fixtures import redraw  # noqa: E402
from transformer_fixtures import write_safetensors  # noqa: E402

P = 8
SMALL = dict(patch_size=P, embed_dim=32, depth=2, num_heads=4, pos_embed_grid_size=[4, 6],
             num_classes=0)
# case: (architecture, extra model_args, the family PatchLens names, a foreign tensor)
CASES = {
    "siglip2_base": ("naflexvit_base_patch16_siglip", {},
                     "timm NaFlexViT (SigLIP 2 NaFlex, 4x6 position grid resized bicubic)",
                     "blocks.0.attn.q_norm.weight"),
    "map_reg1": ("naflexvit_base_patch16_map", dict(pos_embed_interp_mode="bilinear"),
                 "timm NaFlexViT (1 registers, 4x6 position grid resized bilinear)",
                 "embeds.norm.weight"),
}
GRIDS = [(4, 6), (3, 5), (5, 5)]


def capture(model, image):
    # A copy: NaFlexEmbeds adds the positions to the projection's output in place (x.add_).
    return timm_capture.capture(model, image, model.embeds.proj, lambda o: o.clone())


def naflex_mode_final(model, image, gh, gw):
    """timm's NaFlex mode: patches (ph, pw, c), coordinates (y, x), every patch valid."""
    from timm.models.naflexvit import batch_patchify
    patches, grid = batch_patchify(torch.from_numpy(image)[None], (P, P), pad=False)
    assert tuple(grid) == (gh, gw)
    ys, xs = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    coord = torch.stack([ys.reshape(-1), xs.reshape(-1)], -1)[None]
    valid = torch.ones(1, gh * gw, dtype=torch.bool)
    with torch.no_grad():
        out = model.forward_features(patches, patch_coord=coord, patch_valid=valid)
    return out["patches"][0].numpy()


def resample_cases(out, rng):
    """F.interpolate(size=, align_corners=False, antialias=True) alone, bilinear and bicubic, of a
    [4, 6] grid of 5-vectors (NCHW as naflexvit permutes it) to smaller, larger and mixed grids."""
    import torch.nn.functional as F
    table = rng.standard_normal((4, 6, 5)).astype(np.float32)
    got = {"table": table}
    for mode in ("bilinear", "bicubic"):
        for h, w in [(3, 5), (5, 5), (2, 9), (8, 13), (4, 6), (1, 3)]:
            r = F.interpolate(torch.from_numpy(table).permute(2, 0, 1)[None], size=(h, w),
                              mode=mode, align_corners=False, antialias=True)
            got[f"{mode}_{h}x{w}"] = r[0].permute(1, 2, 0).numpy().astype("<f4")
    np.savez(os.path.join(out, "resample.npz"), **got)


def main(src, data_dir):
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, src)
    import timm
    out = os.path.join(data_dir, "naflex")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "bad"))
    rng = np.random.default_rng(20261212)
    rows, bad = [], []
    resample_cases(out, np.random.default_rng(20261213))
    for case, (arch, extra, family, foreign) in CASES.items():
        args = dict(SMALL, **extra)
        model = timm.create_model(arch, pretrained=False, **args)
        redraw(model, rng)
        model.eval()
        assert model.embeds.is_linear and model.embeds.channels_last
        assert model.embeds.pos_embed_interp_mode == extra.get("pos_embed_interp_mode", "bicubic")
        folder = os.path.join(out, case)
        os.makedirs(folder)
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        write_safetensors(os.path.join(folder, "model.safetensors"), state, "F32")
        config = {"architecture": arch, "num_classes": 0, "global_pool": model.global_pool,
                  "model_args": args,
                  "pretrained_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
        for gr, gc in GRIDS:
            image = rng.standard_normal((3, gr * P, gc * P)).astype(np.float32)
            tag = f"{gr}x{gc}"
            np.save(os.path.join(folder, f"input_{tag}.npy"), image)
            got = capture(model, image)
            flex = naflex_mode_final(model, image, gr, gc)
            assert np.abs(flex - got["final"]).max() <= 1e-5 * np.abs(got["final"]).max(), case
            np.savez(os.path.join(folder, f"expected_{tag}.npz"), **got)
            rows.append([f"{case}_{tag}", f"{case}/model.safetensors", f"{case}/input_{tag}.npy",
                         f"{case}/expected_{tag}.npz", family, str(args["num_heads"]),
                         str(args["depth"])])
        # The same file with one tensor naflexvit.py's NaFlexVit does not have: refused by name.
        bad_folder = os.path.join(out, "bad", case)
        os.makedirs(bad_folder)
        state[foreign] = np.full((32,), 0.25, np.float32)
        write_safetensors(os.path.join(bad_folder, "model.safetensors"), state, "F32")
        shutil.copy(os.path.join(folder, "config.json"), bad_folder)
        bad.append([f"{case}/model.safetensors",
                    f"tensor '{foreign}' is not part of the timm naflexvit.py layout"])
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\tfamily\theads\tdepth\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    with open(os.path.join(out, "bad", "expected.tsv"), "w") as f:
        for r in bad:
            f.write("\t".join(r) + "\n")
    print(f"timm naflexvit.py fixtures: {len(rows)} cases under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        sys.exit("usage: naflex_fixtures.py TIMM_SRC [DATA_DIR]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
