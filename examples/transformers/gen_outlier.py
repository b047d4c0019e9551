#!/usr/bin/env python3
"""Writes gpt2_outlier/: gpt2_tiny/model.onnx with an injected outlier channel, as trained
transformers have: residual-stream channel 5 scaled by 1000 at the embeddings (token table,
position embeddings; the tied LM head reads the scaled table too), so that channel reaches
magnitudes in the tens while the others stay below 0.1; with ONNX Runtime's logits.

usage: python3 examples/transformers/gen_outlier.py   (needs: pip install onnx onnxruntime numpy)
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
CHANNEL, FACTOR = 5, 1000.0
model = onnx.load(os.path.join(HERE, "gpt2_tiny", "model.onnx"))
for init in model.graph.initializer:
    a = numpy_helper.to_array(init).copy()
    if init.name == "lm.lm_head.weight":  # [vocab, d]: the token table (and tied LM head)
        a[:, CHANNEL] *= FACTOR
    elif init.name == "embedding_1":  # [1, T, d]: the folded position embeddings
        a[..., CHANNEL] *= FACTOR
    elif init.name == "val_190":  # [d, vocab]: the LM head's transposed copy of the table
        a[CHANNEL, :] *= FACTOR
    else:
        continue
    init.CopyFrom(numpy_helper.from_array(a.astype(np.float32), init.name))
out = os.path.join(HERE, "gpt2_outlier")
os.makedirs(out, exist_ok=True)
onnx.save(model, os.path.join(out, "model.onnx"))
with open(os.path.join(HERE, "gpt2_tiny", "input.json")) as f:
    ids = json.load(f)["input_data"][0]
logits = ort.InferenceSession(os.path.join(out, "model.onnx")).run(
    None, {"input_ids": np.array([ids], dtype=np.int64)})[0]
with open(os.path.join(out, "onnxruntime_output.json"), "w") as f:
    json.dump({"outputs": {"logits": logits.ravel().tolist()}, "shapes": {"logits": list(logits.shape)}}, f)
with open(os.path.join(out, "input.json"), "w") as f:
    json.dump({"input_data": [ids]}, f)
print("max |logit|", float(np.abs(logits).max()))
