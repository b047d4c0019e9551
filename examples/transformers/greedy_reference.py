#!/usr/bin/env python3
"""Writes <model>/greedy.json: ONNX Runtime's greedy decoding of the fixed-length exports, the
reference `zkgrad generate` is tested against (crates/cli/tests/transformers.rs).

usage: python3 examples/transformers/greedy_reference.py   (needs: pip install onnxruntime numpy)

The prompt fills the first positions, the rest is padded with id 0 (as `zkgrad generate` pads);
each step takes the argmax of the logits at the last filled position.
"""
import json
import os

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT = [40, 15, 45]


def greedy(path, new):
    s = ort.InferenceSession(path)
    name = s.get_inputs()[0].name
    t = s.get_inputs()[0].shape[1]
    seq = PROMPT + [0] * (t - len(PROMPT))
    for k in range(new):
        logits = s.run(None, {name: np.array([seq], dtype=np.int64)})[0].reshape(t, -1)
        seq[len(PROMPT) + k] = int(logits[len(PROMPT) + k - 1].argmax())
    return seq[len(PROMPT):len(PROMPT) + new]


for model, new in [("gpt2_tiny", 5), ("nanogpt", 8)]:
    out = {"prompt": PROMPT, "max_new_tokens": new,
           "generated": greedy(os.path.join(HERE, model, "model.onnx"), new)}
    with open(os.path.join(HERE, model, "greedy.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(model, out)
