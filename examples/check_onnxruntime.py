#!/usr/bin/env python3
"""Cross-checks zkgrad's f64 reference forward pass and its proven output against ONNX Runtime.

usage: python3 examples/check_onnxruntime.py [MODEL.onnx INPUT.json]   (pip install onnxruntime numpy)

Runs `zkgrad prove --json` (release build) and ONNX Runtime on the same input, and prints the
largest difference of zkgrad's float reference and of its proven output from ONNX Runtime's.
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
    (ref,) = sess.run(None, feed)
    ref = ref.reshape(-1).astype(np.float64)
    with tempfile.TemporaryDirectory() as t:
        out = subprocess.run(
            [os.path.join(ROOT, "target/release/zkgrad"), "prove", "--json", "--model", model,
             "--input", inp, "--proof", os.path.join(t, "p.zkp")],
            capture_output=True, text=True, check=True)
    j = json.loads(out.stdout)
    flt = np.array(j["float_output"][0])
    proven = np.array(j["output_data"][0])
    print(f"{os.path.relpath(model, ROOT)}: onnxruntime {ref.tolist()}")
    print(f"  zkgrad f64 reference max |diff| = {np.abs(flt - ref).max():.3e}")
    print(f"  zkgrad proven output max |diff| = {np.abs(proven - ref).max():.3e}")
    return 0 if np.abs(flt - ref).max() < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
