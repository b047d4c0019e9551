#!/usr/bin/env python3
"""Regenerates examples/argmax/: a classifier whose output is its label (ArgMax of its logits),
exported from PyTorch (TorchScript exporter, opset 17), with an input of 5 samples and
PyTorch's labels.

usage: python3 examples/gen_argmax.py   (needs: pip install torch onnx)
"""
import json
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "argmax")


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(4, 16)
        self.l2 = nn.Linear(16, 3)

    def forward(self, x):
        return torch.argmax(self.l2(torch.relu(self.l1(x))), dim=-1)


torch.manual_seed(0)
model = Classifier().eval()
x = torch.randn(5, 4)
os.makedirs(OUT, exist_ok=True)
torch.onnx.export(model, (x,), os.path.join(OUT, "classifier.onnx"), input_names=["x"],
                  output_names=["label"], opset_version=17, dynamo=False)
with open(os.path.join(OUT, "input.json"), "w") as f:
    json.dump({"input_data": [x.numpy().ravel().tolist()]}, f)
with open(os.path.join(OUT, "labels.json"), "w") as f:
    json.dump({"labels": model(x).tolist()}, f)
print("labels", model(x).tolist())
