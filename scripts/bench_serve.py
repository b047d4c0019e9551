#!/usr/bin/env python3
"""The proving service's benchmarks (BENCHMARKS.md, "Proving service"):

1. jobs per minute for the seed MLP (examples/mlp/mlp.onnx) on one machine, with 1 and 2
   workers: N prove jobs posted at once, timed from the first post until all have succeeded;
2. the service's overhead over the CLI for a VGG-16-sized proof (VGG-16 at CIFAR size, as
   `zkgrad bench --suite cnn`'s, exported from torch with seeded random weights): the median
   wall time of `zkgrad prove` against the median time from posting a prove job to seeing it
   succeeded (polled every 10 ms), same model, input and options.

Usage: python3 scripts/bench_serve.py [--zkgrad target/release/zkgrad] [--jobs 200] [--runs 5]
       [--skip-vgg]
Needs torch and onnx for the VGG-16 export (pip install torch onnx).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def http(method, url, body=None, content_type="application/json"):
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


class Server:
    def __init__(self, zkgrad, data, workers):
        self.p = subprocess.Popen(
            [zkgrad, "serve", "--addr", "127.0.0.1:0", "--data", data, "--workers", str(workers)],
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        for line in self.p.stderr:
            if "listening on " in line:
                self.url = line.split("listening on ")[1].split(";")[0].split()[0]
                break
        else:
            raise SystemExit("zkgrad serve did not start")

    def upload(self, path):
        with open(path, "rb") as f:
            return http("POST", self.url + "/v1/models", f.read(), "application/octet-stream")["model_id"]

    def prove(self, model_id, inp, options=None):
        body = {"kind": "prove", "model_id": model_id, "input": inp}
        if options:
            body["options"] = options
        return http("POST", self.url + "/v1/jobs", json.dumps(body).encode())["job_id"]

    def wait(self, job_id, poll=0.01):
        while True:
            j = http("GET", f"{self.url}/v1/jobs/{job_id}")
            if j["state"] not in ("queued", "running"):
                if j["state"] != "succeeded":
                    raise SystemExit(f"job {job_id}: {j}")
                return j
            time.sleep(poll)

    def stop(self):
        self.p.kill()
        self.p.wait()


def export_vgg16(path, input_path):
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    layers, c_in = [], 3
    for c in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]:
        if c == 0:
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
            c_in = c
    model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10)).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.onnx.export(model, x, path, opset_version=17, dynamo=False)
    with open(input_path, "w") as f:
        json.dump({"input_data": x.reshape(1, -1).tolist()}, f)
    return sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zkgrad", default=os.path.join(ROOT, "target/release/zkgrad"))
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-vgg", action="store_true", help="only the seed MLP's jobs per minute")
    a = ap.parse_args()
    zk = os.path.abspath(a.zkgrad)
    tmp = tempfile.mkdtemp(prefix="zkgrad-bench-serve-")
    mlp = os.path.join(ROOT, "examples/mlp/mlp.onnx")
    with open(os.path.join(ROOT, "examples/mlp/input.json")) as f:
        mlp_input = json.load(f)

    rows = []
    for workers in (1, 2):
        s = Server(zk, os.path.join(tmp, f"mlp-{workers}"), workers)
        try:
            m = s.upload(mlp)
            t0 = time.perf_counter()
            ids = [s.prove(m, mlp_input) for _ in range(a.jobs)]
            for i in ids:
                s.wait(i, poll=0.005)
            dt = time.perf_counter() - t0
        finally:
            s.stop()
        rows.append(f"| seed MLP, {a.jobs} prove jobs posted at once, {workers} worker(s) | "
                    f"{a.jobs / dt * 60:.0f} jobs/min ({dt / a.jobs * 1e3:.1f} ms a job, end to end) |")

    if a.skip_vgg:
        print("| workload | figure |\n|---|---|")
        print("\n".join(rows))
        return
    vgg = os.path.join(tmp, "vgg16.onnx")
    vgg_in = os.path.join(tmp, "vgg16_input.json")
    params = export_vgg16(vgg, vgg_in)
    cli = []
    for r in range(a.runs):
        t0 = time.perf_counter()
        subprocess.run([zk, "prove", "--model", vgg, "--input", vgg_in, "--proof",
                        os.path.join(tmp, "cli.zkp"), "--pcs", "whir", "--json"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli.append(time.perf_counter() - t0)
    s = Server(zk, os.path.join(tmp, "vgg"), 1)
    svc = []
    try:
        m = s.upload(vgg)
        with open(vgg_in) as f:
            inp = json.load(f)
        for r in range(a.runs):
            t0 = time.perf_counter()
            s.wait(s.prove(m, inp, {"pcs": "whir"}))
            svc.append(time.perf_counter() - t0)
    finally:
        s.stop()
    c, v = statistics.median(cli), statistics.median(svc)
    rows.append(f"| VGG-16 (CIFAR, {params:,} parameters, WHIR): `zkgrad prove` command | "
                f"{c:.2f} s (median of {a.runs}: {', '.join(f'{x:.2f}' for x in cli)}) |")
    rows.append(f"| VGG-16: post → succeeded through `zkgrad serve` | "
                f"{v:.2f} s (median of {a.runs}: {', '.join(f'{x:.2f}' for x in svc)}); "
                f"overhead {100 * (v - c) / c:+.1f}% |")
    print("| workload | figure |\n|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
