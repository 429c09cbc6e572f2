#!/usr/bin/python3
"""Hugging Face's DINOv3 layout (transformers >= 4.56, DINOv3ViTModel, config.json model_type
"dinov3_vit") from Meta's own model: a tiny DinoVisionTransformer built and redrawn as
dinov3_fixtures.py does, renamed as transformers' convert_dinov3_vit_to_hf.py renames Meta's
state dict, saved as model.safetensors with the config.json DINOv3ViTConfig.save_pretrained
writes, and its forward captured with the numerics of HF's modeling_dinov3_vit.py.

    /usr/bin/python3 tests/reference/dinov3_hf_fixtures.py DINOV3_SRC [DATA_DIR]

There is no transformers package on Debian's torch 1.13, so HF's forward is Meta's
DinoVisionTransformer with the two places where HF's port computes differently replaced by
lines mirroring modeling_dinov3_vit.py (transformers commit fd30207, read line by line):

- RoPE: DINOv3ViTRopePositionEmbedding.__init__ recomputes
  `inv_freq = 1 / rope_theta ** torch.arange(0, 1, 4 / head_dim, dtype=torch.float32)` (the
  stored periods are dropped by the conversion: "periods" -> "inv_freq", skipped), and forward
  builds `get_patches_center_coordinates` (arange(0.5, h) / h, arange(0.5, w) / w, meshgrid
  'ij', flatten, 2 * coords - 1) then `angles = 2 * math.pi * patch_coords[:, :, None] *
  self.inv_freq[None, None, :]`, flatten(1, 2), tile(2), cos / sin: a product with inv_freq
  where Meta divides by the periods. `augment_patches_center_coordinates` (pos_embed_shift,
  pos_embed_jitter, pos_embed_rescale) runs only under `if self.training`: not in an eval
  forward, so those config keys have no effect here.
- Attention: eager_attention_forward, `softmax(matmul(q, k^T) * scaling)` (the scale after the
  product; dinov3 scales q first); q, k, v from three nn.Linear (k_proj without a bias unless
  key_bias: the conversion skips "attn.k_proj.bias", which Meta's bias_mask zeroes anyway).

apply_rotary_pos_emb (rotate_half on the patches, prefix tokens untouched), DINOv3ViTLayer
(norm1, attention, layer_scale1, residual; norm2, mlp, layer_scale2, residual), DINOv3ViTMLP
(down(act(up x))), DINOv3ViTGatedMLP (down(act(gate x) * up x), w1 -> gate_proj, w2 -> up_proj,
w3 -> down_proj) and the final norm on every token are Meta's block, FFN and norm as they are.

Appends its rows to DATA_DIR/dinov3/cases.tsv and bad/expected.tsv, so run it after
dinov3_fixtures.py. Writes dinov3/hf_vit_reg4 (MLP, GELU, rope_theta 100, native 4x4 and a
non-square 3x5), dinov3/hf_vit_gated (gated MLP with silu, key_bias true, rope_theta 40, 5x3),
dinov3/hf_vit_reg0 (num_register_tokens 0: register_tokens stored as [1, 0, D]; 4x4 and 3x5)
and bad/hf_* (one extra tensor; no config.json; a config key PatchLens does not know; a k bias
the config says is absent), each refused by name.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dinov3_fixtures as meta  # noqa: E402
import transformer_fixtures as tf  # noqa: E402


def eager_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """modeling_dinov3_vit.eager_attention_forward without mask or dropout."""
    assert attn_mask is None and dropout_p == 0.0 and not is_causal
    scaling = q.shape[-1] ** -0.5
    attn = torch.nn.functional.softmax(torch.matmul(q, k.transpose(-1, -2)) * scaling, dim=-1,
                                       dtype=torch.float32).to(q.dtype)
    meta.RECORDED.append(attn.detach().clone())
    return torch.matmul(attn, v)


def hf_rope(rope_theta, head_dim):
    """DINOv3ViTRopePositionEmbedding (eval) as dinov3's rope_embed(H=, W=) returns it: (sin, cos)."""
    inv_freq = 1 / rope_theta ** torch.arange(0, 1, 4 / head_dim, dtype=torch.float32)

    def forward(*, H, W):
        coords_h = torch.arange(0.5, H, dtype=torch.float32)
        coords_w = torch.arange(0.5, W, dtype=torch.float32)
        coords_h = coords_h / H
        coords_w = coords_w / W
        coords = torch.stack(torch.meshgrid(coords_h, coords_w, indexing="ij"), dim=-1)
        coords = coords.flatten(0, 1)
        coords = 2.0 * coords - 1.0
        angles = 2 * math.pi * coords[:, :, None] * inv_freq[None, None, :]
        angles = angles.flatten(1, 2)
        angles = angles.tile(2)
        return torch.sin(angles), torch.cos(angles)
    return forward, inv_freq


def hf_state_dict(model, key_bias):
    """Meta's names -> DINOv3ViTModel's (convert_dinov3_vit_to_hf.py: split_qkv, the key
    mapping, mask_token unsqueezed to [1, 1, D]; periods, bias_mask, local_cls_norm and, unless
    key_bias, the k bias dropped)."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().clone().float()
        if k.endswith(("periods", "bias_mask")) or k.startswith("local_cls_norm"):
            continue
        if ".attn.qkv." in k:
            i = k.split(".")[1]
            kind = k.rsplit(".", 1)[1]
            for name, part in zip(("q_proj", "k_proj", "v_proj"), v.chunk(3, dim=0)):
                if name == "k_proj" and kind == "bias" and not key_bias:
                    continue
                out[f"layer.{i}.attention.{name}.{kind}"] = part.contiguous()
            continue
        if k == "cls_token":
            out["embeddings.cls_token"] = v
        elif k == "mask_token":
            out["embeddings.mask_token"] = v.reshape(1, 1, -1)
        elif k == "storage_tokens":
            out["embeddings.register_tokens"] = v
        elif k.startswith("patch_embed.proj."):
            out["embeddings.patch_embeddings." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("norm."):
            out[k] = v
        elif k.startswith("blocks."):
            _, i, rest = k.split(".", 2)
            for a, b in (("attn.proj.", "attention.o_proj."), ("ls1.gamma", "layer_scale1.lambda1"),
                         ("ls2.gamma", "layer_scale2.lambda1"), ("mlp.fc1.", "mlp.up_proj."),
                         ("mlp.fc2.", "mlp.down_proj."), ("mlp.w1.", "mlp.gate_proj."),
                         ("mlp.w2.", "mlp.up_proj."), ("mlp.w3.", "mlp.down_proj.")):
                rest = rest.replace(a, b)
            out[f"layer.{i}.{rest}"] = v
        else:
            raise SystemExit(f"no HF name for {k}")
    if "embeddings.register_tokens" not in out:
        # DINOv3ViTEmbeddings always holds register_tokens, [1, num_register_tokens, D]: with no
        # storage tokens in Meta's model save_pretrained writes it empty, [1, 0, D].
        out["embeddings.register_tokens"] = torch.zeros(1, 0, model.embed_dim)
    return out


def hf_config(model, rope_theta, gated, key_bias, image_size):
    """What DINOv3ViTConfig(...).save_pretrained writes for this model (transformers 4.56)."""
    sd = model.state_dict()
    hidden = sd["blocks.0.mlp.w1.weight" if gated else "blocks.0.mlp.fc1.weight"].shape[0]
    return {"architectures": ["DINOv3ViTModel"], "attention_dropout": 0.0, "drop_path_rate": 0.0,
            "hidden_act": "silu" if gated else "gelu", "hidden_size": model.embed_dim,
            "image_size": image_size, "initializer_range": 0.02, "intermediate_size": hidden,
            "key_bias": key_bias, "layer_norm_eps": 1e-05, "layerscale_value": 1.0,
            "mlp_bias": True, "model_type": "dinov3_vit", "num_attention_heads": model.num_heads,
            "num_channels": 3, "num_hidden_layers": len(model.blocks),
            "num_register_tokens": model.n_storage_tokens, "patch_size": model.patch_size,
            "pos_embed_jitter": None, "pos_embed_rescale": 2.0, "pos_embed_shift": None,
            "proj_bias": True, "query_bias": True, "rope_theta": rope_theta,
            "torch_dtype": "float32", "transformers_version": "4.56.0", "use_gated_mlp": gated,
            "value_bias": True}


def check_by_hf_names(state, config, image, expected):
    """An independent forward straight from the renamed tensors and config.json, written from
    DINOv3ViTModel.forward (embeddings, rope_embeddings, each layer, norm): it must agree with the
    Meta model's captured tokens, so the renaming and the mirrored lines are what HF runs."""
    F = torch.nn.functional
    d, heads = config["hidden_size"], config["num_attention_heads"]
    dh, p, eps = d // heads, config["patch_size"], config["layer_norm_eps"]
    x = F.conv2d(torch.from_numpy(image)[None], state["embeddings.patch_embeddings.weight"],
                 state["embeddings.patch_embeddings.bias"], stride=p)
    h, w = x.shape[-2:]
    x = torch.cat([state["embeddings.cls_token"], state["embeddings.register_tokens"],
                   x.flatten(2).transpose(1, 2)], dim=1)
    sin, cos = hf_rope(config["rope_theta"], dh)[0](H=h, W=w)
    n_prefix = x.shape[1] - h * w

    def rot(t):  # apply_rotary_pos_emb: rotate_half on the patches only
        patches = t[..., n_prefix:, :]
        half = torch.cat((-patches[..., dh // 2:], patches[..., :dh // 2]), dim=-1)
        return torch.cat((t[..., :n_prefix, :], patches * cos + half * sin), dim=-2)

    def lin(t, stem):
        return F.linear(t, state[stem + ".weight"], state.get(stem + ".bias"))
    for i in range(config["num_hidden_layers"]):
        q = f"layer.{i}."
        y = F.layer_norm(x, (d,), state[q + "norm1.weight"], state[q + "norm1.bias"], eps)
        qs, ks, vs = (lin(y, q + f"attention.{n}_proj").view(1, -1, heads, dh).transpose(1, 2)
                      for n in "qkv")
        qs, ks = rot(qs), rot(ks)
        a = F.softmax(torch.matmul(qs, ks.transpose(-1, -2)) * dh ** -0.5, dim=-1)
        y = lin(torch.matmul(a, vs).transpose(1, 2).reshape(1, -1, d), q + "attention.o_proj")
        x = x + y * state[q + "layer_scale1.lambda1"]
        y = F.layer_norm(x, (d,), state[q + "norm2.weight"], state[q + "norm2.bias"], eps)
        if config["use_gated_mlp"]:
            y = lin(F.silu(lin(y, q + "mlp.gate_proj")) * lin(y, q + "mlp.up_proj"), q + "mlp.down_proj")
        else:
            y = lin(F.gelu(lin(y, q + "mlp.up_proj")), q + "mlp.down_proj")
        x = x + y * state[q + "layer_scale2.lambda1"]
    final = F.layer_norm(x, (d,), state["norm.weight"], state["norm.bias"], eps)[0].numpy()
    err = np.abs(final - expected["final"]).max() / np.abs(expected["final"]).max()
    assert err < 1e-5, f"HF-named forward differs from the captured one: {err}"


def save(folder, state, config):
    os.makedirs(folder, exist_ok=True)
    tf.write_safetensors(os.path.join(folder, "model.safetensors"),
                         {k: v.numpy() for k, v in state.items()}, "F32")
    if config is not None:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)


def main(src, data_dir):
    cls = meta.import_dinov3(src)
    torch.nn.functional.scaled_dot_product_attention = eager_attention
    out = os.path.join(data_dir, "dinov3")
    rng = np.random.default_rng(20261209)
    rows = []

    def case(name, model, grids, family, rope_theta, gated, key_bias):
        folder = os.path.join(out, name)
        shutil.rmtree(folder, ignore_errors=True)
        model.rope_embed.forward, _ = hf_rope(rope_theta, model.embed_dim // model.num_heads)
        p = model.patch_size
        state = hf_state_dict(model, key_bias)
        config = hf_config(model, rope_theta, gated, key_bias, p * grids[0][0])
        save(folder, state, config)
        for gr, gc in grids:
            image = rng.standard_normal((3, gr * p, gc * p)).astype(np.float32)
            tag = f"{gr}x{gc}"
            got = meta.forward(model, image)
            check_by_hf_names(state, config, image, got)
            np.save(os.path.join(folder, f"input_{tag}.npy"), image)
            np.savez(os.path.join(folder, f"expected_{tag}.npz"), **got)
            rows.append([f"{name}_{tag}", f"{name}/model.safetensors", f"{name}/input_{tag}.npy",
                         f"{name}/expected_{tag}.npz", "0", family,
                         "config.json num_attention_heads", str(model.num_heads),
                         str(len(model.blocks))])
        return folder

    # ViT-S/B/L's settings (MLP, GELU, key_bias false: Meta's bias_mask zeroes k's bias).
    model = meta.make_model(cls, rng)
    case("hf_vit_reg4", model, [(4, 4), (3, 5)], "HF DINOv3ViTModel (4 registers, RoPE)", 100.0,
         False, False)
    # S+/H+ settings (gated MLP, silu), with a real k bias (key_bias true: mask_k_bias off) and a
    # rope_theta other than the default, read from config.json.
    gated = meta.make_model(cls, rng, ffn_layer="swiglu", mask_k_bias=False)
    case("hf_vit_gated", gated, [(5, 3)], "HF DINOv3ViTModel (4 registers, RoPE, gated MLP)",
         40.0, True, True)
    with open(os.path.join(out, "cases.tsv"), "a") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")

    # Refusals by name, from a one-layer model (small files).
    small = meta.make_model(cls, rng, depth=1, embed_dim=32, num_heads=2)
    small.rope_embed.forward, _ = hf_rope(100.0, 16)
    state = hf_state_dict(small, False)
    config = hf_config(small, 100.0, False, False, 32)
    bad = os.path.join(out, "bad")
    expected = []
    extra = dict(state)
    extra["layer.0.attention.q_norm.weight"] = torch.ones(32)
    save(os.path.join(bad, "hf_extra_tensor"), extra, config)
    expected.append(("hf_extra_tensor/model.safetensors",
                     "tensor 'layer.0.attention.q_norm.weight' is not part of the Hugging Face "
                     "DINOv3ViTModel layout"))
    save(os.path.join(bad, "hf_no_config"), state, None)
    expected.append(("hf_no_config/model.safetensors",
                     "tensor 'layer.0.layer_scale1.lambda1' is Hugging Face's DINOv3ViTModel "
                     "layout"))
    save(os.path.join(bad, "hf_unknown_setting"), state, dict(config, use_swiglu_ffn=True))
    expected.append(("hf_unknown_setting/model.safetensors",
                     "key 'use_swiglu_ffn' is not a DINOv3ViTConfig setting PatchLens reads"))
    with_k = hf_state_dict(small, True)
    save(os.path.join(bad, "hf_unexpected_k_bias"), with_k, config)
    expected.append(("hf_unexpected_k_bias/model.safetensors",
                     "tensor 'layer.0.attention.k_proj.bias' is in the file but config.json "
                     "says key_bias false"))
    with open(os.path.join(bad, "expected.tsv"), "a") as f:
        for r in expected:
            f.write("\t".join(r) + "\n")

    # No register tokens (Meta's n_storage_tokens 0): cls then the patches. Drawn last, so the
    # cases above keep their random streams.
    rows.clear()
    reg0 = meta.make_model(cls, rng, n_storage_tokens=0)
    case("hf_vit_reg0", reg0, [(4, 4), (3, 5)], "HF DINOv3ViTModel (0 registers, RoPE)", 100.0,
         False, False)
    with open(os.path.join(out, "cases.tsv"), "a") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    print(f"HF DINOv3 fixtures: {len(rows) + 3} cases, {len(expected)} refusals under "
          f"{os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    src = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DINOV3_SRC", "")
    if not src:
        sys.exit("usage: dinov3_hf_fixtures.py DINOV3_SRC [DATA_DIR]  (or set DINOV3_SRC)")
    main(src, sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
