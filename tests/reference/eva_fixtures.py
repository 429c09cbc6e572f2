#!/usr/bin/python3
"""timm's eva.py families (EVA-01 giant, EVA-02, EVA-02 CLIP, EVA-02 enormous post-norm, timm's SBB RoPE ViT, Naver
RoPE-ViT axial and mixed, Meta Perception Encoder core, spatial and lang) from timm's own code: tiny models built
with timm.create_model(<registered architecture>, pretrained=False, <small dims>), every
parameter redrawn (q_bias, v_bias, gamma_1/2, sub-LN norms, rope.freqs, pos_embed, ...; nothing
zero or identity), saved as a state dict .pth with timm's config.json beside it (architecture,
model_args as passed, pretrained_cfg), forward captured with hooks at the native 4x4 grid and a
non-square 3x5 one (dynamic_img_size: RoPE rebuilt for the grid, pos_embed resampled by
resample_abs_pos_embed).

    TIMM_FUSED_ATTN=0 /usr/bin/python3 tests/reference/eva_fixtures.py TIMM_SRC [DATA_DIR]

TIMM_SRC is a checkout of github.com/huggingface/pytorch-image-models (not vendored). Runs on
Debian's torch 1.13 with explicit attention (TIMM_FUSED_ATTN=0): the softmax is read at
attn.attn_drop's input; logits_<grid>.npy is the model's own forward through its head (none for
PE's MAP head). Writes DATA_DIR/eva/{cases.tsv, <case>/, bad/}: bad/<case>/model.pth is
the case's state dict with one tensor eva.py does not have, refused by name (bad/expected.tsv).
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

from timm_capture import capture

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4,
             dynamic_img_size=True, num_classes=3)

# case: (architecture, extra model_args, the family PatchLens names, a foreign tensor)
CASES = {
    "eva02_base_clip": ("eva02_base_patch16_clip_224", dict(ref_feat_shape=[5, 3]),
                        "timm EVA-02 (RoPE + absolute positions, SwiGLU, sub-LN)",
                        "blocks.0.attn.relative_position_bias_table"),
    "eva02_tiny": ("eva02_tiny_patch14_224", {},
                   "timm EVA-02 (RoPE + absolute positions, SwiGLU)",
                   "blocks.1.attn.q_norm.weight"),
    "sbb_rope_reg1": ("vit_medium_patch16_rope_reg1_gap_256", {},
                      "timm RoPE ViT (RoPE, 1 registers)", "storage_tokens"),
    "naver_rope_axial": ("vit_small_patch16_rope_224", {}, "Naver RoPE-ViT (RoPE)", "rope.freqs"),
    "naver_rope_mixed_ape": ("vit_small_patch16_rope_mixed_ape_224", {},
                             "Naver RoPE-ViT (RoPE-Mixed + absolute positions)",
                             "blocks.1.attn.gate.weight"),
    "pe_core_tiny": ("vit_pe_core_tiny_patch16_384", {},
                     "Meta Perception Encoder core (timm) (RoPE + absolute positions)",
                     "blocks.0.ls1.gamma"),
    "eva_giant": ("eva_giant_patch14_224", {}, "timm EVA (absolute positions)",
                  "blocks.0.attn.k_bias"),
    # Perception Encoder spatial and lang: PE core without the final norm or MAP pool
    # (use_post_transformer_norm=False): a stored norm.weight is refused, never applied. The
    # gigantic lang tower: no class token, LayerScale (init_values=0.1), rope_grid_offset 0.
    "pe_spatial_tiny": ("vit_pe_spatial_tiny_patch16_512", {},
                        "Meta Perception Encoder spatial (timm) (RoPE + absolute positions)",
                        "norm.weight"),
    "pe_lang_gigantic": ("vit_pe_lang_gigantic_patch14_448", {},
                         "Meta Perception Encoder lang (timm) (RoPE + absolute positions)",
                         "blocks.0.attn.k_norm.weight"),
    # EVA-02 enormous (EVA-CLIP): EvaBlockPostNorm, x + norm1(attn(x)), x + norm2(mlp(x)); no
    # LayerScale in that block (init_values ignored), so a gamma_1 is foreign. Last: the cases
    # above keep their random streams.
    "eva02_enormous": ("eva02_enormous_patch14_clip_224", {},
                       "timm EVA-02 (absolute positions, post-norm)", "blocks.0.gamma_1"),
}
GRIDS = [(4, 4), (3, 5)]


def redraw(model, rng):
    n = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma_1", "gamma_2")):
                p.copy_(0.5 + 0.3 * n(*p.shape))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * n(*p.shape))
            elif name.endswith(("q_bias", "v_bias")):
                p.copy_(0.5 + 0.1 * n(*p.shape))
            elif name.endswith("bias"):
                p.copy_(0.1 * n(*p.shape))
            elif name == "rope.freqs":  # learned RoPE-Mixed frequencies [2, depth, heads, dh/2]
                p.copy_(0.6 * n(*p.shape))
            elif name.endswith("weight"):
                p.copy_(n(*p.shape) / math.sqrt(p[0].numel()))
            else:  # cls_token, reg_token, pos_embed
                p.copy_(0.5 * n(*p.shape))


def main(src, data_dir):
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, src)
    import timm
    out = os.path.join(data_dir, "eva")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "bad"))
    rng = np.random.default_rng(20261207)
    rows, bad = [], []
    for case, (arch, extra, family, foreign) in CASES.items():
        args = dict(SMALL, **extra)
        model = timm.create_model(arch, pretrained=False, **args)
        redraw(model, rng)
        model.eval()
        folder = os.path.join(out, case)
        os.makedirs(folder)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        torch.save(state, os.path.join(folder, "model.pth"))
        cfg = {k: v for k, v in model.pretrained_cfg.items() if k in ("mean", "std", "interpolation", "crop_pct")}
        cfg["input_size"] = [3, 32, 32]
        # As timm's _hub.save_config writes it: global_pool beside the architecture.
        config = {"architecture": arch, "num_classes": 3, "global_pool": model.global_pool,
                  "model_args": args, "pretrained_cfg": cfg}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
        for gr, gc in GRIDS:
            image = rng.standard_normal((3, gr * 8, gc * 8)).astype(np.float32)
            tag = f"{gr}x{gc}"
            np.save(os.path.join(folder, f"input_{tag}.npy"), image)
            np.savez(os.path.join(folder, f"expected_{tag}.npz"), **capture(model, image))
            if model.attn_pool is None:  # the classifier head as eva.py applies it (predict)
                with torch.no_grad():
                    logits = model(torch.from_numpy(image)[None])[0].numpy().astype("<f4")
                np.save(os.path.join(folder, f"logits_{tag}.npy"), logits)
            rows.append([f"{case}_{tag}", f"{case}/model.pth", f"{case}/input_{tag}.npy",
                         f"{case}/expected_{tag}.npz", family, str(args["num_heads"]),
                         str(args["depth"])])
        # The same file with one tensor eva.py's Eva does not have: refused by name.
        bad_folder = os.path.join(out, "bad", case)
        os.makedirs(bad_folder)
        state[foreign] = torch.full((2, 32), 0.25)
        torch.save(state, os.path.join(bad_folder, "model.pth"))
        shutil.copy(os.path.join(folder, "config.json"), bad_folder)
        bad.append([f"{case}/model.pth", f"tensor '{foreign}' is not part of the timm eva.py layout"])
    # SigLIP 2 NaFlex (naflexvit.py) runs: naflex_fixtures.py checks it against timm.
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\tfamily\theads\tdepth\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    with open(os.path.join(out, "bad", "expected.tsv"), "w") as f:
        for r in bad:
            f.write("\t".join(r) + "\n")
    print(f"timm eva.py fixtures: {len(rows)} cases under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        sys.exit("usage: eva_fixtures.py TIMM_SRC [DATA_DIR]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
