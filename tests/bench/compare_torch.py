#!/usr/bin/python3
"""Times PatchLens (patchlens-bench) and PyTorch on the same cases in one run and
prints a table of ratios (PatchLens / PyTorch, lower is better) and % of FMA peak.

    /usr/bin/python3 tests/bench/compare_torch.py [--bench build/release/bin/patchlens-bench]

Needs python3-torch, python3-torchvision, python3-pil (tools/packages.txt, group
"reference"). PyTorch runs the same shapes: conv2d(kernel = stride = P) on 1 and 2
threads, torchvision's vit_b_16(weights=None) encoder on 1 and 2 threads, and for the 12 MP JPEG the Python pipeline people use (PIL decode +
torchvision Resize/CenterCrop/ToTensor/Normalize + conv2d).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIG_JPEG = "/tmp/patchlens-bench-12mp.jpg"  # written by patchlens-bench


def best_time(fn, min_seconds=1.0, repeats=5):
    """Median of `repeats` batches, each long enough to be timed reliably, in seconds/call."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > min_seconds / repeats:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def torch_embed(size, patch, dim, threads):
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, size, size)
    w = torch.randn(dim, 3, patch, patch) * 0.02
    b = torch.zeros(dim)
    with torch.no_grad():
        return best_time(lambda: F.conv2d(x, w, b, stride=patch).flatten(2).transpose(1, 2).contiguous())


def torch_vit_encoder(threads):
    """torchvision vit_b_16(weights=None): patch embedding, class token, encoder (pos + 12 blocks
    + ln), as forward_features; the same work as PatchLens's forward/vit-b16/224."""
    import torchvision
    torch.set_num_threads(threads)
    model = torchvision.models.vit_b_16(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)

    def run():
        with torch.no_grad():
            y = model._process_input(x)
            y = torch.cat([model.class_token.expand(1, -1, -1), y], dim=1)
            return model.encoder(y)
    return best_time(run, min_seconds=0.5, repeats=3)


def torch_pca(threads):
    """The same PCA people run in a notebook: SVD of the centred [196, 768] tokens."""
    torch.set_num_threads(threads)
    y = torch.randn(196, 768, dtype=torch.float64)

    def run():
        centred = y - y.mean(0, keepdim=True)
        u, s, vh = torch.linalg.svd(centred, full_matrices=False)
        return centred @ vh[:3].T
    return best_time(run)


def torch_pipeline(path, threads, embed=True):
    torch.set_num_threads(threads)
    tf = transforms.Compose([transforms.Resize(248, interpolation=transforms.InterpolationMode.BICUBIC),
                             transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    w = torch.randn(768, 3, 16, 16) * 0.02
    b = torch.zeros(768)

    def run():
        x = tf(Image.open(path).convert("RGB"))
        if embed:
            with torch.no_grad():
                F.conv2d(x[None], w, b, stride=16).flatten(2).transpose(1, 2).contiguous()
    return best_time(run, min_seconds=3.0, repeats=3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "release", "bin", "patchlens-bench"))
    args = parser.parse_args()

    out = subprocess.run([args.bench, "--benchmark_format=json", "--benchmark_filter=peak|embed|preprocess|pipeline|analysis|forward"],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    ours = {b["name"].split("/min_time")[0].replace("/real_time", "").rsplit("/", 1)[0]
            if b["name"].startswith("pipeline/") else b["name"].split("/min_time")[0].replace("/real_time", ""): b
            for b in report["benchmarks"]}
    peak = float(report["context"]["fma_peak_gflops_per_core"])

    def ms(name):
        b = ours[name]
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        return b["real_time"] * scale

    cores = os.cpu_count()
    rows = [
        ("embed/224/p16/d768/threads:1", torch_embed(224, 16, 768, 1), 1),
        ("embed/224/p16/d768/threads:2", torch_embed(224, 16, 768, 2), 2),
        ("embed/384/p16/d768", torch_embed(384, 16, 768, cores), cores),
        ("embed/224/p16/d1024", torch_embed(224, 16, 1024, cores), cores),
        ("embed/1024/p16/d768", torch_embed(1024, 16, 768, cores), cores),
        ("embed/2048/p16/d768", torch_embed(2048, 16, 768, cores), cores),
        ("forward/vit-b16/224/threads:1", torch_vit_encoder(1), 1),
        ("forward/vit-b16/224/threads:2", torch_vit_encoder(2), 2),
        ("analysis/pca/196x768", torch_pca(1), 1),
        ("preprocess/12mp-jpeg", torch_pipeline(BIG_JPEG, cores, embed=False), cores),
        ("pipeline/12mp-jpeg", torch_pipeline(BIG_JPEG, cores), cores),
        ("pipeline/12mp-jpeg-fast-decode", None, cores),
    ]
    print(f"FP32 FMA peak measured by patchlens-bench: {peak:.1f} GFLOP/s per core; torch {torch.__version__}")
    print(f"{'case':32} {'PatchLens ms':>13} {'PyTorch ms':>11} {'ratio':>7} {'GFLOP/s':>9} {'% peak':>7}")
    for name, torch_seconds, threads in rows:
        if torch_seconds is None:  # same Python reference as the row above
            torch_seconds = rows[rows.index((name, None, threads)) - 1][1]
        b = ours[name]
        line = f"{name:32} {ms(name):13.3f} {torch_seconds * 1e3:11.3f} {ms(name) / (torch_seconds * 1e3):7.2f}"
        if "GFLOPs" in b:
            gflops = b["GFLOPs"]
            line += f" {gflops:9.1f} {100 * gflops / (peak * threads):6.1f}%"
        print(line)
    per_token = {n: ours[n]["s_per_token"] for n in ("embed/224/p16/d768/threads:2", "embed/1024/p16/d768",
                                                     "embed/2048/p16/d768")}
    base = per_token["embed/224/p16/d768/threads:2"]
    for n in ("embed/1024/p16/d768", "embed/2048/p16/d768"):
        print(f"time per token {n} / 224 (2 threads): {per_token[n] / base:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
