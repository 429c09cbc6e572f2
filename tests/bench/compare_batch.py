#!/usr/bin/python3
"""Batch throughput: patchlens-cli batch vs the equivalent Python loop (PIL decode +
torchvision Resize/CenterCrop/ToTensor/Normalize + conv2d, np.save per image) over
200 JPEGs of 640x480, in one run on the same machine.

The Python loop runs with torch on all cores (as people run it) and on one thread; the
speed-up is given against the faster of the two: on a machine busy with other work torch's
multi-threaded conv2d can be many times slower than its single-threaded one.

    /usr/bin/python3 tests/bench/compare_batch.py [--cli build/release/bin/patchlens-cli]
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_images(folder, count):
    """Random 640x480 crops of the sample photos, with noise so each JPEG differs."""
    rng = np.random.default_rng(0)
    sources = [np.asarray(Image.open(os.path.join(ROOT, "tests", "data", n)).convert("RGB").resize((1200, 800)))
               for n in ("chelsea.png", "coffee.png")]
    for i in range(count):
        src = sources[i % 2]
        y, x = rng.integers(0, src.shape[0] - 480), rng.integers(0, src.shape[1] - 640)
        crop = src[y:y + 480, x:x + 640].astype(np.int16) + rng.integers(-8, 9, (480, 640, 3))
        Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).save(os.path.join(folder, f"img{i:03d}.jpg"), quality=90)


def python_loop(folder, out, threads):
    torch.set_num_threads(threads)
    tf = transforms.Compose([transforms.Resize(248, interpolation=transforms.InterpolationMode.BICUBIC),
                             transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    w = torch.randn(768, 3, 16, 16) * 0.02
    b = torch.zeros(768)
    with torch.no_grad():
        for name in sorted(os.listdir(folder)):
            x = tf(Image.open(os.path.join(folder, name)).convert("RGB"))
            y = F.conv2d(x[None], w, b, stride=16).flatten(2).transpose(1, 2)[0]
            np.save(os.path.join(out, name + ".npy"), y.numpy())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "release", "bin", "patchlens-cli"))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="patchlens-batch-")
    try:
        images = os.path.join(work, "in")
        os.makedirs(images)
        make_images(images, args.count)
        cores = os.cpu_count()
        py, py1, ours = [], [], []
        for _ in range(args.repeats):
            out = tempfile.mkdtemp(dir=work)
            start = time.perf_counter()
            python_loop(images, out, cores)
            py.append(time.perf_counter() - start)
            out = tempfile.mkdtemp(dir=work)
            start = time.perf_counter()
            python_loop(images, out, 1)
            py1.append(time.perf_counter() - start)
            out = tempfile.mkdtemp(dir=work)
            start = time.perf_counter()
            subprocess.run([args.cli, "batch", images, "-o", out], check=True, stdout=subprocess.DEVNULL)
            ours.append(time.perf_counter() - start)
        med = lambda v: sorted(v)[len(v) // 2]
        py_s, py1_s, our_s = med(py), med(py1), med(ours)
        ref_s = min(py_s, py1_s)
        print(f"{args.count} JPEGs 640x480, median of {args.repeats}; load average {os.getloadavg()[0]:.1f} on {cores} cores:")
        print(f"  Python loop (PIL + torchvision + torch, {cores} threads): {py_s:.2f} s = {args.count / py_s:.1f} images/s")
        print(f"  Python loop (PIL + torchvision + torch, 1 thread):  {py1_s:.2f} s = {args.count / py1_s:.1f} images/s")
        print(f"  patchlens-cli batch:                                 {our_s:.2f} s = {args.count / our_s:.1f} images/s")
        print(f"  speed-up: {ref_s / our_s:.2f}x the faster Python loop ({py_s / our_s:.2f}x the {cores}-thread one)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
