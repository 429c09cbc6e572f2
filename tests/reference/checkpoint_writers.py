#!/usr/bin/python3
"""Writers for every checkpoint format PatchLens reads, reusable by any fixture generator.

    save_torch_zip(sd, path)        torch.save (zip, PyTorch >= 1.6), Debian's python3-torch
    save_torch_legacy(sd, path)     torch.save(..., _use_new_zipfile_serialization=False)
    save_gguf(tensors, metadata, path, dtype="F32", version=3, alignment=32)
                                    a GGUF file written here from the specification
                                    (ggml/docs/gguf.md), no gguf-py needed

sd may be any object torch.save accepts (a state dict, a nested {"model": sd, ...} dict).
tensors is {name: np.ndarray in C order as PyTorch sees it}; GGUF stores the dims reversed
(fastest first), exactly as llama.cpp's converters do. dtype is "F32", "F16", "BF16", "F64"
or "Q8_0", or a dict {name: dtype}; a tensor whose rows are not whole Q8_0 blocks, and every
1-D tensor, is kept F32 as llama.cpp's converters do. gguf_dequantized(arr, dtype) gives the
float32 values a reader must recover.
"""
import struct

import numpy as np
import torch

GGML_TYPES = {"F32": 0, "F16": 1, "Q8_0": 8, "F64": 28, "BF16": 30}
# GGUF metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, \
    T_UINT64, T_INT64, T_FLOAT64 = range(13)
_SCALAR_FMT = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
               T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
               T_FLOAT64: "<d"}


def save_torch_zip(sd, path):
    torch.save(sd, path)


def save_torch_legacy(sd, path):
    torch.save(sd, path, _use_new_zipfile_serialization=False)


class Typed:
    """An explicitly typed GGUF metadata value: Typed(T_UINT64, 5), Typed(T_ARRAY, [..], T_INT32)."""

    def __init__(self, type_, value, elem_type=None):
        self.type, self.value, self.elem_type = type_, value, elem_type


def _gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _infer(value):
    if isinstance(value, Typed):
        return value
    if isinstance(value, bool):
        return Typed(T_BOOL, value)
    if isinstance(value, int):
        return Typed(T_UINT32 if 0 <= value < 2**32 else T_INT64, value)
    if isinstance(value, float):
        return Typed(T_FLOAT32, value)
    if isinstance(value, str):
        return Typed(T_STRING, value)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return Typed(T_ARRAY, list(value), T_STRING)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return Typed(T_ARRAY, list(value), T_INT32)
        return Typed(T_ARRAY, [float(v) for v in value], T_FLOAT32)
    raise TypeError(f"no GGUF type for {value!r}")


def gguf_value_bytes(value):
    """(type id, bytes) of one metadata value."""
    t = _infer(value)
    if t.type == T_STRING:
        return t.type, _gguf_string(t.value)
    if t.type == T_ARRAY:
        body = struct.pack("<IQ", t.elem_type, len(t.value))
        for v in t.value:
            body += _gguf_string(v) if t.elem_type == T_STRING else struct.pack(_SCALAR_FMT[t.elem_type], v)
        return t.type, body
    return t.type, struct.pack(_SCALAR_FMT[t.type], t.value)


def quantize_q8_0(arr):
    """ggml's quantize_row_q8_0_ref: blocks of 32, d = amax / 127 (stored f16), q = round(x / d)."""
    x = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.sign(x * inv[:, None]) * np.floor(np.abs(x * inv[:, None]) + 0.5), -128, 127).astype(np.int8)
    blocks = np.zeros(x.shape[0], dtype=[("d", "<f2"), ("q", "i1", 32)])
    blocks["d"] = d.astype("<f2")
    blocks["q"] = q
    return blocks.tobytes()


def gguf_encode(arr, dtype):
    """(raw bytes, float32 values a reader recovers) of arr stored as dtype."""
    a = np.ascontiguousarray(arr, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes(), a
    if dtype == "F64":
        return np.ascontiguousarray(arr, dtype="<f8").tobytes(), np.asarray(arr, dtype=np.float64).astype(np.float32)
    if dtype == "F16":
        h = a.astype("<f2")
        return h.tobytes(), h.astype(np.float32)
    if dtype == "BF16":
        t = torch.from_numpy(a.copy()).to(torch.bfloat16)
        return t.view(torch.int16).numpy().astype("<i2").tobytes(), t.float().numpy()
    if dtype == "Q8_0":
        raw = quantize_q8_0(a)
        blocks = np.frombuffer(raw, dtype=[("d", "<f2"), ("q", "i1", 32)])
        values = blocks["d"].astype(np.float32)[:, None] * blocks["q"].astype(np.float32)
        return raw, values.reshape(a.shape).astype(np.float32)
    raise ValueError(dtype)


def gguf_dtype_for(name, arr, dtype):
    d = dtype.get(name, "F32") if isinstance(dtype, dict) else dtype
    if d in ("F32", "F64"):
        return d
    if arr.ndim < 2 or (d == "Q8_0" and arr.shape[-1] % 32 != 0):
        return "F32"
    return d


def save_gguf(tensors, metadata, path, dtype="F32", version=3, alignment=32):
    """Writes a GGUF file; returns {name: float32 values a reader must recover}."""
    md = dict(metadata)
    if alignment != 32 and "general.alignment" not in md:
        md["general.alignment"] = Typed(T_UINT32, alignment)
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(md))
    for key, value in md.items():
        t, body = gguf_value_bytes(value)
        out += _gguf_string(key) + struct.pack("<I", t) + body
    infos, blobs, recovered, offset = b"", [], {}, 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        d = gguf_dtype_for(name, arr, dtype)
        raw, rec = gguf_encode(arr, d)
        recovered[name] = rec
        dims = list(reversed(arr.shape)) or [1]  # ne[0] is the fastest (last C-order) dim
        infos += _gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", n) for n in dims)
        infos += struct.pack("<IQ", GGML_TYPES[d], offset)
        pad = (-len(raw)) % alignment
        blobs.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    out += infos
    out += b"\0" * ((-len(out)) % alignment)
    out += b"".join(blobs)
    with open(path, "wb") as f:
        f.write(out)
    return recovered
