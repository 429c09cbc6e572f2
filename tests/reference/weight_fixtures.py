#!/usr/bin/python3
"""Pretrained-weight fixtures: one small file per ViT family and dtype, in the real layouts,
with a model input and torch's embedding of it; plus the malformed-file corpus.

    /usr/bin/python3 tests/reference/weight_fixtures.py [DATA_DIR]

writes DATA_DIR/weights/ (fixtures.tsv lists them) and DATA_DIR/bad/weights/ (expected.tsv:
file, then the substring the refusal must contain). make_reference.py calls main(DATA_DIR).

safetensors files are written by hand per the format's spec (8-byte little-endian header
length, JSON header padded with spaces, raw little-endian data); .npy and .npz by numpy's own
np.save / np.savez / np.savez_compressed. Every expected output is
torch.nn.functional.conv2d(x, W, b, stride=P).flatten(2).transpose(1, 2) in float64 on the
weights exactly as stored (F16/BF16 rounding included), saved as float32.
"""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "data")

D = 32  # embedding width of every fixture: small files, same code paths as 768


# ---------------------------------------------------------------- encoding helpers

def encode(arr, dtype):
    """(bytes, the float32 values a reader must recover) for a safetensors dtype."""
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if dtype == "F32":
        return arr.astype("<f4").tobytes(), arr
    if dtype == "F64":
        return arr.astype("<f8").tobytes(), arr
    if dtype == "F16":
        h = arr.astype("<f2")
        return h.tobytes(), h.astype(np.float32)
    if dtype == "BF16":
        t = torch.from_numpy(arr).to(torch.bfloat16)
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        return raw, t.to(torch.float32).numpy()
    raise ValueError(dtype)


def safetensors_bytes(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes). Data in the order given, from 0."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    return raw_safetensors(json.dumps(header, separators=(",", ":")).encode(), b"".join(t[3] for t in tensors))


def raw_safetensors(header_bytes, data, pad=True):
    if pad:  # the reference writer pads the header with spaces to a multiple of 8
        header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + data


def conv_expected(x, w_oihw, b, patch):
    xt = torch.from_numpy(x.astype(np.float64))[None]
    wt = torch.from_numpy(w_oihw.astype(np.float64))
    bt = torch.from_numpy(b.astype(np.float64)) if b is not None else None
    y = F.conv2d(xt, wt, bt, stride=patch)
    return y.flatten(2).transpose(1, 2)[0].contiguous().numpy().astype("<f4")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- family fixtures

class Model:
    """A patch embedding with companions, drawn from a seeded generator."""

    def __init__(self, rng, channels, patch, grid=4, cls=True, dist=False, bias=True):
        self.c, self.p = channels, patch
        self.w = (rng.standard_normal((D, channels, patch, patch)) * 0.05).astype(np.float32)
        self.b = (rng.standard_normal(D) * 0.1).astype(np.float32) if bias else None
        prefix = int(cls) + int(dist)
        self.pos = (rng.standard_normal((prefix + grid * grid, D)) * 0.02).astype(np.float32)
        self.cls = (rng.standard_normal(D) * 0.02).astype(np.float32) if cls else None
        self.dist = (rng.standard_normal(D) * 0.02).astype(np.float32) if dist else None
        self.other = (rng.standard_normal((3 * D, D)) * 0.02).astype(np.float32)


def st_family(layout, m, dtype, prefix=""):
    """(safetensors bytes, effective weight, effective bias) with the family's names."""
    out = []
    eff = {}

    def add(name, arr, dt=dtype, shape=None):
        raw, e = encode(arr, dt)
        eff[name] = e
        out.append((prefix + name, dt, shape if shape is not None else arr.shape, raw))

    pos3 = m.pos[None]
    if layout == "timm":
        if m.cls is not None:
            add("cls_token", m.cls[None, None])
        if m.dist is not None:
            add("dist_token", m.dist[None, None])
        add("pos_embed", pos3)
        add("patch_embed.proj.weight", m.w)
        if m.b is not None:
            add("patch_embed.proj.bias", m.b)
        add("blocks.0.attn.qkv.weight", m.other)
        add("norm.weight", np.ones(D, np.float32))
        wkey, bkey = "patch_embed.proj.weight", "patch_embed.proj.bias"
    elif layout == "dinov2":
        add("cls_token", m.cls[None, None])
        add("pos_embed", pos3)
        add("register_tokens", m.other[:4][None])
        add("mask_token", m.other[4:5])
        add("patch_embed.proj.weight", m.w)
        add("patch_embed.proj.bias", m.b)
        add("blocks.0.ls1.gamma", np.ones(D, np.float32))
        wkey, bkey = "patch_embed.proj.weight", "patch_embed.proj.bias"
    elif layout == "hf":
        add("embeddings.cls_token", m.cls[None, None])
        add("embeddings.position_embeddings", pos3)
        add("embeddings.patch_embeddings.projection.weight", m.w)
        add("embeddings.patch_embeddings.projection.bias", m.b)
        add("encoder.layer.0.attention.attention.query.weight", m.other[:D])
        add("layernorm.weight", np.ones(D, np.float32))
        wkey, bkey = "embeddings.patch_embeddings.projection.weight", "embeddings.patch_embeddings.projection.bias"
    elif layout == "torchvision":
        add("class_token", m.cls[None, None])
        add("conv_proj.weight", m.w)
        add("conv_proj.bias", m.b)
        add("encoder.pos_embedding", pos3)
        add("encoder.layers.encoder_layer_0.ln_1.weight", np.ones(D, np.float32))
        add("heads.head.weight", m.other[:10])
        wkey, bkey = "conv_proj.weight", "conv_proj.bias"
    elif layout == "clip":
        add("positional_embedding", m.other[:8])  # the text tower's, a decoy
        add("token_embedding.weight", m.other[8:24])
        add("visual.class_embedding", m.cls)
        add("visual.positional_embedding", m.pos)
        add("visual.conv1.weight", m.w)
        add("visual.ln_pre.weight", np.ones(D, np.float32))
        add("visual.proj", m.other[:D])
        wkey, bkey = "visual.conv1.weight", None
    elif layout == "hf_clip":
        add("vision_model.embeddings.class_embedding", m.cls)
        add("vision_model.embeddings.patch_embedding.weight", m.w)
        add("vision_model.embeddings.position_embedding.weight", m.pos)
        ids = np.arange(m.pos.shape[0], dtype="<i8")[None]
        out.append((prefix + "vision_model.embeddings.position_ids", "I64", ids.shape, ids.tobytes()))
        add("vision_model.pre_layrnorm.weight", np.ones(D, np.float32))
        wkey, bkey = "vision_model.embeddings.patch_embedding.weight", None
    elif layout == "generic":
        add("stem.weight", m.w)
        add("stem.bias", m.b)
        add("head.weight", m.other[:10])
        wkey, bkey = "stem.weight", "stem.bias"
    else:
        raise ValueError(layout)
    data = safetensors_bytes(out, {"format": "pt"})
    return data, eff[wkey], (eff[bkey] if bkey else None)


def google_npz_dict(m, dtype, prefix=""):
    """Big-vision / vit_jax names; the kernel HWIO [P, P, C, D]."""
    dt = np.dtype(dtype)
    d = {
        prefix + "cls": m.cls[None, None].astype(dt),
        prefix + "embedding/kernel": np.ascontiguousarray(m.w.transpose(2, 3, 1, 0)).astype(dt),
        prefix + "embedding/bias": m.b.astype(dt),
        prefix + "Transformer/posembed_input/pos_embedding": m.pos[None].astype(dt),
        prefix + "Transformer/encoder_norm/scale": np.ones(D, dt),
        prefix + "Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel": m.other.T.astype(dt),
    }
    w_eff = d[prefix + "embedding/kernel"].astype(np.float32).transpose(3, 2, 0, 1)
    b_eff = d[prefix + "embedding/bias"].astype(np.float32)
    return d, np.ascontiguousarray(w_eff), b_eff


def make_weight_fixtures(data_dir):
    out = os.path.join(data_dir, "weights")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20260312)

    inputs = {}
    for c, p in ((3, 16), (3, 14), (3, 8), (1, 8)):
        x = rng.uniform(-1.0, 1.0, (c, 2 * p, 3 * p)).astype(np.float32)  # a 2 x 3 grid
        name = f"input_c{c}_p{p}.npy"
        np.save(os.path.join(out, name), x)
        inputs[(c, p)] = (name, x)

    rows = []

    def record(name, filename, m, w_eff, b_eff, key="-", bias_key="-", family="-", pos_rows=None,
               pos_cls=None, grid=4, cls=None):
        inp, x = inputs[(m.c, m.p)]
        y = conv_expected(x, w_eff, b_eff, m.p)
        expected = f"{name}_expected.npy"
        np.save(os.path.join(out, expected), y)
        if pos_rows is None:
            pos_rows = 0
        rows.append([name, filename, inp, expected, key, bias_key, str(int(b_eff is not None)), str(pos_rows),
                     str(int(bool(pos_cls))), str(grid if pos_rows else 0), str(int(bool(cls))), family])

    # safetensors: the five families of design.md in F32, F16 and BF16 at real patch sizes; the
    # variants (prefixes, missing tokens, F64, gray) at P = 8 to keep the files small.
    st_cases = [
        # name, layout, prefix, C, P, cls, dist, bias, family text, dtypes
        ("timm_vit", "timm", "", 3, 16, True, False, True, "timm", ("F32", "F16", "BF16")),
        ("dinov2", "dinov2", "", 3, 14, True, False, True, "timm", ("F32", "F16", "BF16")),
        ("hf_vit", "hf", "vit.", 3, 16, True, False, True, "Hugging Face ViT", ("F32", "F16", "BF16")),
        ("torchvision_vit", "torchvision", "", 3, 16, True, False, True, "torchvision", ("F32", "F16", "BF16")),
        ("openai_clip", "clip", "", 3, 14, True, False, False, "OpenAI CLIP", ("F32", "F16", "BF16")),
        ("deit_distilled", "timm", "", 3, 8, True, True, True, "timm", ("F32",)),
        ("timm_no_embed_class", "timm", "", 3, 8, True, False, True, "timm", ("BF16",)),
        ("hf_vit_bare", "hf", "", 3, 8, True, False, True, "Hugging Face ViT", ("F16",)),
        ("hf_clip", "hf_clip", "", 3, 8, True, False, False, "Hugging Face CLIP", ("F64",)),
        ("timm_gray", "timm", "module.", 1, 8, False, False, True, "timm", ("F32",)),
        ("generic_stem", "generic", "", 3, 8, False, False, True, "only 4-D", ("F32",)),
    ]
    for name, layout, prefix, c, p, cls, dist, bias, family, dtypes in st_cases:
        for dtype in dtypes:
            m = Model(rng, c, p, cls=cls, dist=dist, bias=bias)
            if name == "timm_no_embed_class":
                m.pos = m.pos[1:]  # timm's no_embed_class: cls_token kept, no position for it
            data, w_eff, b_eff = st_family(layout, m, dtype, prefix)
            fname = f"{name}_{dtype.lower()}.safetensors"
            write(os.path.join(out, fname), data)
            has_pos = layout != "generic"
            embed_class = cls and name != "timm_no_embed_class"
            record(f"{name}_{dtype.lower()}", fname, m, w_eff, b_eff, family=family,
                   pos_rows=(17 if embed_class else 16) if has_pos else 0,
                   pos_cls=has_pos and embed_class, cls=cls and has_pos)

    # Two models in one checkpoint (DINO's teacher and student): ambiguous unless --key.
    teacher, student = Model(rng, 3, 8), Model(rng, 3, 8)
    both = []
    for prefix, m in (("teacher.backbone.", teacher), ("student.backbone.", student)):
        for n, arr in (("cls_token", m.cls[None, None]), ("pos_embed", m.pos[None]),
                       ("patch_embed.proj.weight", m.w), ("patch_embed.proj.bias", m.b)):
            raw, _ = encode(arr, "F32")
            both.append((prefix + n, "F32", arr.shape, raw))
    write(os.path.join(out, "dino_teacher_student_f32.safetensors"), safetensors_bytes(both))
    record("dino_student_by_key", "dino_teacher_student_f32.safetensors", student, student.w, student.b,
           key="student.backbone.patch_embed.proj.weight", family="timm", pos_rows=17, pos_cls=True, cls=True)
    # --bias-key picks another [D] tensor as the bias (the teacher's here).
    record("dino_student_teacher_bias", "dino_teacher_student_f32.safetensors", student, student.w, teacher.b,
           key="student.backbone.patch_embed.proj.weight", bias_key="teacher.backbone.patch_embed.proj.bias",
           family="timm", pos_rows=17, pos_cls=True, cls=True)

    # Google npz: np.savez (stored), np.savez_compressed (deflated), opt/target/ prefix, float16.
    for name, saver, dtype, prefix, patch in (
        ("google_vit_savez", np.savez, "<f4", "", 16),
        ("google_vit_compressed", np.savez_compressed, "<f4", "", 8),
        ("google_vit_opt_target_f16", np.savez_compressed, "<f2", "opt/target/", 8),
    ):
        m = Model(rng, 3, patch)
        d, w_eff, b_eff = google_npz_dict(m, dtype, prefix)
        fname = f"{name}.npz"
        saver(os.path.join(out, fname), **d)
        record(name, fname, m, w_eff, b_eff, family="Google", pos_rows=17, pos_cls=True, cls=True)

    # A timm state dict saved with np.savez_compressed: PyTorch names inside an npz.
    m = Model(rng, 3, 8)
    np.savez_compressed(os.path.join(out, "timm_vit_torchnames.npz"), **{
        "patch_embed.proj.weight": m.w, "patch_embed.proj.bias": m.b, "pos_embed": m.pos[None],
        "cls_token": m.cls[None, None]})
    record("timm_vit_torchnames_npz", "timm_vit_torchnames.npz", m, m.w, m.b, family="timm", pos_rows=17,
           pos_cls=True, cls=True)

    # A lone .npy is the OIHW weight: every dtype, byte order, order and format version.
    for name, dtype, fortran, version in (
        ("npy_le_f4", "<f4", False, None),
        ("npy_le_f2", "<f2", False, None),
        ("npy_be_f4", ">f4", False, None),
        ("npy_le_f8", "<f8", False, None),
        ("npy_fortran_f4", "<f4", True, None),
        ("npy_v2_f4", "<f4", False, (2, 0)),
        ("npy_v3_f2", "<f2", False, (3, 0)),
    ):
        m = Model(rng, 1, 8, bias=False)
        arr = m.w.astype(dtype)
        if fortran:
            arr = np.asfortranarray(arr)
        fname = f"{name}.npy"
        if version is None:
            np.save(os.path.join(out, fname), arr)
        else:
            with open(os.path.join(out, fname), "wb") as f:
                np.lib.format.write_array(f, arr, version=version)
        record(name, fname, m, arr.astype(np.float32), None, family="NumPy")

    with open(os.path.join(out, "fixtures.tsv"), "w") as f:
        f.write("# name\tfile\tinput\texpected\tkey\tbias_key\thas_bias\tpos_rows\tpos_has_cls\tgrid\t"
                "has_cls_token\tfamily\n")
        for r in rows:
            f.write("\t".join(r) + "\n")


# ---------------------------------------------------------------- malformed corpus

def npy_bytes(arr, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, arr)
    else:
        np.lib.format.write_array(b, arr, version=version)
    return b.getvalue()


def npy_raw(header_dict_text, data, version=1):
    text = header_dict_text.encode("latin1")
    if version == 1:
        pre = b"\x93NUMPY\x01\x00"
        total = len(pre) + 2 + len(text) + 1
        text += b" " * ((64 - total % 64) % 64) + b"\n"
        return pre + struct.pack("<H", len(text)) + text + data
    pre = b"\x93NUMPY" + bytes([version, 0])
    total = len(pre) + 4 + len(text) + 1
    text += b" " * ((64 - total % 64) % 64) + b"\n"
    return pre + struct.pack("<I", len(text)) + text + data


def zip_bytes(members, compression=zipfile.ZIP_STORED):
    """members: list of (name, bytes). Duplicate names allowed (zipfile only warns)."""
    b = io.BytesIO()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(b, "w", compression=compression) as z:
            for name, data in members:
                z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data,
                           compress_type=compression)
    return bytearray(b.getvalue())


def patch_zip_sizes(z, uncompressed):
    """Rewrites the uncompressed size of the single member in both local and central headers."""
    lh = z.find(b"PK\x03\x04")
    struct.pack_into("<I", z, lh + 22, uncompressed)
    cd = z.find(b"PK\x01\x02")
    struct.pack_into("<I", z, cd + 24, uncompressed)
    return bytes(z)


def patch_zip_flags(z, flag_bits):
    lh = z.find(b"PK\x03\x04")
    struct.pack_into("<H", z, lh + 6, struct.unpack_from("<H", z, lh + 6)[0] | flag_bits)
    cd = z.find(b"PK\x01\x02")
    struct.pack_into("<H", z, cd + 8, struct.unpack_from("<H", z, cd + 8)[0] | flag_bits)
    return bytes(z)


def f32(shape, value=0.01):
    return np.full(shape, value, np.float32).tobytes()


def st_header(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def timm_file(w=None, b=None, pos=None, wshape=(8, 3, 4, 4), wdtype="F32"):
    rng = np.random.default_rng(7)
    w = rng.standard_normal(wshape).astype(np.float32) if w is None else w
    b = np.zeros(wshape[0], np.float32) if b is None else b
    tensors = [("patch_embed.proj.weight", wdtype, w.shape,
                w.astype(np.int32).tobytes() if wdtype == "I32" else w.astype("<f4").tobytes()),
               ("patch_embed.proj.bias", "F32", b.shape, b.astype("<f4").tobytes())]
    if pos is not None:
        tensors.append(("pos_embed", "F32", pos.shape, pos.astype("<f4").tobytes()))
    return safetensors_bytes(tensors)


def make_bad_weights(data_dir):
    out = os.path.join(data_dir, "bad/weights")
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        os.remove(os.path.join(out, old))
    cases = []

    def bad(name, data, expected):
        write(os.path.join(out, name), data)
        cases.append((name, expected))

    one = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    # ---- safetensors: the container
    bad("st_empty.safetensors", b"", "shorter than the 8-byte header length")
    bad("st_short.safetensors", b"\x10\x00\x00", "shorter than the 8-byte header length")
    bad("st_header_over_100mb.safetensors", struct.pack("<Q", 200_000_000) + b"{}",
        "exceeds the 100 MB limit")
    bad("st_header_past_eof.safetensors", struct.pack("<Q", 4096) + b'{"a":1}',
        "runs past the end of the file")
    bad("st_header_length_max.safetensors", b"\xff" * 8 + b"{}", "exceeds the 100 MB limit")
    # A JSON config saved under a .safetensors name: its text is no header length.
    bad("st_json_renamed.safetensors", b'{"model_type": "vit", "patch_size": 16}\n',
        "not a safetensors file: it starts with text")
    bad("st_zero_header.safetensors", struct.pack("<Q", 0), "does not start with '{'")
    bad("st_not_object.safetensors", raw_safetensors(b'["w"]', b""), "does not start with '{'")
    bad("st_not_json.safetensors", raw_safetensors(b'{"w": {dtype: F32}}', b""), "is not valid JSON")
    bad("st_truncated_json.safetensors", raw_safetensors(b'{"w": {"dtype": "F32"', b"", pad=False),
        "is not valid JSON")
    bad("st_bad_utf8.safetensors", raw_safetensors(b'{"w\xff\xfe": {}}', b""), "is not valid JSON")
    bad("st_trailing_json.safetensors", raw_safetensors(b'{} {}', b"", pad=False), "is not valid JSON")
    bad("st_duplicate_tensor.safetensors",
        raw_safetensors(b'{"w":' + st_header(one) + b',"w":' + st_header(one) + b'}', f32((2, 2))),
        "duplicate key 'w'")
    bad("st_duplicate_field.safetensors",
        raw_safetensors(b'{"w":{"dtype":"F32","dtype":"F16","shape":[2,2],"data_offsets":[0,16]}}', f32((2, 2))),
        "duplicate key 'dtype'")
    bad("st_nested.safetensors", raw_safetensors(st_header({"w": {"dtype": {"x": {"y": 1}}}}), b""),
        "nests too deeply")
    bad("st_nested_arrays.safetensors", raw_safetensors(b'{"w":{"shape":[[[[1]]]]}}', b""), "nests too deeply")
    bad("st_metadata_number.safetensors", raw_safetensors(st_header({"__metadata__": {"format": 1}}), b""),
        "__metadata__ value 'format' is not a string")
    bad("st_metadata_list.safetensors", raw_safetensors(st_header({"__metadata__": ["pt"]}), b""),
        "__metadata__ is not an object")
    bad("st_entry_not_object.safetensors", raw_safetensors(st_header({"w": [0, 16]}), b""),
        "is not described by an object")
    bad("st_missing_offsets.safetensors", raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [2]}}), b""),
        "lacks dtype, shape or data_offsets")
    bad("st_dtype_not_string.safetensors",
        raw_safetensors(st_header({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}), f32((1,))),
        "dtype is not a string")
    bad("st_unknown_dtype.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F17", "shape": [2, 2], "data_offsets": [0, 16]}}), f32((2, 2))),
        "unsupported dtype 'F17'")
    bad("st_float_dim.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [2.5, 2], "data_offsets": [0, 20]}}), f32((5,))),
        "non-integer or negative dimension")
    bad("st_negative_dim.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}), f32((4,))),
        "non-integer or negative dimension")
    bad("st_string_dim.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": ["4"], "data_offsets": [0, 16]}}), f32((4,))),
        "non-integer or negative dimension")
    bad("st_shape_overflow.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 16]}}),
                        f32((4,))), "shape product overflows")
    bad("st_bytes_overflow.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F64", "shape": [2 ** 62], "data_offsets": [0, 16]}}),
                        f32((4,))), "byte size overflows")
    bad("st_size_mismatch.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}), f32((3,))),
        "shape x dtype size is 16 bytes but data_offsets span 12")
    bad("st_offsets_reversed.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [0], "data_offsets": [16, 0]}}), f32((4,))),
        "end before they begin")
    bad("st_offsets_single.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [4], "data_offsets": [16]}}), f32((4,))),
        "data_offsets is not a pair")
    bad("st_offset_negative.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}}), f32((4,))),
        "data_offsets begin is not a non-negative integer")
    bad("st_not_from_zero.safetensors",
        raw_safetensors(st_header({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}), f32((6,))),
        "starts at data offset 8, expected 0 (a hole in the data)")
    bad("st_hole.safetensors",
        raw_safetensors(st_header({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                   "b": {"dtype": "F32", "shape": [4], "data_offsets": [32, 48]}}), f32((12,))),
        "tensor 'b' starts at data offset 32, expected 16 (a hole in the data)")
    bad("st_overlap.safetensors",
        raw_safetensors(st_header({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                   "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}), f32((6,))),
        "(overlapping tensors)")
    bad("st_trailing_bytes.safetensors", raw_safetensors(st_header({"w": one}), f32((2, 2)) + b"\0" * 8),
        "8 bytes after the last tensor")
    bad("st_truncated_data.safetensors", raw_safetensors(st_header({"w": one}), f32((3,))),
        "truncated data: tensors need 16 bytes, the file holds 12")
    # ---- safetensors: well-formed containers holding an unusable patch embedding
    bad("st_weight_nan.safetensors", timm_file(w=np.full((8, 3, 4, 4), np.nan, np.float32)),
        "weight holds non-finite values")
    bad("st_bias_inf.safetensors", timm_file(b=np.full(8, np.inf, np.float32)), "bias holds non-finite values")
    bad("st_pos_nan.safetensors", timm_file(pos=np.full((1, 5, 8), np.nan, np.float32)),
        "position embedding 'pos_embed' [1, 5, 8] holds non-finite values")
    bad("st_weight_rank2.safetensors", timm_file(w=np.zeros((8, 48), np.float32)),
        "weight 'patch_embed.proj.weight' [8, 48] is not 4-D")
    bad("st_weight_int.safetensors", timm_file(wdtype="I32"), "has dtype I32; only F32, F16, BF16 and F64")
    bad("st_weight_not_square.safetensors", timm_file(w=np.zeros((8, 3, 4, 2), np.float32)),
        "the kernel is not square (4 x 2)")
    bad("st_weight_5_channels.safetensors", timm_file(w=np.zeros((8, 5, 4, 4), np.float32)),
        "has 5 input channels")
    bad("st_weight_zero_dim.safetensors", timm_file(w=np.zeros((0, 3, 4, 4), np.float32), b=np.zeros(0, np.float32)),
        "has a zero dimension")
    bad("st_bias_wrong_size.safetensors", timm_file(b=np.zeros(7, np.float32)),
        "bias 'patch_embed.proj.bias' [7] is not [8]")
    w = np.zeros((8, 3, 4, 4), np.float32)
    bad("st_ambiguous.safetensors",
        safetensors_bytes([("patch_embed.proj.weight", "F32", w.shape, w.tobytes()),
                           ("visual.conv1.weight", "F32", w.shape, w.tobytes())]),
        "ambiguous: 2 patch-embedding weights: 'patch_embed.proj.weight' (timm ViT/DeiT/DINOv2), "
        "'visual.conv1.weight' (OpenAI CLIP)")
    bad("st_ambiguous_unknown.safetensors",
        safetensors_bytes([("conv_a.weight", "F32", w.shape, w.tobytes()),
                           ("conv_b.weight", "F32", w.shape, w.tobytes())]),
        "no known patch-embedding name and 2 4-D tensors: 'conv_a.weight' [8, 3, 4, 4], "
        "'conv_b.weight' [8, 3, 4, 4]")
    bad("st_no_weight.safetensors", safetensors_bytes([("norm.weight", "F32", (8,), f32((8,)))]),
        "no patch-embedding weight: none of the known names")
    bad("st_no_tensors.safetensors", raw_safetensors(b"{}", b""), "no 4-D tensor among 0 tensors")

    # ---- npy
    good = np.zeros((8, 3, 4, 4), np.float32)
    bad("npy_bad_magic.npy", b"\x93NUMPZ\x01\x00" + npy_bytes(good)[8:], "missing the \\x93NUMPY magic")
    bad("npy_version9.npy", b"\x93NUMPY\x09\x00" + npy_bytes(good)[8:], "unsupported .npy format version 9")
    bad("npy_header_over_10k.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 20000) + b" " * 20000,
        "over the 10 kB limit")
    bad("npy_header_truncated.npy", npy_bytes(good)[:40], "truncated .npy header")
    bad("npy_object.npy", npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16),
        "object arrays (pickled Python objects) are refused")
    bad("npy_int32.npy", npy_raw("{'descr': '<i4', 'fortran_order': False, 'shape': (8, 3, 4, 4), }",
                                 b"\0" * 1536), "unsupported dtype '<i4'")
    bad("npy_structured.npy", npy_raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
                                      b"\0" * 8), "not a simple type string")
    bad("npy_negative_dim.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-8, 3, 4, 4), }",
                                        b""), "non-integer or negative dimension")
    bad("npy_shape_overflow.npy",
        npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", b""),
        "shape product overflows")
    bad("npy_truncated.npy", npy_bytes(good)[:-4], "truncated data: the header declares 1536 bytes, the file holds 1532")
    bad("npy_trailing.npy", npy_bytes(good) + b"\0" * 4, "4 unexpected bytes after the array data")
    bad("npy_extra_key.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1, }",
                                     b"\0" * 8), "unexpected key 'x'")
    bad("npy_not_4d.npy", npy_bytes(np.zeros((8, 48), np.float32)),
        "a .npy weight must hold one 4-D [D, C, P, P] array; this one is [8, 48]")
    bad("npy_nan.npy", npy_bytes(np.full((8, 3, 4, 4), np.nan, np.float32)), "weight holds non-finite values")
    bad("npy_f8_overflow.npy", npy_bytes(np.full((8, 3, 4, 4), 1e300, np.float64)),
        "weight holds non-finite values")
    bad("npy_not_square.npy", npy_bytes(np.zeros((8, 3, 4, 5), np.float32)), "the kernel is not square (4 x 5)")

    # ---- npz
    member = npy_bytes(good)
    bad("npz_garbage.npz", b"PK\x03\x04" + b"\x00" * 60, "not a valid zip archive")
    bad("npz_short.npz", b"PK\x05\x06", "not a zip archive: shorter than an end-of-central-directory record")
    bad("npz_no_eocd.npz", bytes(zip_bytes([("w.npy", member)]))[:-22], "not a valid zip archive")
    bad("npz_bomb.npz",
        patch_zip_sizes(zip_bytes([("patch_embed.proj.weight.npy", npy_bytes(np.zeros((64, 3, 16, 16), np.float32)))],
                                  zipfile.ZIP_DEFLATED), 0x7FFFFFF0),
        "more than deflate can produce (zip bomb?)")
    bad("npz_stored_size_lie.npz", patch_zip_sizes(zip_bytes([("w.npy", member)]), len(member) * 4),
        "stored (uncompressed) but declares 6656 bytes for 1664 stored")
    bad("npz_inflates_more.npz",
        patch_zip_sizes(zip_bytes([("patch_embed.proj.weight.npy", member + b"\0" * 4096)], zipfile.ZIP_DEFLATED),
                        len(member)),
        "member 'patch_embed.proj.weight': inflates beyond its declared size of 1664 bytes")
    bad("npz_inflates_less.npz",
        patch_zip_sizes(zip_bytes([("patch_embed.proj.weight.npy", member)], zipfile.ZIP_DEFLATED),
                        len(member) + 64),
        "member 'patch_embed.proj.weight': truncated: declares 1728 bytes, holds 1664")
    bad("npz_crc.npz", (lambda z: (z.__setitem__(z.find(b"PK\x01\x02") + 16, z[z.find(b"PK\x01\x02") + 16] ^ 1),
                                   z.__setitem__(z.find(b"PK\x03\x04") + 14, z[z.find(b"PK\x03\x04") + 14] ^ 1),
                                   bytes(z))[-1])(zip_bytes([("patch_embed.proj.weight.npy", member)])),
        "member 'patch_embed.proj.weight': cannot inflate: CRC error")
    bad("npz_parent_dir.npz", bytes(zip_bytes([("../patch_embed.proj.weight.npy", member)])), "climbs out with '..'")
    bad("npz_absolute.npz", bytes(zip_bytes([("/tmp/patch_embed.proj.weight.npy", member)])), "is an absolute path")
    bad("npz_backslash.npz", bytes(zip_bytes([("..\\evil.npy", member)])), "holds a backslash")
    bad("npz_duplicate.npz", bytes(zip_bytes([("w.npy", member), ("w.npy", member)])), "not a valid zip archive: it holds a member name twice")
    bad("npz_key_twice.npz", bytes(zip_bytes([("w.npy", member), ("w", member)])),
        "two members for the key 'w'")
    bad("npz_bzip2.npz", bytes(zip_bytes([("w.npy", member)], zipfile.ZIP_BZIP2)),
        "compression method 12 is not supported")
    bad("npz_encrypted.npz", patch_zip_flags(zip_bytes([("w.npy", member)]), 0x1), "is encrypted")
    bad("npz_not_npy.npz", bytes(zip_bytes([("w.npy", b"hello, world")])), "member 'w': not a .npy array")
    bad("npz_member_int.npz",
        bytes(zip_bytes([("embedding/kernel.npy",
                          npy_raw("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 4, 3, 8), }",
                                  b"\0" * 1536))])),
        "member 'embedding/kernel': unsupported dtype '<i4'")
    bad("npz_member_truncated.npz", bytes(zip_bytes([("w.npy", member[:-16])])),
        "member 'w': truncated data")
    hwio = np.zeros((4, 4, 5, 8), np.float32)
    bad("npz_google_kernel_5_channels.npz", bytes(zip_bytes([("embedding/kernel.npy", npy_bytes(hwio))])),
        "weight 'embedding/kernel' [4, 4, 5, 8] has 5 input channels")
    bad("npz_no_weight.npz", bytes(zip_bytes([("cls.npy", npy_bytes(np.zeros((1, 1, 8), np.float32)))])),
        "no patch-embedding weight")
    bad("npz_empty.npz", bytes(zip_bytes([])), "no 4-D tensor among 0 tensors")

    # ---- Work and memory a tiny file implies (issue 13, class 4), checked before computing.
    # Files the loader accepts but the pipeline refuses (with the default 224 model input)
    # go to bad/outputs, with their own expected.tsv.
    outputs_dir = os.path.join(data_dir, "bad/outputs")
    os.makedirs(outputs_dir, exist_ok=True)
    for old in os.listdir(outputs_dir):
        os.remove(os.path.join(outputs_dir, old))
    output_cases = []

    def bad_output(name, data, expected):
        write(os.path.join(outputs_dir, name), data)
        output_cases.append((name, expected))

    d6000 = np.full((6000, 1, 1, 1), 0.01, np.float32)
    bad_output("st_d6000_p1.safetensors",
        safetensors_bytes([("patch_embed.proj.weight", "F32", d6000.shape, d6000.tobytes())]),
        "[50176, 6000] (1148 MiB) and its patch matrix [50176, 1] (0 MiB) exceed the output limit of 256 MiB")
    d8192 = np.full((8192, 1, 2, 2), 0.01, np.float16)
    bad_output("st_d8192_p2_f16.safetensors",
        safetensors_bytes([("patch_embed.proj.weight", "F16", d8192.shape, d8192.tobytes())]),
        "exceed the output limit of 256 MiB (raise it with --max-output-mb)")
    bad("npz_65536_f16.npz",
        bytes(zip_bytes([("patch_embed.proj.weight.npy", npy_bytes(np.zeros((65536, 3, 16, 16), np.float16)))],
                        zipfile.ZIP_DEFLATED)),
        "tensor 'patch_embed.proj.weight' [65536, 3, 16, 16] would need 480 MiB to read and pack, over the output limit")
    bad("npz_30000_f32.npz",
        bytes(zip_bytes([("conv_proj.weight.npy", npy_bytes(np.zeros((30000, 3, 16, 16), np.float32)))],
                        zipfile.ZIP_DEFLATED)),
        "would need 264 MiB to read and pack, over the output limit of 256 MiB")
    # ---- A patch larger than the model input: the weight file is to blame (class 7).
    bad_output("npz_p512.npz",
        bytes(zip_bytes([("patch_embed.proj.weight.npy", npy_bytes(np.full((1, 1, 512, 512), 0.01, np.float32)))],
                        zipfile.ZIP_DEFLATED)),
        "the patch size P = 512 is larger than the 224x224 model input")
    bad_output("npz_p300_rgb.npz",
        bytes(zip_bytes([("patch_embed.proj.weight.npy", npy_bytes(np.full((2, 3, 300, 300), 0.01, np.float32)))],
                        zipfile.ZIP_DEFLATED)),
        "the patch size P = 300 is larger than the 224x224 model input")
    # ---- Control characters from inside a file (class 5): escaped, one line.
    evil = np.full((4, 3, 2, 2), 0.01, np.float32)
    bad("st_name_newline_ansi.safetensors",
        safetensors_bytes([("w\n\x1b[2J\x1b[31mred", "F32", evil.shape, evil.tobytes()),
                           ("v\r\x07", "F32", evil.shape, evil.tobytes())]),
        "w\\n\\x1b[2J\\x1b[31mred")
    bad("npy_descr_escape.npy",
        npy_raw("{'descr': '<f4\x1b[2J\n', 'fortran_order': False, 'shape': (4, 3, 2, 2), }", b"\0" * 192),
        "\\x1b[2J\\n")
    bad("npy_key_nul.npy",
        npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3, 2, 2), 'x\x00\x1b]0;title\x07': 1, }",
                b"\0" * 192),
        "\\x00\\x1b]0;title\\x07")

    with open(os.path.join(out, "expected.tsv"), "w") as f:
        f.write("# file\texpected substring of the refusal (patchlens::Error::what, escaped)\n")
        for name, expected in cases:
            f.write(f"{name}\t{expected}\n")
    with open(os.path.join(outputs_dir, "expected.tsv"), "w") as f:
        f.write("# file\texpected substring of the refusal by embed (default options), naming this file\n")
        for name, expected in output_cases:
            f.write(f"{name}\t{expected}\n")
    return len(cases)


def make_fuzz_seeds(data_dir):
    """Small valid files of each kind plus the small malformed ones: tests/fuzz/corpus/<target>/."""
    corpus = os.path.join(data_dir, "..", "fuzz", "corpus")
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    seeds = {"safetensors": {}, "npy": {}, "npz": {}}
    for dtype in ("F32", "F16", "BF16", "F64"):
        raw, _ = encode(w, dtype)
        braw, _ = encode(w[:, 0, 0, 0], dtype)
        seeds["safetensors"][f"timm_{dtype.lower()}.safetensors"] = safetensors_bytes(
            [("patch_embed.proj.weight", dtype, w.shape, raw), ("patch_embed.proj.bias", dtype, (4,), braw),
             ("pos", "I64", (2,), np.arange(2, dtype="<i8").tobytes())], {"format": "pt"})
    for name, arr, version in (("le_f4", w, None), ("be_f4", w.astype(">f4"), None), ("f2", w.astype("<f2"), None),
                               ("f8", w.astype("<f8"), None), ("fortran", np.asfortranarray(w), None),
                               ("v2", w, (2, 0)), ("v3", w.astype(">f2"), (3, 0)), ("scalar", np.float32(1), None)):
        seeds["npy"][f"{name}.npy"] = npy_bytes(np.asarray(arr), version)
    for name, saver in (("stored", np.savez), ("deflated", np.savez_compressed)):
        b = io.BytesIO()
        saver(b, **{"embedding/kernel": w.transpose(2, 3, 1, 0), "embedding/bias": w[:, 0, 0, 0],
                    "cls": w[:1, 0, 0, :1]})
        seeds["npz"][f"{name}.npz"] = b.getvalue()
    bad_dir = os.path.join(data_dir, "bad/weights")
    for f in sorted(os.listdir(bad_dir)):
        kind = f.rsplit(".", 1)[-1]
        path = os.path.join(bad_dir, f)
        if kind in seeds and os.path.getsize(path) <= 4096:
            with open(path, "rb") as fh:
                seeds[kind]["bad_" + f] = fh.read()
    for kind, files in seeds.items():
        d = os.path.join(corpus, kind)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        for name, data in files.items():
            write(os.path.join(d, name), data)


def main(data_dir=DEFAULT_DATA):
    make_weight_fixtures(data_dir)
    n = make_bad_weights(data_dir)
    make_fuzz_seeds(data_dir)
    print(f"weight fixtures in {os.path.join(data_dir, 'weights')}, {n} malformed files in "
          f"{os.path.join(data_dir, 'bad/weights')}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA)
