#!/usr/bin/env python3
"""Writes masked_fill/: one attention head over token embeddings whose scores are masked with
`masked_fill(pad.bool(), -inf)` — ONNX's Where with a condition computed from an input (the
padding flags, through Cast to bool) and a computed branch (the scores) — exported by the
TorchScript exporter (opset 17); input.json (8 ids, the last three padding) and ONNX Runtime's
output.

usage: python3 examples/transformers/gen_masked_fill.py   (needs: pip install torch onnx onnxruntime)
"""
import json
import os

import onnxruntime as ort
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "masked_fill")


class MaskedAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(32, 16)
        self.q = torch.nn.Linear(16, 16)
        self.k = torch.nn.Linear(16, 16)
        self.v = torch.nn.Linear(16, 16)

    def forward(self, ids, pad):
        x = self.emb(ids)
        scores = self.q(x) @ self.k(x).transpose(-1, -2) / 4.0
        scores = scores.masked_fill(pad.bool()[:, None, :], float("-inf"))
        return torch.softmax(scores, dim=-1) @ self.v(x)


torch.manual_seed(3)
model = MaskedAttention().eval()
ids = torch.tensor([[5, 9, 2, 17, 30, 0, 0, 0]])
pad = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1]])
os.makedirs(HERE, exist_ok=True)
path = os.path.join(HERE, "model.onnx")
torch.onnx.export(model, (ids, pad), path, input_names=["ids", "pad"], output_names=["out"],
                  opset_version=17, dynamo=False)
with open(os.path.join(HERE, "input.json"), "w") as f:
    json.dump({"input_data": [ids.ravel().tolist(), pad.ravel().tolist()]}, f)
(out,) = ort.InferenceSession(path).run(None, {"ids": ids.numpy(), "pad": pad.numpy()})
with open(os.path.join(HERE, "onnxruntime_output.json"), "w") as f:
    json.dump({"outputs": {"out": out.ravel().tolist()}}, f)
print("ok", out.shape)
