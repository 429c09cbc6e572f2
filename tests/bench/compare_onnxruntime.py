#!/usr/bin/python3
"""The issue-25 anchor: ONNX Runtime's CPU provider (MLAS) against PatchLens on the same
ViT-B/16 224 graph, 1 and 2 threads, in one run; prints ratios and % of the measured FMA peak.

    /usr/bin/python3 tests/bench/compare_onnxruntime.py [--bench build/release/bin/patchlens-bench]
                                                       [--ort-dir DIR] [--install] [--seconds S]

ONNX Runtime comes from npm's onnxruntime-node, whose package holds the CPU library
(libonnxruntime.so); its install script only downloads GPU builds, so it is installed with
--ignore-scripts (`--install` does: `npm install --ignore-scripts onnxruntime-node@1.20.1` in
DIR, default /tmp/patchlens-ort). Without it the script says so and exits 0 (skipped).

The graph: torchvision's vit_b_16(weights=None) up to the encoder's final LayerNorm (patch
embedding, class token, position embedding, 12 blocks, ln: the same work as PatchLens's
forward-final/vit-b16/224, whose attention is the blocked kernel), exported by
torch.onnx.export at opset 14. The weights are random: only the time is compared.
PatchLens's % of peak counts the GEMM FLOPs (24 T D^2 per block + 4 T^2 D + the patch
embedding), ONNX Runtime's the same count over its time.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORT_VERSION = "1.20.1"
FLOPS = 12 * (24 * 197 * 768 * 768 + 4 * 197 * 197 * 768) + 2.0 * 196 * 768 * 768


def export_graph(path):
    import torch
    import torchvision

    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vit = torchvision.models.vit_b_16(weights=None).eval()

        def forward(self, x):
            y = self.vit._process_input(x)
            y = torch.cat([self.vit.class_token.expand(x.shape[0], -1, -1), y], dim=1)
            return self.vit.encoder(y)

    torch.manual_seed(25)
    # Train mode with dropout 0 computes the eval graph; in eval torch 1.13 takes the fused
    # _native_multi_head_attention, which has no ONNX export.
    torch.onnx.export(Features().train(), torch.randn(1, 3, 224, 224), path, opset_version=14,
                      input_names=["pixels"], output_names=["tokens"],
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


def ort_time(ort_dir, model, threads, seconds):
    env = dict(os.environ, NODE_PATH=os.path.join(ort_dir, "node_modules"))
    out = subprocess.run(["node", os.path.join(ROOT, "tests", "bench", "ort_time.js"), model,
                          str(threads), str(seconds)], env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "release", "bin", "patchlens-bench"))
    parser.add_argument("--ort-dir", default=os.environ.get("PATCHLENS_ORT_DIR", "/tmp/patchlens-ort"))
    parser.add_argument("--install", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    package = os.path.join(args.ort_dir, "node_modules", "onnxruntime-node")
    if args.install and not os.path.isdir(package):
        os.makedirs(args.ort_dir, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", args.ort_dir, "--ignore-scripts", "--no-audit",
                        "--no-fund", f"onnxruntime-node@{ORT_VERSION}"], check=True)
    if not shutil.which("node") or not os.path.isdir(package):
        print(f"skipped: onnxruntime-node is not in {args.ort_dir} (run with --install)", file=sys.stderr)
        return 0

    model = os.path.join(args.ort_dir, "vit_b16_features_opset14.onnx")
    if not os.path.isfile(model):
        export_graph(model)

    out = subprocess.run([args.bench, "--benchmark_format=json", "--benchmark_min_time=3",
                          "--benchmark_filter=peak|forward-final/vit-b16/224/threads:[12]/blocked"],
                         check=True, capture_output=True, text=True).stdout
    # Cases timed with UseRealTime() are named ".../real_time".
    ours = {b["name"].removesuffix("/real_time"): b for b in json.loads(out)["benchmarks"]}
    peak = next(b["peak_GFLOPs"] for b in ours.values() if b["name"].startswith("peak/"))
    load = os.getloadavg()[0]
    print(f"FP32 FMA peak measured by patchlens-bench: {peak:.1f} GFLOP/s per core; "
          f"ONNX Runtime {ORT_VERSION} (onnxruntime-node, CPU EP); load average {load:.2f}")
    print("| case | PatchLens median-of-run ms | best ms | % of peak (best) | ORT median ms | ORT best ms "
          "| ORT % of peak (best) | ratio (means) | ratio (best) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for threads in (1, 2):
        b = ours[f"forward-final/vit-b16/224/threads:{threads}/blocked"]
        mean_ms, best_ms = b["real_time"], b["best_ms"]
        o = ort_time(args.ort_dir, model, threads, args.seconds)
        pct = lambda ms: 100.0 * FLOPS / (ms * 1e-3) / (peak * 1e9 * threads)
        print(f"| ViT-B/16 224 final, {threads} thread{'s' if threads > 1 else ''} | {mean_ms:.1f} | "
              f"{best_ms:.1f} | {pct(best_ms):.1f} % | {o['median_ms']:.1f} | {o['best_ms']:.1f} | "
              f"{pct(o['best_ms']):.1f} % | {mean_ms / o['median_ms']:.2f} | {best_ms / o['best_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
