#!/usr/bin/env python3
"""Writes the Iris data set and a small MLP for the 100-step proven training run.

usage: python3 examples/gen_iris.py      (needs: pip install scikit-learn onnx numpy)

- examples/iris/iris.csv: Fisher's Iris (150 samples, scikit-learn's bundled copy), features
  standardized to zero mean and unit variance, rows shuffled once (numpy seed 0) so that
  batches taken in data order mix the classes; the last 3 columns are the one-hot class.
- examples/iris/mlp.onnx: Linear(4,16) -> ReLU -> Linear(16,3), PyTorch-style init, seed 0.
- examples/iris/input.json: the first sample of iris.csv, for `zkgrad prove`.
"""
import json  # noqa: F401 (kept for readers extending the script)
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_iris

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iris")


def main():
    os.makedirs(HERE, exist_ok=True)
    d = load_iris()
    x = (d.data - d.data.mean(axis=0)) / d.data.std(axis=0)
    y = np.eye(3)[d.target]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    with open(os.path.join(HERE, "iris.csv"), "w") as f:
        f.write("sepal_length,sepal_width,petal_length,petal_width,setosa,versicolor,virginica\n")
        for i in order:
            f.write(",".join(f"{v:.6f}" for v in x[i]) + "," + ",".join(str(int(v)) for v in y[i]) + "\n")
    with open(os.path.join(HERE, "input.json"), "w") as f:
        f.write('{"input_data": [[' + ", ".join(f"{v:.6f}" for v in x[order[0]]) + ']]}\n')
    inits, nodes, cur = [], [], "input"
    for k, (i, o) in enumerate([(4, 16), (16, 3)]):
        bound = 1 / np.sqrt(i)
        w = rng.uniform(-bound, bound, size=(o, i)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(o,)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{k+1}.weight"), numpy_helper.from_array(b, f"fc{k+1}.bias")]
        out = "output" if k == 1 else "h"
        nodes.append(helper.make_node("Gemm", [cur, f"fc{k+1}.weight", f"fc{k+1}.bias"], [out], name=f"/fc{k+1}/Gemm", transB=1))
        if k == 0:
            nodes.append(helper.make_node("Relu", ["h"], ["a"], name="/relu/Relu"))
            cur = "a"
    graph = helper.make_graph(nodes, "iris_mlp",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkgrad-examples")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "mlp.onnx"))
    print("wrote examples/iris/iris.csv and examples/iris/mlp.onnx")


if __name__ == "__main__":
    main()
