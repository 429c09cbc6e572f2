#!/usr/bin/python3
"""timm's DINOv3 port (timm/models/eva.py, Eva with rope_type='dinov3') from timm's own code:
a tiny vit_small_patch16_dinov3_qkvb and a tiny vit_small_plus_patch16_dinov3 (SwiGLU MLP:
mlp.fc1_g / fc1_x / fc2, no qkv bias), built with timm.create_model(pretrained=False), every
parameter redrawn (q_bias, v_bias, gamma_1/2, reg_token, ...), saved as a state dict .pth with
timm's config.json (architecture + model_args.num_heads) beside it, forward captured with hooks.

    TIMM_FUSED_ATTN=0 /usr/bin/python3 tests/reference/dinov3_timm_fixtures.py TIMM_SRC [DATA_DIR]

TIMM_SRC is a checkout of github.com/huggingface/pytorch-image-models (not vendored); generated
with commit aa4b585. Runs on Debian's torch 1.13 with explicit attention (TIMM_FUSED_ATTN=0):
the softmax is read at attn.attn_drop's input. timm recomputes the RoPE periods in float32 from
temperature 100 (they are not in the file). Appends its rows to DATA_DIR/dinov3/cases.tsv, so
run it after dinov3_fixtures.py.
"""
import json
import math
import os
import sys

import numpy as np
import torch

from timm_capture import capture

HERE = os.path.dirname(os.path.abspath(__file__))


def redraw(model, rng):
    """Every parameter redrawn: nothing zero or identity (LayerScale, biases, registers)."""
    n = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma_1", "gamma_2")):
                p.copy_(0.5 + 0.3 * n(*p.shape))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * n(*p.shape))
            elif name.endswith(("bias", "q_bias", "v_bias")):
                p.copy_(0.1 * n(*p.shape) + (0.5 if name.endswith(("q_bias", "v_bias")) else 0.0))
            elif name.endswith("weight"):
                p.copy_(n(*p.shape) / math.sqrt(p[0].numel()))
            else:  # cls_token, reg_token
                p.copy_(0.5 * n(*p.shape))
    model.eval()


def main(src, data_dir):
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, src)
    import timm
    sys.path.insert(0, HERE)
    out = os.path.join(data_dir, "dinov3")
    rng = np.random.default_rng(20261208)
    rows = []
    models = [  # (case, architecture, grids, family): the first model's bytes do not change
        ("timm_port_pth", "vit_small_patch16_dinov3_qkvb", [(4, 4), (3, 5)],
         "timm DINOv3 port (4 registers, RoPE)"),
        ("timm_port_swiglu_pth", "vit_small_plus_patch16_dinov3", [(5, 3), (4, 4)],
         "timm DINOv3 port (4 registers, RoPE, SwiGLU)"),
    ]
    for name, arch, grids, family in models:
        model = timm.create_model(arch, pretrained=False, img_size=32, patch_size=8,
                                  embed_dim=64, num_heads=4, depth=2, mlp_ratio=2, num_classes=0)
        redraw(model, rng)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        torch.save({k: v.clone() for k, v in model.state_dict().items()},
                   os.path.join(folder, "model.pth"))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"architecture": arch, "model_args": {"num_heads": 4}}, f, indent=1)
        for gr, gc in grids:
            image = rng.standard_normal((3, gr * 8, gc * 8)).astype(np.float32)
            got = capture(model, image)  # timm_capture: the same hooks for every timm model
            tag = f"{gr}x{gc}"
            np.save(os.path.join(folder, f"input_{tag}.npy"), image)
            np.savez(os.path.join(folder, f"expected_{tag}.npz"), **got)
            rows.append([f"{name}_{tag}", f"{name}/model.pth", f"{name}/input_{tag}.npy",
                         f"{name}/expected_{tag}.npz", "0", family,
                         "config.json model_args.num_heads", "4", "2"])
    with open(os.path.join(out, "cases.tsv"), "a") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    print(f"timm DINOv3 port fixtures: {len(rows)} cases under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        sys.exit("usage: dinov3_timm_fixtures.py TIMM_SRC [DATA_DIR]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
