#!/usr/bin/env python3
"""Cross-checks zkgrad's f64 reference forward pass and its proven output against ONNX Runtime.

usage: python3 examples/check_onnxruntime.py [MODEL.onnx INPUT.json]   (pip install onnxruntime numpy)

Runs `zkgrad prove --json` (release build; calibrated on the input itself) and ONNX Runtime on
the same input, and prints the largest difference of zkgrad's float reference and of its proven
output from ONNX Runtime's (every output, concatenated). For a step graph whose first output has
the shape of its first input (theta -> theta_next), it also counts the entries ONNX Runtime
changes and how many of those changes the proven output keeps (nonzero, same sign).
Exits 1 if the float reference differs by more than 1e-5 (float32 rounding in ONNX Runtime).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    model = sys.argv[1] if len(sys.argv) > 2 else os.path.join(ROOT, "examples/mlp/mlp.onnx")
    inp = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "examples/mlp/input.json")
    arrays = json.load(open(inp))["input_data"]
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    feed = {}
    for meta, x in zip(sess.get_inputs(), arrays):
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in meta.shape]
        feed[meta.name] = np.array(x, dtype=np.float32).reshape(shape)
    outs = sess.run(None, feed)
    ref = np.concatenate([o.reshape(-1) for o in outs]).astype(np.float64)
    with tempfile.TemporaryDirectory() as t:
        out = subprocess.run(
            [os.path.join(ROOT, "target/release/zkgrad"), "prove", "--json", "--model", model,
             "--input", inp, "--calibration", inp, "--proof", os.path.join(t, "p.zkp")],
            capture_output=True, text=True, check=True)
    j = json.loads(out.stdout)
    flt = np.concatenate([np.array(v) for v in j["float_output"]])
    proven = np.concatenate([np.array(v) for v in j["output_data"]])
    print(f"{os.path.relpath(model, ROOT)}: onnxruntime {ref.tolist()[:8]}{' ...' if ref.size > 8 else ''}")
    print(f"  zkgrad f64 reference max |diff| = {np.abs(flt - ref).max():.3e}")
    print(f"  zkgrad proven output max |diff| = {np.abs(proven - ref).max():.3e}")
    theta = np.array(arrays[0], dtype=np.float32).reshape(-1).astype(np.float64)
    first = outs[0].reshape(-1).astype(np.float64)
    if len(arrays) > 1 and first.size == theta.size:
        n = theta.size
        ort_upd = first - theta
        zk_upd = proven[:n] - np.array(json.load(open(inp))["input_data"][0])
        changed = np.abs(ort_upd) > 0
        kept = changed & (np.sign(zk_upd) == np.sign(ort_upd))
        print(f"  step graph: {changed.sum()} of {n} entries changed by onnxruntime, "
              f"{kept.sum()} kept by the proof; max |update diff| = {np.abs(zk_upd - ort_upd).max():.3e}")
    return 0 if np.abs(flt - ref).max() < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
