#!/usr/bin/env python3
"""Regenerates the ONNX examples under examples/ with a fixed seed.

usage: python3 examples/gen_examples.py        (needs: pip install onnx numpy)

- examples/mlp/mlp.onnx: the seed MLP of ../shared/bench/WORKLOADS.md (workload A),
  Linear(5,8) -> ReLU -> Linear(8,8) -> Sigmoid -> Linear(8,2), exported the way PyTorch exports
  nn.Linear (Gemm with transB=1), weights drawn like PyTorch's default init
  (U(-1/sqrt(in), 1/sqrt(in))) from numpy seed 0.
- examples/mlp/input.json: one input x ~ U(-1, 1)^5 in EZKL's {"input_data": [[...]]} form.
- examples/mlp/mlp_matmul.onnx: the same network written as MatMul + Add + Tanh + Flatten +
  Reshape + Identity + Constant + Div + Mul + Sub (the other ops the importer accepts).
- examples/unsupported/softsign.onnx: a model with an op zkgrad refuses (for the error path).
- examples/two_inputs/xty.onnx and input.json: two graph inputs X, Y (4x3 each), Transpose,
  MatMul of computed matrices, Mul of two tensors, Relu, Gemm.
- examples/two_inputs/mask.onnx: ReLU written as an exported backward pass writes its mask,
  X * Cast(Greater(X, 0)), plus Y, then Gemm (same input file).
- examples/layout/layout.onnx, input.json, onnxruntime_output.json (only with the argument
  `layout`; needs onnxruntime too): the layout ops (Slice, Transpose, Squeeze/Unsqueeze, Concat,
  broadcasting, ReduceSum/ReduceMean, constant folding, two outputs) with ONNX Runtime's output,
  which the Rust tests compare against.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def linear_params(rng, fan_in, fan_out):
    bound = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
    b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
    return w, b


def save(model, path):
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    print("wrote", os.path.relpath(path, os.path.dirname(HERE)))


def seed_mlp(rng):
    dims = [(5, 8), (8, 8), (8, 2)]
    params = [linear_params(rng, i, o) for i, o in dims]
    inits, nodes = [], []
    acts = ["Relu", "Sigmoid", None]
    x = "input"
    for k, ((w, b), act) in enumerate(zip(params, acts)):
        inits += [numpy_helper.from_array(w, f"fc{k+1}.weight"), numpy_helper.from_array(b, f"fc{k+1}.bias")]
        y = f"/fc{k+1}/Gemm_output_0" if act else "output"
        nodes.append(helper.make_node("Gemm", [x, f"fc{k+1}.weight", f"fc{k+1}.bias"], [y],
                                      name=f"/fc{k+1}/Gemm", alpha=1.0, beta=1.0, transB=1))
        if act:
            z = f"/act{k+1}/{act}_output_0"
            nodes.append(helper.make_node(act, [y], [z], name=f"/act{k+1}/{act}"))
            x = z
    graph = helper.make_graph(
        nodes, "seed_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             producer_name="zkgrad-examples"), params


def matmul_mlp(params):
    (w1, b1), (w2, b2), (w3, b3) = params
    inits = [
        numpy_helper.from_array(w1.T.copy(), "w1"), numpy_helper.from_array(b1, "b1"),
        numpy_helper.from_array(w2.T.copy(), "w2"), numpy_helper.from_array(b2, "b2"),
        numpy_helper.from_array(w3.T.copy(), "w3"), numpy_helper.from_array(b3, "b3"),
        numpy_helper.from_array(np.array([1, 8], dtype=np.int64), "shape18"),
    ]
    n = helper.make_node
    nodes = [
        n("Identity", ["input"], ["x0"], name="identity"),
        n("MatMul", ["x0", "w1"], ["m1"], name="matmul1"),
        n("Add", ["m1", "b1"], ["h1"], name="bias1"),
        n("Tanh", ["h1"], ["a1"], name="tanh1"),
        n("Flatten", ["a1"], ["f1"], name="flatten", axis=1),
        n("Constant", [], ["two"], name="const_two", value=numpy_helper.from_array(np.array(2.0, dtype=np.float32))),
        n("Div", ["f1", "two"], ["d1"], name="halve"),
        n("Mul", ["d1", "two"], ["u1"], name="double"),
        n("MatMul", ["u1", "w2"], ["m2"], name="matmul2"),
        n("Add", ["m2", "b2"], ["h2"], name="bias2"),
        n("Sigmoid", ["h2"], ["a2"], name="sigmoid"),
        n("Sub", ["a2", "u1"], ["s2"], name="residual_sub"),
        n("Add", ["s2", "u1"], ["r2"], name="residual_add"),
        n("Reshape", ["r2", "shape18"], ["v2"], name="reshape"),
        n("MatMul", ["v2", "w3"], ["m3"], name="matmul3"),
        n("Add", ["m3", "b3"], ["output"], name="bias3"),
    ]
    graph = helper.make_graph(
        nodes, "matmul_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             producer_name="zkgrad-examples")


def unsupported():
    n = helper.make_node
    graph = helper.make_graph(
        [n("Softsign", ["input"], ["output"], name="/act/Softsign")], "unsupported",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def two_inputs(rng):
    n = helper.make_node
    w = rng.uniform(-0.5, 0.5, size=(2, 3)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, size=(2,)).astype(np.float32)
    nodes = [
        n("Transpose", ["X"], ["Xt"], name="transpose", perm=[1, 0]),
        n("MatMul", ["Xt", "Y"], ["XtY"], name="xty"),
        n("Mul", ["XtY", "XtY"], ["sq"], name="square"),
        n("Relu", ["sq"], ["r"], name="relu"),
        n("Gemm", ["r", "w", "b"], ["output"], name="head", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3]),
         helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [3, 2])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def mask_model(rng):
    n = helper.make_node
    w = rng.uniform(-0.5, 0.5, size=(2, 3)).astype(np.float32)
    nodes = [
        n("Constant", [], ["zero"], name="zero", value=numpy_helper.from_array(np.array(0.0, dtype=np.float32))),
        n("Greater", ["X", "zero"], ["pos"], name="greater"),
        n("Cast", ["pos"], ["mask"], name="cast", to=TensorProto.FLOAT),
        n("Mul", ["X", "mask"], ["relu"], name="masked"),
        n("Add", ["relu", "Y"], ["s"], name="plus_y"),
        n("Gemm", ["s", "w"], ["output"], name="head", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "mask",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3]),
         helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [4, 2])],
        [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def layout_model():
    """Layout ops through index maps: Slice (negative step, axes), Transpose (3-D), Unsqueeze,
    Squeeze, Concat, broadcasting Add and Mul, ReduceSum/ReduceMean over an inner axis, Neg and
    Reciprocal of constants, a constant minus a tensor, and two graph outputs."""
    n = helper.make_node
    c = lambda name, v, dt=np.int64: numpy_helper.from_array(np.array(v, dtype=dt), name)
    nodes = [
        # x [2, 3, 4] -> x[:, 1:, ::-2] = [2, 2, 2]
        n("Slice", ["x", "s_starts", "s_ends", "s_axes", "s_steps"], ["sl"], name="slice"),
        n("Transpose", ["sl"], ["tr"], name="transpose", perm=[2, 0, 1]),      # [2, 2, 2]
        n("Unsqueeze", ["tr", "u_axes"], ["un"], name="unsqueeze"),           # [2, 1, 2, 2]
        n("Squeeze", ["un", "u_axes"], ["sq"], name="squeeze"),               # [2, 2, 2]
        n("Reshape", ["sq", "r_shape"], ["rs"], name="reshape"),              # [2, 4]
        n("Slice", ["x", "t_starts", "t_ends", "t_axes"], ["row"], name="slice_row"),  # [2, 1, 4]
        n("Reshape", ["row", "r_shape"], ["row2"], name="reshape_row"),       # [2, 4]
        n("Concat", ["rs", "row2"], ["cat"], name="concat", axis=1),          # [2, 8]
        n("Tanh", ["cat"], ["th"], name="tanh"),
        n("Slice", ["th", "b_starts", "b_ends", "b_axes"], ["first"], name="first_row"),  # [1, 8]
        n("Reshape", ["first", "v_shape"], ["vec"], name="flat_row"),         # [8]
        n("Add", ["th", "vec"], ["bc"], name="broadcast_add"),                # [2, 8]
        n("Neg", ["half"], ["mhalf"], name="neg"),
        n("Reciprocal", ["four"], ["quarter"], name="reciprocal"),
        n("Sub", ["one", "bc"], ["om"], name="one_minus"),
        n("Mul", ["om", "quarter"], ["scaled"], name="scale"),
        n("Add", ["scaled", "mhalf"], ["shifted"], name="shift"),
        n("ReduceSum", ["shifted", "rs_axes"], ["rowsum"], name="reduce_sum", keepdims=1),  # [2, 1]
        n("Mul", ["shifted", "rowsum"], ["prod"], name="broadcast_mul"),      # [2, 8]
        n("ReduceMean", ["x"], ["mean"], name="reduce_mean", axes=[0, 2], keepdims=0),  # [3]
    ]
    inits = [
        c("s_starts", [1, -1]), c("s_ends", [3, -5]), c("s_axes", [1, 2]), c("s_steps", [1, -2]),
        c("u_axes", [1]), c("r_shape", [2, 4]), c("v_shape", [8]),
        c("t_starts", [2]), c("t_ends", [3]), c("t_axes", [1]),
        c("b_starts", [0]), c("b_ends", [1]), c("b_axes", [0]), c("rs_axes", [1]),
        c("half", 0.5, np.float32), c("four", 4.0, np.float32), c("one", 1.0, np.float32),
    ]
    graph = helper.make_graph(
        nodes, "layout",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("prod", TensorProto.FLOAT, [2, 8]),
         helper.make_tensor_value_info("mean", TensorProto.FLOAT, [3])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def write_layout():
    import onnxruntime as ort
    path = os.path.join(HERE, "layout", "layout.onnx")
    save(layout_model(), path)
    x = np.random.default_rng(3).uniform(-1, 1, size=(2, 3, 4)).astype(np.float32)
    outs = ort.InferenceSession(path).run(None, {"x": x})
    with open(os.path.join(HERE, "layout", "input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in x.reshape(-1)]]}, f)
        f.write("\n")
    with open(os.path.join(HERE, "layout", "onnxruntime_output.json"), "w") as f:
        json.dump({"output_data": [[float(v) for v in o.reshape(-1)] for o in outs]}, f)
        f.write("\n")


def main():
    import sys
    if sys.argv[1:] == ["layout"]:
        return write_layout()
    rng = np.random.default_rng(0)
    model, params = seed_mlp(rng)
    save(model, os.path.join(HERE, "mlp", "mlp.onnx"))
    x = rng.uniform(-1, 1, size=5).astype(np.float32)
    with open(os.path.join(HERE, "mlp", "input.json"), "w") as f:
        json.dump({"input_data": [[round(float(v), 6) for v in x]]}, f)
        f.write("\n")
    save(matmul_mlp(params), os.path.join(HERE, "mlp", "mlp_matmul.onnx"))
    save(unsupported(), os.path.join(HERE, "unsupported", "softsign.onnx"))
    rng2 = np.random.default_rng(1)
    save(two_inputs(rng2), os.path.join(HERE, "two_inputs", "xty.onnx"))
    save(mask_model(np.random.default_rng(2)), os.path.join(HERE, "two_inputs", "mask.onnx"))
    xs = [[round(float(v), 6) for v in rng2.uniform(-1, 1, size=12)] for _ in range(2)]
    with open(os.path.join(HERE, "two_inputs", "input.json"), "w") as f:
        json.dump({"input_data": xs}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
