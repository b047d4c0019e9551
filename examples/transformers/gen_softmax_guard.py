#!/usr/bin/env python3
"""Writes softmax_guard.onnx and causal_inf_mask.onnx (below). softmax_guard.onnx: the guard PyTorch's SDPA export puts around attention's softmax,
Where(IsNaN(p), 0, p) with p = Softmax(x) (x: [2, 4]), for the importer's tests.

usage: python3 examples/transformers/gen_softmax_guard.py   (needs: pip install onnx)
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
nodes = [
    helper.make_node("Softmax", ["x"], ["p"], axis=-1),
    helper.make_node("IsNaN", ["p"], ["nan"]),
    helper.make_node("Where", ["nan", "zero", "p"], ["y"]),
]
zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
graph = helper.make_graph(nodes, "softmax_guard",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                          initializer=[zero])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, "softmax_guard.onnx"))

# causal_inf_mask.onnx: scores [2, 4, 4] plus a causal mask initializer of 0 and −inf (above
# the diagonal), then Softmax: the −∞ form of an additive mask.
import numpy as np  # noqa: E402
from onnx import numpy_helper  # noqa: E402

T = 4
mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
graph = helper.make_graph(
    [helper.make_node("Add", ["x", "mask"], ["s"]),
     helper.make_node("Softmax", ["s"], ["y"], axis=-1)],
    "causal_inf_mask",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, T, T])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, T, T])],
    initializer=[numpy_helper.from_array(mask, "mask")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, "causal_inf_mask.onnx"))
