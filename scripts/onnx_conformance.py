#!/usr/bin/env python3
"""Runs ONNX's own node test cases through `zkgrad prove` + `zkgrad verify` and scores them.

usage: python3 scripts/onnx_conformance.py [--bin target/release/zkgrad] [--ops Add,Relu,...]
           [--atol 2e-2] [--rtol 2e-2] [--timeout 60] [--report FILE] [--filter REGEX]
           [--as-constants none|int|rest] [--max-opset N] [--zkgrad-calibration] [--list]
           [--jobs N]
needs: pip install onnx numpy (and a release build of zkgrad, unless --list)

Cases: onnx/backend/test/data/node/<case>/{model.onnx, test_data_set_0/input_*.pb, output_*.pb}.
This onnx wheel ships none, so unless --data DIR names such a folder they are generated once from
onnx.backend.test.case.node into --cache (default /tmp/onnx_node_tests). A case is selected when
every node of its model has an op type of --ops (default: the op types of the TABLE in
crates/onnx/src/registry.rs, read by regex) in the default domain, and every graph input and
output is a float32 tensor. Node tests feed everything as graph inputs, while zkgrad wants
weights, shapes and axes as initializers, so --as-constants can first turn graph inputs into
initializers holding the case's values: `int` the integer ones (Reshape's shape, Slice's
starts...), `rest` every one but the first (Gemm's B and C, Conv's W, LayerNorm's scale...).
Most cases are stamped with the opset their op last changed in (25 for Flatten, Reshape,
Transpose... in onnx 1.23, for new types only); --max-opset N converts newer models down to N
with onnx.version_converter (a case it cannot convert is left out).

For each case: the inputs become {"input_data": [flat list per graph input]}, then
`BIN prove --model M --input in.json --calibration in.json --proof P --json` (calibrated on the
case's own input; --zkgrad-calibration keeps zkgrad's default), then `BIN verify` with the same
flags, and the proven output ("output_data" of the JSON summary, one flat list per output) is
compared with output_*.pb: |got - want| <= atol + rtol * |want| everywhere. Outcomes:
  pass      proved, verified, within tolerance
  refused   prove exited non-zero without crashing (the reason: its `error:` line)
  wrong     proved and verified, but outside tolerance (or a different number of values)
  rejected  proved, but verify did not accept the proof
  crashed   a panic, a signal, a timeout, or a summary that is not the expected JSON
Prints a table per op and totals; --report FILE writes them as markdown, with every refusal
reason grouped and every non-passing case listed.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper, version_converter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGISTRY = os.path.join(ROOT, "crates/onnx/src/registry.rs")
INTS = (TensorProto.INT64, TensorProto.INT32)
CONSTANTS = {"none": "none (cases with non-float inputs skipped)",
             "int": "the integer ones (shapes, axes, indices...)",
             "rest": "all but the first (weights, shapes, axes...)"}
OUTCOMES = ["pass", "refused", "wrong", "rejected", "crashed"]


def registry_ops():
    """The op types of registry.rs's TABLE: lines like `("Gemm", linear::gemm),`."""
    text = open(REGISTRY).read()
    table = text[text.index("const TABLE"):]
    table = table[:table.index("];")]
    return re.findall(r'\(\s*"(\w+)"\s*,', table)


def node_data_dir(args):
    """The node test cases: --data, the onnx package's own, or ones generated into --cache."""
    if args.data:
        return args.data
    shipped = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/node")
    if os.path.isdir(shipped) and os.listdir(shipped):
        return shipped
    out = os.path.join(args.cache, "node")
    if os.path.isdir(out) and os.listdir(out):
        return out
    print(f"generating ONNX node test cases into {out} ...", file=sys.stderr)
    partial = out + ".partial"
    import warnings

    import onnx.backend.test.case.node as node_cases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node_cases.collect_testcases()
    for case in cases:
        d = os.path.join(partial, case.name, "test_data_set_0")
        os.makedirs(d, exist_ok=True)
        onnx.save(case.model, os.path.join(partial, case.name, "model.onnx"))
        inputs, outputs = case.data_sets[0]
        for kind, values, infos in (("input", inputs, case.model.graph.input),
                                    ("output", outputs, case.model.graph.output)):
            for j, (v, info) in enumerate(zip(values, infos)):
                if not info.type.HasField("tensor_type"):
                    continue  # sequences, maps, optionals: never selected
                if not isinstance(v, TensorProto):
                    v = numpy_helper.from_array(np.asarray(v), info.name)
                with open(os.path.join(d, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(v.SerializeToString())
    os.rename(partial, out)
    return out


def load_tensors(d, kind, n):
    out = []
    for j in range(n):
        t = TensorProto()
        with open(os.path.join(d, f"{kind}_{j}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        out.append(numpy_helper.to_array(t))
    return out


def elem_type(info):
    return info.type.tensor_type.elem_type if info.type.HasField("tensor_type") else None


def select(case_dir, ops, as_constants, max_opset):
    """Returns (model, inputs, outputs) for a case zkgrad should handle, else None."""
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if max_opset and opset > max_opset:
        try:
            model = version_converter.convert_version(model, max_opset)
        except Exception:  # noqa: BLE001 - no adapter down to max_opset: not a case for us
            return None
    g = model.graph
    if any(n.domain not in ("", "ai.onnx") or n.op_type not in ops for n in g.node):
        return None
    if any(elem_type(o) != TensorProto.FLOAT for o in g.output):
        return None
    infos = list(g.input)
    const = [as_constants == "rest" and k > 0 or as_constants == "int" and elem_type(i) in INTS
             for k, i in enumerate(infos)]
    if any(elem_type(i) != TensorProto.FLOAT and not c for i, c in zip(infos, const)):
        return None
    data = os.path.join(case_dir, "test_data_set_0")
    inputs = load_tensors(data, "input", len(infos))
    outputs = load_tensors(data, "output", len(g.output))
    for info, value, c in zip(infos, inputs, const):
        if c:
            g.initializer.append(numpy_helper.from_array(value, info.name))
            g.input.remove(info)
    return model, [x for x, c in zip(inputs, const) if not c], outputs


def case_op(name, model, data):
    """The op a case tests: its one node's type, or (expanded functions) its twin case's."""
    twin = re.sub(r"_expanded(_ver\d+)?$", "", name)
    if twin == name:
        return "+".join(sorted({n.op_type for n in model.graph.node}))
    try:
        nodes = onnx.load(os.path.join(data, twin, "model.onnx")).graph.node
        return f"{nodes[0].op_type} (expanded)"
    except (OSError, IndexError):
        return f"{twin} (expanded)"


def error_line(stderr):
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("error")]
    return (errors or lines or ["(no message)"])[-1][:300]


def run_case(args, name, model, inputs, outputs):
    """Proves and verifies one case; returns (outcome, detail)."""
    with tempfile.TemporaryDirectory() as t:
        mpath, ipath, proof = (os.path.join(t, f) for f in ("model.onnx", "in.json", "p.zkp"))
        onnx.save(model, mpath)
        with open(ipath, "w") as f:
            json.dump({"input_data": [x.reshape(-1).astype(float).tolist() for x in inputs]}, f)
        flags = ["--model", mpath] + ([] if args.zkgrad_calibration else ["--calibration", ipath])
        try:
            p = subprocess.run([args.bin, "prove", *flags, "--input", ipath, "--proof", proof,
                                "--json"], capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return "crashed", f"prove timed out after {args.timeout:g} s"
        if p.returncode != 0:
            if p.returncode < 0 or p.returncode == 101 or "panicked" in p.stderr:
                return "crashed", f"prove exit {p.returncode}: {error_line(p.stderr)}"
            return "refused", error_line(p.stderr)
        try:
            got = [np.asarray(v, dtype=np.float64) for v in json.loads(p.stdout)["output_data"]]
        except (ValueError, KeyError, TypeError) as e:
            return "crashed", f"prove summary unreadable: {e}"
        try:
            v = subprocess.run([args.bin, "verify", *flags, "--proof", proof],
                               capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return "crashed", f"verify timed out after {args.timeout:g} s"
        if v.returncode != 0:
            return "rejected", f"verify exit {v.returncode}: {error_line(v.stderr + v.stdout)}"
    want = [np.asarray(o, dtype=np.float64).reshape(-1) for o in outputs]
    if [w.size for w in want] != [g.size for g in got]:
        return "wrong", f"output sizes {[g.size for g in got]}, expected {[w.size for w in want]}"
    worst = 0.0
    for g, w in zip(got, want):
        if w.size:
            excess = np.abs(g - w) - (args.atol + args.rtol * np.abs(w))
            worst = max(worst, float(np.nan_to_num(excess, nan=np.inf).max()))
    err = max((float(np.abs(g - w).max()) for g, w in zip(got, want) if w.size), default=0.0)
    if worst > 0:
        return "wrong", f"max abs error {err:.3g} (over tolerance by {worst:.3g})"
    return "pass", f"max abs error {err:.3g}"


def reason_group(detail):
    """A refusal reason without the case's paths, node names, shapes and values."""
    s = re.sub(r"^error: (model|calibration file) \S+: ", "", detail)
    s = re.sub(r"at node \S+", "at node ...", s)
    s = re.sub(r"node [^\s(]*\([^)]*\)[^\s:]*", "node", s)
    s = re.sub(r"(input|output|tensor) (?!(is|of|has|must)\b)[A-Za-z_][\w./-]*", r"\1 X", s)
    s = re.sub(r"\[[\d, ]*\]", "[..]", s)
    return re.sub(r"value -?\d+ \(≈ [^)]*\)|-?\d+\.\d+(e-?\d+)?", "N", s)


def tables(results):
    by_op = collections.defaultdict(collections.Counter)
    for r in results:
        by_op[r["op"]][r["outcome"]] += 1
    total = collections.Counter(r["outcome"] for r in results)
    head = "| op | cases | " + " | ".join(OUTCOMES) + " |"
    rows = [head, "|---" * (len(OUTCOMES) + 2) + "|"]
    for op in sorted(by_op):
        c = by_op[op]
        rows.append(f"| {op} | {sum(c.values())} | "
                    + " | ".join(str(c[o]) for o in OUTCOMES) + " |")
    rows.append(f"| **total** | {len(results)} | "
                + " | ".join(str(total[o]) for o in OUTCOMES) + " |")
    reasons = collections.Counter(reason_group(r["detail"]) for r in results
                                  if r["outcome"] == "refused")
    return rows, [f"- {n} x `{reason}`" for reason, n in reasons.most_common()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/zkgrad"))
    ap.add_argument("--ops", help="comma-separated op types (default: registry.rs's TABLE)")
    ap.add_argument("--data", help="a folder of node test cases (default: generated)")
    ap.add_argument("--cache", default="/tmp/onnx_node_tests")
    ap.add_argument("--atol", type=float, default=2e-2)
    ap.add_argument("--rtol", type=float, default=2e-2)
    ap.add_argument("--timeout", type=float, default=60, help="seconds per prove/verify")
    ap.add_argument("--filter", help="regex on case names")
    ap.add_argument("--as-constants", choices=["none", "int", "rest"], default="none",
                    help="graph inputs to make initializers: none, the integer ones, or all "
                         "but the first")
    ap.add_argument("--max-opset", type=int, metavar="N",
                    help="convert newer cases down to opset N with onnx.version_converter")
    ap.add_argument("--zkgrad-calibration", action="store_true",
                    help="calibrate on zkgrad's default samples, not on the case's input")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="only list the selected cases")
    ap.add_argument("--report", metavar="FILE", help="write a markdown report")
    args = ap.parse_args()

    ops = set(args.ops.split(",")) if args.ops else set(registry_ops())
    data = node_data_dir(args)
    names = sorted(os.listdir(data))
    cases = []
    for name in names:
        if args.filter and not re.search(args.filter, name):
            continue
        picked = select(os.path.join(data, name), ops, args.as_constants, args.max_opset)
        if picked:
            cases.append((name, *picked))
    print(f"{len(cases)} of {len(names)} node test cases use only {len(ops)} op types "
          f"with float tensors in and out ({data}; inputs made constants: "
          f"{CONSTANTS[args.as_constants]})")
    if args.list:
        for name, model, inputs, outputs in cases:
            shapes = [list(x.shape) for x in inputs], [list(y.shape) for y in outputs]
            print(f"  {name}: {case_op(name, model, data)}; inputs {shapes[0]} -> {shapes[1]}")
        return 0

    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no zkgrad binary at {args.bin} (cargo build --release, or --bin)")
    help_text = subprocess.run([args.bin, "prove", "--help"], capture_output=True, text=True).stdout
    needed = ["--json", "--input", "--proof", "--calibration"]
    for flag in needed[:3] if args.zkgrad_calibration else needed:
        if flag not in help_text:
            sys.exit(f"{args.bin} prove has no {flag} flag")

    def one(case):
        name, model, inputs, outputs = case
        outcome, detail = run_case(args, name, model, inputs, outputs)
        return {"case": name, "op": case_op(name, model, data), "outcome": outcome,
                "detail": detail}

    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for r in pool.map(one, cases):
            results.append(r)
            print(f"{r['outcome']:8} {r['case']}: {r['detail']}", flush=True)
    rows, groups = tables(results)
    print("\n" + "\n".join(rows) + "\n\nrefusal reasons:\n" + "\n".join(groups))
    if args.report:
        settings = (f"binary `{args.bin}`, tolerance {args.atol:g} + "
                    f"{args.rtol:g}·abs(expected), timeout {args.timeout:g} s, calibration "
                    f"{'zkgrad default' if args.zkgrad_calibration else 'the case input'}, "
                    f"graph inputs made constants: {CONSTANTS[args.as_constants]}, newer opsets "
                    f"{f'converted to {args.max_opset}' if args.max_opset else 'kept'}")
        lines = ["# ONNX node conformance of zkgrad", "",
                 f"`python3 scripts/{os.path.basename(__file__)} {' '.join(sys.argv[1:])}`", "",
                 f"{len(results)} of {len(names)} ONNX {onnx.__version__} node test cases use only "
                 f"the {len(ops)} op types and float tensors in and out; {settings}.", "",
                 *rows, "", "## Refusal reasons", "", *groups, "", "## Cases not passing", "",
                 "| case | op | outcome | detail |", "|---|---|---|---|"]
        lines += [f"| {r['case']} | {r['op']} | {r['outcome']} | {r['detail'].replace('|', '/')} |"
                  for r in results if r["outcome"] != "pass"]
        with open(args.report, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
