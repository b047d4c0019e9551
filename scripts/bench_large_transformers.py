#!/usr/bin/env python3
"""Measures issue 14's large-transformer targets with the `zkgrad` commands a user runs, and
prints them beside the targets (markdown).

usage: python3 scripts/bench_large_transformers.py [--zkgrad target/release/zkgrad]
           [--dir /tmp/zkgrad-large] [--runs 3] [--idle 30] [--only gpt2,generate,bert6]

- gpt2: GPT-2 124M, 16-token prefill, all logits public: `zkgrad prove --pcs whir` (prove time
  without the one-time weight commitment, proof body, peak RSS), `zkgrad verify --commitment`
  (verify_ms), top-1 agreement and max |error| of the proven logits against ONNX Runtime.
- generate: verified greedy generation of 8 tokens after the 8-token prompt, the whole
  `zkgrad generate` command: --runs back to back (after one warm-up run), then --runs "cold"
  runs, each after --idle seconds without work (0: none). The tokens must agree in every run.
- bert6: the 6-layer BERT encoder (d 384), 16 tokens, `zkgrad prove --pcs ligero`, and the
  cosine similarity of the proven last hidden state to ONNX Runtime's.

The models are exported first where DIR lacks them (`examples/gen_transformers.py --gpt2-124m`
and `--bert6`, which need torch, transformers, onnx, onnxscript and onnxruntime). Peak RSS, user
and system time are each child's own (`os.wait4`). Every figure printed is measured here; a run
that fails stops the script with its stderr.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, what):
    """Runs cmd as a child reaped with os.wait4: (stdout, wall, user, sys, peak RSS bytes)."""
    out_path = os.path.join(ARGS.dir, ".stdout")
    err_path = os.path.join(ARGS.dir, ".stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        with open(err_path, "rb") as e:
            tail = e.read()[-3000:].decode(errors="replace")
        sys.exit(f"{what} failed (exit {code}): {' '.join(cmd)}\n{tail}")
    with open(out_path, "rb") as f:
        stdout = f.read()
    return stdout, wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss * 1024


def export(flag, d):
    if os.path.exists(os.path.join(d, "model.onnx")):
        return
    print(f"exporting {d} (examples/gen_transformers.py {flag}) …", file=sys.stderr)
    gen = os.path.join(ROOT, "examples", "gen_transformers.py")
    if subprocess.call([sys.executable, gen, flag, d]) != 0:
        sys.exit(f"the export into {d} failed (it needs torch, transformers, onnx, onnxscript "
                 "and onnxruntime)")


def ort_output(d):
    with open(os.path.join(d, "onnxruntime_output.json")) as f:
        res = json.load(f)
    name = next(iter(res["outputs"]))
    return res["outputs"][name], res["shapes"][name]


def proven_output(path):
    with open(path) as f:
        return [v for row in json.load(f)["output_data"] for v in row]


def rng(xs, fmt="{:.2f}"):
    lo, hi = fmt.format(min(xs)), fmt.format(max(xs))
    return lo if lo == hi else f"{lo}–{hi}"


def prove_cmd(zk, d, pcs):
    """`zkgrad prove` on DIR's model and input, writing DIR/bench.zkp and DIR/bench.out.json."""
    proof, out = os.path.join(d, "bench.zkp"), os.path.join(d, "bench.out.json")
    return proof, out, [zk, "prove", "--model", os.path.join(d, "model.onnx"), "--input",
                        os.path.join(d, "input.json"), "--proof", proof, "--output", out,
                        "--pcs", pcs, "--json"]


def prove_runs(prove, what):
    """One warm-up run, then --runs timed ones: (each run's timed() tuple, its JSON summary)."""
    timed(prove, f"{what} prove (warm-up)")
    runs = [timed(prove, f"{what} prove") for _ in range(ARGS.runs)]
    return runs, [json.loads(r[0]) for r in runs]


def gpt2(zk, rows):
    d = os.path.join(ARGS.dir, "gpt2_124m")
    export("--gpt2-124m", d)
    proof, out, prove = prove_cmd(zk, d, "whir")
    runs, js = prove_runs(prove, "GPT-2 124M")
    commitment = js[-1]["model_commitment"]
    verify = [zk, "verify", "--commitment", commitment, "--proof", proof, "--json"]
    vs = [json.loads(timed(verify, "GPT-2 124M verify")[0])["verify_ms"]
          for _ in range(ARGS.runs)]
    want, shape = ort_output(d)
    got = proven_output(out)
    vocab = shape[-1]
    top1 = sum(
        max(range(vocab), key=lambda j: got[i * vocab + j])
        == max(range(vocab), key=lambda j: want[i * vocab + j])
        for i in range(len(want) // vocab))
    err = max(abs(a - b) for a, b in zip(got, want))
    body = sorted({j["proof_body_bytes"] for j in js})
    rows += [
        ("GPT-2 124M, 16-token prefill: prove (without the weight commitment)",
         rng([j["prove_ms"] / 1e3 for j in js]) + " s", "≤ 10 s", "JOLT Atlas 14.9 s (14 cores)"),
        ("… weight commitment (one-time)", rng([j["weight_commit_ms"] / 1e3 for j in js]) + " s",
         "", ""),
        ("… the whole `zkgrad prove` command", rng([r[1] for r in runs]) + " s", "", ""),
        ("… proof body", ", ".join(f"{b:,} B" for b in body), "≤ 1 MiB (1,048,576 B)",
         "≈ 2.5 MiB (JOLT Atlas)"),
        ("… peak RSS", rng([r[4] / 1e9 for r in runs]) + " GB", "≤ 12 GB", ""),
        ("… verify by commitment (`verify_ms`)", rng(vs, "{:.0f}") + " ms", "≤ 200 ms",
         "1.04 s (JOLT Atlas)"),
        ("… top-1 agreement with ONNX Runtime", f"{top1}/{len(want) // vocab} (max error "
         f"{err:.2e})", "every position", ""),
    ]


def generation(zk, rows):
    d = os.path.join(ARGS.dir, "gpt2_124m")
    export("--gpt2-124m", d)
    proof = os.path.join(d, "gen.zkp")
    cmd = [zk, "generate", "--model", os.path.join(d, "model.onnx"), "--input",
           os.path.join(d, "prompt.json"), "--max-new-tokens", "8", "--proof", proof, "--json"]
    timed(cmd, "generate (warm-up: calibration, page cache)")

    def one(what):
        out, wall, user, sys_, peak = timed(cmd, what)
        j = json.loads(out)
        return j["generated"], wall, user, sys_, peak, j["proof_body_bytes"]

    b2b = [one("generate") for _ in range(ARGS.runs)]
    cold = []
    for _ in range(ARGS.runs if ARGS.idle > 0 else 0):
        time.sleep(ARGS.idle)
        cold.append(one("generate after idle"))
    tokens = {tuple(r[0]) for r in b2b + cold}
    if len(tokens) != 1:
        sys.exit(f"the generated tokens differ between runs: {sorted(tokens)}")
    rows += [
        ("GPT-2 124M: verified generation, 8 new tokens after 8, the whole `zkgrad generate` "
         "(load, commitment, decoding, proof), back to back",
         ", ".join(f"{r[1]:.2f}" for r in b2b) + " s", "≤ 12 s in all",
         "JOLT Atlas 14.9 s for 16 tokens (14 cores)"),
        ("… user · system time, back to back", rng([r[2] for r in b2b]) + " · "
         + rng([r[3] for r in b2b]) + " s", "", ""),
    ]
    if cold:
        rows += [
            (f"… each after {ARGS.idle:g} s idle", ", ".join(f"{r[1]:.2f}" for r in cold) + " s",
             "≤ 12 s in all", ""),
            (f"… user · system time after {ARGS.idle:g} s idle", rng([r[2] for r in cold])
             + " · " + rng([r[3] for r in cold]) + " s", "", ""),
        ]
    rows += [
        ("… peak RSS · proof body", rng([r[4] / 1e9 for r in b2b + cold]) + " GB · "
         + ", ".join(f"{b:,} B" for b in sorted({r[5] for r in b2b + cold})), "", ""),
        ("… generated ids", str(list(next(iter(tokens)))), "", ""),
    ]


def bert(zk, rows):
    d = os.path.join(ARGS.dir, "bert6")
    export("--bert6", d)
    _, out, prove = prove_cmd(zk, d, "ligero")
    runs, js = prove_runs(prove, "BERT-6")
    want, _ = ort_output(d)
    got = proven_output(out)
    dot = sum(a * b for a, b in zip(got, want))
    cos = dot / math.sqrt(sum(a * a for a in got) * sum(b * b for b in want))
    rows += [
        ("6-layer BERT encoder, d 384 (22.6M parameters), 16 tokens: prove (`--pcs ligero`)",
         rng([j["prove_ms"] / 1e3 for j in js]) + " s", "≤ 3 s", ""),
        ("… cosine similarity of the last hidden state to ONNX Runtime's", f"{cos:.9f}",
         "≥ 0.9999", ""),
        ("… proof body · peak RSS", ", ".join(f"{b:,} B" for b in sorted(
            {j["proof_body_bytes"] for j in js})) + " · " + rng([r[4] / 1e9 for r in runs])
         + " GB", "", ""),
    ]


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zkgrad", default=os.path.join(ROOT, "target", "release", "zkgrad"))
    ap.add_argument("--dir", default="/tmp/zkgrad-large",
                    help="where the exported models and proofs go")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=float, default=30,
                    help="seconds without work before each cold generation run (0: none)")
    ap.add_argument("--only", default="gpt2,generate,bert6")
    ARGS = ap.parse_args()
    if ARGS.runs < 1:
        sys.exit("--runs must be at least 1")
    if not os.access(ARGS.zkgrad, os.X_OK):
        sys.exit(f"{ARGS.zkgrad}: no zkgrad binary there (cargo build --release)")
    os.makedirs(ARGS.dir, exist_ok=True)
    rows = []
    steps = {"gpt2": gpt2, "generate": generation, "bert6": bert}
    for name in ARGS.only.split(","):
        if name not in steps:
            sys.exit(f"unknown part {name!r}; available: {', '.join(steps)}")
        steps[name](ARGS.zkgrad, rows)
    print(f"| workload ({ARGS.runs} runs each) | measured | target | peers |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


ARGS = None

if __name__ == "__main__":
    main()
