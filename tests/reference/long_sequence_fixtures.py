#!/usr/bin/python3
"""A long-sequence fixture for the blocked (flash-style) attention: a tiny timm ViT (width 16,
2 heads of 8, depth 2, patch 2) on a 65 x 63 input, i.e. a 32 x 31 grid + cls = 993 tokens, so
the kernel runs several query and key tiles with partial ones at the end. The expected forward
is transformer_fixtures.reference (float64 torch.nn.functional, the whole T x T softmax), with
only the tokens kept (no attention: the test runs without an observer).

    /usr/bin/python3 tests/reference/long_sequence_fixtures.py [DATA_DIR]

writes DATA_DIR/transformer_long/{model.safetensors, config.json, input.npy, expected.npz}.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from transformer_fixtures import Canon, reference, state_timm, write_safetensors  # noqa: E402


def main(data_dir):
    out = os.path.join(data_dir, "transformer_long")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261207)
    m = Canon(rng, 16, 2, 2, 2, 32, 32, "F32")
    write_safetensors(os.path.join(out, "model.safetensors"), state_timm(m), "F32")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"architecture": "vit_long_test", "model_args": {"num_heads": 2}}, f, indent=1)
    image = rng.standard_normal((3, 32 * 2 + 1, 31 * 2 + 1)).astype(np.float32)
    np.save(os.path.join(out, "input.npy"), image)
    expected = reference("timm_vit", m, image)
    keep = {k: expected[k] for k in ("tokens_1", "tokens_2", "final")}
    assert keep["final"].shape == (993, 16), keep["final"].shape
    np.savez(os.path.join(out, "expected.npz"), **keep)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data"))
