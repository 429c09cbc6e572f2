#!/usr/bin/python3
"""Explain fixtures for the families added after the first backward (issue 22): timm's eva.py
(EVA-02 with RoPE, SwiGLU split and packed, sub-LN; timm's SBB RoPE ViT with a register and no
class token; Naver RoPE-Mixed with absolute positions), timm's beit.py (relative position bias,
LayerScale gamma) and Meta's DINOv3 (RoPE rotate-half, LayerScale, storage tokens; no head:
--target similar:R,C). Every model is built by its own code, every parameter redrawn, and the
reference gradients come from torch autograd through those modules (hooks), in float64.

    TIMM_FUSED_ATTN=0 /usr/bin/python3 tests/reference/explain_families_fixtures.py \\
        TIMM_SRC DINOV3_SRC [DATA_DIR]

TIMM_SRC / DINOV3_SRC: checkouts of github.com/huggingface/pytorch-image-models and
github.com/facebookresearch/dinov3 (not vendored). Debian's torch 1.13: timm with explicit
attention (TIMM_FUSED_ATTN=0; the softmax is attn.attn_drop's output), dinov3 with the
scaled_dot_product_attention stand-in of dinov3_fixtures.py (here keeping the softmax in the
graph).

Writes DATA_DIR/explain/families/: cases.tsv in tests/data/explain/cases.tsv's format (paths
relative to tests/data/explain), one folder per model with model.pth (+ timm's config.json for
eva.py), input.npy and expected*.npz: logits, probabilities (with a head), target, grad_tokens_L
(L = 0..depth: d target / d the input of block 1, then each block's output), grad_attention_L
(d target / d the softmax of block L), gradcam (relu(A w), A the last block's norm1 output on the
patch tokens, w the patch mean of d target / d A) and relevance (Chefer et al. 2021 eqs. 5-6:
the class token's row of R, or the mean of the patch rows without a class token). A central
finite difference in float64 on tokens_0 spot-checks autograd.
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

RECORDED = []


def redraw(model, rng):
    """Every parameter redrawn (nothing zero or identity), as eva_fixtures / beit_fixtures do."""
    n = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma_1", "gamma_2", "gamma")):
                p.copy_(0.5 + 0.3 * n(*p.shape))
            elif name.endswith("relative_position_bias_table"):
                p.copy_(0.8 * n(*p.shape))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * n(*p.shape))
            elif name.endswith(("q_bias", "v_bias")):
                p.copy_(0.5 + 0.1 * n(*p.shape))
            elif name.endswith("bias"):
                p.copy_(0.1 * n(*p.shape))
            elif name == "rope.freqs":
                p.copy_(0.6 * n(*p.shape))
            elif name.endswith("weight"):
                p.copy_(n(*p.shape) / math.sqrt(p[0].numel()))
            else:  # cls_token, reg_token, pos_embed
                p.copy_(0.5 * n(*p.shape))


class Hooks:
    """Keeps tokens_L (block 1's input, each block's output), each block's softmax and the last
    block's norm1 output in the graph with retain_grad; `x0` replaces block 1's input (the finite
    difference)."""

    def __init__(self, blocks, attn_drops, softmax_from_recorded=False):
        self.tokens, self.attns, self.n1, self.x0 = [], [], None, None
        self.handles = []
        first = lambda t: t[0] if isinstance(t, (list, tuple)) else t  # noqa: E731

        def pre(m, inputs):
            x = first(inputs[0])
            if self.x0 is not None:
                x = self.x0.clone().requires_grad_(True)
                inputs = ([x],) + tuple(inputs[1:]) if isinstance(inputs[0], list) else (x,) + tuple(inputs[1:])
            x.retain_grad()
            self.tokens.insert(0, x)
            return inputs

        def post(m, inputs, output):
            o = first(output)
            o.retain_grad()
            self.tokens.append(o)

        def keep_attn(m, inputs, output):
            output.retain_grad()
            self.attns.append(output)

        def keep_n1(m, inputs, output):
            output.retain_grad()
            self.n1 = output

        self.handles.append(blocks[0].register_forward_pre_hook(pre))
        self.handles += [b.register_forward_hook(post) for b in blocks]
        if not softmax_from_recorded:
            self.handles += [a.register_forward_hook(keep_attn) for a in attn_drops]
        self.handles.append(blocks[-1].norm1.register_forward_hook(keep_n1))
        self.softmax_from_recorded = softmax_from_recorded

    def remove(self):
        for h in self.handles:
            h.remove()


def maps(tokens, attns, n1, prefix, cls, rows, cols):
    A, G = n1[0, prefix:], n1.grad[0, prefix:]
    gradcam = torch.relu(A @ G.mean(0)).reshape(rows, cols)
    T = tokens[0].shape[1]
    R = torch.eye(T, dtype=torch.float64)
    for a in attns:
        R = R + torch.relu(a.grad[0] * a[0]).mean(0) @ R
    rel = R[0, prefix:] if cls else R[prefix:, prefix:].mean(0)
    return gradcam, rel.reshape(rows, cols)


def explain(model, blocks, attn_drops, image, prefix, cls, value_of, recorded=False, fd=True):
    """{name: float32 array} as `patchlens-cli explain` writes them, and the class (or None).
    value_of(model, x) -> (logits or None, target scalar, class or None)."""
    def run(x0=None):
        RECORDED.clear()
        hooks = Hooks(blocks, attn_drops, softmax_from_recorded=recorded)
        hooks.x0 = x0
        logits, value, k = value_of(model, torch.from_numpy(image).double()[None])
        hooks.remove()
        if recorded:
            hooks.attns = list(RECORDED)
        return hooks, logits, value, k

    hooks, logits, value, k = run()
    value.backward()
    out = {}
    if logits is not None:
        out["logits"] = logits
        out["probabilities"] = logits.softmax(-1)
    out["target"] = value
    for i, tok in enumerate(hooks.tokens):
        out[f"grad_tokens_{i}"] = tok.grad[0]
    for i, a in enumerate(hooks.attns):
        out[f"grad_attention_{i + 1}"] = a.grad[0]
    assert len(hooks.tokens) == len(blocks) + 1 and len(hooks.attns) == len(blocks)
    rows, cols = image.shape[1] // PATCH, image.shape[2] // PATCH
    out["gradcam"], out["relevance"] = maps(hooks.tokens, hooks.attns, hooks.n1, prefix, cls, rows, cols)
    arrays = {name: v.detach().numpy().astype("<f4") for name, v in out.items()}

    if fd:  # central differences on a few tokens_0 entries: autograd holds
        x0 = hooks.tokens[0].detach()
        g0 = out["grad_tokens_0"].detach().numpy()
        rng = np.random.default_rng(7)
        for _ in range(3):
            r, c = int(rng.integers(x0.shape[1])), int(rng.integers(x0.shape[2]))
            h = 1e-5
            plus, minus = x0.clone(), x0.clone()
            plus[0, r, c] += h
            minus[0, r, c] -= h
            fdv = (float(run(plus)[2]) - float(run(minus)[2])) / (2 * h)
            assert abs(fdv - g0[r, c]) <= 1e-6 * max(1.0, np.abs(g0).max()), (r, c, fdv, g0[r, c])
    return arrays, k


def class_target(klass):
    def value_of(model, x):
        logits = model(x)[0]
        k = int(torch.argmax(logits)) if klass is None else klass
        return logits, logits[k], k
    return value_of


PATCH = 4


def main(timm_src, dinov3_src, data_dir):
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, timm_src)
    import timm
    from timm.models.beit import Beit
    out = os.path.join(data_dir, "explain", "families")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(20261222)
    rows_tsv = []

    def case(name, model, state, prefix, cls, heads_option=0, config=None, klasses=(None,), target=None,
             grid=(4, 4), recorded=False):
        folder = os.path.join(out, name)
        os.makedirs(folder)
        torch.save(state, os.path.join(folder, "model.pth"))
        if config is not None:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f, indent=1)
        image = rng.standard_normal((3, grid[0] * PATCH, grid[1] * PATCH)).astype(np.float32)
        np.save(os.path.join(folder, "input.npy"), image)
        model = model.double().eval()
        rope = getattr(model, "rope", None)
        if getattr(rope, "t_x", None) is not None:  # RoPE-Mixed: timm forms the angles in float32
            rope.t_x, rope.t_y = rope.t_x.float(), rope.t_y.float()
        blocks = model.blocks
        drops = [b.attn.attn_drop for b in blocks] if not recorded else []
        if target is None and klasses == ("non-top",):
            with torch.no_grad():
                logits = model(torch.from_numpy(image).double()[None])[0]
            klasses = (None, int(torch.argsort(logits)[-2]))
        for klass in klasses:
            if target is None:
                value_of = class_target(klass)
            else:
                value_of = target
            expected, k = explain(model, blocks, drops, image, prefix, cls, value_of, recorded=recorded)
            tag = "" if klass is None else f"_class{klass}"
            np.savez(os.path.join(folder, f"expected{tag}.npz"), **expected)
            target_text = "" if target is None else f"similar:{SIMILAR[0]},{SIMILAR[1]}"
            rows_tsv.append([f"{name}{tag}", f"families/{name}/model.pth", f"families/{name}/input.npy",
                             f"families/{name}/expected{tag}.npz", str(heads_option),
                             "" if klass is None else str(klass), target_text, "" if k is None else str(k)])
            print(f"explain_families: {name}{tag}: target {float(expected['target']):.4f} (class {k})")

    def eva(name, arch, classes=5, klasses=("non-top",), **extra):
        args = dict(img_size=4 * PATCH, patch_size=PATCH, embed_dim=32, depth=2, num_heads=4,
                    num_classes=classes, **extra)
        model = timm.create_model(arch, pretrained=False, **args)
        redraw(model, rng)
        model.eval()
        state = {k: v.clone() for k, v in model.state_dict().items()}
        cfg = {k: v for k, v in model.pretrained_cfg.items() if k in ("mean", "std", "interpolation", "crop_pct")}
        cfg["input_size"] = [3, 4 * PATCH, 4 * PATCH]
        config = {"architecture": arch, "num_classes": classes, "global_pool": model.global_pool,
                  "model_args": args, "pretrained_cfg": cfg}
        case(name, model, state, model.num_prefix_tokens, model.cls_token is not None, config=config,
             klasses=klasses)

    # EVA-02 CLIP layout: q/k/v separate (q_bias, v_bias), RoPE interleaved, SwiGLU split
    # (fc1_g / fc1_x) with the sub-LN mlp.norm, attn.norm before proj; class-token head.
    eva("eva02_clip_rope_swiglu_subln", "eva02_base_patch16_clip_224")
    # EVA-02 tiny: packed SwiGLU (GluMlp), average pooling + fc_norm.
    eva("eva02_tiny_packed_swiglu", "eva02_tiny_patch14_224", klasses=(None,))
    # timm SBB RoPE ViT: one register, no class token, LayerScale, average pooling.
    eva("sbb_rope_reg1_gap", "vit_medium_patch16_rope_reg1_gap_256", klasses=(None,))
    # Naver RoPE-Mixed (learned frequencies per block and head) with absolute positions.
    eva("naver_rope_mixed_ape", "vit_small_patch16_rope_mixed_ape_224", klasses=(None,))

    # BEiT: a relative position bias table per block, LayerScale gamma, avg pooling + fc_norm.
    model = Beit(img_size=4 * PATCH, patch_size=PATCH, embed_dim=32, depth=2, num_heads=4, mlp_ratio=2,
                 use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=0.1, global_pool="avg",
                 num_classes=6)
    redraw(model, rng)
    model.eval()
    case("beit_rel_bias_gamma", model, {k: v.clone() for k, v in model.state_dict().items()}, 1, True,
         heads_option=4, klasses=("non-top",))

    # Meta DINOv3: RoPE rotate-half, LayerScale, 4 storage tokens; no head: similar:R,C.
    import dinov3_fixtures as d3
    cls = d3.import_dinov3(dinov3_src)

    def sdpa_in_graph(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
        assert attn_mask is None and dropout_p == 0.0 and not is_causal
        s = q.shape[-1] ** -0.5 if scale is None else scale
        attn = ((q * s) @ k.transpose(-2, -1)).softmax(dim=-1)
        attn.retain_grad()
        RECORDED.append(attn)
        return attn @ v
    F.scaled_dot_product_attention = sdpa_in_graph
    model = d3.make_model(cls, rng, img_size=4 * PATCH, patch_size=PATCH, embed_dim=32, num_heads=2)
    state = d3.state_dict(model)
    # The bfloat16 periods as the file stores them, so the reference rotates with those.
    with torch.no_grad():
        model.rope_embed.periods.copy_(state["rope_embed.periods"].float())

    def similar(model, x):
        feats = model.forward_features(x)
        r, c = SIMILAR
        a = feats["x_norm_patchtokens"][0, r * 4 + c]
        b = feats["x_norm_clstoken"][0]
        return None, (a @ b) / (a.norm() * b.norm()), None

    case("meta_dinov3_similar", model, state, 1 + model.n_storage_tokens, True, target=similar,
         recorded=True)

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\t--heads\t--class\t--target\texpected class\n")
        for r in rows_tsv:
            f.write("\t".join(r) + "\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"explain families fixtures: {len(rows_tsv)} cases, {total / 1024:.0f} kB under {os.path.normpath(out)}")


SIMILAR = (1, 2)

if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) < 3:
        sys.exit("usage: explain_families_fixtures.py TIMM_SRC DINOV3_SRC [DATA_DIR]")
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else os.path.join(HERE, "..", "data"))
