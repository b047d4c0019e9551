#!/usr/bin/env python3
"""The Python bindings' overhead over the Rust library (BENCHMARKS.md, "Python bindings"): for
the seed MLP and VGG-16 (CIFAR size, exported from torch with seeded random weights, as
scripts/bench_serve.py does), the median wall time of `Model.prove(x)` (a numpy input: the
conversion, the call, the output back to numpy) against the median time of the library call
inside it (`workflow::prove::prove_committed`, what a Rust caller pays), over N calls after a
first one that loads and commits the model.

Usage: python3 scripts/bench_python.py [--runs 20] [--vgg-runs 5]   (zkgrad installed)
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import zkgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def measure(model, x, runs):
    model.prove(x)  # loads and commits
    wall, lib = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = model.prove(x)
        wall.append(time.perf_counter() - t0)
        lib.append(p.library_seconds)
    w, l = statistics.median(wall), statistics.median(lib)
    over = [a - b for a, b in zip(wall, lib)]
    return w, l, statistics.median(over)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--vgg-runs", type=int, default=5)
    a = ap.parse_args()
    rows = []
    mlp = zkgrad.Model(os.path.join(ROOT, "examples/mlp/mlp.onnx"))
    with open(os.path.join(ROOT, "examples/mlp/input.json")) as f:
        x = np.asarray(json.load(f)["input_data"])
    w, l, o = measure(mlp, x, a.runs)
    rows.append(f"| seed MLP (138 parameters) | {w * 1e3:.3f} ms | {l * 1e3:.3f} ms | "
                f"**{o * 1e3:.3f} ms** (median of {a.runs}) |")
    from bench_serve import export_vgg16
    tmp = tempfile.mkdtemp(prefix="zkgrad-bench-py-")
    vgg, vgg_in = os.path.join(tmp, "vgg16.onnx"), os.path.join(tmp, "in.json")
    params = export_vgg16(vgg, vgg_in)
    with open(vgg_in) as f:
        xv = np.asarray(json.load(f)["input_data"]).reshape(1, 3, 32, 32)
    w, l, o = measure(zkgrad.Model(vgg, scheme="whir"), xv, a.vgg_runs)
    rows.append(f"| VGG-16 (CIFAR, {params:,} parameters, WHIR) | {w:.3f} s | {l:.3f} s | "
                f"**{o * 1e3:.3f} ms** (median of {a.vgg_runs}) |")
    print("| workload | `Model.prove` (Python, wall) | the library call inside it | overhead |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
