"""PyTorch front end: prove a `torch.nn.Module` without touching ONNX yourself.

    import torch, zkgrad.torch
    proof = zkgrad.torch.prove(module, example_input)   # exports, loads, proves
    zkgrad.verify(proof, proof.model)

The module is exported with `torch.onnx.export` (the TorchScript exporter, opset 17) on
`example_input`, then proven on that same input.
"""

from __future__ import annotations

import io
from typing import Any, Optional

from . import Model, Proof


def export(module: Any, example_input: Any, opset: int = 17) -> bytes:
    """The module as ONNX bytes, exported on `example_input` (in eval mode)."""
    import torch

    was_training = module.training
    module.eval()
    try:
        buf = io.BytesIO()
        args = example_input if isinstance(example_input, tuple) else (example_input,)
        with torch.no_grad():
            torch.onnx.export(module, args, buf, opset_version=opset, dynamo=False,
                              input_names=["input"], output_names=["output"])
        return buf.getvalue()
    finally:
        module.train(was_training)


def prove(module: Any, example_input: Any, scheme: str = "auto", **precision: Any) -> Proof:
    """Exports `module` on `example_input` and proves it on that input. The returned proof's
    `.model` is the zkgrad.Model it was proven with (for zkgrad.verify)."""
    model = Model(export(module, example_input), scheme=scheme, **precision)
    proof = model.prove(example_input)
    proof.model = model  # type: ignore[attr-defined]
    return proof


class _Logits:
    """A causal language model as ids → logits (no cache, all positions attended as causal)."""

    def __new__(cls, lm):
        import torch

        class Logits(torch.nn.Module):
            def __init__(self, lm):
                super().__init__()
                self.lm = lm

            def forward(self, ids):
                return self.lm(input_ids=ids, attention_mask=torch.ones_like(ids),
                               use_cache=False).logits

        return Logits(lm)


def export_hf(directory: Any, seq_len: int = 16, opset: int = 17) -> bytes:
    """A Hugging Face checkpoint directory (`config.json` and weights, as `save_pretrained`
    writes them) as ONNX bytes: a causal language model (`…ForCausalLM`, `…LMHeadModel`) as
    token ids → logits, anything else as `AutoModel`'s first output, exported on `seq_len` ids
    with a dynamic sequence axis (zkgrad specializes it to each input's length)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(directory)
    arch = (getattr(cfg, "architectures", None) or [""])[0]
    causal = arch.endswith("ForCausalLM") or arch.endswith("LMHeadModel")
    kwargs = {"attn_implementation": "eager"}
    if causal:
        module = _Logits(AutoModelForCausalLM.from_pretrained(directory, **kwargs))
    else:
        base = AutoModel.from_pretrained(directory, **kwargs)

        class First(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, ids):
                return self.m(input_ids=ids, attention_mask=torch.ones_like(ids))[0]

        module = First(base)
    module.eval()
    ids = torch.arange(seq_len).reshape(1, seq_len) % max(2, int(cfg.vocab_size))
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (ids,), buf, opset_version=opset, dynamo=False,
                          input_names=["input_ids"], output_names=["output"],
                          dynamic_axes={"input_ids": {1: "sequence"}, "output": {1: "sequence"}})
    return buf.getvalue()
