#!/usr/bin/python3
"""Hugging Face Siglip2VisionModel / Siglip2Model (SigLIP 2 NaFlex in HF naming) from timm's own
naflexvit.py: a tiny naflexvit_base_patch16_siglip built with timm.create_model(pretrained=False)
on a square native grid (HF's position table is num_patches = S*S rows), with
pos_embed_interp_mode='bilinear' (as HF's Siglip2VisionEmbeddings.resize_positional_embeddings),
every parameter redrawn (eva_fixtures.redraw), its state dict renamed to HF's names:

  embeds.proj            -> vision_model.embeddings.patch_embedding (Linear over (ph, pw, c),
                            the order of Siglip2ImageProcessor's convert_image_to_patches)
  embeds.pos_embed       -> vision_model.embeddings.position_embedding.weight [S*S, D]
  blocks.N.norm1 / norm2 -> vision_model.encoder.layers.N.layer_norm1 / layer_norm2
  blocks.N.attn.qkv      -> ....self_attn.{q,k,v}_proj (split in three)
  blocks.N.attn.proj     -> ....self_attn.out_proj
  blocks.N.mlp.fc1 / fc2 -> ....mlp.fc1 / fc2
  norm                   -> vision_model.post_layernorm
  attn_pool.*            -> vision_model.head.{probe, attention.in_proj_*, attention.out_proj,
                            layernorm, mlp.*}

An independent forward written line by line from modeling_siglip2.py over the HF names (eager
attention, F.interpolate(bilinear, align_corners=False, antialias=True) to (h, w) always, no
mask: one image whose patches fill the sequence) must give timm's tokens and attention
(asserted). The expected .npz is timm's capture (timm_capture.capture).

    TIMM_FUSED_ATTN=0 /usr/bin/python3 tests/reference/siglip2_hf_fixtures.py TIMM_SRC [DATA_DIR]

Writes DATA_DIR/siglip2_hf/{vision, full}/{model.safetensors, config.json}, input_<g>.npy,
expected_<g>.npz (the same weights in both files: one set of references), bad/{foreign_tensor,
unknown_key}/ (refused by name, bad/expected.tsv).
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import timm_capture  # noqa: E402
from eva_fixtures import redraw  # noqa: E402
from transformer_fixtures import write_safetensors  # noqa: E402

P, D, DEPTH, HEADS, S, MLP = 8, 32, 2, 4, 4, 128
GRIDS = [(4, 4), (3, 5)]
EPS = 1e-6


def to_hf(state):
    """timm NaFlexVit state dict -> HF Siglip2VisionModel names (vision_model.*)."""
    hf = {}
    v = "vision_model."
    hf[v + "embeddings.patch_embedding.weight"] = state["embeds.proj.weight"]
    hf[v + "embeddings.patch_embedding.bias"] = state["embeds.proj.bias"]
    pos = state["embeds.pos_embed"]
    assert pos.shape == (1, S, S, D)
    hf[v + "embeddings.position_embedding.weight"] = pos.reshape(S * S, D)
    for i in range(DEPTH):
        t, h = f"blocks.{i}.", f"{v}encoder.layers.{i}."
        for a, b in [("norm1", "layer_norm1"), ("norm2", "layer_norm2"),
                     ("attn.proj", "self_attn.out_proj"), ("mlp.fc1", "mlp.fc1"),
                     ("mlp.fc2", "mlp.fc2")]:
            hf[h + b + ".weight"] = state[t + a + ".weight"]
            hf[h + b + ".bias"] = state[t + a + ".bias"]
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            hf[h + f"self_attn.{name}.weight"] = state[t + "attn.qkv.weight"][j * D:(j + 1) * D]
            hf[h + f"self_attn.{name}.bias"] = state[t + "attn.qkv.bias"][j * D:(j + 1) * D]
    hf[v + "post_layernorm.weight"] = state["norm.weight"]
    hf[v + "post_layernorm.bias"] = state["norm.bias"]
    a = "attn_pool."
    hf[v + "head.probe"] = state[a + "latent"]
    hf[v + "head.attention.in_proj_weight"] = np.concatenate(
        [state[a + "q.weight"], state[a + "kv.weight"]], 0)
    hf[v + "head.attention.in_proj_bias"] = np.concatenate(
        [state[a + "q.bias"], state[a + "kv.bias"]], 0)
    for x, y in [("proj", "attention.out_proj"), ("norm", "layernorm"), ("mlp.fc1", "mlp.fc1"),
                 ("mlp.fc2", "mlp.fc2")]:
        hf[v + "head." + y + ".weight"] = state[a + x + ".weight"]
        hf[v + "head." + y + ".bias"] = state[a + x + ".bias"]
    used = {"embeds.proj.weight", "embeds.proj.bias", "embeds.pos_embed", "norm.weight",
            "norm.bias"}
    left = [k for k in state if k not in used and not k.startswith(("blocks.", "attn_pool."))]
    assert not left, left
    return hf


def hf_forward(hf, image, gh, gw):
    """modeling_siglip2.py, eager, line by line, over the HF names (no mask: all patches valid)."""
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in hf.items()}
    v = "vision_model."
    # Siglip2ImageProcessor.convert_image_to_patches: (C, H, W) -> (nh*nw, P*P*C), (ph, pw, c).
    img = torch.from_numpy(image)
    c = img.shape[0]
    patches = img.reshape(c, gh, P, gw, P).permute(1, 3, 2, 4, 0).reshape(gh * gw, P * P * c)
    pixel_values = patches[None]
    # Siglip2VisionEmbeddings.forward
    patch_embeds = F.linear(pixel_values, t[v + "embeddings.patch_embedding.weight"],
                            t[v + "embeddings.patch_embedding.bias"])
    pos = t[v + "embeddings.position_embedding.weight"].reshape(S, S, -1)
    pos = pos.permute(2, 0, 1).unsqueeze(0).to(torch.float32)
    resized = F.interpolate(pos, size=(gh, gw), mode="bilinear", align_corners=False,
                            antialias=True)
    resized = resized.reshape(D, gh * gw).transpose(0, 1)
    x = patch_embeds + resized[None]
    got = {"patch_embedding": patch_embeds[0], "tokens_0": x[0]}
    dh = D // HEADS
    scale = dh ** -0.5
    for i in range(DEPTH):
        p = f"{v}encoder.layers.{i}."
        lin = lambda h, n: F.linear(h, t[p + n + ".weight"], t[p + n + ".bias"])  # noqa: E731
        residual = x
        h = F.layer_norm(x, (D,), t[p + "layer_norm1.weight"], t[p + "layer_norm1.bias"], EPS)
        q = lin(h, "self_attn.q_proj").view(1, -1, HEADS, dh).transpose(1, 2)
        k = lin(h, "self_attn.k_proj").view(1, -1, HEADS, dh).transpose(1, 2)
        val = lin(h, "self_attn.v_proj").view(1, -1, HEADS, dh).transpose(1, 2)
        w = torch.matmul(q, k.transpose(-1, -2)) * scale
        w = torch.softmax(w, dim=-1, dtype=torch.float32)
        got[f"attention_{i + 1}"] = w[0]
        o = torch.matmul(w, val).transpose(1, 2).contiguous().reshape(1, -1, D)
        x = residual + lin(o, "self_attn.out_proj")
        residual = x
        h = F.layer_norm(x, (D,), t[p + "layer_norm2.weight"], t[p + "layer_norm2.bias"], EPS)
        h = lin(F.gelu(lin(h, "mlp.fc1"), approximate="tanh"), "mlp.fc2")  # gelu_pytorch_tanh
        x = residual + h
        got[f"tokens_{i + 1}"] = x[0]
    x = F.layer_norm(x, (D,), t[v + "post_layernorm.weight"], t[v + "post_layernorm.bias"], EPS)
    got["final"] = x[0]
    return {k: val.numpy() for k, val in got.items()}


def vision_config():
    return {"hidden_size": D, "intermediate_size": MLP, "num_hidden_layers": DEPTH,
            "num_attention_heads": HEADS, "num_channels": 3, "num_patches": S * S,
            "patch_size": P, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": EPS,
            "attention_dropout": 0.0}


def text_state(rng):
    """A tiny Siglip2TextModel's tensors (Siglip2Model's text tower): known unused."""
    n = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    st = {"text_model.embeddings.token_embedding.weight": n(50, 16),
          "text_model.embeddings.position_embedding.weight": n(8, 16),
          "text_model.final_layer_norm.weight": n(16), "text_model.final_layer_norm.bias": n(16),
          "text_model.head.weight": n(D, 16), "text_model.head.bias": n(D),
          "logit_scale": n(1), "logit_bias": n(1)}
    p = "text_model.encoder.layers.0."
    for name, shape in [("layer_norm1", (16,)), ("layer_norm2", (16,))]:
        st[p + name + ".weight"], st[p + name + ".bias"] = n(*shape), n(*shape)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        st[p + f"self_attn.{name}.weight"], st[p + f"self_attn.{name}.bias"] = n(16, 16), n(16)
    st[p + "mlp.fc1.weight"], st[p + "mlp.fc1.bias"] = n(64, 16), n(64)
    st[p + "mlp.fc2.weight"], st[p + "mlp.fc2.bias"] = n(16, 64), n(16)
    return st


def write(folder, state, config):
    os.makedirs(folder)
    write_safetensors(os.path.join(folder, "model.safetensors"), state, "F32")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def main(src, data_dir):
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, src)
    import timm
    out = os.path.join(data_dir, "siglip2_hf")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(20261207)
    model = timm.create_model("naflexvit_base_patch16_siglip", pretrained=False, patch_size=P,
                              embed_dim=D, depth=DEPTH, num_heads=HEADS, mlp_ratio=MLP / D,
                              pos_embed_grid_size=[S, S], pos_embed_interp_mode="bilinear",
                              num_classes=0)
    redraw(model, rng)
    model.eval()
    assert model.embeds.is_linear and model.embeds.channels_last
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    hf = to_hf(state)
    vis = dict(vision_config(), architectures=["Siglip2VisionModel"],
               model_type="siglip2_vision_model", torch_dtype="float32",
               transformers_version="4.56.0")
    write(os.path.join(out, "vision"), hf, vis)
    full_state = dict(hf, **text_state(rng))
    full = {"architectures": ["Siglip2Model"], "model_type": "siglip2",
            "initializer_factor": 1.0, "torch_dtype": "float32", "transformers_version": "4.56.0",
            "text_config": {"model_type": "siglip2_text_model", "hidden_size": 16,
                            "intermediate_size": 64, "num_hidden_layers": 1,
                            "num_attention_heads": 2, "vocab_size": 50,
                            "max_position_embeddings": 8, "projection_size": D},
            "vision_config": dict(vision_config(), model_type="siglip2_vision_model")}
    write(os.path.join(out, "full"), full_state, full)
    for gh, gw in GRIDS:
        image = rng.standard_normal((3, gh * P, gw * P)).astype(np.float32)
        tag = f"{gh}x{gw}"
        np.save(os.path.join(out, f"input_{tag}.npy"), image)
        got = timm_capture.capture(model, image, model.embeds.proj, lambda o: o.clone())
        mine = hf_forward(hf, image, gh, gw)
        for k in sorted(mine):
            ref = got[k]
            assert mine[k].shape == ref.shape, (k, mine[k].shape, ref.shape)
            err = np.abs(mine[k] - ref).max()
            tol = 1e-6 if k.startswith("attention") else 1e-5 * np.abs(ref).max()
            assert err <= tol, (tag, k, err, tol)
        np.savez(os.path.join(out, f"expected_{tag}.npz"), **got)
    # Refused by name: one tensor the layout does not have; one config key the reader does not
    # know.
    bad = os.path.join(out, "bad")
    foreign = "vision_model.encoder.layers.0.self_attn.q_norm.weight"
    write(os.path.join(bad, "foreign_tensor"),
          dict(hf, **{foreign: np.full((D,), 0.25, np.float32)}), vis)
    write(os.path.join(bad, "unknown_key"), hf, dict(vis, vision_use_rope=True))
    with open(os.path.join(bad, "expected.tsv"), "w") as f:
        f.write(f"foreign_tensor/model.safetensors\ttensor '{foreign}' is not part of the "
                "Hugging Face Siglip2VisionModel layout\n")
        f.write("unknown_key/model.safetensors\tkey 'vision_use_rope' is not a "
                "Siglip2VisionConfig setting PatchLens reads\n")
    print(f"HF Siglip2 fixtures: {len(GRIDS)} grids under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        sys.exit("usage: siglip2_hf_fixtures.py TIMM_SRC [DATA_DIR]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
