#!/usr/bin/python3
"""Times PatchLens (patchlens-bench) and PyTorch on the same cases in one run and
prints a table of ratios (PatchLens / PyTorch, lower is better) and % of FMA peak.

Two views of each case: "mean" (PatchLens: Google Benchmark's mean; PyTorch: median of 5
batch means) and "best" (the fastest iteration / batch of each side). On a machine shared
with other work the mean carries the interference; the best shows the code on a quiet core.

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


def best_time(fn, min_seconds=1.0, repeats=5, batch_seconds=None):
    """(median, fastest) of `repeats` batches, each long enough to be timed reliably, in
    seconds/call. batch_seconds caps a batch's length (short batches find the quiet moments)."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > (batch_seconds or min_seconds / repeats):
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples), min(samples)


def torch_embed(size, patch, dim, threads):
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, size, size)
    w = torch.randn(dim, 3, patch, patch) * 0.02
    b = torch.zeros(dim)
    with torch.no_grad():
        return best_time(lambda: F.conv2d(x, w, b, stride=patch).flatten(2).transpose(1, 2).contiguous(),
                         repeats=25 if size <= 384 else 5, batch_seconds=0.01 if size <= 384 else None)


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

    out = subprocess.run([args.bench, "--benchmark_format=json",
                          "--benchmark_filter=peak|embed|gemm|preprocess|pipeline|analysis|forward"],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    def case(name):  # "gemm/dnnl/196x768x768/threads:1/1/min_time:1.000/real_time" -> without the arg
        parts = name.split("/min_time")[0].replace("/real_time", "").split("/")
        while parts[-1].isdigit():
            parts.pop()
        return "/".join(parts)
    ours = {case(b["name"]): b for b in report["benchmarks"]}
    peak = float(report["context"]["fma_peak_gflops_per_core"])

    def ms(name, key="real_time"):
        b = ours[name]
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        return b[key] * scale

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
    ]
    # The GEMM alone: the packed kernel and oneDNN's matmul (no PyTorch column: Debian's torch
    # has BLAS_INFO=generic, its matmul is a reference loop; its conv2d above is oneDNN's).
    rows.append(("embed/2048/p16/d768/threads:1", torch_embed(2048, 16, 768, 1), 1))
    rows.append(("gemm/packed/196x768x768/threads:1", None, 1))
    if "gemm/dnnl/196x768x768/threads:1" in ours:
        rows.append(("gemm/dnnl/196x768x768/threads:1", None, 1))
        rows.append(("gemm/dnnl/196x768x768/threads:2", None, 2))
    rows += [
        ("analysis/pca/196x768", torch_pca(1), 1),
        ("preprocess/12mp-jpeg", torch_pipeline(BIG_JPEG, cores, embed=False), cores),
        ("pipeline/12mp-jpeg", torch_pipeline(BIG_JPEG, cores), cores),
        ("pipeline/12mp-jpeg-fast-decode", None, cores),
    ]
    print(f"FP32 FMA peak measured by patchlens-bench: {peak:.1f} GFLOP/s per core; torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {cores} cores")
    print(f"{'case':34} {'PatchLens ms':>12} {'PyTorch ms':>10} {'ratio':>6} {'% peak':>7}"
          f" | {'best ms':>8} {'PyTorch':>8} {'ratio':>6} {'% peak':>7}")
    for name, torch_times, threads in rows:
        if torch_times is None and name.startswith("pipeline/"):  # same Python reference as the row above
            torch_times = rows[rows.index((name, None, threads)) - 1][1]
        b = ours[name]
        if torch_times is None:
            line = f"{name:34} {ms(name):12.3f} {'-':>10} {'-':>6}"
        else:
            line = f"{name:34} {ms(name):12.3f} {torch_times[0] * 1e3:10.3f} {ms(name) / (torch_times[0] * 1e3):6.2f}"
        line += f" {100 * b['GFLOPs'] / (peak * threads):6.1f}%" if "GFLOPs" in b else " " * 8
        if "best_ms" in b:
            line += f" | {b['best_ms']:8.3f}"
            line += (f" {torch_times[1] * 1e3:8.3f} {b['best_ms'] / (torch_times[1] * 1e3):6.2f}"
                     if torch_times else f" {'-':>8} {'-':>6}")
            line += f" {b['best_pct_peak']:6.1f}%" if "best_pct_peak" in b else ""
        print(line)
    per_token = {n: ours[n]["s_per_token"] for n in ("embed/224/p16/d768/threads:2", "embed/1024/p16/d768",
                                                     "embed/2048/p16/d768")}
    base = per_token["embed/224/p16/d768/threads:2"]
    for n in ("embed/1024/p16/d768", "embed/2048/p16/d768"):
        best_ratio = (ours[n]["best_ms"] / ours[n]["tokens"]) / (ours["embed/224/p16/d768/threads:2"]["best_ms"] / 196)
        print(f"time per token {n} / 224 (2 threads): mean {per_token[n] / base:.2f}x, best {best_ratio:.2f}x")
    one = lambda n, key: ours[n][key] / ours[n]["tokens"]
    n1, b1 = "embed/2048/p16/d768/threads:1", "embed/224/p16/d768/threads:1"
    print(f"time per token {n1} / 224 (1 thread): mean {ours[n1]['s_per_token'] / ours[b1]['s_per_token']:.2f}x, "
          f"best {one(n1, 'best_ms') / one(b1, 'best_ms'):.2f}x")


if __name__ == "__main__":
    sys.exit(main())
