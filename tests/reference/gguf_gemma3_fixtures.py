#!/usr/bin/python3
"""The SigLIP vision tower of a Gemma 3 mmproj GGUF (llama.cpp), from a tiny SigLIP tower in
PyTorch written as transformers' SiglipVisionModel computes it, renamed and written as llama.cpp's
convert_hf_to_gguf.py (Gemma3VisionModel) writes an mmproj.

    /usr/bin/python3 tests/reference/gguf_gemma3_fixtures.py [DATA_DIR]

transformers is not installed on Debian's torch 1.13, so the tower below is modeling_siglip.py's
math, read line by line (SiglipVisionEmbeddings: a valid conv, position_embedding(position_ids)
added to the patches, no class token; SiglipAttention: softmax(q k^T * head_dim^-0.5) in
float32, then out_proj; SiglipEncoderLayer: x + attn(layer_norm1(x)), x + mlp(layer_norm2(x));
SiglipMLP: fc2(gelu_pytorch_tanh(fc1 x)); SiglipVisionTransformer: post_layernorm; Gemma 3's
vision_use_head False: no MAP head). llama.cpp's clip_graph_siglip runs build_vit on the same
tensors (no pre_ln, no class_embd, v.post_ln) before Gemma 3's projector (4x4 average pool, RMS
norm with mm.soft_emb_norm, mm.input_projection), which PatchLens lists as unused.

Names (gguf-py tensor_mapping.py): v.patch_embd, v.position_embd, v.blk.N.{attn_q, attn_k,
attn_v, attn_out, ln1, ln2, ffn_up (fc1), ffn_down (fc2)}, v.post_ln, mm.input_projection.weight
[D, text width], mm.soft_emb_norm.weight (the converter adds 1). Metadata: MmprojModel's clip.*
keys plus Gemma3VisionModel's clip.projector_type "gemma3", layer_norm_epsilon 1e-6, use_gelu.

Writes DATA_DIR/gguf_gemma3/: siglip_tower/{mmproj.gguf, input_4x4.npy, expected_4x4.npz} (its
native 4x4 grid; clip.cpp resizes every image to it) and bad/*.gguf with bad/expected.tsv, each
refused by name: another projector type, an unknown clip.* key, use_gelu false, a block count
the tensors disagree with, an extra tensor; and clip.use_silu in a llava mmproj.
"""
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from checkpoint_writers import T_FLOAT32, T_UINT32, Typed, save_gguf  # noqa: E402

EPS = 1e-6


class SiglipTower(torch.nn.Module):
    """SiglipVisionModel (vision_use_head=False) with its own parameter names."""

    def __init__(self, d, heads, depth, mlp, patch, grid):
        super().__init__()
        self.heads = heads
        self.patch_embedding = torch.nn.Conv2d(3, d, patch, stride=patch)
        self.position_embedding = torch.nn.Embedding(grid * grid, d)
        self.layers = torch.nn.ModuleList()
        for _ in range(depth):
            layer = torch.nn.Module()
            layer.layer_norm1 = torch.nn.LayerNorm(d, eps=EPS)
            layer.q_proj, layer.k_proj = torch.nn.Linear(d, d), torch.nn.Linear(d, d)
            layer.v_proj, layer.out_proj = torch.nn.Linear(d, d), torch.nn.Linear(d, d)
            layer.layer_norm2 = torch.nn.LayerNorm(d, eps=EPS)
            layer.fc1, layer.fc2 = torch.nn.Linear(d, mlp), torch.nn.Linear(mlp, d)
            self.layers.append(layer)
        self.post_layernorm = torch.nn.LayerNorm(d, eps=EPS)

    def forward(self, pixels):
        out = {}
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        out["patch_embedding"] = x[0]
        ids = torch.arange(x.shape[1])[None]
        x = x + self.position_embedding(ids)
        out["tokens_0"] = x[0]
        b, t, d = x.shape
        dh = d // self.heads
        for i, layer in enumerate(self.layers):
            h = layer.layer_norm1(x)
            q, k, v = (p(h).view(b, t, self.heads, dh).transpose(1, 2)
                       for p in (layer.q_proj, layer.k_proj, layer.v_proj))
            a = torch.matmul(q, k.transpose(2, 3)) * dh ** -0.5
            a = F.softmax(a, dim=-1, dtype=torch.float32)
            out[f"attention_{i + 1}"] = a[0]
            h = torch.matmul(a, v).transpose(1, 2).reshape(b, t, d)
            x = x + layer.out_proj(h)
            h = layer.fc2(F.gelu(layer.fc1(layer.layer_norm2(x)), approximate="tanh"))
            x = x + h
            out[f"tokens_{i + 1}"] = x[0]
        out["final"] = self.post_layernorm(x)[0]
        return {k: v.detach().numpy().astype("<f4") for k, v in out.items()}


def redraw(model, rng):
    n = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * n(*p.shape))
            elif name.endswith("bias"):
                p.copy_(0.1 * n(*p.shape))
            elif name == "position_embedding.weight":
                p.copy_(0.5 * n(*p.shape))
            else:
                p.copy_(n(*p.shape) / math.sqrt(p[0].numel()))


def gguf_state(model, rng, text_width=24):
    """convert_hf_to_gguf.py's names for the tower, plus Gemma 3's two projector tensors."""
    a = lambda t: t.detach().numpy().astype(np.float32)  # noqa: E731
    s = {"v.patch_embd.weight": a(model.patch_embedding.weight),
         "v.patch_embd.bias": a(model.patch_embedding.bias),
         "v.position_embd.weight": a(model.position_embedding.weight)}
    for i, layer in enumerate(model.layers):
        p = f"v.blk.{i}."
        for gg, mod in (("attn_q", layer.q_proj), ("attn_k", layer.k_proj), ("attn_v", layer.v_proj),
                        ("attn_out", layer.out_proj), ("ln1", layer.layer_norm1),
                        ("ln2", layer.layer_norm2), ("ffn_up", layer.fc1), ("ffn_down", layer.fc2)):
            s[p + gg + ".weight"], s[p + gg + ".bias"] = a(mod.weight), a(mod.bias)
    s["v.post_ln.weight"] = a(model.post_layernorm.weight)
    s["v.post_ln.bias"] = a(model.post_layernorm.bias)
    d = model.patch_embedding.weight.shape[0]
    s["mm.input_projection.weight"] = rng.standard_normal((d, text_width)).astype(np.float32)
    s["mm.soft_emb_norm.weight"] = (1 + 0.2 * rng.standard_normal(d)).astype(np.float32)
    return s


def metadata(model, patch, grid, mlp):
    d = model.patch_embedding.weight.shape[0]
    return {"general.architecture": "clip", "general.name": "tiny gemma3 mmproj",
            "clip.has_vision_encoder": True, "clip.projector_type": "gemma3",
            "clip.use_gelu": True,
            "clip.vision.image_size": Typed(T_UINT32, patch * grid),
            "clip.vision.patch_size": Typed(T_UINT32, patch),
            "clip.vision.embedding_length": Typed(T_UINT32, d),
            "clip.vision.feed_forward_length": Typed(T_UINT32, mlp),
            "clip.vision.projection_dim": Typed(T_UINT32, 24),
            "clip.vision.block_count": Typed(T_UINT32, len(model.layers)),
            "clip.vision.attention.head_count": Typed(T_UINT32, model.heads),
            "clip.vision.attention.layer_norm_epsilon": Typed(T_FLOAT32, EPS),
            "clip.vision.image_mean": [0.5, 0.5, 0.5], "clip.vision.image_std": [0.5, 0.5, 0.5]}


def main(data_dir):
    out = os.path.join(data_dir, "gguf_gemma3")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "siglip_tower"))
    os.makedirs(os.path.join(out, "bad"))
    rng = np.random.default_rng(20261211)
    d, heads, depth, mlp, patch, grid = 32, 4, 2, 48, 8, 4
    model = SiglipTower(d, heads, depth, mlp, patch, grid)
    redraw(model, rng)
    model.eval()
    state = gguf_state(model, rng)
    meta = metadata(model, patch, grid, mlp)
    folder = os.path.join(out, "siglip_tower")
    save_gguf(state, meta, os.path.join(folder, "mmproj.gguf"))
    image = rng.standard_normal((3, grid * patch, grid * patch)).astype(np.float32)
    np.save(os.path.join(folder, "input_4x4.npy"), image)
    with torch.no_grad():
        expected = model(torch.from_numpy(image)[None])
    np.savez(os.path.join(folder, "expected_4x4.npz"), **expected)

    # Refusals by name, from a one-block tower (small files).
    small = SiglipTower(16, 2, 1, 24, patch, 2)
    redraw(small, rng)
    small_state = gguf_state(small, rng, text_width=8)
    small_meta = metadata(small, patch, 2, 24)
    bad = []

    def refused(name, state, meta, reason):
        save_gguf(state, meta, os.path.join(out, "bad", name))
        bad.append((name, reason))

    refused("qwen25vl_projector.gguf", small_state,
            dict(small_meta, **{"clip.projector_type": "qwen2.5vl_merger"}),
            "GGUF clip.projector_type 'qwen2.5vl_merger' is not run by PatchLens")
    refused("unknown_key.gguf", small_state,
            dict(small_meta, **{"clip.vision.feature_layer": [1, 2]}),
            "GGUF metadata key 'clip.vision.feature_layer' is not one PatchLens reads for a "
            "Gemma 3 mmproj")
    refused("quick_gelu.gguf", small_state, dict(small_meta, **{"clip.use_gelu": False}),
            "GGUF metadata clip.use_gelu is not true in a Gemma 3 mmproj")
    refused("block_count.gguf", small_state,
            dict(small_meta, **{"clip.vision.block_count": Typed(T_UINT32, 2)}),
            "clip.vision.block_count is 2 but the tensors give 1")
    refused("extra_tensor.gguf", dict(small_state, **{"v.blk.0.attn_q_norm.weight": np.ones(16, np.float32)}),
            small_meta, "tensor 'v.blk.0.attn_q_norm.weight' is not understood")
    # Any tower: a SiLU MLP (clip.use_silu) is not run, never taken for QuickGELU.
    refused("llava_silu.gguf", small_state,
            dict(small_meta, **{"clip.projector_type": "mlp", "clip.use_gelu": False,
                                "clip.use_silu": True}),
            "GGUF metadata clip.use_silu: a SiLU MLP in the vision tower is not run by PatchLens")
    with open(os.path.join(out, "bad", "expected.tsv"), "w") as f:
        for row in bad:
            f.write("\t".join(row) + "\n")
    print(f"Gemma 3 mmproj fixtures: 1 case, {len(bad)} refusals under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data"))
