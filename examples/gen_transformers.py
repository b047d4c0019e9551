#!/usr/bin/env python3
"""Exports small transformer models (random seeded weights) to ONNX under examples/transformers/.

usage: python3 examples/gen_transformers.py [NAME ...]       (default: every model below)
       python3 examples/gen_transformers.py --gpt2-124m DIR   (GPT-2 124M, dynamo only; ~500 MB,
                                                             about 20 s; not committed)
       python3 examples/gen_transformers.py --bert6 DIR       (a 6-layer BERT encoder, d 384,
                                                             22M parameters; not committed)
needs: pip install torch transformers onnx onnxscript onnxruntime numpy

Every model is built from a config object (no model hub), under torch.manual_seed(0); then every
parameter gets seeded noise (p += 0.02 * randn) so that no two initializers are equal (LayerNorm
weights not all 1, biases not all 0), and the model is put in eval mode. Shapes are static.

- sentiment: nn.Embedding(14, 8) on int64 ids [1, 5] = [[3, 4, 5, 0, 0]], summed over the
  sequence, times a constant vector plus a constant: (emb(ids).sum(1) * w + b) -> [1, 8].
- gpt2_tiny: GPT2LMHeadModel(GPT2Config(vocab 64, n_positions 16, n_embd 32, 2 layers, 2 heads)),
  eager attention, use_cache=False; ids [1, 8] -> logits [1, 8, 64].
- nanogpt: GPT-2 with vocab 65, n_positions 64, n_embd 64, 5 layers, 4 heads (258,304
  parameters); ids [1, 16] -> logits [1, 16, 65].
- bert_tiny: BertModel(vocab 64, hidden 32, 2 layers, 2 heads, intermediate 64, max_position 16),
  eager attention, input_ids only (the attention mask is all ones and the token types all zero,
  made inside the model); ids [1, 8] -> last_hidden_state [1, 8, 32].

Each goes to examples/transformers/<name>/: model.onnx (dynamo exporter, opset 18: the main
one; the per-node Python stack traces it records are dropped, as they hold local paths),
model_ts.onnx (TorchScript exporter, opset 17), input.json ({"input_data": [[ids...]]},
one flat list per graph input in graph-input order), and onnxruntime_output.json /
onnxruntime_output_ts.json (ONNX Runtime's outputs: {"outputs": {name: flat list}, "shapes":
{name: shape}}). The op counts of every file are printed and written to
examples/transformers/README.md.

The GPT-2 models (both sizes) call the model with an explicit all-ones attention_mask made inside
the wrapper. Without it, transformers 5 looks for packed sequences in the position ids with
torch.diff while building the causal mask, and the TorchScript exporter fails on it
("aten::diff ... not supported"). The mask is a constant of the graph, not an input.
"""
import argparse
import collections
import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "transformers")
SEED = 0
MODELS = ["sentiment", "gpt2_tiny", "nanogpt", "bert_tiny"]


class Sentiment(nn.Module):
    def __init__(self, vocab=14, d=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.w = nn.Parameter(torch.randn(d))
        self.b = nn.Parameter(torch.randn(1))

    def forward(self, ids):
        return self.emb(ids).sum(1) * self.w + self.b


class Logits(nn.Module):
    """A causal LM called on ids alone (mask of ones, no cache), returning its logits."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, ids):
        return self.lm(ids, attention_mask=torch.ones_like(ids), use_cache=False).logits


class LastHidden(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, ids):
        return self.encoder(ids).last_hidden_state


def perturb(model, scale=0.02):
    """Adds seeded noise to every parameter, then puts the model in eval mode."""
    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    return model.eval()


def gpt2(**config):
    cfg = GPT2Config(bos_token_id=0, eos_token_id=0, attn_implementation="eager", **config)
    return Logits(GPT2LMHeadModel(cfg)), cfg


def ids(n, vocab):
    return torch.randint(0, vocab, (1, n), generator=torch.Generator().manual_seed(SEED + 2))


def build(name):
    """Returns (module, example ids, config text) for one model, weights seeded and perturbed."""
    torch.manual_seed(SEED)
    if name == "sentiment":
        model, cfg = Sentiment(), "nn.Embedding(14, 8); (emb(ids).sum(1) * w + b), w: [8], b: [1]"
        x = torch.tensor([[3, 4, 5, 0, 0]])
    elif name == "gpt2_tiny":
        model, cfg = gpt2(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2)
        x = ids(8, 64)
    elif name == "nanogpt":
        model, cfg = gpt2(vocab_size=65, n_positions=64, n_embd=64, n_layer=5, n_head=4)
        x = ids(16, 65)
    elif name == "bert_tiny":
        cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=16,
                         attn_implementation="eager")
        model = LastHidden(BertModel(cfg, add_pooling_layer=False))
        x = ids(8, 64)
    else:
        raise SystemExit(f"unknown model {name}")
    if not isinstance(cfg, str):
        keys = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "hidden_size",
                "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings")
        cfg = f"{type(cfg).__name__}(" + ", ".join(
            f"{k}={getattr(cfg, k)}" for k in keys if k in cfg.to_dict()) + ")"
    return perturb(model), x, cfg


def export(model, x, path, dynamo):
    """Exports with one exporter; returns None, or the reason it failed."""
    try:
        if dynamo:
            torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18,
                              external_data=False, verbose=False, input_names=["input_ids"],
                              output_names=["output"])
            drop_stack_traces(path)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
                              input_names=["input_ids"], output_names=["output"])
        onnx.checker.check_model(path)
        return None
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        if os.path.exists(path):
            os.remove(path)
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"


def drop_stack_traces(path):
    """Removes the dynamo exporter's per-node Python stack traces (local paths, line numbers)."""
    model = onnx.load(path)
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    onnx.save(model, path)


def op_counts(path):
    model = onnx.load(path, load_external_data=False)
    nodes = list(model.graph.node) + [n for f in model.functions for n in f.node]
    return dict(sorted(collections.Counter(n.op_type for n in nodes).items()))


def run_ort(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {i.name: x.numpy() for i in sess.get_inputs()}
    outs = sess.run(None, feed)
    names = [o.name for o in sess.get_outputs()]
    return {"outputs": {n: o.reshape(-1).tolist() for n, o in zip(names, outs)},
            "shapes": {n: list(o.shape) for n, o in zip(names, outs)}}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
        f.write("\n")


def generate(name):
    model, x, cfg = build(name)
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        expected = model(x).numpy()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "input.json"), {"input_data": [x.reshape(-1).tolist()]})
    section = {"name": name, "config": cfg, "params": params, "shape": list(x.shape), "exports": {}}
    for file, dynamo, out_json in (("model.onnx", True, "onnxruntime_output.json"),
                                   ("model_ts.onnx", False, "onnxruntime_output_ts.json")):
        path = os.path.join(d, file)
        failure = export(model, x, path, dynamo)
        if failure:
            print(f"{name}/{file}: export FAILED: {failure}")
            section["exports"][file] = {"failed": failure}
            continue
        res = run_ort(path, x)
        write_json(os.path.join(d, out_json), res)
        got = np.array(next(iter(res["outputs"].values())))
        diff = float(np.abs(got - expected.reshape(-1)).max())
        ops = op_counts(path)
        size = os.path.getsize(path)
        print(f"{name}/{file}: {size} bytes, {sum(ops.values())} nodes, max |ORT - torch| "
              f"{diff:.2e}\n  {ops}")
        section["exports"][file] = {"ops": ops, "bytes": size, "diff": diff,
                                    "inputs": [i.name for i in onnx.load(path).graph.input]}
    print(f"{name}: {cfg}, {params:,} parameters")
    return section


def section_md(s):
    lines = [f"## {s['name']}", "", f"- config: {s['config']}", f"- parameters: {s['params']:,}",
             f"- input ids: shape {s['shape']}",
             f"- regenerate: `python3 examples/gen_transformers.py {s['name']}`"]
    ok = {f: e for f, e in s["exports"].items() if "failed" not in e}
    for file, e in s["exports"].items():
        lines.append(f"- `{file}`: export failed: `{e['failed']}`" if file not in ok else
                     f"- `{file}`: {e['bytes']:,} bytes, {sum(e['ops'].values())} nodes, graph "
                     f"inputs {e['inputs']}, max abs(ONNX Runtime - PyTorch) {e['diff']:.1e}")
    ops = sorted({op for e in ok.values() for op in e["ops"]})
    lines += ["", "| op | " + " | ".join(ok) + " |", "|---" * (len(ok) + 1) + "|"]
    lines += [f"| {op} | " + " | ".join(str(e["ops"].get(op, "")) for e in ok.values()) + " |"
              for op in ops]
    return "\n".join(lines) + "\n"


HEADER = """# Transformer examples

Generated by `python3 examples/gen_transformers.py` (see its docstring): random seeded weights
(torch.manual_seed(0), every parameter then perturbed by 0.02·randn), eval mode, static shapes.
`model.onnx`: dynamo exporter, opset 18; `model_ts.onnx`: TorchScript exporter, opset 17.
`input.json` holds the token ids; `onnxruntime_output.json` (for model.onnx) and
`onnxruntime_output_ts.json` (for model_ts.onnx) ONNX Runtime's outputs for them.

The GPT-2 wrappers pass an all-ones attention_mask made inside the model: without it
transformers 5 calls torch.diff on the position ids (packed-sequence detection) while building
the causal mask, and the TorchScript exporter fails (`aten::diff ... not supported`).
bert_tiny exports with input_ids alone (both exporters): its mask of ones and its token type ids
of zeros are made inside the model.
"""


def write_readme(sections):
    """Rewrites README.md, replacing the sections of the models just generated."""
    path = os.path.join(OUT, "README.md")
    old = open(path).read().split("\n## ")[1:] if os.path.exists(path) else []
    md = {text.split("\n", 1)[0]: "## " + text.rstrip() + "\n" for text in old}
    md.update({s["name"]: section_md(s) for s in sections})
    order = [n for n in MODELS if n in md] + [n for n in md if n not in MODELS]
    with open(path, "w") as f:
        f.write("\n".join([HEADER] + [md[n] for n in order]))


def gpt2_124m(out_dir):
    """GPT-2 124M (GPT2Config() defaults), random perturbed weights, dynamo export with its weights
    in model.onnx.data, a 16-token input and ONNX Runtime's output. Not committed (~500 MB)."""
    torch.manual_seed(SEED)
    model, _ = gpt2()
    model = perturb(model)
    x = ids(16, 50257)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18, external_data=True,
                      verbose=False,
                      input_names=["input_ids"], output_names=["output"])
    write_json(os.path.join(out_dir, "input.json"), {"input_data": [x.reshape(-1).tolist()]})
    # The generation benchmark's prompt: the input's first 8 ids.
    write_json(os.path.join(out_dir, "prompt.json"), {"input_data": [x.reshape(-1)[:8].tolist()]})
    write_json(os.path.join(out_dir, "onnxruntime_output.json"), run_ort(path, x))
    print(f"{path}: {sum(p.numel() for p in model.parameters()):,} parameters\n  {op_counts(path)}")


def bert6(out_dir):
    """The 6-layer BERT encoder of the transformer benchmarks: BertConfig(hidden 384, 6 layers,
    12 heads, intermediate 1536; vocabulary 30522 and 512 positions by default), about 22M
    parameters, random perturbed weights, input_ids only, dynamo export (one file), a 16-token
    input and ONNX Runtime's last hidden state. Not committed (~90 MB)."""
    torch.manual_seed(SEED)
    cfg = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                     intermediate_size=1536, attn_implementation="eager")
    model = perturb(LastHidden(BertModel(cfg, add_pooling_layer=False)))
    x = ids(16, cfg.vocab_size)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    failure = export(model, x, path, dynamo=True)
    if failure:
        raise SystemExit(f"{path}: export failed: {failure}")
    write_json(os.path.join(out_dir, "input.json"), {"input_data": [x.reshape(-1).tolist()]})
    write_json(os.path.join(out_dir, "onnxruntime_output.json"), run_ort(path, x))
    print(f"{path}: {sum(p.numel() for p in model.parameters()):,} parameters\n  {op_counts(path)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS, help=f"some of {MODELS}")
    ap.add_argument("--gpt2-124m", metavar="DIR", help="export GPT-2 124M into DIR instead")
    ap.add_argument("--bert6", metavar="DIR", help="export the 6-layer BERT (d 384) into DIR instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter's
    if args.gpt2_124m:
        return gpt2_124m(args.gpt2_124m)
    if args.bert6:
        return bert6(args.bert6)
    sections = [generate(name) for name in args.models]
    write_readme(sections)


if __name__ == "__main__":
    sys.exit(main())
