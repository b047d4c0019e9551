#!/usr/bin/env python3
"""Exports small CNNs from PyTorch for the importer's tests, with ONNX Runtime's outputs.

usage: python3 examples/gen_cnn.py     (needs: pip install torch onnx onnxruntime numpy)

- examples/cnn/mixed.onnx: Conv (padding, stride, dilation, groups, depthwise), BatchNorm (one
  folded into its Conv, one standalone), ReLU, MaxPool (padded, after ReLU), AvgPool, SiLU
  (Sigmoid·Mul), ZeroPad2d, GlobalAveragePool, Flatten, Linear; input 1×3×16×16.
- examples/cnn/input.json, examples/cnn/onnxruntime_output.json: one input from numpy seed 4 and
  ONNX Runtime's output for it (the Rust tests compare zkgrad's f64 reference with it).
- examples/cnn/mixed_torchscript.onnx: the same model from the TorchScript exporter at opset 13
  (same input and output files).
- examples/cnn_external/mixed.onnx + mixed.onnx.data: the same model with its weights in an
  external data file, as the dynamo exporter writes large models; and
  examples/unsupported/outside_data.onnx, whose external data location escapes its directory
  (refused).
- examples/cnn/pointwise.onnx (+ pointwise_input.json, pointwise_onnxruntime_output.json):
  LayerNorm, LeakyReLU, ReLU6 (Clip), GELU (Erf), x² + x (Pow), a square root, a quotient of two
  computed tensors, softmax; input 1×8×16.
Weights: PyTorch's default init under torch.manual_seed(0); BatchNorm statistics set to
non-trivial values so that folding is exercised.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2)
        self.c3 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.pad = nn.ZeroPad2d((1, 0, 0, 1))
        self.c4 = nn.Conv2d(8, 6, 2)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = torch.relu(self.bn1(self.c1(x)))
        x = nn.functional.max_pool2d(x, 3, stride=1, padding=1)
        x = self.c2(x)
        x = x * torch.sigmoid(x)
        y = self.c3(x)
        x = self.bn3(x + y)
        x = nn.functional.avg_pool2d(x, 2)
        x = self.c4(self.pad(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class Pointwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        x = self.ln(x)
        a = nn.functional.leaky_relu(x, 0.1)
        b = nn.functional.relu6(3.0 * x)
        c = nn.functional.gelu(x)
        d = torch.pow(x, 2) + x
        e = torch.sqrt(d * d + 1.0)
        f = self.fc(a + b + c) / e
        return torch.softmax(f, dim=-1)


def export(m, x, name, opset):
    import onnx
    import onnxruntime as ort
    path = os.path.join(HERE, "cnn", f"{name}.onnx")
    torch.onnx.export(m, (torch.from_numpy(x),), path, input_names=["x"], output_names=["y"],
                      opset_version=opset, dynamo=True)
    # The dynamo exporter writes weights to an external .data file; keep them inline.
    model = onnx.load(path)
    onnx.save(model, path, save_as_external_data=False)
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")
    onnx.checker.check_model(onnx.load(path))
    (y,) = ort.InferenceSession(path).run(None, {"x": x})
    prefix = "" if name == "mixed" else f"{name}_"
    with open(os.path.join(HERE, "cnn", f"{prefix}input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in x.reshape(-1)]]}, f)
        f.write("\n")
    with open(os.path.join(HERE, "cnn", f"{prefix}onnxruntime_output.json"), "w") as f:
        json.dump({"output_data": [[float(v) for v in y.reshape(-1)]]}, f)
        f.write("\n")
    print("wrote", os.path.relpath(path, os.path.dirname(HERE)),
          sorted({n.op_type for n in onnx.load(path).graph.node}))


def main():
    torch.manual_seed(0)
    pw = Pointwise().eval()
    xp = np.random.default_rng(5).uniform(-2, 2, size=(1, 8, 16)).astype(np.float32)
    os.makedirs(os.path.join(HERE, "cnn"), exist_ok=True)
    export(pw, xp, "pointwise", 18)
    torch.manual_seed(0)
    m = Mixed().eval()
    with torch.no_grad():
        for bn in (m.bn1, m.bn3):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    x = np.random.default_rng(4).uniform(-1, 1, size=(1, 3, 16, 16)).astype(np.float32)
    export(m, x, "mixed", 18)
    import onnx
    # The same model from the TorchScript exporter at opset 13: its ZeroPad2d becomes shape
    # arithmetic on constants (ConstantOfShape, Concat, Slice, Transpose, Cast) feeding a Pad.
    ts = os.path.join(HERE, "cnn", "mixed_torchscript.onnx")
    torch.onnx.export(m, (torch.from_numpy(x),), ts, input_names=["x"], output_names=["y"],
                      opset_version=13, dynamo=False)
    model = onnx.load(os.path.join(HERE, "cnn", "mixed.onnx"))
    os.makedirs(os.path.join(HERE, "cnn_external"), exist_ok=True)
    onnx.save(model, os.path.join(HERE, "cnn_external", "mixed.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="mixed.onnx.data", size_threshold=0)
    bad = onnx.load(os.path.join(HERE, "cnn_external", "mixed.onnx"), load_external_data=False)
    for t in bad.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../cnn_external/mixed.onnx.data"
    onnx.save(bad, os.path.join(HERE, "unsupported", "outside_data.onnx"))


if __name__ == "__main__":
    main()
