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
