#!/usr/bin/env python3
"""zkgrad from Python, as in a notebook: train a small PyTorch model, prove one prediction and
one SGD step, verify both.

    pip install ./crates/python torch onnx      # from the repository root
    python3 examples/python/train_and_prove.py

Each cell below is what one would type in a notebook.
"""

import logging

import numpy as np
import torch

import zkgrad
import zkgrad.torch

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

# --- 1. Train a small classifier in PyTorch (two Gaussian blobs in 4 dimensions). ---------------
torch.manual_seed(0)
n = 256
x = torch.cat([torch.randn(n // 2, 4) + 1.0, torch.randn(n // 2, 4) - 1.0])
y = torch.cat([torch.zeros(n // 2, dtype=torch.long), torch.ones(n // 2, dtype=torch.long)])
module = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.SGD(module.parameters(), lr=0.1)
for epoch in range(50):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(module(x), y)
    loss.backward()
    opt.step()
accuracy = (module(x).argmax(1) == y).float().mean().item()
print(f"trained: loss {loss.item():.4f}, accuracy {accuracy:.3f}")

# --- 2. Prove one prediction (exported through torch.onnx, proven, checked). ---------------------
sample = x[:1]
proof = zkgrad.torch.prove(module, sample)
print("proven logits:", proof.output.ravel(), " float logits:", module(sample).detach().numpy().ravel())
checked = zkgrad.verify(proof, proof.model.commitment)  # anyone holding the commitment
print("verified:", checked.statement, "| output", checked.output)

# The proof travels as bytes or a file; a changed byte does not verify.
proof.save("prediction.zkp")
tampered = bytearray(proof.to_bytes())
tampered[-40] ^= 1
try:
    zkgrad.verify(bytes(tampered), proof.model)
except zkgrad.InvalidProof as e:
    print("tampered proof rejected:", e)

# --- 3. Prove one SGD step of the same model on a batch (mean-squared error on one-hot targets). ---
model = zkgrad.Model(zkgrad.torch.export(module, sample))
targets = torch.nn.functional.one_hot(y[:8], 2).float()
run = model.train((x[:8], targets), loss="mse", lr=0.05, batch=8, steps=1)
print(f"SGD step proven: {run.summary['proof_bytes']} proof bytes, weights now "
      f"{run.final_weight_root[:16]}…, in {run.dir}")
print("run verified:", run.verify())

# The same step, claimed with another learning rate, is not what the proof shows.
try:
    run.verify(lr="0.5")
except zkgrad.InvalidProof as e:
    print("wrong learning rate rejected:", str(e)[:100])
