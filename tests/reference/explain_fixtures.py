#!/usr/bin/python3
"""Explain fixtures: tiny classifier ViTs in each family's real tensor names, an input, and the
expected `patchlens-cli predict` / `explain` arrays computed here with torch autograd.

    /usr/bin/python3 tests/reference/explain_fixtures.py [DATA_DIR]

writes DATA_DIR/explain/ (cases.tsv lists the cases; one directory per model with its weights,
config.json where the family has one, input.npy and expected*.npz). make_reference.py calls
main(DATA_DIR).

The models, their files and tokens_0 come from transformer_fixtures.py (Canon, the family
writers, the reference forward). From tokens_0 on, the blocks run here in float64 with autograd
(attention as timm's Attention, which every family's attention equals), then each family's head
as its published code computes it:
  timm        VisionTransformer.forward_head: global_pool 'token' -> head(norm(x)[:, 0]);
              'avg' -> head(fc_norm(x[:, num_prefix_tokens:].mean(1))) with norm = Identity;
              VisionTransformerDistilled: (head(x[:, 0]) + head_dist(x[:, 1])) / 2
  HF          ViTForImageClassification: classifier(layernorm(x)[:, 0]);
              Dinov2(WithRegisters)ForImageClassification:
              classifier(cat(x[:, 0], x[:, 1 + registers:].mean(1)))
  torchvision VisionTransformer: heads.head(x[:, 0]), with heads.pre_logits + Tanh when
              representation_size is set; checked ONCE against torchvision's own module
              (logits and every d target / d tokens_L through hooks; asserted below).
The expected arrays, as the CLI contract names them:
  logits [C], probabilities [C], target [] = logits[K] (K, the class [] int64 of the CLI, is
  cases.tsv's last column: PatchLens' npz reader takes float arrays only) (or the cosine
  similarity of --target similar:R,C), grad_tokens_L [T, D] (L = 0..depth),
  grad_attention_L [H, T, T] (L = 1..depth), gradcam [gh, gw] = relu(A w) with A the last
  block's norm1 output on the patch tokens and w the patch mean of d target / d A, and
  relevance [gh, gw]: Chefer et al. 2021 eqs. 5-6, R = I; R += mean_h relu(dA * A) @ R, the
  class token's row over the patch columns (no class token: the mean of the patch rows).
A central finite difference in float64 spot-checks autograd's d target / d tokens_0.
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
import transformer_fixtures as tf  # noqa: E402
from transformer_fixtures import Canon, activation, layer_norm, t  # noqa: E402

# family -> (LayerNorm eps, MLP activation), as transformer_fixtures.reference uses them.
FAMILY = {"timm_vit": (1e-6, "gelu"), "timm_deit": (1e-6, "gelu"), "timm_clip": (1e-5, "quick"),
          "hf_vit": (1e-12, "gelu"), "hf_dinov2": (1e-6, "gelu"), "hf_siglip": (1e-6, "tanh"),
          "torchvision": (1e-6, "gelu")}


def blocks_with_grads(m, x0, eps, act):
    """The encoder from tokens_0 with every tokens_L, attention_L and the last norm1 output kept
    for autograd (timm Attention: fused qkv, q * scale, softmax)."""
    x, tokens, attns, n1 = x0, [x0], [], None
    for b in m.blocks:
        n1 = layer_norm(x, b["n1"], eps)
        B, N, C = n1.shape
        H = m.heads
        qkv = F.linear(n1, t(b["qkv_w"]), t(b["qkv_b"])).reshape(B, N, 3, H, C // H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * (C // H) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        attn.retain_grad()
        attns.append(attn)
        y = F.linear((attn @ v).transpose(1, 2).reshape(B, N, C), t(b["proj_w"]), t(b["proj_b"]))
        x = x + (t(b["ls1"]) * y if b["ls1"] is not None else y)
        h = activation(F.linear(layer_norm(x, b["n2"], eps), t(b["fc1_w"]), t(b["fc1_b"])), act)
        y = F.linear(h, t(b["fc2_w"]), t(b["fc2_b"]))
        x = x + (t(b["ls2"]) * y if b["ls2"] is not None else y)
        x.retain_grad()
        tokens.append(x)
    n1.retain_grad()
    return tokens, attns, n1


def head_logits(head, final, prefix, eps):
    """final [T, D] -> logits [C], as the family's head computes them."""
    pool = head["pool"]
    if pool in ("token", "distilled"):
        pooled = final[0]
    elif pool == "avg":
        pooled = final[prefix:].mean(0)
    elif pool == "cls+avg":
        pooled = torch.cat([final[0], final[prefix:].mean(0)])
    else:
        raise ValueError(pool)
    if "fc_norm" in head:
        pooled = F.layer_norm(pooled, (pooled.shape[-1],), t(head["fc_norm"][0]), t(head["fc_norm"][1]), eps)
    if "pre_w" in head:
        pooled = torch.tanh(F.linear(pooled, t(head["pre_w"]), t(head["pre_b"])))
    logits = F.linear(pooled, t(head["w"]), t(head["b"]))
    if pool == "distilled":
        logits = (logits + F.linear(final[1], t(head["dist_w"]), t(head["dist_b"]))) / 2
    return logits


def similarity(final, prefix, row, col, cols, cls):
    a = final[prefix + row * cols + col]
    b = final[0] if cls else final[prefix:].mean(0)
    return (a @ b) / (a.norm() * b.norm())


def pooled(final, prefix, cls):
    """--target similar-to's pooled embedding: the class token, else the mean patch token."""
    return final[0] if cls else final[prefix:].mean(0)


def pooled_final(family, m, image, final_norm=True):
    """The pooled final embedding of `image` (float64, no gradient): similar-to's constant."""
    eps, act = FAMILY[family]
    x0 = torch.tensor(tf.reference(family, m, image)["tokens_0"].astype(np.float64)[None])
    prefix = int(m.cls is not None) + int(m.dist is not None) + (0 if m.regs is None else len(m.regs))
    tokens, _, _ = blocks_with_grads(m, x0.requires_grad_(), eps, act)
    final = layer_norm(tokens[-1], m.norm, eps)[0] if final_norm else tokens[-1][0]
    return pooled(final, prefix, m.cls is not None).detach().numpy()


def explain(family, m, image, head, klass=None, target=None, final_norm=True, similar_to=None):
    """{name: array} as `patchlens-cli explain` writes them (plus probabilities). similar_to:
    B's pooled embedding for --target similar-to B (a constant: no gradient flows into it)."""
    eps, act = FAMILY[family]
    ref = tf.reference(family, m, image)
    rows, cols = image.shape[1] // m.p, image.shape[2] // m.p
    prefix = int(m.cls is not None) + int(m.dist is not None) + (0 if m.regs is None else len(m.regs))

    def run(x0_values):
        x0 = torch.tensor(x0_values[None], dtype=torch.float64, requires_grad=True)
        tokens, attns, n1 = blocks_with_grads(m, x0, eps, act)
        final = layer_norm(tokens[-1], m.norm, eps)[0] if final_norm else tokens[-1][0]
        logits = head_logits(head, final, prefix, eps) if head is not None else None
        if similar_to is not None:
            k = None
            a, b = pooled(final, prefix, m.cls is not None), torch.tensor(similar_to)
            value = (a @ b) / (a.norm() * b.norm())
        elif target is None:
            k = int(torch.argmax(logits)) if klass is None else klass
            value = logits[k]
        else:
            k = None
            value = similarity(final, prefix, target[0], target[1], cols, m.cls is not None)
        return x0, tokens, attns, n1, logits, k, value

    x0_values = ref["tokens_0"].astype(np.float64)
    x0, tokens, attns, n1, logits, k, value = run(x0_values)
    value.backward()
    out = {}
    if logits is not None:
        out["logits"] = logits
        out["probabilities"] = logits.softmax(-1)
    out["target"] = value
    for i, tok in enumerate(tokens):
        out[f"grad_tokens_{i}"] = (x0 if i == 0 else tok).grad[0]
    for i, a in enumerate(attns):
        out[f"grad_attention_{i + 1}"] = a.grad[0]
    A, G = n1[0, prefix:], n1.grad[0, prefix:]
    out["gradcam"] = torch.relu(A @ G.mean(0)).reshape(rows, cols)
    T = tokens[0].shape[1]
    R = torch.eye(T, dtype=torch.float64)
    for a in attns:
        abar = torch.relu(a.grad[0] * a[0]).mean(0)
        R = R + abar @ R
    rel = R[0, prefix:] if m.cls is not None else R[prefix:, prefix:].mean(0)
    out["relevance"] = rel.reshape(rows, cols)
    arrays = {name: v.detach().numpy().astype("<f4") for name, v in out.items()}

    # Finite differences on a few tokens_0 entries (float64, central): autograd holds.
    g0 = out["grad_tokens_0"].detach().numpy()
    rng = np.random.default_rng(7)
    for _ in range(3):
        r, c = int(rng.integers(T)), int(rng.integers(m.d))
        h = 1e-5
        plus, minus = x0_values.copy(), x0_values.copy()
        plus[r, c] += h
        minus[r, c] -= h
        fd = (float(run(plus)[-1]) - float(run(minus)[-1])) / (2 * h)
        assert abs(fd - g0[r, c]) <= 1e-6 * max(1.0, np.abs(g0).max()), (family, r, c, fd, g0[r, c])
    return arrays, k


def keep_token_grads(layers):
    """Hooks on a module list of blocks that keep every tokens_L (input of the first block, then
    each block's output) with its gradient: (kept, hooks)."""
    kept = []

    def keep_input(module, inputs):
        inputs[0].retain_grad()
        kept.insert(0, inputs[0])

    def keep_output(module, inputs, output):
        output.retain_grad()
        kept.append(output)

    hooks = [layers.register_forward_pre_hook(keep_input)]
    hooks += [layer.register_forward_hook(keep_output) for layer in layers]
    return kept, hooks


def check_against_torchvision(m, image, head, state, klass, expected):
    """logits and d logits[K] / d tokens_L of torchvision's own VisionTransformer (hooks)."""
    from torchvision.models.vision_transformer import VisionTransformer
    model = VisionTransformer(image_size=image.shape[1], patch_size=m.p, num_layers=m.depth,
                              num_heads=m.heads, hidden_dim=m.d, mlp_dim=m.mlp,
                              num_classes=head["w"].shape[0],
                              representation_size=head["pre_w"].shape[0] if "pre_w" in head else None)
    model = model.double().eval()
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64).copy()) for k, v in state.items()},
                          strict=True)
    kept, hooks = keep_token_grads(model.encoder.layers)
    logits = model(t(image)[None])[0]
    logits[klass].backward()
    for h in hooks:
        h.remove()
    np.testing.assert_allclose(logits.detach().numpy(), expected["logits"], rtol=0,
                               atol=2e-5 * np.abs(expected["logits"]).max())
    for i, x in enumerate(kept):
        ref = expected[f"grad_tokens_{i}"]
        np.testing.assert_allclose(x.grad[0].numpy(), ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    print(f"explain_fixtures: logits and grad_tokens_0..{m.depth} == torchvision VisionTransformer "
          f"autograd (class {klass}{', pre_logits' if 'pre_w' in head else ''})")


def check_similar_to_against_torchvision(m, image, image_b, head, state, expected):
    """--target similar-to through torchvision's own VisionTransformer: the class token of
    encoder(x) (final norm applied) for A and B, cos(A's, B's) with B's detached, and every
    d target / d tokens_L through hooks."""
    from torchvision.models.vision_transformer import VisionTransformer
    model = VisionTransformer(image_size=image.shape[1], patch_size=m.p, num_layers=m.depth,
                              num_heads=m.heads, hidden_dim=m.d, mlp_dim=m.mlp,
                              num_classes=head["w"].shape[0]).double().eval()
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64).copy()) for k, v in state.items()},
                          strict=True)

    def embed(x):
        x = model._process_input(t(x)[None])
        return model.encoder(torch.cat([model.class_token.expand(1, -1, -1), x], dim=1))[0, 0]

    with torch.no_grad():
        b = embed(image_b)
    kept, hooks = keep_token_grads(model.encoder.layers)
    a = embed(image)
    value = (a @ b) / (a.norm() * b.norm())
    value.backward()
    for h in hooks:
        h.remove()
    assert abs(float(value) - float(expected["target"])) <= 1e-6, (float(value), expected["target"])
    for i, x in enumerate(kept):
        ref = expected[f"grad_tokens_{i}"]
        np.testing.assert_allclose(x.grad[0].numpy(), ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    print(f"explain_fixtures: similar-to target and grad_tokens_0..{m.depth} == torchvision "
          f"VisionTransformer autograd (cos {float(value):.4f})")


def check_against_timm(m, image, state, kind, classes, klass, expected):
    """The same against timm's own VisionTransformer / VisionTransformerDistilled, when timm's
    public source is importable (PATCHLENS_TIMM_SRC=<dir holding timm/>; it is not vendored)."""
    src = os.environ.get("PATCHLENS_TIMM_SRC")
    if not src:
        return
    os.environ.setdefault("TIMM_FUSED_ATTN", "0")
    sys.path.insert(0, src)
    from timm.models.deit import VisionTransformerDistilled
    from timm.models.vision_transformer import VisionTransformer
    args = dict(img_size=image.shape[1], patch_size=m.p, embed_dim=m.d, depth=m.depth, num_heads=m.heads,
                mlp_ratio=m.mlp / m.d, num_classes=classes)
    if kind == "distilled":
        model = VisionTransformerDistilled(**args)
    else:
        model = VisionTransformer(global_pool=kind, **args)
    model = model.double().eval()
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64).copy()) for k, v in state.items()},
                          strict=True)
    kept, hooks = keep_token_grads(model.blocks)
    logits = model(t(image)[None])[0]
    logits[klass].backward()
    for h in hooks:
        h.remove()
    np.testing.assert_allclose(logits.detach().numpy(), expected["logits"], rtol=0,
                               atol=2e-5 * np.abs(expected["logits"]).max())
    for i, x in enumerate(kept):
        ref = expected[f"grad_tokens_{i}"]
        np.testing.assert_allclose(x.grad[0].numpy(), ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    print(f"explain_fixtures: logits and grad_tokens_0..{m.depth} == timm {type(model).__name__} "
          f"(global_pool {kind}) autograd")


def gui_image_case(folder, m, head):
    """The GUI's fixture (tests/ui/tst_explain_session.cpp): image.png, 32 x 32 RGB, which the
    session preprocesses at 32 x 32 with crop_pct 1 and the inception normalisation into exactly
    (pixels / 255 - 0.5) / 0.5; expected_image_top.npz and expected_image_second.npz hold the
    gradcam, relevance, logits and class (int64) of the top and the second class for it. Its own
    generator: the other cases' random draws stay as they were."""
    from PIL import Image
    pixels = np.random.default_rng(22).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(os.path.join(folder, "image.png"))
    tensor = np.ascontiguousarray(((pixels.astype(np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1))
    logits = explain("timm_vit", m, tensor, head)[0]["logits"]
    second = int(np.argsort(logits)[-2])
    for klass, tag in ((None, "top"), (second, "second")):
        expected, k = explain("timm_vit", m, tensor, head, klass=klass)
        np.savez(os.path.join(folder, f"expected_image_{tag}.npz"), gradcam=expected["gradcam"],
                 relevance=expected["relevance"], logits=expected["logits"], target=expected["target"],
                 **{"class": np.array(k, dtype=np.int64)})


def main(data_dir):
    out = os.path.join(data_dir, "explain")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rng = np.random.default_rng(20261207)
    rows_tsv = []
    n = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731

    def make_head(pool, d, classes, fc_norm=False, pre=0, dist=False):
        width = 2 * d if pool == "cls+avg" else d
        head = {"pool": pool}
        if fc_norm:
            head["fc_norm"] = (1 + 0.2 * n(d), 0.1 * n(d))
        if pre:
            head["pre_w"], head["pre_b"] = n(pre, width) / np.sqrt(width), 0.1 * n(pre)
            width = pre
        head["w"], head["b"] = n(classes, width) / np.sqrt(width) * 2, 0.3 * n(classes)
        if dist:
            head["dist_w"], head["dist_b"] = n(classes, d) / np.sqrt(d) * 2, 0.3 * n(classes)
        return head

    def case(name, family, m, state, head, heads_option=0, config=None, klasses=(None,), target=None,
             final_norm=True, image=None):
        folder = os.path.join(out, name)
        os.makedirs(folder)
        tf.write_safetensors(os.path.join(folder, "model.safetensors"), state, "F32")
        if config is not None:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f, indent=1)
        if image is None:
            image = rng.standard_normal((3, m.grid * m.p, m.grid * m.p)).astype(np.float32)
        np.save(os.path.join(folder, "input.npy"), image)
        for klass in klasses:
            expected, k = explain(family, m, image, head, klass=klass, target=target, final_norm=final_norm)
            tag = "" if klass is None else f"_class{klass}"
            np.savez(os.path.join(folder, f"expected{tag}.npz"), **expected)
            if family == "torchvision":
                check_against_torchvision(m, image, head, state, k, expected)
            if family.startswith("timm") and head is not None:
                check_against_timm(m, image, state, head["pool"], head["w"].shape[0], k, expected)
            target_text = "" if target is None else f"similar:{target[0]},{target[1]}"
            rows_tsv.append([f"{name}{tag}", f"{name}/model.safetensors", f"{name}/input.npy",
                             f"{name}/expected{tag}.npz", str(heads_option),
                             "" if klass is None else str(klass), target_text, "" if k is None else str(k)])
        return image

    d, depth, heads, patch, grid, mlp = 32, 2, 4, 8, 4, 64

    def canon(**kw):
        return Canon(rng, d, depth, heads, patch, grid, mlp, "F32", **kw)

    # torchvision heads.head, then heads.pre_logits + Tanh; a non-top class for the first.
    m = canon()
    head = make_head("token", d, 10)
    state = tf.state_torchvision(m)
    state["heads.head.weight"], state["heads.head.bias"] = head["w"], head["b"]
    image = rng.standard_normal((3, grid * patch, grid * patch)).astype(np.float32)
    non_top = int(np.argsort(explain("torchvision", m, image, head)[0]["logits"])[-3])  # third
    case("torchvision_head", "torchvision", m, state, head, heads_option=heads, klasses=(None, non_top),
         image=image)
    m = canon()
    head = make_head("token", d, 7, pre=16)
    state = tf.state_torchvision(m)
    state["heads.pre_logits.weight"], state["heads.pre_logits.bias"] = head["pre_w"], head["pre_b"]
    state["heads.head.weight"], state["heads.head.bias"] = head["w"], head["b"]
    case("torchvision_pre_logits", "torchvision", m, state, head, heads_option=heads)

    # timm: class-token head, average pooling with fc_norm (norm is then Identity), distilled.
    m = canon()
    head = make_head("token", d, 1000)
    state = tf.state_timm(m)
    state["head.weight"], state["head.bias"] = head["w"], head["b"]
    case("timm_token_in1k", "timm_vit", m, state, head, heads_option=heads)
    gui_image_case(os.path.join(out, "timm_token_in1k"), m, head)
    m = canon()
    head = make_head("avg", d, 6, fc_norm=True)
    state = tf.state_timm(m)
    del state["norm.weight"], state["norm.bias"]
    state["fc_norm.weight"], state["fc_norm.bias"] = head["fc_norm"]
    state["head.weight"], state["head.bias"] = head["w"], head["b"]
    case("timm_avg_fc_norm", "timm_vit", m, state, head, heads_option=heads, final_norm=False)
    m = canon(dist=True)
    head = make_head("distilled", d, 5, dist=True)
    state = tf.state_timm(m)
    state["head.weight"], state["head.bias"] = head["w"], head["b"]
    state["head_dist.weight"], state["head_dist.bias"] = head["dist_w"], head["dist_b"]
    case("timm_deit_distilled", "timm_deit", m, state, head, heads_option=heads)

    # Hugging Face: ViTForImageClassification (labels from id2label), Dinov2 with registers.
    m = canon()
    head = make_head("token", d, 4)
    state = tf.state_hf_vit(m, prefix="vit.")
    state["classifier.weight"], state["classifier.bias"] = head["w"], head["b"]
    case("hf_vit_classifier", "hf_vit", m, state, head,
         config={"model_type": "vit", "hidden_size": d, "num_attention_heads": heads,
                 "layer_norm_eps": 1e-12, "hidden_act": "gelu",
                 "id2label": {str(i): f"label {chr(65 + i)}" for i in range(4)}})
    m = canon(regs=2, layer_scale=True, pos_prefix=1)
    head = make_head("cls+avg", d, 3)
    state = tf.state_hf_vit(m, dinov2=True, prefix="dinov2_with_registers.")
    state["classifier.weight"], state["classifier.bias"] = head["w"], head["b"]
    case("hf_dinov2_reg2_classifier", "hf_dinov2", m, state, head,
         config={"model_type": "dinov2_with_registers", "hidden_size": d, "num_attention_heads": heads,
                 "layer_norm_eps": 1e-6})

    # No head: --target similar:R,C (QuickGELU + pre-norm with a class token; tanh GELU without).
    m = canon(pre_norm=True, patch_bias=False)
    state = tf.state_timm(m)
    del state["head.weight"]
    case("timm_clip_similar", "timm_clip", m, state, None, target=(1, 2),
         config={"architecture": "vit_tiny_patch8_clip_quickgelu_32", "model_args": {"num_heads": heads}})
    m = canon(cls=False)
    case("hf_siglip_similar", "hf_siglip", m, tf.state_hf_clip(m), None, target=(3, 0),
         config={"model_type": "siglip_vision_model", "hidden_size": d, "num_attention_heads": heads,
                 "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6})

    # --target similar-to B (torchvision, class token pooled): its own folder with input_b.npy,
    # not in cases.tsv (tst_explain runs it by name). Drawn after every case above, so their
    # random draws stay as they were.
    m = canon()
    head = make_head("token", d, 3)
    state = tf.state_torchvision(m)
    state["heads.head.weight"], state["heads.head.bias"] = head["w"], head["b"]
    image = rng.standard_normal((3, grid * patch, grid * patch)).astype(np.float32)
    image_b = rng.standard_normal((3, grid * patch, grid * patch)).astype(np.float32)
    folder = os.path.join(out, "torchvision_similar_to")
    os.makedirs(folder)
    tf.write_safetensors(os.path.join(folder, "model.safetensors"), state, "F32")
    np.save(os.path.join(folder, "input.npy"), image)
    np.save(os.path.join(folder, "input_b.npy"), image_b)
    expected, _ = explain("torchvision", m, image, head,
                          similar_to=pooled_final("torchvision", m, image_b))
    np.savez(os.path.join(folder, "expected.npz"), **expected)
    check_similar_to_against_torchvision(m, image, image_b, head, state, expected)

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        f.write("# case\tweights\tinput\texpected\t--heads\t--class\t--target\texpected class\n")
        for r in rows_tsv:
            f.write("\t".join(r) + "\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"explain fixtures: {len(rows_tsv)} cases, {total / 1024:.0f} kB under {os.path.normpath(out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data"))
