#!/usr/bin/env python3
"""Writes gpt2_dynamic/: a 2-layer GPT-2 (vocab 64, d 32, 2 heads, 16 positions; random seeded
weights, perturbed) exported by the dynamo exporter with a dynamic sequence axis, and
greedy.json: ONNX Runtime's greedy decoding of 6 tokens after [40, 15, 45] (the sequence grows
by one each step, no padding) — what `zkgrad generate` is tested against.

usage: python3 examples/transformers/gen_dynamic.py   (needs: pip install torch transformers onnx onnxruntime onnxscript)
"""
import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from transformers import GPT2Config, GPT2LMHeadModel

warnings.filterwarnings("ignore")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2_dynamic")
PROMPT, NEW = [40, 15, 45], 6


class Logits(torch.nn.Module):
    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, ids):
        return self.lm(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits


torch.manual_seed(0)
cfg = GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2, bos_token_id=0,
                 eos_token_id=0, attn_implementation="eager")
lm = GPT2LMHeadModel(cfg).eval()
gen = torch.Generator().manual_seed(1)
with torch.no_grad():
    for p in lm.parameters():
        p.add_(0.02 * torch.randn(p.shape, generator=gen))
os.makedirs(HERE, exist_ok=True)
path = os.path.join(HERE, "model.onnx")
seq = torch.export.Dim("seq", min=2, max=16)
torch.onnx.export(Logits(lm), (torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]]),), path,
                  input_names=["input_ids"], output_names=["logits"], opset_version=18,
                  dynamo=True, dynamic_shapes={"ids": {1: seq}})
model = onnx.load(path)
for node in model.graph.node:  # drop the exporter's stack traces (machine paths)
    for p in list(node.metadata_props):
        if p.key.startswith("pkg.torch.onnx.stack_trace"):
            node.metadata_props.remove(p)
onnx.save(model, path)
session = ort.InferenceSession(path)
ids = list(PROMPT)
for _ in range(NEW):
    logits = session.run(None, {"input_ids": np.array([ids], dtype=np.int64)})[0][0]
    ids.append(int(logits[-1].argmax()))
with open(os.path.join(HERE, "greedy.json"), "w") as f:
    json.dump({"prompt": PROMPT, "max_new_tokens": NEW, "generated": ids[len(PROMPT):]}, f)
    f.write("\n")
print("generated", ids[len(PROMPT):])
