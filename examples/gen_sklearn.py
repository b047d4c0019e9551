#!/usr/bin/env python3
"""Regenerates examples/sklearn_mlp/: a scikit-learn MLPClassifier trained on the iris data,
exported by skl2onnx (zipmap=False, opset 17) with its two outputs — the label (ArgMax, then
ai.onnx.ml's ArrayFeatureExtractor over the classes 0, 1, 2) and the class probabilities —
with an input of 5 samples, a calibration file (the training data in batches of 5, the size
the batch axis is specialized to) and ONNX Runtime's outputs.

usage: python3 examples/gen_sklearn.py   (needs: pip install scikit-learn skl2onnx onnx onnxruntime)
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.neural_network import MLPClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sklearn_mlp")

X, y = load_iris(return_X_y=True)
X = X.astype(np.float32)
clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0).fit(X, y)
model = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
os.makedirs(OUT, exist_ok=True)
onnx.save(model, os.path.join(OUT, "model.onnx"))

x = X[[0, 60, 120, 30, 90]]
with open(os.path.join(OUT, "input.json"), "w") as f:
    json.dump({"input_data": [x.tolist()]}, f)
with open(os.path.join(OUT, "calibration.json"), "w") as f:
    json.dump({"input_data": [X[i:i + 5].tolist() for i in range(0, len(X), 5)]}, f)
label, proba = ort.InferenceSession(os.path.join(OUT, "model.onnx")).run(None, {"X": x})
with open(os.path.join(OUT, "onnxruntime_output.json"), "w") as f:
    json.dump({"label": label.tolist(), "probabilities": proba.tolist()}, f)
print("labels", label.tolist())
