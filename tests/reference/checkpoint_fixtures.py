#!/usr/bin/python3
"""PyTorch and GGUF checkpoint fixtures, the hostile-pickle/GGUF corpus and the fuzz seeds.

    /usr/bin/python3 tests/reference/checkpoint_fixtures.py [DATA_DIR]

writes DATA_DIR/checkpoints/ (checkpoints.tsv lists every fixture: file, model input, torch's
embedding, family, format, nested state-dict key, tensor count, and an .npz of every float
tensor as torch holds it), appends pt_*/gguf_* files to DATA_DIR/bad/weights/ (expected.tsv)
and writes tests/fuzz/corpus/{pickle,gguf}/. make_reference.py calls main(DATA_DIR) after
weight_fixtures.main. Files are written by Debian's torch itself (torch.save zip and legacy,
torch.jit.save) or by checkpoint_writers.save_gguf; the expected embedding is
F.conv2d(x, W, b, stride=P).flatten(2).transpose(1, 2) in float64 on the weights as stored.
"""
import argparse
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint_writers as cw  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "data")
D, P, GRID = 8, 4, 4
# Where a hostile payload would leave a trace if anything ever ran it (the tests check).
PAYLOAD_FILE = "/tmp/patchlens-pickle-payload-ran"


def conv_expected(x, w, b, patch):
    xt = torch.from_numpy(x.astype(np.float64))[None]
    bt = None if b is None else torch.from_numpy(np.asarray(b, dtype=np.float64))
    y = F.conv2d(xt, torch.from_numpy(np.asarray(w, dtype=np.float64)), bt, stride=patch)
    return y.flatten(2).transpose(1, 2)[0].contiguous().numpy().astype("<f4")


def float_tensors(sd, prefix=""):
    """{name: float32 numpy} of every float tensor, as the reader must return it."""
    out = {}
    for k, v in sd.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            out[prefix + k] = v.detach().float().contiguous().numpy()
    return out


def timm_sd(g, dtype=torch.float32):
    return {
        "cls_token": (torch.randn(1, 1, D, generator=g) * 0.02).to(dtype),
        "pos_embed": (torch.randn(1, 1 + GRID * GRID, D, generator=g) * 0.02).to(dtype),
        "patch_embed.proj.weight": (torch.randn(D, 3, P, P, generator=g) * 0.1).to(dtype),
        "patch_embed.proj.bias": (torch.randn(D, generator=g) * 0.1).to(dtype),
        "blocks.0.norm1.weight": torch.ones(D, dtype=dtype),
        "blocks.0.attn.qkv.weight": (torch.randn(3 * D, D, generator=g) * 0.02).to(dtype),
        "blocks.0.step": torch.tensor(7, dtype=torch.int64),
    }


def strided_timm_sd(g):
    """A DeiT-style state dict whose weight and bias are views into one shared storage: the
    weight transposed (D fastest) at an offset, the bias a slice further on."""
    base = torch.randn(2000, generator=g) * 0.1
    w = base.as_strided((D, 3, P, P), (1, D * P * P, D * P, D), 7)
    b = base[1000:1000 + D]
    sd = timm_sd(g)
    sd["patch_embed.proj.weight"] = w
    sd["patch_embed.proj.bias"] = b
    return sd


def hf_sd(g, dtype):
    p = "vit.embeddings."
    return {
        p + "cls_token": (torch.randn(1, 1, D, generator=g) * 0.02).to(dtype),
        p + "position_embeddings": (torch.randn(1, 1 + GRID * GRID, D, generator=g) * 0.02).to(dtype),
        p + "patch_embeddings.projection.weight": (torch.randn(D, 3, P, P, generator=g) * 0.1).to(dtype),
        p + "patch_embeddings.projection.bias": (torch.randn(D, generator=g) * 0.1).to(dtype),
        "vit.encoder.layer.0.attention.attention.query.weight": (torch.randn(D, D, generator=g) * 0.02).to(dtype),
    }


class VisualTower(nn.Module):
    """OpenAI CLIP's VisionTransformer names (conv1 without bias, class/positional embedding)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, D, kernel_size=P, stride=P, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(D) * 0.02)
        self.positional_embedding = nn.Parameter(torch.randn(1 + GRID * GRID, D) * 0.02)
        self.ln_pre = nn.LayerNorm(D)

    def forward(self, x):
        return self.ln_pre(self.conv1(x).flatten(2).transpose(1, 2))


class TinyClip(nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = VisualTower()
        self.logit_scale = nn.Parameter(torch.ones([]))

    def forward(self, x):
        return self.visual(x)


def mmproj_tensors(rng, patch):
    grid = GRID
    return {
        "v.class_embd": (rng.standard_normal(D) * 0.02).astype(np.float32),
        "v.patch_embd.weight": (rng.standard_normal((D, 3, patch, patch)) * 0.05).astype(np.float32),
        "v.patch_embd.bias": (rng.standard_normal(D) * 0.1).astype(np.float32),
        "v.position_embd.weight": (rng.standard_normal((1 + grid * grid, D)) * 0.02).astype(np.float32),
        "v.blk.0.attn_q.weight": (rng.standard_normal((32, 32)) * 0.05).astype(np.float32),
        "v.pre_ln.weight": np.ones(D, dtype=np.float32),
    }


def mmproj_metadata(patch):
    return {
        "general.architecture": "clip",
        "general.name": "tiny mmproj fixture",
        "clip.has_vision_encoder": True,
        "clip.vision.image_size": patch * GRID,
        "clip.vision.patch_size": patch,
        "clip.vision.embedding_length": D,
        "clip.vision.block_count": 1,
        "clip.vision.attention.head_count": 2,
        "clip.vision.attention.layer_norm_epsilon": 1e-5,
        "clip.vision.image_mean": [0.48145466, 0.4578275, 0.40821073],
        "clip.vision.image_std": [0.26862954, 0.26130258, 0.27577711],
        "general.alignment": cw.Typed(cw.T_UINT32, 32),
    }


def make_fixtures(data_dir):
    out = os.path.join(data_dir, "checkpoints")
    import shutil
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    g = torch.Generator().manual_seed(11)
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((3, P * GRID, P * GRID))).astype(np.float32)
    np.save(os.path.join(out, "input_p4.npy"), x)
    x32 = (rng.standard_normal((3, 32 * 2, 32 * 2))).astype(np.float32)
    np.save(os.path.join(out, "input_p32.npy"), x32)
    rows = []

    def record(name, filename, inp, w, b, family, fmt, key, tensors, patch=P):
        xin = x if patch == P else x32
        np.save(os.path.join(out, name + "_expected.npy"), conv_expected(xin, w, b, patch))
        np.savez(os.path.join(out, name + "_tensors.npz"), **tensors)
        rows.append((name, filename, inp, name + "_expected.npy", family, fmt, key or "-",
                     str(len(tensors)), name + "_tensors.npz"))

    def torch_case(name, filename, saver, obj, sd, wkey, bkey, family, fmt, key, count_prefix=""):
        saver(obj, os.path.join(out, filename))
        w = sd[wkey].float().numpy()
        b = sd[bkey].float().numpy() if bkey else None
        record(name, filename, "input_p4.npy", w, b, family, fmt, key, float_tensors(sd, count_prefix))

    sd = timm_sd(g)
    torch_case("timm_zip", "timm_zip.pth", cw.save_torch_zip, sd, sd, "patch_embed.proj.weight",
               "patch_embed.proj.bias", "timm ViT/DeiT/DINOv2", "pytorch zip", "")
    torch_case("timm_legacy", "timm_legacy.pth", cw.save_torch_legacy, sd, sd, "patch_embed.proj.weight",
               "patch_embed.proj.bias", "timm ViT/DeiT/DINOv2", "pytorch legacy", "")
    sd = strided_timm_sd(g)
    args = argparse.Namespace(model="deit_tiny_patch4", lr=5e-4, epochs=300, drop_path=0.1)
    nested = {"model": sd, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
              "epoch": 3, "args": args}
    torch_case("deit_nested_strided", "deit_nested_strided.pth", cw.save_torch_zip, nested, sd,
               "patch_embed.proj.weight", "patch_embed.proj.bias", "timm ViT/DeiT/DINOv2", "pytorch zip", "model")
    torch_case("deit_nested_strided_legacy", "deit_nested_strided_legacy.pth", cw.save_torch_legacy, nested, sd,
               "patch_embed.proj.weight", "patch_embed.proj.bias", "timm ViT/DeiT/DINOv2", "pytorch legacy",
               "model")
    for dt, tag in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        sd = hf_sd(g, dt)
        torch_case(f"hf_{tag}", f"hf_{tag}_pytorch_model.bin", cw.save_torch_zip, sd, sd,
                   "vit.embeddings.patch_embeddings.projection.weight",
                   "vit.embeddings.patch_embeddings.projection.bias", "Hugging Face ViT", "pytorch zip", "")
    # DINO: teacher and student, the teacher wins; prefixed "backbone." like DINO's heads.
    teacher = {"backbone." + k: v for k, v in timm_sd(g).items()}
    student = {"module.backbone." + k: v for k, v in timm_sd(g).items()}
    torch_case("dino_teacher", "dino_teacher.pth", cw.save_torch_zip,
               {"student": student, "teacher": teacher, "epoch": 100}, teacher,
               "backbone.patch_embed.proj.weight", "backbone.patch_embed.proj.bias", "timm ViT/DeiT/DINOv2",
               "pytorch zip", "teacher")
    sd = {"conv_proj.weight": (torch.randn(D, 3, P, P, generator=g) * 0.1).double(),
          "conv_proj.bias": (torch.randn(D, generator=g) * 0.1).double(),
          "class_token": (torch.randn(1, 1, D, generator=g) * 0.02).double(),
          "encoder.pos_embedding": (torch.randn(1, 1 + GRID * GRID, D, generator=g) * 0.02).double()}
    torch_case("torchvision_f64", "torchvision_f64.pth", cw.save_torch_zip, sd, sd, "conv_proj.weight",
               "conv_proj.bias", "torchvision ViT", "pytorch zip", "")
    # TorchScript archive in OpenAI CLIP naming.
    torch.manual_seed(3)
    model = torch.jit.script(TinyClip())
    torch.jit.save(model, os.path.join(out, "clip_jit.pt"))
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    record("clip_jit", "clip_jit.pt", "input_p4.npy", sd["visual.conv1.weight"].numpy(), None, "OpenAI CLIP",
           "torchscript", "", float_tensors(sd))
    # GGUF (llama.cpp mmproj naming), written from the spec.
    for name, dtype, version, patch in (("mmproj_f32", "F32", 3, P), ("mmproj_f16_v2", "F16", 2, P),
                                        ("mmproj_bf16", "BF16", 3, P), ("mmproj_q8_0", "Q8_0", 3, 32)):
        t = mmproj_tensors(np.random.default_rng(20 + len(rows)), patch)
        filename = name + ".gguf"
        rec = cw.save_gguf(t, mmproj_metadata(patch), os.path.join(out, filename), dtype, version=version)
        record(name, filename, "input_p4.npy" if patch == P else "input_p32.npy", rec["v.patch_embd.weight"],
               rec["v.patch_embd.bias"], "llama.cpp CLIP (GGUF)", f"gguf v{version}", "", rec, patch)
    with open(os.path.join(out, "checkpoints.tsv"), "w") as f:
        f.write("# name\tfile\tinput\texpected\tfamily\tformat\tstate_dict_key\tfloat_tensors\ttensors_npz\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    # Preprocessing sidecars next to a checkpoint: one folder per case.
    make_sidecars(out)
    return len(rows)


def make_sidecars(out):
    """Sidecar configs, each in its own folder beside a copy of a small checkpoint."""
    import json
    import shutil
    cases = {
        "timm_config": ("config.json", {
            "architecture": "vit_base_patch16_384", "num_classes": 1000,
            "pretrained_cfg": {"input_size": [3, 384, 384], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                               "crop_pct": 1.0, "interpolation": "bicubic", "crop_mode": "center"}}),
        "timm_config_default_crop": ("config.json", {
            "architecture": "deit_base_patch16_224",
            "pretrained_cfg": {"input_size": [3, 224, 224], "mean": [0.485, 0.456, 0.406],
                               "std": [0.229, 0.224, 0.225], "crop_pct": 0.875, "interpolation": "bilinear"}}),
        "hf_vit": ("preprocessor_config.json", {
            "do_normalize": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "image_processor_type": "ViTImageProcessor", "resample": 2, "rescale_factor": 0.00392156862745098,
            "size": {"height": 224, "width": 224}}),
        "hf_clip": ("preprocessor_config.json", {
            "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_normalize": True,
            "do_resize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
            "size": {"shortest_edge": 224}}),
        "hf_malformed": ("preprocessor_config.json", "{ not json"),
        "hf_config_only": ("config.json", {"architectures": ["ViTModel"], "hidden_size": 8, "image_size": 224}),
    }
    for folder, (fname, content) in cases.items():
        d = os.path.join(out, "sidecar_" + folder)
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(out, "timm_zip.pth"), os.path.join(d, "model.pth"))
        with open(os.path.join(d, fname), "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=2))


# ---------------------------------------------------------------- hostile corpus

def proto2(body):
    return b"\x80\x02" + body + b"."


def short_unicode(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def global_call(module, name, arg):
    """GLOBAL module.name, (arg,), REDUCE: what pickle writes for a __reduce__ payload."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n" + binunicode(arg) + b"\x85R"


def stack_global_call(module, name, arg):
    return b"\x80\x04" + short_unicode(module) + short_unicode(name) + b"\x93" + short_unicode(arg) + b"\x85R."


class FixedZip(zipfile.ZipFile):
    """A zip whose members carry a fixed date, so regenerated fixtures are byte-identical."""

    def writestr(self, name, data, *args, **kwargs):
        super().writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, *args, **kwargs)


def torch_zip(pkl, storages=None, prefix="archive", byteorder=b"little", extra=None):
    buf = io.BytesIO()
    with FixedZip(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", pkl)
        if byteorder is not None:
            z.writestr(prefix + "/byteorder", byteorder)
        for key, data in (storages or {}).items():
            z.writestr(prefix + "/data/" + key, data)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        z.writestr(prefix + "/version", "3\n")
    return buf.getvalue()


def tensor_pickle(size, stride, offset=0, numel=None, key="0", storage="FloatStorage", name="patch_embed.proj.weight"):
    """A protocol-2 state dict {name: _rebuild_tensor_v2(storage, offset, size, stride)}."""
    def ints(v):
        return b"(" + b"".join(b"J" + struct.pack("<i", i) if i < 2**31 else b"\x8a\x08" + struct.pack("<q", i)
                               for i in v) + b"t"
    if numel is None:
        numel = 1
        for s in size:
            numel *= s
    n = b"J" + struct.pack("<i", numel) if numel < 2**31 else b"\x8a\x08" + struct.pack("<q", numel)
    pid = b"(" + binunicode("storage") + b"ctorch\n" + storage.encode() + b"\n" + binunicode(key) + \
        binunicode("cpu") + n + b"tQ"
    args = b"(" + pid + b"J" + struct.pack("<i", offset) + ints(size) + ints(stride) + b"\x89" + \
        b"ccollections\nOrderedDict\n)R" + b"t"
    return proto2(b"}" + binunicode(name) + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"Rs")


class Payload:
    """What an attacker pickles: torch.save runs __reduce__ and records os.system's global."""

    def __reduce__(self):
        return (os.system, ("touch " + PAYLOAD_FILE,))


def make_bad(data_dir):
    bad_dir = os.path.join(data_dir, "bad/weights")
    os.makedirs(bad_dir, exist_ok=True)
    for f in os.listdir(bad_dir):
        if f.startswith(("pt_", "gguf_")):
            os.remove(os.path.join(bad_dir, f))
    cases = []

    def bad(name, data, expected):
        with open(os.path.join(bad_dir, name), "wb") as f:
            f.write(data)
        cases.append((name, expected))

    # ---- forbidden globals: raw pickles (what torch.load would unpickle) and torch zips
    bad("pt_global_os_system.pth", proto2(global_call("os", "system", "touch " + PAYLOAD_FILE)),
        "forbidden global os.system")
    bad("pt_global_posix_system.pkl", proto2(global_call("posix", "system", "touch " + PAYLOAD_FILE)),
        "forbidden global posix.system")
    bad("pt_stack_global_eval.pth", stack_global_call("builtins", "eval", "__import__('os').system('x')"),
        "forbidden global builtins.eval")
    bad("pt_subprocess_popen.pt", proto2(b"csubprocess\nPopen\n(" + binunicode("touch") + binunicode(PAYLOAD_FILE)
                                         + b"l\x85R"), "forbidden global subprocess.Popen")
    bad("pt_creates_file.pth", proto2(b"cbuiltins\nopen\n" + binunicode(PAYLOAD_FILE) + binunicode("w") + b"\x86R"),
        "forbidden global builtins.open")
    buf = io.BytesIO()
    torch.save({"patch_embed.proj.weight": torch.zeros(2, 3, 2, 2), "x": Payload()}, buf)
    bad("pt_zip_reduce_payload.pth", buf.getvalue(), "forbidden global posix.system")
    buf = io.BytesIO()
    torch.save({"x": Payload()}, buf, _use_new_zipfile_serialization=False)
    bad("pt_legacy_reduce_payload.pth", buf.getvalue(), "forbidden global posix.system")
    bad("pt_exec_in_jit.pt", torch_zip(proto2(global_call("builtins", "exec", "import os")),
                                       extra={"archive/constants.pkl": proto2(b")")}),
        "forbidden global builtins.exec")
    bad("pt_getattr_chain.pth", proto2(b"cbuiltins\ngetattr\n(ctorch\nSize\n" + binunicode("__class__") + b"tR"),
        "forbidden global builtins.getattr")
    bad("pt_call_storage_type.pth", proto2(b"ctorch\nFloatStorage\n)R"), "torch.FloatStorage cannot be called")
    # ---- structure
    deep = b"\x80\x02" + b"}" + b"".join(b"X\x01\x00\x00\x00a}" for _ in range(200)) + b"s" * 200 + b"."
    bad("pt_deep_nesting.pth", torch_zip(deep), "nests deeper than 64 levels")
    laughs = b"\x80\x02]q\x00" + b"".join(b"(" + b"h" + bytes([i]) + b"h" + bytes([i]) + b"h" + bytes([i]) +
                                           b"lq" + bytes([i + 1]) for i in range(60)) + b"."
    bad("pt_billion_laughs.pth", torch_zip(laughs), "pickle ends with an unbalanced stack")
    bad("pt_memo_missing.pth", torch_zip(proto2(b"h\x07")), "pickle memo has no entry 7")
    bad("pt_stack_underflow.pth", torch_zip(proto2(b"s")), "pickle stack underflow")
    bad("pt_truncated_pickle.pth", torch_zip(b"\x80\x02}q\x00(X\x05\x00\x00\x00ab"), "truncated pickle")
    bad("pt_text_opcode.pth", torch_zip(b"\x80\x02I42\n."), "unsupported pickle opcode 0x49")
    bad("pt_protocol_0.pkl", b"(dp0\n.", "not a PyTorch checkpoint: not a pickle of protocol 2 or later")
    bad("pt_not_torch_pickle.pth", pickle.dumps({"a": 1}, protocol=2), "not a PyTorch checkpoint (no torch.save magic")
    bad("pt_whole_module.pth", torch_zip(proto2(b"(" + binunicode("module") + b"tQ")),
        "is not a tensor storage (a whole pickled model?")
    # ---- sizes
    w = np.zeros((2, 3, 2, 2), dtype="<f4")
    bad("pt_huge_declared_size.pth", torch_zip(tensor_pickle((1 << 40, 1 << 40, 1, 1), (1 << 40, 1, 1, 1), numel=24),
                                               {"0": w.tobytes()}), "declares an impossible size")
    bad("pt_storage_smaller_than_view.pth",
        torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1), offset=8, numel=24), {"0": w.tobytes()}),
        "storage smaller than the view")
    bad("pt_storage_member_short.pth", torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1), numel=48),
                                                 {"0": w.tobytes()}), "bytes but the pickle declares 48 x 4")
    bad("pt_storage_member_missing.pth", torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1))),
        "has no zip member 'archive/data/0'")
    bad("pt_storage_huge_numel.pth", torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1), numel=1 << 62),
                                               {"0": w.tobytes()}), "declares an impossible size")
    bad("pt_big_endian.pth", torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1)), {"0": w.tobytes()},
                                       byteorder=b"big"), "only little-endian PyTorch checkpoints")
    bad("pt_unknown_storage_type.pth", torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1), storage="EvilStorage"),
                                                 {"0": w.tobytes()}), "forbidden global torch.EvilStorage")
    bad("pt_int_weight.pth", torch_zip(tensor_pickle((2, 3, 2, 2), (12, 4, 2, 1), storage="LongStorage"),
                                       {"0": np.zeros(24, "<i8").tobytes()}), "is I64, not a float tensor")
    two = io.BytesIO()
    with FixedZip(two, "w") as z:
        z.writestr("a/data.pkl", tensor_pickle((1,), (1,)))
        z.writestr("b/data.pkl", tensor_pickle((1,), (1,)))
    bad("pt_two_checkpoints.pth", two.getvalue(), "zip holds two checkpoints")
    legacy = io.BytesIO()
    torch.save({"patch_embed.proj.weight": torch.zeros(2, 3, 2, 2)}, legacy, _use_new_zipfile_serialization=False)
    bad("pt_legacy_truncated.pth", legacy.getvalue()[:-20], "truncated: legacy storage")
    # ---- GGUF
    t = {"v.patch_embd.weight": np.zeros((2, 3, 2, 2), np.float32)}
    good = gguf_bytes(t, {"clip.vision.patch_size": 2})
    bad("gguf_absurd_tensor_count.gguf", b"GGUF" + struct.pack("<IQQ", 3, 1 << 60, 0) + b"\0" * 16,
        "absurd tensor count")
    bad("gguf_absurd_kv_count.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 50) + b"\0" * 16,
        "absurd metadata count")
    bad("gguf_absurd_array.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" +
        struct.pack("<IIQ", 9, 6, 1 << 40) + b"\0" * 16, "absurd array length")
    bad("gguf_absurd_string.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"k" * 16,
        "truncated: a metadata key needs")
    bad("gguf_unknown_type.gguf", patch_gguf_type(good, 99), "unknown ggml type 99")
    bad("gguf_q4_k.gguf", gguf_raw_tensor("v.patch_embd.weight", [256, 2, 3, 2], 12, 144 * 12),
        "Q4_K, which PatchLens does not dequantise")
    bad("gguf_truncated_data.gguf", good[:-8], "truncated: tensor 'v.patch_embd.weight'")
    bad("gguf_bad_alignment.gguf", gguf_bytes(t, {"general.alignment": cw.Typed(cw.T_UINT32, 3)}, align=3),
        "bad alignment: general.alignment 3")
    bad("gguf_misaligned_offset.gguf", gguf_raw_tensor("v.patch_embd.weight", [2, 2, 3, 2], 0, 96, offset=4),
        "bad alignment: tensor 'v.patch_embd.weight' at offset 4")
    bad("gguf_v1.gguf", b"GGUF" + struct.pack("<III", 1, 0, 0) + b"\0" * 16, "GGUF version 1 is not supported")
    bad("gguf_five_dims.gguf", gguf_raw_tensor("w", [1, 1, 1, 1, 1], 0, 4), "has 5 dimensions")
    bad("gguf_unknown_kv_type.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" +
        struct.pack("<I", 77) + b"\0" * 16, "has unknown type 77")
    bad("gguf_no_weight.gguf", gguf_bytes({"v.pre_ln.weight": np.ones(4, np.float32)}, {}), "no patch-embedding weight")

    path = os.path.join(bad_dir, "expected.tsv")
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith(("pt_", "gguf_"))]
    with open(path, "w") as f:
        f.writelines(lines)
        for name, expected in cases:
            f.write(f"{name}\t{expected}\n")
    return len(cases)


def gguf_bytes(tensors, metadata, align=32):
    path = "/tmp/_patchlens_gguf_tmp.gguf"
    cw.save_gguf(tensors, metadata, path, "F32", alignment=32 if align == 3 else align)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def gguf_raw_tensor(name, dims, type_id, nbytes, offset=0):
    """One tensor info written by hand (for types and layouts the writer refuses to make)."""
    n = name.encode()
    out = b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + struct.pack("<Q", len(n)) + n + struct.pack("<I", len(dims))
    out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", type_id, offset)
    out += b"\0" * ((-len(out)) % 32)
    return out + b"\0" * (nbytes + offset)


def patch_gguf_type(data, type_id):
    """The first tensor info's ggml type replaced (the 12 bytes before the data are type + offset)."""
    name = b"v.patch_embd.weight"
    i = data.index(name) + len(name)
    dims = struct.unpack_from("<I", data, i)[0]
    j = i + 4 + 8 * dims
    return data[:j] + struct.pack("<I", type_id) + data[j + 4:]


def make_fuzz_seeds(data_dir):
    corpus = os.path.join(data_dir, "..", "fuzz", "corpus")
    ck = os.path.join(data_dir, "checkpoints")
    bad_dir = os.path.join(data_dir, "bad/weights")
    for kind, exts, prefixes in (("pickle", (".pth", ".pt", ".bin", ".pkl"), ("pt_",)),
                                 ("gguf", (".gguf",), ("gguf_",))):
        d = os.path.join(corpus, kind)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        for src, pick in ((ck, lambda f: f.endswith(exts)), (bad_dir, lambda f: f.startswith(prefixes))):
            for f in sorted(os.listdir(src)):
                p = os.path.join(src, f)
                if os.path.isfile(p) and pick(f) and os.path.getsize(p) <= 16384:
                    with open(p, "rb") as fh:
                        data = fh.read()
                    with open(os.path.join(d, f), "wb") as fh:
                        fh.write(data)


def main(data_dir=DEFAULT_DATA):
    torch.manual_seed(0)
    n = make_fixtures(data_dir)
    m = make_bad(data_dir)
    make_fuzz_seeds(data_dir)
    print(f"{n} checkpoint fixtures in {os.path.join(data_dir, 'checkpoints')}, {m} hostile checkpoint files")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA)
