#!/usr/bin/python3
"""Dataset features (issue 25): `patchlens-cli batch DIR --weights W --layer final --pool cls`
over COUNT 640x480 JPEGs with a random ViT-B/16, against the target
>= 0.9 x (cores / the 1-thread forward time) images/s, both measured in this run.

    /usr/bin/python3 tests/bench/batch_features_throughput.py [--count 40]

The 1-thread forward time is patchlens-bench's forward-final/vit-b16/224/threads:1/blocked
(the same blocked attention each batch worker runs); the model is
tests/reference/make_random_vit.py's (random weights: only the time matters).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from compare_batch import make_images  # noqa: E402  (the same 640x480 JPEGs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin"))
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--model", default=os.environ.get("PATCHLENS_RANDOM_VIT", "/tmp/vit_b16_random"))
    args = parser.parse_args()
    weights = os.path.join(args.model, "model.safetensors")
    if not os.path.isfile(weights):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "reference", "make_random_vit.py"),
                        args.model], check=True)
    bench = json.loads(subprocess.run(
        [os.path.join(args.bin, "patchlens-bench"), "--benchmark_format=json", "--benchmark_min_time=3",
         "--benchmark_filter=forward-final/vit-b16/224/threads:1/blocked"],
        check=True, capture_output=True, text=True).stdout)["benchmarks"][0]
    one_thread_s = bench["real_time"] * 1e-3  # Unit is ms
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        images, out = os.path.join(tmp, "images"), os.path.join(tmp, "out")
        os.makedirs(images)
        make_images(images, args.count)
        start = time.perf_counter()
        subprocess.run([os.path.join(args.bin, "patchlens-cli"), "batch", images, "--weights", weights,
                        "--layer", "final", "--pool", "cls", "-o", out], check=True, capture_output=True)
        elapsed = time.perf_counter() - start
    rate = args.count / elapsed
    target = 0.9 * cores / one_thread_s
    print(f"batch --layer final --pool cls: {args.count} images in {elapsed:.2f} s = {rate:.2f} images/s; "
          f"1-thread forward {one_thread_s * 1e3:.1f} ms x {cores} cores -> target {target:.2f} images/s; "
          f"ratio {rate / (cores / one_thread_s):.2f} of cores / forward; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
