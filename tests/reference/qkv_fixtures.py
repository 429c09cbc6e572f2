#!/usr/bin/python3
"""q, k, v of every block as they enter the attention (issue 21: `forward --qkv`), from the
families' own PyTorch code on models already committed under tests/data (no new weights):

  timm_reg4     tests/data/transformer/timm_reg4_noembed_f32: timm's VisionTransformer with 4
                registers and no_embed_class (a DINOv2-with-registers layout), 4x3 grid
  eva02_tiny    tests/data/eva/eva02_tiny: timm eva.py EVA-02 (RoPE), 4x4 grid
  dinov3        tests/data/dinov3/meta_vit_reg4_pth: Meta's dinov3 code (RoPE, 4 storage
                tokens), 4x4 grid
  beit          tests/data/beit/timm_rel_pth: timm beit.py (relative position bias), 4x4 grid

    TIMM_SRC=... DINOV3_SRC=... /usr/bin/python3 tests/reference/qkv_fixtures.py [DATA_DIR]

Capture: every family calls F.scaled_dot_product_attention(q, k, v, ...) with q and k after
its q/k norm and RoPE and before the 1/sqrt(dh) scale (timm's fused path, dinov3's only path).
Debian's torch 1.13 has no such function, so a stand-in is installed before timm and dinov3 are
imported (timm then takes its fused path): it records q, k, v and computes the plain
softmax(q k^T * dh^-0.5 + mask) v of torch's documentation. That the stand-in is this math is
checked: every block's output equals the committed expected_*.npz tokens of the case (written
by the family's fixture script through the explicit attention) within 1e-5 x max|ref|.

Writes DATA_DIR/qkv/<case>.npz (q_L, k_L, v_L [H, T, dh] for L = 1..depth) and
DATA_DIR/qkv/cases.tsv (case, weights, input, qkv npz, expected npz, heads, depth; paths
relative to DATA_DIR).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = []


def sdpa_recorder(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    assert dropout_p == 0.0 and not is_causal and scale is None
    RECORDED.append((q.detach().clone(), k.detach().clone(), v.detach().clone()))
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if attn_mask is not None:
        assert attn_mask.dtype != torch.bool
        scores = scores + attn_mask
    return scores.softmax(dim=-1) @ v


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], "<f4").reshape(info["shape"]).copy())
    return out


def capture(model, image, call):
    """q_L, k_L, v_L [H, T, dh] and tokens_L [T, D] (block outputs) of one forward."""
    RECORDED.clear()
    outputs = []
    hooks = [b.register_forward_hook(
        lambda m, i, o: outputs.append((o[0] if isinstance(o, list) else o)[0].detach().clone()))
        for b in model.blocks]
    with torch.no_grad():
        call(torch.from_numpy(image)[None])
    for h in hooks:
        h.remove()
    assert len(RECORDED) == len(model.blocks) == len(outputs), (len(RECORDED), len(outputs))
    got = {}
    for idx, ((q, k, v), tokens) in enumerate(zip(RECORDED, outputs)):
        for name, t in (("q", q), ("k", k), ("v", v)):
            got[f"{name}_{idx + 1}"] = t[0].numpy().astype("<f4")
        got[f"tokens_{idx + 1}"] = tokens.numpy().astype("<f4")
    return got


def check_tokens(got, expected_npz):
    ref = np.load(expected_npz)
    for name in [n for n in got if n.startswith("tokens_")]:
        want = ref[name]
        err = np.abs(got[name] - want).max() / np.abs(want).max()
        assert err <= 1e-5, (expected_npz, name, err)


def main(data_dir):
    F.scaled_dot_product_attention = sdpa_recorder
    os.environ.pop("TIMM_FUSED_ATTN", None)  # timm's fused path: the stand-in above
    sys.path.insert(0, os.environ["TIMM_SRC"])
    sys.path.insert(0, HERE)
    import timm
    from timm.models.beit import Beit
    from timm.models.vision_transformer import VisionTransformer
    import dinov3_fixtures
    dino_cls = dinov3_fixtures.import_dinov3(os.environ["DINOV3_SRC"])
    F.scaled_dot_product_attention = sdpa_recorder  # import_dinov3 installs its own stand-in

    out = os.path.join(data_dir, "qkv")
    os.makedirs(out, exist_ok=True)
    rows = []

    def case(name, model, weights, input_npy, expected_npz, grid, patch, call):
        model.eval()
        image = np.load(os.path.join(data_dir, input_npy))
        image = image[:, :grid[0] * patch, :grid[1] * patch]  # the CLI's --remainder crop
        got = capture(model, np.ascontiguousarray(image), call)
        check_tokens(got, os.path.join(data_dir, expected_npz))
        np.savez(os.path.join(out, name + ".npz"),
                 **{k: v for k, v in got.items() if not k.startswith("tokens_")})
        heads, depth = got["q_1"].shape[0], len(model.blocks)
        rows.append([name, weights, input_npy, f"qkv/{name}.npz", expected_npz, str(heads), str(depth)])

    # timm VisionTransformer, 4 registers, no_embed_class (transformer_fixtures.py's case).
    vit = VisionTransformer(img_size=(56, 42), patch_size=14, embed_dim=32, depth=2, num_heads=2,
                            mlp_ratio=2, num_classes=2, dynamic_img_size=True, reg_tokens=4,
                            no_embed_class=True)
    w = "transformer/timm_reg4_noembed_f32/model.safetensors"
    missing, unexpected = vit.load_state_dict(read_safetensors(os.path.join(data_dir, w)), strict=False)
    assert not unexpected and all(k.startswith("head") for k in missing), (missing, unexpected)
    assert vit.blocks[0].attn.fused_attn, "timm did not take its fused path"
    case("timm_reg4", vit, w, "transformer/timm_reg4_noembed_f32/input_4x3.npy",
         "transformer/timm_reg4_noembed_f32/expected_4x3.npz", (4, 3), 14, vit.forward_features)

    # timm eva.py EVA-02 tiny (RoPE), from its config.json.
    folder = "eva/eva02_tiny"
    with open(os.path.join(data_dir, folder, "config.json")) as f:
        config = json.load(f)
    eva = timm.create_model(config["architecture"], pretrained=False, **config["model_args"])
    eva.load_state_dict(torch.load(os.path.join(data_dir, folder, "model.pth")))
    case("eva02_tiny", eva, f"{folder}/model.pth", f"{folder}/input_4x4.npy",
         f"{folder}/expected_4x4.npz", (4, 4), 8, eva.forward_features)

    # Meta's DINOv3 (RoPE, 4 storage tokens): dinov3_fixtures.py's constructor, the committed state.
    folder = "dinov3/meta_vit_reg4_pth"
    dino = dinov3_fixtures.make_model(dino_cls, np.random.default_rng(0))
    state = torch.load(os.path.join(data_dir, folder, "model.pth"))
    state["rope_embed.periods"] = state["rope_embed.periods"].float()
    dino.load_state_dict(state)
    case("dinov3", dino, f"{folder}/model.pth", f"{folder}/input_4x4.npy",
         f"{folder}/expected_4x4.npz", (4, 4), 8, dino.forward_features)

    # timm beit.py, a relative position bias per block (beit_fixtures.py's timm_rel_pth).
    folder = "beit/timm_rel_pth"
    beit = Beit(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_ratio=2,
                use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=0.1, global_pool="avg",
                num_classes=5)
    beit.load_state_dict(torch.load(os.path.join(data_dir, folder, "model.pth")))
    case("beit", beit, f"{folder}/model.pth", f"{folder}/input_4x4.npy",
         f"{folder}/expected_4x4.npz", (4, 4), 8, beit.forward_features)

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\tqkv\texpected\theads\tdepth\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"qkv fixtures: {len(rows)} cases, {total / 1024:.0f} kB under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if not os.environ.get("TIMM_SRC") or not os.environ.get("DINOV3_SRC"):
        sys.exit("usage: TIMM_SRC=... DINOV3_SRC=... qkv_fixtures.py [DATA_DIR]")
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data"))
