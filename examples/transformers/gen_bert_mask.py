#!/usr/bin/env python3
"""Writes bert_mask/: a 2-layer BERT encoder (vocab 64, d 32, 2 heads; random seeded weights,
perturbed) exported by the dynamo exporter with two inputs, the token ids and an attention
(padding) mask, so the mask logic (Cast to bool, GatherND, And, Where) depends on the input;
input.json (8 ids, the last two masked) and ONNX Runtime's last hidden state.

usage: python3 examples/transformers/gen_bert_mask.py   (needs: pip install torch transformers onnx onnxruntime onnxscript)
"""
import json
import os
import warnings

import onnx
import onnxruntime as ort
import torch
from transformers import BertConfig, BertModel

warnings.filterwarnings("ignore")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bert_mask")


class Hidden(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, ids, mask):
        return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state


torch.manual_seed(0)
cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=16, attn_implementation="eager")
bert = BertModel(cfg, add_pooling_layer=False).eval()
gen = torch.Generator().manual_seed(1)
with torch.no_grad():
    for p in bert.parameters():
        p.add_(0.02 * torch.randn(p.shape, generator=gen))
os.makedirs(HERE, exist_ok=True)
ids = torch.tensor([[5, 6, 7, 8, 9, 10, 0, 0]])
mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0]])
path = os.path.join(HERE, "model.onnx")
torch.onnx.export(Hidden(bert), (ids, mask), path, input_names=["input_ids", "attention_mask"],
                  output_names=["hidden"], opset_version=18, dynamo=True)
model = onnx.load(path)
for node in model.graph.node:  # drop the exporter's stack traces (machine paths)
    for p in list(node.metadata_props):
        if p.key.startswith("pkg.torch.onnx.stack_trace"):
            node.metadata_props.remove(p)
onnx.save(model, path)
out = ort.InferenceSession(path).run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
with open(os.path.join(HERE, "input.json"), "w") as f:
    json.dump({"input_data": [ids[0].tolist(), mask[0].tolist()]}, f)
with open(os.path.join(HERE, "onnxruntime_output.json"), "w") as f:
    json.dump({"outputs": {"hidden": out.ravel().tolist()}, "shapes": {"hidden": list(out.shape)}}, f)
print("ok", out.shape)
