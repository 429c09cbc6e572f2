#!/usr/bin/python3
"""ViT-encoder fixtures: tiny random models in each family's real tensor names and file format,
an input tensor, and the expected forward computed here with torch.nn.functional only.

    [TIMM_SRC=/path/to/pytorch-image-models] /usr/bin/python3 tests/reference/transformer_fixtures.py [DATA_DIR]

writes DATA_DIR/transformer/ (cases.tsv lists the cases; one directory per model with its
weights, config.json where the family has one, inputs and one expected .npz per input) and
DATA_DIR/transformer/bad/ (a missing and a mis-shaped block tensor). make_reference.py calls
main(DATA_DIR).

The reference forward follows each family's published code:
  timm        timm/models/vision_transformer.py (Attention with fused qkv and q * scale,
              _pos_embed with no_embed_class, resample_abs_pos_embed = F.interpolate(size=,
              mode="bicubic", antialias=True), LayerScale, norm_pre), LayerNorm eps 1e-6
              (1e-5 for the CLIP models).
  HF          transformers 4.3x modeling_vit / modeling_dinov2 / modeling_clip / modeling_siglip
              (separate q/k/v, scores / sqrt(d_head), interpolate_pos_encoding with
              scale_factor = (g + 0.1) / sqrt(N); Dinov2 registers inserted after cls once the
              position embedding is added; CLIP quick_gelu, pre_layrnorm; SigLIP gelu tanh).
  OpenAI CLIP clip/model.py VisionTransformer (nn.MultiheadAttention, ln_pre, ln_post,
              QuickGELU), here through F.multi_head_attention_forward.
  torchvision torchvision.models.vision_transformer (the same functional path), and the whole
              reference is checked ONCE against torchvision's own VisionTransformer module
              (asserted below: every block's output and the final norm).
  llama.cpp   clip.cpp (mmproj GGUF): HF CLIP math, eps from clip.vision.attention.layer_norm_epsilon,
              clip.use_gelu -> ggml_gelu (tanh approximation) else ggml_gelu_quick; the llava
              converter's legacy names (fc1 -> ffn_down) are written for one case.
  Google      vit_jax models_vit.py (Flax einsum attention with kernels [D, H, Dh], LayerNorm
              eps 1e-6, flax.linen.gelu = tanh approximation).
  timm (issue 20 section 2: native non-square grids, DeiT distilled, registers with
              no_embed_class, global_pool='avg' without class token) is checked ONCE against
              timm's own VisionTransformer / VisionTransformerDistilled (dynamic_img_size=True):
              TIMM_SRC=/path/to/pytorch-image-models (its public source, not vendored; it imports
              on Debian's torch 1.13 with TIMM_FUSED_ATTN=0 and no stubs); without it the check
              is skipped with a line saying so.
  unknown/    every family's fixture with one tensor it does not have (UNKNOWN_EXTRA), which
              the readers must refuse by name, and a NaFlex-style Linear patch embedding.
Everything is computed in float64 on the weights exactly as stored (F16/BF16 rounding included)
and saved as float32.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from weight_fixtures import encode, safetensors_bytes, write  # noqa: E402

DT = torch.float64


def t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------- a canonical random model

class Canon:
    """One random ViT in timm's layout (the weights every family's names are made from),
    rounded to the dtype its file stores so the reference sees exactly what the reader does."""

    def __init__(self, rng, d, depth, heads, patch, grid, mlp, dtype, cls=True, dist=False, regs=0,
                 layer_scale=False, pre_norm=False, patch_bias=True, pos_prefix=None, final_norm=True):
        # grid: the native grid, g (square) or (rows, cols)
        self.gh, self.gw = (grid, grid) if isinstance(grid, int) else grid
        grid = grid if isinstance(grid, int) else None
        self.d, self.depth, self.heads, self.p, self.grid, self.mlp = d, depth, heads, patch, grid, mlp
        self.dtype = dtype
        r = lambda a: encode(a.astype(np.float32), dtype)[1]  # noqa: E731
        n = lambda *s: rng.standard_normal(s)  # noqa: E731
        fan = 3 * patch * patch
        self.patch_w = r(n(d, 3, patch, patch) / math.sqrt(fan))
        self.patch_b = r(0.1 * n(d)) if patch_bias else None
        self.cls = r(0.5 * n(d)) if cls else None
        self.dist = r(0.5 * n(d)) if dist else None
        self.regs = r(0.5 * n(regs, d)) if regs else None
        prefix = int(cls) + int(dist) + regs
        self.pos_prefix = prefix if pos_prefix is None else pos_prefix
        self.pos = r(0.5 * n(self.pos_prefix + self.gh * self.gw, d))
        ln = lambda: (r(1 + 0.2 * n(d)), r(0.1 * n(d)))  # noqa: E731
        self.pre = ln() if pre_norm else None
        self.blocks = []
        for _ in range(depth):
            qkv = n(3 * d, d) / math.sqrt(d)
            qkv[: 2 * d] *= 1.5  # sharper attention than a plain init, so the softmax matters
            b = {
                "n1": ln(), "n2": ln(),
                "qkv_w": r(qkv), "qkv_b": r(0.1 * n(3 * d)),
                "proj_w": r(n(d, d) / math.sqrt(d)), "proj_b": r(0.1 * n(d)),
                "fc1_w": r(n(mlp, d) / math.sqrt(d)), "fc1_b": r(0.1 * n(mlp)),
                "fc2_w": r(n(d, mlp) / math.sqrt(mlp)), "fc2_b": r(0.1 * n(d)),
                "ls1": r(0.5 + 0.2 * n(d)) if layer_scale else None,
                "ls2": r(0.5 + 0.2 * n(d)) if layer_scale else None,
            }
            self.blocks.append(b)
        # timm global_pool='avg': no final norm; fc_norm (drawn in its place) acts on the pooled
        # output only, which the encoder does not compute.
        self.norm = ln() if final_norm else None
        self.fc_norm = None if final_norm else ln()


# ---------------------------------------------------------------- reference building blocks

def layer_norm(x, wb, eps):
    return F.layer_norm(x, (x.shape[-1],), t(wb[0]), t(wb[1]), eps)


def activation(x, kind):
    if kind == "gelu":
        return F.gelu(x)
    if kind == "tanh":
        return F.gelu(x, approximate="tanh")
    return x * torch.sigmoid(1.702 * x)  # CLIP QuickGELU


def attention_timm(x, b, heads):
    """timm Attention.forward (fused_attn off): qkv reshape/permute, q * scale, softmax."""
    B, N, C = x.shape
    qkv = F.linear(x, t(b["qkv_w"]), t(b["qkv_b"])).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q = q * (C // heads) ** -0.5
    attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(B, N, C)
    return F.linear(out, t(b["proj_w"]), t(b["proj_b"])), attn


def attention_hf(x, b, heads):
    """HF ViTSelfAttention / CLIPAttention: separate projections, scores / sqrt(d_head)."""
    B, N, C = x.shape
    d = C // heads
    w, bias = t(b["qkv_w"]), t(b["qkv_b"])

    def split(y):
        return y.view(B, N, heads, d).permute(0, 2, 1, 3)

    q = split(F.linear(x, w[:C], bias[:C]))
    k = split(F.linear(x, w[C:2 * C], bias[C:2 * C]))
    v = split(F.linear(x, w[2 * C:], bias[2 * C:]))
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
    probs = F.softmax(scores, dim=-1)
    ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, N, C)
    return F.linear(ctx, t(b["proj_w"]), t(b["proj_b"])), probs


def attention_mha(x, b, heads):
    """nn.MultiheadAttention (OpenAI CLIP, torchvision), per-head weights kept."""
    xs = x.transpose(0, 1)
    out, w = F.multi_head_attention_forward(
        xs, xs, xs, x.shape[-1], heads, t(b["qkv_w"]), t(b["qkv_b"]), None, None, False, 0.0,
        t(b["proj_w"]), t(b["proj_b"]), training=False, need_weights=True, average_attn_weights=False)
    return out.transpose(0, 1), w


def attention_flax(x, b, heads):
    """flax.linen.MultiHeadDotProductAttention with DenseGeneral kernels [D, H, Dh]."""
    B, N, C = x.shape
    d = C // heads
    w, bias = t(b["qkv_w"]), t(b["qkv_b"])
    kern = lambda i: w[i * C:(i + 1) * C].T.reshape(C, heads, d)  # noqa: E731
    q = torch.einsum("bnc,chd->bnhd", x, kern(0)) + bias[:C].reshape(heads, d)
    k = torch.einsum("bnc,chd->bnhd", x, kern(1)) + bias[C:2 * C].reshape(heads, d)
    v = torch.einsum("bnc,chd->bnhd", x, kern(2)) + bias[2 * C:].reshape(heads, d)
    q = q / math.sqrt(d)
    probs = torch.einsum("bqhd,bkhd->bhqk", q, k).softmax(dim=-1)
    ctx = torch.einsum("bhqk,bkhd->bqhd", probs, v)
    out_k = t(b["proj_w"]).T.reshape(heads, d, C)
    return torch.einsum("bqhd,hdc->bqc", ctx, out_k) + t(b["proj_b"]), probs


ATTENTION = {"timm": attention_timm, "hf": attention_hf, "mha": attention_mha, "flax": attention_flax}


def blocks_forward(x, m, attn_kind, act, eps):
    tokens, attns = [x], []
    for b in m.blocks:
        y, a = ATTENTION[attn_kind](layer_norm(x, b["n1"], eps), b, m.heads)
        x = x + (t(b["ls1"]) * y if b["ls1"] is not None else y)
        h = activation(F.linear(layer_norm(x, b["n2"], eps), t(b["fc1_w"]), t(b["fc1_b"])), act)
        y = F.linear(h, t(b["fc2_w"]), t(b["fc2_b"]))
        x = x + (t(b["ls2"]) * y if b["ls2"] is not None else y)
        tokens.append(x)
        attns.append(a)
    return tokens, attns


def patch_embed(m, image):
    y = F.conv2d(t(image)[None], t(m.patch_w), t(m.patch_b) if m.patch_b is not None else None, stride=m.p)
    return y.flatten(2).transpose(1, 2), y.shape[2], y.shape[3]


def timm_resample(pos_patches, old, rows, cols):
    """timm resample_abs_pos_embed (layers/pos_embed.py), as _pos_embed calls it with
    old_size = the native grid (rows, cols), which may be non-square. Its early return: a table of
    the new count whose new grid is square is returned as it is (also from a non-square grid)."""
    gh, gw = old
    if rows * cols == gh * gw and (rows == cols or (rows, cols) == (gh, gw)):
        return pos_patches
    p = pos_patches.reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
    p = F.interpolate(p, size=(rows, cols), mode="bicubic", antialias=True)
    return p.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)


def hf_interpolate(pos_patches, n_positions, rows, cols):
    """transformers 4.3x ViTEmbeddings.interpolate_pos_encoding (Dinov2 the same)."""
    if rows * cols == n_positions and rows == cols:
        return pos_patches
    side = math.sqrt(n_positions)
    h0, w0 = rows + 0.1, cols + 0.1
    p = pos_patches.reshape(1, int(side), int(side), -1).permute(0, 3, 1, 2)
    p = F.interpolate(p, scale_factor=(h0 / side, w0 / side), mode="bicubic", align_corners=False)
    assert int(h0) == p.shape[-2] and int(w0) == p.shape[-1]
    return p.permute(0, 2, 3, 1).reshape(1, -1, p.shape[1])


def reference(family, m, image):
    """{name: float32 array} of the forward, named as `patchlens-cli forward` writes them."""
    emb, rows, cols = patch_embed(m, image)
    pos = t(m.pos)[None]
    g = m.grid
    prefix = [t(v)[None, None] for v in (m.cls, m.dist) if v is not None]
    if m.regs is not None:
        prefix.append(t(m.regs)[None])
    if family.startswith("timm"):
        patch_pos = timm_resample(pos[:, m.pos_prefix:], (m.gh, m.gw), rows, cols)
        if m.pos_prefix == 0:  # no_embed_class: add, then concatenate
            x = torch.cat(prefix + [emb + patch_pos], dim=1)
        else:
            x = torch.cat(prefix + [emb], dim=1) + torch.cat([pos[:, :m.pos_prefix], patch_pos], dim=1)
        eps = 1e-5 if m.pre is not None else 1e-6
        if m.pre is not None:
            x = layer_norm(x, m.pre, eps)
        kind, act = "timm", ("quick" if family == "timm_clip" else "gelu")
    elif family in ("hf_vit", "hf_dinov2"):
        patch_pos = hf_interpolate(pos[:, 1:], pos.shape[1] - 1, rows, cols)
        x = torch.cat([prefix[0], emb], dim=1) + torch.cat([pos[:, :1], patch_pos], dim=1)
        if m.regs is not None:  # Dinov2WithRegisters: registers after cls, no position
            x = torch.cat([x[:, :1], t(m.regs)[None], x[:, 1:]], dim=1)
        eps = 1e-12 if family == "hf_vit" else 1e-6
        kind, act = "hf", "gelu"
    elif family in ("gguf_quick", "gguf_gelu"):
        assert (rows, cols) == (g, g), "clip.cpp does not resample position embeddings here"
        x = torch.cat(prefix + [emb], dim=1) + pos
        eps = 1e-5
        if m.pre is not None:
            x = layer_norm(x, m.pre, eps)
        kind, act = "hf", ("quick" if family == "gguf_quick" else "tanh")
    elif family in ("hf_clip", "hf_siglip", "openai_clip", "torchvision", "google"):
        assert (rows, cols) == (g, g), "these families cannot resample position embeddings"
        x = torch.cat(prefix + [emb], dim=1) + pos
        eps = {"hf_clip": 1e-5, "openai_clip": 1e-5}.get(family, 1e-6)
        if m.pre is not None:
            x = layer_norm(x, m.pre, eps)
        kind = {"hf_clip": "hf", "hf_siglip": "hf", "openai_clip": "mha", "torchvision": "mha",
                "google": "flax"}[family]
        act = {"hf_clip": "quick", "openai_clip": "quick", "hf_siglip": "tanh", "google": "tanh"}.get(family, "gelu")
    else:
        raise ValueError(family)
    tokens, attns = blocks_forward(x, m, kind, act, eps)
    out = {"patch_embedding": emb[0]}
    for i, tok in enumerate(tokens):
        out[f"tokens_{i}"] = tok[0]
    out["final"] = layer_norm(tokens[-1], m.norm, eps)[0] if m.norm is not None else tokens[-1][0]
    for i, a in enumerate(attns):
        out[f"attention_{i + 1}"] = a[0]
    return {k: v.detach().numpy().astype("<f4") for k, v in out.items()}


# ---------------------------------------------------------------- family writers (real names)

def state_timm(m):
    s = {"patch_embed.proj.weight": m.patch_w, "patch_embed.proj.bias": m.patch_b, "pos_embed": m.pos[None]}
    if m.norm is not None:
        s["norm.weight"], s["norm.bias"] = m.norm
    if m.fc_norm is not None:
        s["fc_norm.weight"], s["fc_norm.bias"] = m.fc_norm
    if m.cls is not None:
        s["cls_token"] = m.cls[None, None]
    if m.dist is not None:
        s["dist_token"] = m.dist[None, None]
    if m.regs is not None:
        s["reg_token"] = m.regs[None]
    if m.pre is not None:
        s["norm_pre.weight"], s["norm_pre.bias"] = m.pre
    for i, b in enumerate(m.blocks):
        p = f"blocks.{i}."
        s.update({p + "norm1.weight": b["n1"][0], p + "norm1.bias": b["n1"][1],
                  p + "attn.qkv.weight": b["qkv_w"], p + "attn.qkv.bias": b["qkv_b"],
                  p + "attn.proj.weight": b["proj_w"], p + "attn.proj.bias": b["proj_b"],
                  p + "norm2.weight": b["n2"][0], p + "norm2.bias": b["n2"][1],
                  p + "mlp.fc1.weight": b["fc1_w"], p + "mlp.fc1.bias": b["fc1_b"],
                  p + "mlp.fc2.weight": b["fc2_w"], p + "mlp.fc2.bias": b["fc2_b"]})
        if b["ls1"] is not None:
            s[p + "ls1.gamma"], s[p + "ls2.gamma"] = b["ls1"], b["ls2"]
    s["head.weight"] = np.zeros((2, m.d), np.float32)  # a classifier head the forward ignores
    return s


def state_hf_vit(m, dinov2=False, prefix=""):
    d = m.d
    s = {"embeddings.patch_embeddings.projection.weight": m.patch_w,
         "embeddings.patch_embeddings.projection.bias": m.patch_b,
         "embeddings.position_embeddings": m.pos[None], "embeddings.cls_token": m.cls[None, None],
         "layernorm.weight": m.norm[0], "layernorm.bias": m.norm[1]}
    if dinov2:
        s["embeddings.mask_token"] = np.zeros((1, d), np.float32)
    if m.regs is not None:
        s["embeddings.register_tokens"] = m.regs[None]
    for i, b in enumerate(m.blocks):
        p = f"encoder.layer.{i}."
        n1, n2 = ("norm1", "norm2") if dinov2 else ("layernorm_before", "layernorm_after")
        s.update({p + n1 + ".weight": b["n1"][0], p + n1 + ".bias": b["n1"][1],
                  p + n2 + ".weight": b["n2"][0], p + n2 + ".bias": b["n2"][1],
                  p + "attention.output.dense.weight": b["proj_w"],
                  p + "attention.output.dense.bias": b["proj_b"]})
        for j, name in enumerate(("query", "key", "value")):
            s[p + f"attention.attention.{name}.weight"] = b["qkv_w"][j * d:(j + 1) * d]
            s[p + f"attention.attention.{name}.bias"] = b["qkv_b"][j * d:(j + 1) * d]
        fc1, fc2 = ("mlp.fc1", "mlp.fc2") if dinov2 else ("intermediate.dense", "output.dense")
        s.update({p + fc1 + ".weight": b["fc1_w"], p + fc1 + ".bias": b["fc1_b"],
                  p + fc2 + ".weight": b["fc2_w"], p + fc2 + ".bias": b["fc2_b"]})
        if dinov2:
            s[p + "layer_scale1.lambda1"], s[p + "layer_scale2.lambda1"] = b["ls1"], b["ls2"]
    return {prefix + k: v for k, v in s.items()}


def state_hf_clip(m):
    d = m.d
    v = "vision_model."
    s = {v + "embeddings.patch_embedding.weight": m.patch_w,
         v + "embeddings.position_embedding.weight": m.pos,
         v + "post_layernorm.weight": m.norm[0], v + "post_layernorm.bias": m.norm[1]}
    if m.patch_b is not None:
        s[v + "embeddings.patch_embedding.bias"] = m.patch_b
    if m.cls is not None:
        s[v + "embeddings.class_embedding"] = m.cls
    if m.pre is not None:
        s[v + "pre_layrnorm.weight"], s[v + "pre_layrnorm.bias"] = m.pre
    for i, b in enumerate(m.blocks):
        p = v + f"encoder.layers.{i}."
        s.update({p + "layer_norm1.weight": b["n1"][0], p + "layer_norm1.bias": b["n1"][1],
                  p + "layer_norm2.weight": b["n2"][0], p + "layer_norm2.bias": b["n2"][1],
                  p + "self_attn.out_proj.weight": b["proj_w"], p + "self_attn.out_proj.bias": b["proj_b"],
                  p + "mlp.fc1.weight": b["fc1_w"], p + "mlp.fc1.bias": b["fc1_b"],
                  p + "mlp.fc2.weight": b["fc2_w"], p + "mlp.fc2.bias": b["fc2_b"]})
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            s[p + f"self_attn.{name}.weight"] = b["qkv_w"][j * d:(j + 1) * d]
            s[p + f"self_attn.{name}.bias"] = b["qkv_b"][j * d:(j + 1) * d]
    return s


def state_openai_clip(m):
    s = {"visual.conv1.weight": m.patch_w, "visual.class_embedding": m.cls,
         "visual.positional_embedding": m.pos, "visual.ln_pre.weight": m.pre[0],
         "visual.ln_pre.bias": m.pre[1], "visual.ln_post.weight": m.norm[0],
         "visual.ln_post.bias": m.norm[1], "visual.proj": np.zeros((m.d, 8), np.float32),
         "logit_scale": np.ones((), np.float32)}
    for i, b in enumerate(m.blocks):
        p = f"visual.transformer.resblocks.{i}."
        s.update({p + "ln_1.weight": b["n1"][0], p + "ln_1.bias": b["n1"][1],
                  p + "attn.in_proj_weight": b["qkv_w"], p + "attn.in_proj_bias": b["qkv_b"],
                  p + "attn.out_proj.weight": b["proj_w"], p + "attn.out_proj.bias": b["proj_b"],
                  p + "ln_2.weight": b["n2"][0], p + "ln_2.bias": b["n2"][1],
                  p + "mlp.c_fc.weight": b["fc1_w"], p + "mlp.c_fc.bias": b["fc1_b"],
                  p + "mlp.c_proj.weight": b["fc2_w"], p + "mlp.c_proj.bias": b["fc2_b"]})
    return s


def state_torchvision(m):
    s = {"class_token": m.cls[None, None], "conv_proj.weight": m.patch_w, "conv_proj.bias": m.patch_b,
         "encoder.pos_embedding": m.pos[None], "encoder.ln.weight": m.norm[0], "encoder.ln.bias": m.norm[1],
         "heads.head.weight": np.zeros((2, m.d), np.float32), "heads.head.bias": np.zeros(2, np.float32)}
    for i, b in enumerate(m.blocks):
        p = f"encoder.layers.encoder_layer_{i}."
        s.update({p + "ln_1.weight": b["n1"][0], p + "ln_1.bias": b["n1"][1],
                  p + "self_attention.in_proj_weight": b["qkv_w"], p + "self_attention.in_proj_bias": b["qkv_b"],
                  p + "self_attention.out_proj.weight": b["proj_w"],
                  p + "self_attention.out_proj.bias": b["proj_b"],
                  p + "ln_2.weight": b["n2"][0], p + "ln_2.bias": b["n2"][1],
                  p + "mlp.0.weight": b["fc1_w"], p + "mlp.0.bias": b["fc1_b"],
                  p + "mlp.3.weight": b["fc2_w"], p + "mlp.3.bias": b["fc2_b"]})
    return s


def state_google(m):
    d, h = m.d, m.heads
    s = {"cls": m.cls[None, None], "embedding/kernel": np.ascontiguousarray(m.patch_w.transpose(2, 3, 1, 0)),
         "embedding/bias": m.patch_b, "Transformer/posembed_input/pos_embedding": m.pos[None],
         "Transformer/encoder_norm/scale": m.norm[0], "Transformer/encoder_norm/bias": m.norm[1],
         "head/kernel": np.zeros((d, 2), np.float32), "head/bias": np.zeros(2, np.float32)}
    for i, b in enumerate(m.blocks):
        p = f"Transformer/encoderblock_{i}/"
        a = p + "MultiHeadDotProductAttention_1/"
        s.update({p + "LayerNorm_0/scale": b["n1"][0], p + "LayerNorm_0/bias": b["n1"][1],
                  p + "LayerNorm_2/scale": b["n2"][0], p + "LayerNorm_2/bias": b["n2"][1],
                  a + "out/kernel": np.ascontiguousarray(b["proj_w"].T.reshape(h, d // h, d)),
                  a + "out/bias": b["proj_b"],
                  p + "MlpBlock_3/Dense_0/kernel": np.ascontiguousarray(b["fc1_w"].T),
                  p + "MlpBlock_3/Dense_0/bias": b["fc1_b"],
                  p + "MlpBlock_3/Dense_1/kernel": np.ascontiguousarray(b["fc2_w"].T),
                  p + "MlpBlock_3/Dense_1/bias": b["fc2_b"]})
        for j, name in enumerate(("query", "key", "value")):
            s[a + name + "/kernel"] = np.ascontiguousarray(b["qkv_w"][j * d:(j + 1) * d].T.reshape(d, h, d // h))
            s[a + name + "/bias"] = b["qkv_b"][j * d:(j + 1) * d].reshape(h, d // h)
    return s


def state_gguf(m, legacy_names=False):
    """HF CLIP through llama.cpp's converters: vision_model -> v, encoder.layers -> blk, ..."""
    d = m.d
    s = {"v.patch_embd.weight": m.patch_w, "v.position_embd.weight": m.pos,
         "mm.0.weight": np.zeros((8, d), np.float32), "mm.0.bias": np.zeros(8, np.float32)}
    if m.patch_b is not None:
        s["v.patch_embd.bias"] = m.patch_b
    if m.cls is not None:
        s["v.class_embd"] = m.cls
    if m.pre is not None:
        s["v.pre_ln.weight"], s["v.pre_ln.bias"] = m.pre
    s["v.post_ln.weight"], s["v.post_ln.bias"] = m.norm
    up, down = ("ffn_down", "ffn_up") if legacy_names else ("ffn_up", "ffn_down")
    for i, b in enumerate(m.blocks):
        p = f"v.blk.{i}."
        s.update({p + "ln1.weight": b["n1"][0], p + "ln1.bias": b["n1"][1],
                  p + "ln2.weight": b["n2"][0], p + "ln2.bias": b["n2"][1],
                  p + "attn_out.weight": b["proj_w"], p + "attn_out.bias": b["proj_b"],
                  p + up + ".weight": b["fc1_w"], p + up + ".bias": b["fc1_b"],
                  p + down + ".weight": b["fc2_w"], p + down + ".bias": b["fc2_b"]})
        for j, name in enumerate(("attn_q", "attn_k", "attn_v")):
            s[p + name + ".weight"] = b["qkv_w"][j * d:(j + 1) * d]
            s[p + name + ".bias"] = b["qkv_b"][j * d:(j + 1) * d]
    return s


def write_safetensors(path, state, dtype):
    tensors = []
    for name, arr in state.items():
        if arr is None:
            continue
        arr = np.asarray(arr, np.float32)
        raw, _ = encode(arr, dtype)
        tensors.append((name, dtype, arr.shape, raw))
    write(path, safetensors_bytes(tensors, {"format": "pt"}))


def write_model(path, family, m, state, fmt):
    """The state in the family's file format (fmt: st, npz, gguf, pth, bin)."""
    if fmt == "gguf":
        from checkpoint_writers import Typed, T_FLOAT32, T_UINT32, save_gguf
        save_gguf({k: np.asarray(v, np.float32) for k, v in state.items()},
                  {"general.architecture": "clip", "clip.has_vision_encoder": True,
                   "clip.use_gelu": family == "gguf_gelu",
                   "clip.vision.embedding_length": Typed(T_UINT32, m.d),
                   "clip.vision.block_count": Typed(T_UINT32, m.depth),
                   "clip.vision.attention.head_count": Typed(T_UINT32, m.heads),
                   "clip.vision.attention.layer_norm_epsilon": Typed(T_FLOAT32, 1e-5)},
                  path, dtype=m.dtype)
    elif fmt in ("pth", "bin"):
        from checkpoint_writers import save_torch_legacy, save_torch_zip
        sd = {k: torch.from_numpy(np.asarray(v, np.float32).copy()) for k, v in state.items() if v is not None}
        if m.dtype == "F16":
            sd = {k: v.half() for k, v in sd.items()}
        elif m.dtype == "BF16":
            sd = {k: v.bfloat16() for k, v in sd.items()}
        (save_torch_zip if fmt == "pth" else save_torch_legacy)(sd, path)
    elif fmt == "npz":
        np.savez(path, **{k: np.asarray(v, np.float32) for k, v in state.items() if v is not None})
    else:
        write_safetensors(path, state, m.dtype)


# One tensor each family does not have, added to its fixture: the reader must refuse it by name.
# Some are markers of a family PatchLens does not run (BEiT's relative_position_bias_table, RoPE's
# rope.freqs, DINOv3's storage_tokens and bias_mask), the others plain unknown names.
UNKNOWN_EXTRA = {
    "timm_vit_f32": "blocks.0.attn.relative_position_bias_table",
    "timm_deit_bf16": "rope.freqs",
    "timm_dinov2_reg4_f16": "storage_tokens",
    "timm_clip_f32": "blocks.1.attn.q_norm.weight",
    "hf_vit_f32": "vit.encoder.layer.1.lambda_1",
    "hf_dinov2_reg2_bf16": "encoder.layer.0.mlp.weights_in.weight",
    "hf_clip_f16": "vision_model.embeddings.register_tokens",
    "hf_siglip_f32": "vision_model.encoder.layers.0.self_attn.q_norm.weight",
    "openai_clip_f16": "visual.attnpool.positional_embedding",
    "torchvision_f32": "encoder.layers.encoder_layer_0.self_attention.relative_position_bias_table",
    "google_f32": "Transformer/encoderblock_0/LayerScale_0/scale",
    "gguf_clip_f16": "v.blk.0.ffn_gate.weight",
    "gguf_siglip_legacy_f32": "v.patch_embd.weight.1",
    "timm_dinov2_reg4_pth_bf16": "blocks.0.attn.qkv.bias_mask",
    "hf_vit_bin_f16": "encoder.layer.0.attention.attention.relative_position_bias.relative_position_bias_table",
}


# ---------------------------------------------------------------- the torchvision check

def check_against_torchvision(m, image, expected):
    """The reference forward equals torchvision's own VisionTransformer on the same weights."""
    from torchvision.models.vision_transformer import VisionTransformer
    size = m.grid * m.p
    model = VisionTransformer(image_size=size, patch_size=m.p, num_layers=m.depth, num_heads=m.heads,
                              hidden_dim=m.d, mlp_dim=m.mlp, num_classes=2).double().eval()
    state = {k: torch.from_numpy(np.asarray(v, np.float64).copy()) for k, v in state_torchvision(m).items()}
    model.load_state_dict(state, strict=True)
    outputs = []
    hooks = [layer.register_forward_hook(lambda mod, i, o: outputs.append(o[0].detach().numpy()))
             for layer in model.encoder.layers]
    with torch.no_grad():
        x = model._process_input(t(image)[None])
        x = torch.cat([model.class_token.expand(1, -1, -1), x], dim=1)
        final = model.encoder(x)[0].numpy()
    for h in hooks:
        h.remove()
    for i, o in enumerate(outputs):
        np.testing.assert_allclose(o, expected[f"tokens_{i + 1}"], rtol=0, atol=2e-5 * np.abs(o).max())
    np.testing.assert_allclose(final, expected["final"], rtol=0, atol=2e-5 * np.abs(final).max())
    print("transformer_fixtures: reference forward == torchvision VisionTransformer "
          f"({m.depth} blocks, max |final| {np.abs(final).max():.3f})")


# ---------------------------------------------------------------- the timm check

def check_against_timm(m, image, expected, model_args):
    """The reference forward equals timm's own VisionTransformer / VisionTransformerDistilled
    (timm's public source, not vendored: TIMM_SRC=/path/to/pytorch-image-models, imported on
    Debian's torch 1.13 with TIMM_FUSED_ATTN=0, no stubs needed) on the same weights, with
    dynamic_img_size=True so that another grid goes through resample_abs_pos_embed. Skipped,
    with a line saying so, when timm cannot be imported."""
    os.environ.setdefault("TIMM_FUSED_ATTN", "0")
    if os.environ.get("TIMM_SRC"):
        sys.path.insert(0, os.environ["TIMM_SRC"])
    try:
        from timm.models.deit import VisionTransformerDistilled
        from timm.models.vision_transformer import VisionTransformer
    except Exception as e:  # noqa: BLE001
        print(f"transformer_fixtures: timm check skipped ({e})")
        return
    cls = VisionTransformerDistilled if m.dist is not None else VisionTransformer
    model = cls(img_size=(m.gh * m.p, m.gw * m.p), patch_size=m.p, embed_dim=m.d, depth=m.depth,
                num_heads=m.heads, mlp_ratio=m.mlp / m.d, num_classes=2, dynamic_img_size=True,
                **model_args).double().eval()
    state = {k: torch.from_numpy(np.asarray(v, np.float64).copy()) for k, v in state_timm(m).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("head") for k in missing), (missing, unexpected)
    outputs = []
    hooks = [b.register_forward_hook(lambda mod, i, o: outputs.append(o[0].detach().numpy()))
             for b in model.blocks]
    with torch.no_grad():
        final = model.forward_features(t(image)[None])[0].numpy()
    for h in hooks:
        h.remove()
    for i, o in enumerate(outputs):
        np.testing.assert_allclose(o, expected[f"tokens_{i + 1}"], rtol=0, atol=2e-5 * np.abs(o).max())
    np.testing.assert_allclose(final, expected["final"], rtol=0, atol=2e-5 * np.abs(final).max())
    print(f"transformer_fixtures: reference forward == timm {cls.__name__} {model_args} on a "
          f"{image.shape[1] // m.p} x {image.shape[2] // m.p} grid (native {m.gh} x {m.gw})")


# ---------------------------------------------------------------- cases

def main(data_dir):
    out = os.path.join(data_dir, "transformer")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rng = np.random.default_rng(20261130)
    rows = []

    written = {}  # case name -> (family, model, state, fmt) for the refusal variants below

    def case(name, family, m, state, fmt, grids, heads_option=0, config=None, expect_family="",
             expect_heads_source="", timm_args=None):
        folder = os.path.join(out, name)
        os.makedirs(folder)
        fname = {"npz": "model.npz", "gguf": "mmproj.gguf", "pth": "model.pth",
                 "bin": "pytorch_model.bin"}.get(fmt, "model.safetensors")
        write_model(os.path.join(folder, fname), family, m, state, fmt)
        written[name] = (family, m, state, fmt)
        if config is not None:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f, indent=1)
        for gr, gc in grids:
            image = rng.standard_normal((3, gr * m.p + m.p // 2, gc * m.p + 1)).astype(np.float32)
            tag = f"{gr}x{gc}"
            np.save(os.path.join(folder, f"input_{tag}.npy"), image)
            expected = reference(family, m, image)
            np.savez(os.path.join(folder, f"expected_{tag}.npz"), **expected)
            if family == "torchvision":
                check_against_torchvision(m, image[:, :gr * m.p, :gc * m.p], expected)
            if timm_args is not None:
                check_against_timm(m, image[:, :gr * m.p, :gc * m.p], expected, timm_args)
            rows.append([f"{name}_{tag}", f"{name}/{fname}", f"{name}/input_{tag}.npy",
                         f"{name}/expected_{tag}.npz", str(heads_option), expect_family, expect_heads_source,
                         str(m.heads), str(m.depth)])
        return folder

    timm_vit = Canon(rng, 48, 3, 3, 16, 4, 96, "F32")
    case("timm_vit_f32", "timm_vit", timm_vit, state_timm(timm_vit), "st", [(4, 4), (3, 5)],
                    config={"architecture": "vit_tiny_patch16_64", "model_args": {"num_heads": 3}},
                    expect_family="timm ViT", expect_heads_source="config.json model_args.num_heads")
    m = Canon(rng, 32, 2, 2, 16, 3, 64, "BF16", dist=True)
    case("timm_deit_bf16", "timm_deit", m, state_timm(m), "st", [(3, 3)], heads_option=2,
         expect_family="timm DeiT (distilled)", expect_heads_source="--heads")
    m = Canon(rng, 64, 2, 4, 14, 4, 128, "F16", regs=4, layer_scale=True, pos_prefix=0)
    case("timm_dinov2_reg4_f16", "timm_dinov2", m, state_timm(m), "st", [(4, 4), (5, 3)], heads_option=4,
         expect_family="timm DINOv2 (4 registers)", expect_heads_source="--heads")
    m = Canon(rng, 32, 2, 2, 8, 5, 64, "F32", pre_norm=True, patch_bias=False)
    case("timm_clip_f32", "timm_clip", m, state_timm(m), "st", [(5, 5)],
         config={"architecture": "vit_tiny_patch8_clip_quickgelu_40", "model_args": {"num_heads": 2}},
         expect_family="timm CLIP", expect_heads_source="config.json model_args.num_heads")
    m = Canon(rng, 32, 3, 4, 16, 4, 64, "F32")
    case("hf_vit_f32", "hf_vit", m, state_hf_vit(m, prefix="vit."), "st", [(4, 4), (3, 5)],
         config={"model_type": "vit", "hidden_size": 32, "num_attention_heads": 4, "layer_norm_eps": 1e-12,
                 "hidden_act": "gelu"},
         expect_family="HF ViTModel", expect_heads_source="config.json num_attention_heads")
    m = Canon(rng, 48, 2, 3, 14, 4, 96, "BF16", regs=2, layer_scale=True, pos_prefix=1)
    case("hf_dinov2_reg2_bf16", "hf_dinov2", m, state_hf_vit(m, dinov2=True), "st", [(4, 4), (5, 4)],
         config={"model_type": "dinov2_with_registers", "hidden_size": 48, "num_attention_heads": 3,
                 "layer_norm_eps": 1e-6},
         expect_family="HF Dinov2Model (2 registers)", expect_heads_source="config.json num_attention_heads")
    m = Canon(rng, 32, 2, 2, 32, 3, 64, "F16", pre_norm=True, patch_bias=False)
    case("hf_clip_f16", "hf_clip", m, state_hf_clip(m), "st", [(3, 3)],
         config={"model_type": "clip", "vision_config": {"hidden_size": 32, "num_attention_heads": 2,
                                                         "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}},
         expect_family="HF CLIPVisionModel", expect_heads_source="config.json vision_config.num_attention_heads")
    m = Canon(rng, 32, 2, 4, 16, 4, 64, "F32", cls=False)
    case("hf_siglip_f32", "hf_siglip", m, state_hf_clip(m), "st", [(4, 4)],
         config={"model_type": "siglip_vision_model", "hidden_size": 32, "num_attention_heads": 4,
                 "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6},
         expect_family="HF SiglipVisionModel", expect_heads_source="config.json num_attention_heads")
    m = Canon(rng, 128, 2, 2, 16, 3, 128, "F16", pre_norm=True, patch_bias=False)
    case("openai_clip_f16", "openai_clip", m, state_openai_clip(m), "st", [(3, 3)],
         expect_family="OpenAI CLIP", expect_heads_source="OpenAI CLIP's rule heads = width / 64")
    m = Canon(rng, 48, 2, 3, 16, 4, 96, "F32")
    case("torchvision_f32", "torchvision", m, state_torchvision(m), "st", [(4, 4)], heads_option=3,
         expect_family="torchvision VisionTransformer", expect_heads_source="--heads")
    m = Canon(rng, 32, 2, 2, 16, 3, 64, "F32")
    case("google_f32", "google", m, state_google(m), "npz", [(3, 3)],
         expect_family="Google ViT (npz)", expect_heads_source="the query kernel's shape [D, heads, D / heads]")

    m = Canon(rng, 32, 2, 2, 14, 3, 64, "F16", pre_norm=True)
    case("gguf_clip_f16", "gguf_quick", m, state_gguf(m), "gguf", [(3, 3)],
         expect_family="llama.cpp CLIP (GGUF)", expect_heads_source="GGUF metadata clip.vision.attention.head_count")
    m = Canon(rng, 32, 2, 4, 16, 3, 48, "F32", cls=False)
    case("gguf_siglip_legacy_f32", "gguf_gelu", m, state_gguf(m, legacy_names=True), "gguf", [(3, 3)],
         expect_family="llama.cpp CLIP (GGUF)", expect_heads_source="GGUF metadata clip.vision.attention.head_count")
    m = Canon(rng, 32, 2, 2, 16, 3, 64, "BF16", regs=4, layer_scale=True, pos_prefix=0)
    # 9 rows are 3 x 3 patches (no_embed_class) or cls + 4 registers + 2 x 2: only the sidecar tells.
    case("timm_dinov2_reg4_pth_bf16", "timm_dinov2", m, {"model": state_timm(m)}["model"], "pth", [(3, 3), (4, 2)],
         heads_option=2, config={"model_args": {"reg_tokens": 4, "no_embed_class": True}}, expect_family="timm DINOv2 (4 registers)", expect_heads_source="--heads")
    m = Canon(rng, 32, 2, 4, 16, 3, 64, "F16")
    case("hf_vit_bin_f16", "hf_vit", m, state_hf_vit(m), "bin", [(3, 3)],
         config={"model_type": "vit", "hidden_size": 32, "num_attention_heads": 4},
         expect_family="HF ViTModel", expect_heads_source="config.json num_attention_heads")

    # Issue 20 section 2: native non-square grids and prefix layouts, each at its native grid and
    # another one, each checked against timm's own classes.
    m = Canon(rng, 48, 2, 3, 16, (4, 3), 96, "F32")
    case("timm_vit_64x48_f32", "timm_vit", m, state_timm(m), "st", [(4, 3), (5, 2)],
         config={"architecture": "vit_tiny_patch16", "model_args": {"num_heads": 3, "img_size": [64, 48]}},
         expect_family="timm ViT", expect_heads_source="config.json model_args.num_heads", timm_args={})
    m = Canon(rng, 32, 2, 2, 16, (4, 6), 64, "F32", dist=True)
    s = state_timm(m)
    s["head_dist.weight"] = np.full((2, m.d), 0.5, np.float32)
    case("timm_deit_4x6_f32", "timm_deit", m, s, "st", [(4, 6), (3, 5)],
         config={"architecture": "deit_tiny_distilled_patch16", "pretrained_cfg": {"input_size": [3, 64, 96]},
                 "model_args": {"num_heads": 2}},
         expect_family="timm DeiT (distilled)", expect_heads_source="config.json model_args.num_heads",
         timm_args={})
    m = Canon(rng, 32, 2, 2, 14, (4, 3), 64, "F32", regs=4, pos_prefix=0)
    case("timm_reg4_noembed_f32", "timm_vit", m, state_timm(m), "st", [(4, 3), (3, 5)],
         config={"architecture": "vit_reg4", "model_args": {"num_heads": 2, "img_size": [56, 42],
                                                            "reg_tokens": 4, "no_embed_class": True}},
         expect_family="timm ViT (4 registers)", expect_heads_source="config.json model_args.num_heads",
         timm_args={"reg_tokens": 4, "no_embed_class": True})
    m = Canon(rng, 32, 2, 2, 16, 3, 64, "F32", cls=False, final_norm=False)
    case("timm_avgpool_f32", "timm_vit", m, state_timm(m), "st", [(3, 3), (4, 2)],
         config={"architecture": "vit_avg", "model_args": {"num_heads": 2, "class_token": False,
                                                           "global_pool": "avg"}},
         expect_family="timm ViT", expect_heads_source="config.json model_args.num_heads",
         timm_args={"class_token": False, "global_pool": "avg"})
    # Meta's DINOv2 .pth with registers (mask_token, register_tokens): the table covers the class
    # token only, the registers go in after it (timm's _convert_dinov2; the HF reference is that
    # math). Meta's code resamples otherwise, so only the native grid runs.
    m = Canon(rng, 32, 2, 2, 14, 3, 64, "F32", regs=4, layer_scale=True, pos_prefix=1)
    s = state_timm(m)
    s["register_tokens"] = s.pop("reg_token")
    s["mask_token"] = np.full((1, m.d), 0.5, np.float32)
    case("meta_dinov2_reg4_f32", "hf_dinov2", m, s, "pth", [(3, 3)], heads_option=2,
         expect_family="timm DINOv2 (Meta naming) (4 registers)", expect_heads_source="--heads")

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\t--heads\tfamily\theads source\theads\tdepth\n")
        for r in rows:
            f.write("\t".join(r) + "\n")

    # Refusals: a block tensor missing, and one with the wrong shape (named in the error).
    bad = os.path.join(out, "bad")
    os.makedirs(bad)
    small = Canon(rng, 32, 3, 2, 8, 2, 32, "F16")
    s = state_timm(small)
    del s["blocks.1.mlp.fc1.weight"]
    write_safetensors(os.path.join(bad, "missing_fc1.safetensors"), s, "F16")
    s = state_timm(small)
    s["blocks.2.attn.proj.weight"] = s["blocks.2.attn.proj.weight"][:, :24]
    write_safetensors(os.path.join(bad, "misshaped_proj.safetensors"), s, "F16")
    with open(os.path.join(bad, "expected.tsv"), "w") as f:
        f.write("missing_fc1.safetensors\ttensor 'blocks.1.mlp.fc1.weight' is missing (block 2 of 3)\n")
        f.write("misshaped_proj.safetensors\ttensor 'blocks.2.attn.proj.weight' is [32, 24], expected [32, 32]\n")
    # Each family's fixture with one tensor it does not have (UNKNOWN_EXTRA): refused by name.
    unknown = os.path.join(out, "unknown")
    os.makedirs(unknown)
    with open(os.path.join(unknown, "expected.tsv"), "w") as f:
        for name, extra in UNKNOWN_EXTRA.items():
            family, m, state, fmt = written[name]
            s = dict(state)
            s[extra] = np.full((2, m.d), 0.25, np.float32)
            fname = name + {"npz": ".npz", "gguf": ".gguf", "pth": ".pth", "bin": ".bin"}.get(fmt, ".safetensors")
            write_model(os.path.join(unknown, fname), family, m, s, fmt)
            f.write(f"{fname}\t{extra}\n")
    # NaFlex's Linear patch embedding [D, P*P*C] under timm's conv name: never reshaped into a conv.
    m = written["timm_vit_f32"][1]
    s = dict(written["timm_vit_f32"][2])
    s["patch_embed.proj.weight"] = s["patch_embed.proj.weight"].reshape(m.d, -1)
    write_safetensors(os.path.join(unknown, "naflex_linear_patch.safetensors"), s, "F32")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"transformer fixtures: {len(rows)} cases, {total / 1024:.0f} kB under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data"))
