#!/usr/bin/env python3
"""Exports one SGD step of the seed MLP from PyTorch as a single ONNX graph (issue 3: "hand-exported
step graphs still work").

usage: python3 examples/gen_sgd_step.py     (needs: pip install torch onnx onnxruntime numpy)

The step takes the parameters packed in one flat vector theta (as optimizers and exporters often
flatten them), the batch x [B, 5] and targets y [B, 2]; it slices theta into W1, b1, W2, b2, W3,
b3 (Slice + Reshape), runs the forward pass, the MSE gradient and the backward pass by hand
(MatMul, Transpose, Relu, Sigmoid, Greater + Cast for the ReLU mask, Mul, Sub, ReduceSum), and
returns theta - lr * grad packed again with Concat, plus the loss as a second output.

Writes examples/sgd_step/step.onnx and examples/sgd_step/input.json (theta from
examples/mlp/mlp.onnx, a batch of 4 samples x, y drawn from numpy seed 1) and prints the ONNX Runtime output.
"""
import json
import os

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
LR = 0.01
BATCH = 4
SHAPES = [(8, 5), (8,), (8, 8), (8,), (2, 8), (2,)]


def unpack(theta):
    parts, off = [], 0
    for s in SHAPES:
        n = int(np.prod(s))
        parts.append(theta[off:off + n].reshape(s))
        off += n
    return parts


class Step(torch.nn.Module):
    def forward(self, theta, x, y):
        w1, b1, w2, b2, w3, b3 = unpack(theta)
        h1 = x @ w1.t() + b1
        a1 = torch.relu(h1)
        h2 = a1 @ w2.t() + b2
        a2 = torch.sigmoid(h2)
        out = a2 @ w3.t() + b3
        batch = x.shape[0]
        diff = out - y
        loss = (diff * diff).sum() * (0.5 / batch)
        g3 = diff * (1.0 / batch)
        dw3 = g3.t() @ a2
        db3 = g3.sum(0)
        g2 = (g3 @ w3) * (a2 * (1.0 - a2))
        dw2 = g2.t() @ a1
        db2 = g2.sum(0)
        g1 = (g2 @ w2) * (h1 > 0).float()
        dw1 = g1.t() @ x
        db1 = g1.sum(0)
        grad = torch.cat([g.reshape(-1) for g in (dw1, db1, dw2, db2, dw3, db3)])
        return theta - LR * grad, loss.reshape(1)


def main():
    model = onnx.load(os.path.join(HERE, "mlp", "mlp.onnx"))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    theta = np.concatenate(
        [inits[n.input[k]].reshape(-1) for n in gemms for k in (1, 2)]
    ).astype(np.float32)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(BATCH, 5)).astype(np.float32)
    y = rng.uniform(-0.5, 0.5, size=(BATCH, 2)).astype(np.float32)
    path = os.path.join(HERE, "sgd_step", "step.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    args = (torch.from_numpy(theta), torch.from_numpy(x), torch.from_numpy(y))
    dynamo = os.environ.get("DYNAMO") == "1"
    if dynamo:
        path = path.replace(".onnx", "_dynamo.onnx")
    torch.onnx.export(
        Step(), args, path, input_names=["theta", "x", "y"],
        output_names=["theta_next", "loss"], opset_version=17 if not dynamo else 18,
        dynamo=dynamo,
    )
    onnx.checker.check_model(onnx.load(path))
    with open(os.path.join(HERE, "sgd_step", "input.json"), "w") as f:
        json.dump({"input_data": [theta.tolist(), x.reshape(-1).tolist(), y.reshape(-1).tolist()]}, f)
    import onnxruntime as ort
    sess = ort.InferenceSession(path)
    nxt, loss = sess.run(None, {"theta": theta, "x": x, "y": y})
    print("wrote", os.path.relpath(path, os.path.dirname(HERE)), "ops:",
          sorted({n.op_type for n in onnx.load(path).graph.node}))
    print("loss", loss, "max |update|", np.abs(nxt - theta).max())


if __name__ == "__main__":
    main()
