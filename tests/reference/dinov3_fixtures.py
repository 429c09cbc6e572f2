#!/usr/bin/python3
"""DINOv3 fixtures from Meta's own code: a tiny DinoVisionTransformer built with dinov3's
constructor, every parameter redrawn, saved as a Meta-style .pth state dict, and its forward
captured with hooks.

    /usr/bin/python3 tests/reference/dinov3_fixtures.py DINOV3_SRC [DATA_DIR]
    DINOV3_SRC=/path/to/checkout /usr/bin/python3 tests/reference/make_reference.py

DINOV3_SRC is a checkout of github.com/facebookresearch/dinov3 (the directory holding the
`dinov3` package; not vendored: only the fixtures it writes are committed). Generated with
commit 6876159 ("Remove unused LinearW24").

Writes DATA_DIR/dinov3/: cases.tsv in tests/data/transformer's format (case, weights, input,
expected, --heads, family, heads source, heads, depth), one folder per model with model.pth,
input_RxC.npy and expected_RxC.npz (patch_embedding, tokens_0..depth, final, attention_1..depth,
named as `patchlens-cli forward` writes them; an MLP model at the native and a non-square grid, a
SwiGLU one), rope_3x5.npz (RopePositionEmbedding and rope_apply alone) and bad/ (a file with an
extra tensor, one with an untied cls norm: both refused by name, as bad/expected.tsv says).

Debian's torch 1.13 has neither torch._dynamo / torch.compiler (dinov3/layers/block.py sets
torch._dynamo.config at import) nor F.scaled_dot_product_attention (torch >= 2.0). Both are
stubbed before importing dinov3: _dynamo/compiler with empty namespaces, and
scaled_dot_product_attention with the plain softmax(q k^T * head_dim^-0.5) v it computes without
mask or dropout; the stand-in also records the softmax, which is the attention the fixtures keep.
Everything else (RoPE, LinearKMaskedBias, LayerScale, the block, the final norm) is dinov3's code.
"""
import math
import os
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = []


def sdpa_stand_in(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    assert attn_mask is None and dropout_p == 0.0 and not is_causal
    s = q.shape[-1] ** -0.5 if scale is None else scale
    attn = ((q * s) @ k.transpose(-2, -1)).softmax(dim=-1)
    RECORDED.append(attn.detach().clone())
    return attn @ v


def import_dinov3(src):
    if not hasattr(torch, "_dynamo"):
        dyn = types.ModuleType("torch._dynamo")
        dyn.config = types.SimpleNamespace()
        torch._dynamo = dyn
        sys.modules["torch._dynamo"] = dyn
    if not hasattr(torch, "compiler"):
        comp = types.ModuleType("torch.compiler")
        comp.disable = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
        comp.allow_in_graph = lambda fn: fn
        torch.compiler = comp
        sys.modules["torch.compiler"] = comp
    F.scaled_dot_product_attention = sdpa_stand_in
    sys.path.insert(0, src)
    from dinov3.models.vision_transformer import DinoVisionTransformer  # noqa: E402
    return DinoVisionTransformer


def make_model(cls, rng, **kw):
    """dinov3's constructor with the hub's ViT settings (dinov3_vits16: layernormbf16 = eps 1e-5,
    RoPE base 100 'separate' in fp32, mask_k_bias, LayerScale), then every tensor redrawn."""
    args = dict(img_size=32, patch_size=8, in_chans=3, pos_embed_rope_base=100,
                pos_embed_rope_normalize_coords="separate", pos_embed_rope_rescale_coords=2,
                pos_embed_rope_dtype="fp32", embed_dim=64, depth=2, num_heads=4, ffn_ratio=2,
                qkv_bias=True, drop_path_rate=0.0, layerscale_init=1.0e-05,
                norm_layer="layernormbf16", ffn_layer="mlp", ffn_bias=True, proj_bias=True,
                n_storage_tokens=4, mask_k_bias=True)
    args.update(kw)
    model = cls(**args)
    model.init_weights()
    n = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    with torch.no_grad():
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith("bias_mask"):
                continue  # the real files hold init_weights_vit's [1, 0, 1] pattern
            if name == "rope_embed.periods":
                # Positive, increasing like the base-100 periods, perturbed, rounded to bfloat16
                # as Meta's released files store them.
                base = 100 ** (torch.arange(p.numel(), dtype=torch.float32) / p.numel())
                p.copy_((base * (1 + 0.2 * n(p.numel()).abs())).bfloat16().float())
            elif name.endswith("gamma"):
                p.copy_(0.5 + 0.3 * n(*p.shape))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * n(*p.shape))
            elif name.endswith("bias"):
                p.copy_(0.1 * n(*p.shape) + (0.5 if ".qkv." in name else 0.0))
            elif name.endswith("weight"):
                fan = p[0].numel()
                p.copy_(n(*p.shape) / math.sqrt(fan))
            else:  # cls_token, storage_tokens, mask_token
                p.copy_(0.5 * n(*p.shape))
    model.eval()
    return model


def state_dict(model):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sd["rope_embed.periods"] = sd["rope_embed.periods"].bfloat16()
    return sd


def forward(model, image):
    """{name: float32 array} of one forward, captured with hooks on dinov3's modules."""
    got = {}
    RECORDED.clear()
    hooks = [model.patch_embed.register_forward_hook(
        lambda m, i, o: got.__setitem__("patch_embedding", o.reshape(-1, o.shape[-1])))]
    hooks.append(model.blocks[0].register_forward_pre_hook(
        lambda m, i: got.__setitem__("tokens_0", (i[0][0] if isinstance(i[0], list) else i[0])[0])))
    for idx, blk in enumerate(model.blocks):
        hooks.append(blk.register_forward_hook(
            lambda m, i, o, idx=idx: got.__setitem__(f"tokens_{idx + 1}", (o[0] if isinstance(o, list) else o)[0])))
    with torch.no_grad():
        feats = model.forward_features(torch.from_numpy(image)[None])
    for h in hooks:
        h.remove()
    got["final"] = torch.cat([feats["x_norm_clstoken"][:, None], feats["x_storage_tokens"],
                              feats["x_norm_patchtokens"]], dim=1)[0]
    assert len(RECORDED) == len(model.blocks)
    for idx, a in enumerate(RECORDED):
        got[f"attention_{idx + 1}"] = a[0]
    return {k: v.detach().numpy().astype("<f4") for k, v in got.items()}


def rope_case(model, rows, cols):
    """dinov3's RopePositionEmbedding and rope_apply on a small q for the C++ RoPE test alone."""
    from dinov3.layers.attention import rope_apply
    sin, cos = model.rope_embed(H=rows, W=cols)
    heads = model.num_heads
    dh = model.embed_dim // heads
    q = torch.arange(heads * rows * cols * dh, dtype=torch.float32).reshape(1, heads, rows * cols, dh)
    q = torch.sin(q * 0.37) + 0.1
    return {"periods": model.rope_embed.periods.detach().numpy().astype("<f4"),
            "sin": sin.numpy().astype("<f4"), "cos": cos.numpy().astype("<f4"),
            "x": q[0].numpy().astype("<f4"), "rotated": rope_apply(q, sin, cos)[0].numpy().astype("<f4")}


def main(src, data_dir):
    import shutil
    cls = import_dinov3(src)
    out = os.path.join(data_dir, "dinov3")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "bad"))
    torch.manual_seed(0)
    rng = np.random.default_rng(20261207)
    rows = []

    def case(name, model, grids, family):
        folder = os.path.join(out, name)
        os.makedirs(folder)
        torch.save(state_dict(model), os.path.join(folder, "model.pth"))
        p = model.patch_size
        for gr, gc in grids:
            image = rng.standard_normal((3, gr * p + p // 2, gc * p + 1)).astype(np.float32)
            tag = f"{gr}x{gc}"
            np.save(os.path.join(folder, f"input_{tag}.npy"), image)
            np.savez(os.path.join(folder, f"expected_{tag}.npz"), **forward(model, image))
            rows.append([f"{name}_{tag}", f"{name}/model.pth", f"{name}/input_{tag}.npy",
                         f"{name}/expected_{tag}.npz", "0", family,
                         "rope_embed.periods: head dim = 4 x 4 periods", str(model.num_heads),
                         str(len(model.blocks))])

    # Native 32x32 (4x4 patches of 8) and 48x40 (6x5: non-square, more patches).
    model = make_model(cls, rng)
    case("meta_vit_reg4_pth", model, [(4, 4), (6, 5)], "Meta DINOv3 (4 storage tokens, RoPE)")
    np.savez(os.path.join(out, "rope_3x5.npz"), **rope_case(model, 3, 5))
    # The SwiGLU MLP of S+/H+/7B (w1, w2, w3; hidden int(128 * 2 / 3) aligned to 8 = 88).
    swiglu = make_model(cls, rng, ffn_layer="swiglu")
    case("meta_vit_swiglu_pth", swiglu, [(5, 3)], "Meta DINOv3 (4 storage tokens, RoPE, SwiGLU)")

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\t--heads\tfamily\theads source\theads\tdepth\n")
        for r in rows:
            f.write("\t".join(r) + "\n")

    # Refusals by name: an extra tensor the reader does not know, and the untied cls/storage
    # norm (untie_cls_and_patch_norms), which PatchLens does not run.
    sd = state_dict(model)
    sd["blocks.1.attn.q_norm.weight"] = torch.ones(16)
    torch.save(sd, os.path.join(out, "bad", "extra_tensor.pth"))
    untied = make_model(cls, rng, depth=1, untie_cls_and_patch_norms=True)
    torch.save(state_dict(untied), os.path.join(out, "bad", "untied_cls_norm.pth"))
    # timm's port of the same model, renamed as timm's eva.py checkpoint_filter_fn does (no
    # periods, gamma_1/2, reg_token, q_bias / v_bias) with no timm config.json beside it: the
    # file alone cannot tell its RoPE, and read as a plain timm ViT it would lose LayerScale and
    # RoPE, so it is refused by name (with the config.json, dinov3_timm_fixtures.py's case runs).
    timm_sd = {}
    for k, v in state_dict(model).items():
        if k.endswith((".periods", ".bias_mask", "mask_token")):
            continue
        if k.endswith("qkv.bias"):
            q, _, vv = v.chunk(3, dim=-1)
            timm_sd[k.replace("qkv.bias", "q_bias")] = q
            timm_sd[k.replace("qkv.bias", "v_bias")] = vv
            continue
        k = k.replace("ls1.gamma", "gamma_1").replace("ls2.gamma", "gamma_2")
        timm_sd[k.replace("storage_tokens", "reg_token")] = v
    torch.save(timm_sd, os.path.join(out, "bad", "timm_port.pth"))
    with open(os.path.join(out, "bad", "expected.tsv"), "w") as f:
        f.write("timm_port.pth\ttensor 'blocks.0.gamma_1' is timm's EVA layout\n")
        f.write("extra_tensor.pth\ttensor 'blocks.1.attn.q_norm.weight' is not part of the DINOv3 "
                "layout PatchLens runs\n")
        f.write("untied_cls_norm.pth\ttensor 'cls_norm.weight' is an untied cls/storage norm, "
                "which PatchLens does not run\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"dinov3 fixtures: {len(rows)} cases, {total / 1024:.0f} kB under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    src = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DINOV3_SRC", "")
    if not src:
        sys.exit("usage: dinov3_fixtures.py DINOV3_SRC [DATA_DIR]  (or set DINOV3_SRC)")
    main(src, sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
