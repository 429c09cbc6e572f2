#!/usr/bin/python3
"""BEiT / BEiT v2 / data2vec-vision fixtures from timm's own code (timm/models/beit.py): tiny
Beit models built with timm's Beit constructor, every parameter redrawn (relative position bias
tables, q_bias / v_bias, gamma_1 / gamma_2, cls_token, pos_embed, norms: nothing zero or
identity), saved as state dicts, and their forward captured with hooks.

    TIMM_FUSED_ATTN=0 /usr/bin/python3 tests/reference/beit_fixtures.py TIMM_SRC [DATA_DIR]
    TIMM_SRC=/path/to/pytorch-image-models /usr/bin/python3 tests/reference/make_reference.py

TIMM_SRC is a checkout of github.com/huggingface/pytorch-image-models (not vendored). Runs on
Debian's torch 1.13 with explicit attention (TIMM_FUSED_ATTN=0): the softmax is read at
attn.attn_drop's input, tokens_L at each block's output, final at forward_features' output.

Models (32 x 32 input, patch 8: a 4 x 4 grid, 17 tokens; width 32, 4 heads, 2 blocks):
  timm_rel_pth      use_rel_pos_bias (a table per block), no abs pos, global_pool='avg'
                    (norm Identity, fc_norm + head: known unused) -- BEiT v1 fine-tuned layout
  timm_shared_pth   use_shared_rel_pos_bias + use_abs_pos_emb, global_pool='' (final norm)
  timm_v2_pth       BEiT v2-like: per-block tables, small LayerScale, mlp_ratio 4, no head
  hf_beit           timm_rel_pth renamed to Hugging Face BeitModel names with the mapping of
                    transformers' convert_beit_unilm_to_pytorch.py (create_rename_keys,
                    read_in_q_k_v: qkv split into query/key/value, q_bias/v_bias their biases,
                    gamma -> lambda, tables and relative_position_index under
                    attention.attention.relative_position_bias), prefix beit., fc_norm ->
                    beit.pooler.layernorm, head -> classifier; config.json with timm's eps 1e-6
                    (HF's BeitConfig default is 1e-12), so timm's forward is the reference
  hf_data2vec       timm_shared_pth renamed the same way with the data2vec_vision. prefix (the
                    shared table -> encoder.relative_position_bias, pos_embed ->
                    embeddings.position_embeddings, norm -> layernorm)
bad/: timm_rel_pth with one foreign tensor (refused by name), with the relative_position_index of
another window (refused by its shape; the int64 index is otherwise recomputed, as timm's
checkpoint_filter_fn and HF drop it), and the 4 x 4 model's input at 24 x 32 (refused: the table is
for 4 x 4; timm resizes tables only when loading a checkpoint into a model of another size).
index_3x5.npy: gen_relative_position_index((3, 5)), a non-square window, as float32.
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
    n = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma_1", "gamma_2")):
                p.copy_(0.5 + 0.3 * n(*p.shape))
            elif name.endswith("relative_position_bias_table"):
                p.copy_(0.8 * n(*p.shape))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * n(*p.shape))
            elif name.endswith(("q_bias", "v_bias")):
                p.copy_(0.5 + 0.1 * n(*p.shape))
            elif name.endswith("bias"):
                p.copy_(0.1 * n(*p.shape))
            elif name.endswith("weight"):
                p.copy_(n(*p.shape) / math.sqrt(p[0].numel()))
            else:  # cls_token, pos_embed
                p.copy_(0.5 * n(*p.shape))
    model.eval()


def hf_names(sd, depth, prefix, index_of):
    """convert_beit_unilm_to_pytorch.py's renames, with `prefix` for beit. / data2vec_vision."""
    out = {}
    sd = dict(sd)
    for i in range(depth):
        b, h = f"blocks.{i}.", f"{prefix}encoder.layer.{i}."
        for src, dst in [("norm1", "layernorm_before"), ("attn.proj", "attention.output.dense"),
                         ("norm2", "layernorm_after"), ("mlp.fc1", "intermediate.dense"),
                         ("mlp.fc2", "output.dense")]:
            for t in ("weight", "bias"):
                out[f"{h}{dst}.{t}"] = sd.pop(f"{b}{src}.{t}")
        qkv = sd.pop(f"{b}attn.qkv.weight")
        d = qkv.shape[1]
        a = f"{h}attention.attention."
        out[a + "query.weight"] = qkv[:d].clone()
        out[a + "query.bias"] = sd.pop(f"{b}attn.q_bias")
        out[a + "key.weight"] = qkv[d:2 * d].clone()
        out[a + "value.weight"] = qkv[-d:].clone()
        out[a + "value.bias"] = sd.pop(f"{b}attn.v_bias")
        out[h + "lambda_1"] = sd.pop(f"{b}gamma_1")
        out[h + "lambda_2"] = sd.pop(f"{b}gamma_2")
        if f"{b}attn.relative_position_bias_table" in sd:
            r = a + "relative_position_bias."
            out[r + "relative_position_bias_table"] = sd.pop(f"{b}attn.relative_position_bias_table")
            out[r + "relative_position_index"] = index_of(f"blocks.{i}.attn")
    renames = {"cls_token": "embeddings.cls_token", "pos_embed": "embeddings.position_embeddings",
               "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
               "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
               "rel_pos_bias.relative_position_bias_table":
                   "encoder.relative_position_bias.relative_position_bias_table",
               "norm.weight": "layernorm.weight", "norm.bias": "layernorm.bias",
               "fc_norm.weight": "pooler.layernorm.weight", "fc_norm.bias": "pooler.layernorm.bias"}
    for src, dst in renames.items():
        if src in sd:
            out[prefix + dst] = sd.pop(src)
    if prefix + "encoder.relative_position_bias.relative_position_bias_table" in out:
        out[prefix + "encoder.relative_position_bias.relative_position_index"] = index_of("rel_pos_bias")
    for src, dst in [("head.weight", "classifier.weight"), ("head.bias", "classifier.bias")]:
        if src in sd:
            out[dst] = sd.pop(src)
    assert not sd, f"unmapped: {sorted(sd)}"
    return out


def write_head_logits(model, out):
    """timm Beit's logits (forward_head: fc_norm(mean of the patch tokens), head) on the 4 x 4
    input, for timm_rel_pth and its HF renaming hf_beit: HF's BeitPooler with use_mean_pooling
    (modeling_beit.py: layernorm(hidden_states[:, 1:, :].mean(1))) and classifier compute the same
    thing from the renamed tensors (pooler.layernorm = fc_norm, classifier = head)."""
    for name in ("timm_rel_pth", "hf_beit"):
        image = np.load(os.path.join(out, name, "input_4x4.npy"))
        with torch.no_grad():
            logits = model(torch.from_numpy(image)[None])[0]
        np.save(os.path.join(out, name, "logits_4x4.npy"), logits.numpy().astype("<f4"))


def main(src, data_dir):
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, src)
    from timm.models.beit import Beit, gen_relative_position_index
    out = os.path.join(data_dir, "beit")
    os.makedirs(os.path.join(out, "bad"), exist_ok=True)
    rng = np.random.default_rng(20261209)
    common = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4)
    models = {
        "timm_rel_pth": Beit(**common, mlp_ratio=2, use_abs_pos_emb=False, use_rel_pos_bias=True,
                             init_values=0.1, global_pool="avg", num_classes=5),
        "timm_shared_pth": Beit(**common, mlp_ratio=2, use_abs_pos_emb=True,
                                use_shared_rel_pos_bias=True, init_values=0.1, global_pool="",
                                num_classes=0),
        "timm_v2_pth": Beit(**common, mlp_ratio=4, use_abs_pos_emb=False, use_rel_pos_bias=True,
                            init_values=1e-5, global_pool="avg", num_classes=0),
    }
    rows = []

    def write_case(name, weights_file, model, family, heads_source):
        folder = os.path.join(out, name)
        image = rng.standard_normal((3, 32, 32)).astype(np.float32)
        np.save(os.path.join(folder, "input_4x4.npy"), image)
        np.savez(os.path.join(folder, "expected_4x4.npz"), **capture(model, image))
        rows.append([f"{name}_4x4", f"{name}/{weights_file}", f"{name}/input_4x4.npy",
                     f"{name}/expected_4x4.npz", family, heads_source, "4", "2"])

    for name, model in models.items():
        redraw(model, rng)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, os.path.join(folder, "model.pth"))
        shared = name == "timm_shared_pth"
        table = "rel_pos_bias" if shared else "blocks.0.attn"
        write_case(name, "model.pth", model,
                   "timm BEiT (relative position bias, shared)" if shared else "timm BEiT (relative position bias)",
                   f"{table}.relative_position_bias_table: [distances, heads]")

    # Hugging Face names (relative_position_index as the converted unilm files carry it).
    for name, base, prefix, family, table in [
            ("hf_beit", "timm_rel_pth", "beit.", "HF BeitModel (relative position bias)",
             "encoder.layer.0.attention.attention.relative_position_bias.relative_position_bias_table"),
            ("hf_data2vec", "timm_shared_pth", "data2vec_vision.",
             "HF Data2VecVisionModel (relative position bias, shared)",
             "encoder.relative_position_bias.relative_position_bias_table")]:
        model = models[base]
        modules = dict(model.named_modules())
        index = lambda m: modules[m].relative_position_index.clone()  # noqa: E731
        sd = hf_names(model.state_dict(), len(model.blocks), prefix, index)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        torch.save(sd, os.path.join(folder, "pytorch_model.bin"))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"architectures": ["BeitModel" if prefix == "beit." else "Data2VecVisionModel"],
                       "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2,
                       "image_size": 32, "patch_size": 8, "hidden_act": "gelu",
                       "layer_norm_eps": 1e-6, "use_mean_pooling": base == "timm_rel_pth",
                       "use_relative_position_bias": base == "timm_rel_pth",
                       "use_shared_relative_position_bias": base == "timm_shared_pth",
                       "use_absolute_position_embeddings": base == "timm_shared_pth"}, f, indent=1)
        if prefix == "beit.":  # microsoft/beit-base-patch16-224's processor, at 32 pixels
            with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
                json.dump({"image_processor_type": "BeitImageProcessor", "do_resize": True,
                           "size": 32, "resample": 2, "do_center_crop": False, "crop_size": 32,
                           "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                           "image_std": [0.5, 0.5, 0.5]}, f, indent=1)
        write_case(name, "pytorch_model.bin", model, family, table + ": [distances, heads]")

    write_head_logits(models["timm_rel_pth"], out)

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\tfamily\theads source\theads\tdepth\n")
        for r in rows:
            f.write("\t".join(r) + "\n")

    # Refusals by name.
    bad = os.path.join(out, "bad")
    sd = {k: v.clone() for k, v in models["timm_rel_pth"].state_dict().items()}
    sd["blocks.1.attn.q_norm.weight"] = torch.ones(8)
    torch.save(sd, os.path.join(bad, "extra_tensor.pth"))
    sd = {k: v.clone() for k, v in models["timm_rel_pth"].state_dict().items()}
    sd["blocks.0.attn.relative_position_index"] = gen_relative_position_index((3, 3))  # not 4 x 4
    torch.save(sd, os.path.join(bad, "wrong_index.pth"))
    np.save(os.path.join(bad, "input_3x4.npy"), rng.standard_normal((3, 24, 32)).astype(np.float32))
    with open(os.path.join(bad, "expected.tsv"), "w") as f:
        f.write("extra_tensor.pth\ttensor 'blocks.1.attn.q_norm.weight' is not understood by the BEiT reader\n")
        f.write("wrong_index.pth\ttensor 'blocks.0.attn.relative_position_index' is [10, 10], but the "
                "table's 4x4 window has an index of [17, 17]\n")
    np.save(os.path.join(out, "index_3x5.npy"), gen_relative_position_index((3, 5)).numpy().astype("<f4"))
    print(f"BEiT fixtures: {len(rows)} cases under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 2:
        sys.exit("usage: beit_fixtures.py TIMM_SRC [DATA_DIR]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "data"))
