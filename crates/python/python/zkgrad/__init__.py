"""zkgrad: succinct proofs of neural-network inference, checked in milliseconds, with no trusted
setup.

    import zkgrad
    model = zkgrad.Model("model.onnx")
    proof = model.prove(x)                  # numpy array, list, or torch tensor
    proof.output                            # the proven output (numpy)
    verified = zkgrad.verify(proof, model)  # or zkgrad.verify(proof, model.commitment)

The native module (`zkgrad._zkgrad`) runs the same library code as the `zkgrad` command line:
a proof made here verifies with `zkgrad verify`, and the other way round. Proving and verifying
release the GIL; the prover's phases are logged to the `zkgrad` logger (level INFO).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _zkgrad
from ._zkgrad import Error, InvalidProof

__all__ = ["Model", "Proof", "Run", "Verified", "verify", "Error", "InvalidProof"]

_log = logging.getLogger("zkgrad")

_SCHEMES = ("auto", "ligero", "whir", "whir-unique")


def _as_f64_bytes(x: Any) -> bytes:
    """Every value of `x` (a numpy array, a torch tensor, nested lists, or a sequence of those
    for a model with several inputs), flattened in order, as little-endian f64 bytes. Only real
    numbers: integers and floats (no booleans, complex numbers, strings or dates)."""
    if hasattr(x, "detach") and hasattr(x, "to"):  # a torch tensor
        import torch

        if x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f"input: a tensor of {x.dtype}, not of real numbers")
        t = x.detach()
        if t.is_sparse:
            t = t.to_dense()
        try:
            x = t.to("cpu", torch.float64).numpy()
        except (RuntimeError, NotImplementedError, TypeError) as e:
            raise ValueError(f"input: this tensor cannot be read ({e})") from None
    if isinstance(x, (list, tuple)) and x and any(
        hasattr(v, "detach") or isinstance(v, np.ndarray) for v in x
    ):
        return b"".join(_as_f64_bytes(v) for v in x)
    try:
        a = np.asarray(x)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"input: not an array of numbers ({e})") from None
    if a.dtype.kind not in "fiu":
        raise ValueError(f"input: an array of {a.dtype}, not of real numbers (integers or floats)")
    try:
        a = a.astype("<f8")
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"input: not an array of numbers ({e})") from None
    if a.size == 0:
        raise ValueError("input: empty")
    return np.ascontiguousarray(a).ravel().tobytes()


def _lr_text(lr: Any) -> str:
    """A learning rate as the CLI's `--lr` takes it: a string as given, a number as its
    shortest decimal (numpy scalars included)."""
    if isinstance(lr, str):
        return lr
    try:
        return repr(float(lr))
    except (TypeError, ValueError):
        raise ValueError(f"lr: a positive number, not {lr!r}") from None


class Proof:
    """A proof of one inference: the proof file's bytes and the proven output."""

    def __init__(self, data: bytes, output: Optional[np.ndarray] = None,
                 commitment: Optional[str] = None, prove_seconds: Optional[float] = None):
        self._bytes = bytes(data)
        # Checks the file's format (not the proof: see zkgrad.verify).
        claimed, self.statement, self._input_frac = _zkgrad.read_proof(self._bytes)
        #: What the proof file claims its output is (flat), before anything checked it.
        self.claimed_output = np.asarray(claimed, dtype=np.float64)
        self._output = output
        self.commitment = commitment
        self.prove_seconds = prove_seconds
        #: For a proof made here: the seconds the Rust library call took (the rest of
        #: Model.prove is the binding: conversions, the call itself).
        self.library_seconds: Optional[float] = None

    @property
    def output(self) -> np.ndarray:
        """The output this process proved (Model.prove). A proof loaded from bytes or a file has
        none until it is checked: `zkgrad.verify(proof, model).output` is its proven output
        (`claimed_output` is the file's unchecked claim)."""
        if self._output is None:
            raise Error("this proof was loaded, not made here: zkgrad.verify(proof, model).output "
                        "is its proven output (proof.claimed_output is the file's unchecked claim)")
        return self._output

    def to_bytes(self) -> bytes:
        return self._bytes

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the proof file (as `zkgrad prove --proof` writes it), all or nothing."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self._bytes)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Proof":
        """Reads a proof file (`zkgrad prove`'s or `Proof.save`'s): a regular file of at most
        the CLI's limit."""
        return cls(_zkgrad.read_proof_file(str(path)))

    def __len__(self) -> int:
        return len(self._bytes)

    def __repr__(self) -> str:
        return f"<zkgrad.Proof {len(self._bytes)} bytes; {self.statement}>"


class Verified:
    """What a valid proof states: its public input and output, the statement checked and the
    model commitment it was checked against; for a proof of greedy generation, the prompt and
    the generated token ids it proves."""

    def __init__(self, input: Sequence[float], output: Sequence[float], statement: str,
                 generation: Optional[tuple] = None, commitment: Optional[str] = None):
        self.input = np.asarray(input, dtype=np.float64)
        self.output = np.asarray(output, dtype=np.float64)
        self.statement = statement
        self.commitment = commitment
        self.prompt = list(generation[0]) if generation else None
        self.generated = list(generation[1]) if generation else None

    def __repr__(self) -> str:
        return f"<zkgrad.Verified {self.statement}; output {self.output.tolist()}>"


class Model:
    """An ONNX model to prove: a path, the file's bytes, a directory holding `model.onnx`, or a
    Hugging Face checkpoint directory (`config.json` and weights; exported through
    `zkgrad.torch.export_hf`, which needs torch and transformers).

    Precision options are the command line's: `table_bits`, `act_frac`, `weight_frac`,
    `per_tensor_scales`; `scheme` is "auto", "ligero", "whir" or "whir-unique" (`generate`'s
    "auto" takes "whir-unique" where `prove`'s takes "whir"). The model commitment depends on
    all of them.
    """

    def __init__(self, source: Union[str, os.PathLike, bytes], *, table_bits: Optional[int] = None,
                 act_frac: Optional[int] = None, weight_frac: Optional[int] = None,
                 per_tensor_scales: Optional[bool] = None, scheme: str = "auto"):
        self._tmp = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._tmp = tempfile.TemporaryDirectory(prefix="zkgrad-model-")
            path = Path(self._tmp.name) / "model.onnx"
            path.write_bytes(bytes(source))
        else:
            path = Path(source)
            if path.is_dir():
                if (path / "model.onnx").is_file():
                    path = path / "model.onnx"
                elif (path / "config.json").is_file():
                    # A Hugging Face checkpoint: exported to ONNX through transformers and torch.
                    from .torch import export_hf
                    self._tmp = tempfile.TemporaryDirectory(prefix="zkgrad-model-")
                    exported = Path(self._tmp.name) / "model.onnx"
                    exported.write_bytes(export_hf(path))
                    path = exported
                else:
                    raise ValueError(f"model directory {path}: neither model.onnx nor a Hugging "
                                     "Face checkpoint (config.json) in it")
            if not path.is_file():
                raise ValueError(f"model file {path}: not found")
        if scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
        self.path = path
        self.scheme = scheme
        self._native = _zkgrad.NativeModel(str(path), table_bits, act_frac, weight_frac,
                                           per_tensor_scales, scheme)

    @property
    def commitment(self) -> str:
        """The model commitment (64 hex digits), as `zkgrad commit` prints it. A model with a
        dynamic sequence axis has one per input length: `commitment_for(n_values)`."""
        return self._native.commitment(0, "default")

    def commitment_for(self, n_values: int, scheme: Optional[str] = None) -> str:
        """The commitment of this model specialized to inputs of `n_values` values."""
        return self._native.commitment(n_values, scheme or "default")

    def inspect(self, n_values: Optional[int] = None) -> dict:
        """Parameters, nodes, input size and shape, precision, scheme and commitment (a model
        with a dynamic sequence axis: at inputs of `n_values` values)."""
        return json.loads(self._native.inspect(n_values or 0))

    @property
    def dynamic(self) -> bool:
        """Whether the model's input has a dynamic (sequence) axis: its circuit and commitment
        are then per input length."""
        return self._native.dynamic

    def prove(self, input: Any, zk: bool = False, scheme: Optional[str] = None) -> Proof:
        """Runs the model on `input` and proves the result. `scheme` overrides the model's for
        this proof (its commitment is then that scheme's)."""
        if zk:
            raise Error("zero knowledge is not implemented yet: a proof reveals the public input "
                        "and output and evaluations of the witness (docs/SECURITY.md, "
                        "\"What a proof reveals\")")
        if scheme is not None and scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
        x = _as_f64_bytes(input)
        log = _log.info if _log.isEnabledFor(logging.INFO) else None
        phase_log = (lambda phase: log("proving: %s", phase)) if log else None
        data, output, shapes, secs, lib_secs = self._native.prove(x, scheme or "default",
                                                                  phase_log)
        out = np.asarray(output, dtype=np.float64)
        shapes = json.loads(shapes)
        if len(shapes) == 1 and int(np.prod(shapes[0])) == out.size:
            out = out.reshape(shapes[0])
        commitment = self._native.commitment(len(x) // 8, scheme or "default")
        _log.info("proved in %.1f ms: %d bytes", secs * 1e3, len(data))
        proof = Proof(data, out, commitment, secs)
        proof.library_seconds = lib_secs
        return proof

    def verify(self, proof: Union[Proof, bytes, str, os.PathLike],
               scheme: Optional[str] = None) -> Verified:
        """Checks `proof` against this model with its options (the statement is the model's,
        never the proof's). Raises InvalidProof if it does not verify."""
        data = _proof_bytes(proof)
        i, o, st, gen = self._native.verify(data, scheme or "default")
        return Verified(i, o, st, gen, self._native.commitment(len(i), scheme or "default"))

    def generate(self, prompt: Any, max_new_tokens: int,
                 scheme: Optional[str] = None) -> tuple:
        """Greedy decoding with a language model (token ids in, logits per position out), then
        one proof of the forward pass over prompt and generated tokens with a proven argmax at
        every generated position, as `zkgrad generate`. Returns `(generated ids, Proof)`;
        `zkgrad.verify(proof, model).generated` gives the proven tokens."""
        if scheme is not None and scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
        ids = np.frombuffer(_as_f64_bytes(prompt), dtype="<f8").tolist()
        log = _log.info if _log.isEnabledFor(logging.INFO) else None
        phase_log = (lambda phase: log("proving: %s", phase)) if log else None
        _, generated, data, commitment = self._native.generate(ids, max_new_tokens,
                                                               scheme or "default", phase_log)
        return list(generated), Proof(data, None, commitment)

    def train(self, data: Any, loss: str, lr: Union[float, str], batch: int = 1, steps: int = 1,
              prove: bool = True, lora: Any = None, out: Optional[Union[str, os.PathLike]] = None,
              shuffle: Optional[int] = None, table_bits: Optional[int] = None,
              act_frac: Optional[int] = None, weight_frac: Optional[int] = None) -> "Run":
        """SGD steps (or LoRA steps with `lora`: a rank, or {"rank", "alpha", "targets"}) on
        `data` (`(x, y)` or {"x": …, "y": …}, arrays or tensors, one row per sample), each step
        proven unless `prove=False`, into the run directory `out` (a new one; by default a
        temporary directory kept as long as the Run). The same driver as `zkgrad train`:
        `zkgrad verify-run` checks the directory."""
        if isinstance(data, dict):
            x, y = data["x"], data["y"]
        else:
            x, y = data
        rows = lambda a: np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a,
                                    dtype=np.float64).reshape(len(a), -1).tolist()
        xs, ys = rows(x), rows(y)
        if not np.isfinite(np.asarray(xs)).all() or not np.isfinite(np.asarray(ys)).all():
            raise ValueError("data: inputs must be finite numbers")
        rank = alpha = None
        targets: list = []
        if isinstance(lora, int):
            rank = lora
        elif isinstance(lora, dict):
            rank, alpha, targets = lora.get("rank"), lora.get("alpha"), list(lora.get("targets", []))
        elif lora is not None:
            raise ValueError("lora: a rank, or {\"rank\", \"alpha\", \"targets\"}")
        run = Run.__new__(Run)
        run._tmp = None
        if out is None:
            run._tmp = tempfile.TemporaryDirectory(prefix="zkgrad-run-")
            out = Path(run._tmp.name) / "run"
        tmp = tempfile.TemporaryDirectory(prefix="zkgrad-data-")
        try:
            data_path = Path(tmp.name) / "data.json"
            data_path.write_text(json.dumps({"x": xs, "y": ys}))
            summary = _zkgrad.train(str(self.path), str(data_path), str(out), steps, loss,
                                    _lr_text(lr), batch, prove, shuffle,
                                    rank, alpha, targets, table_bits, act_frac, weight_frac,
                                    _log.info if _log.isEnabledFor(logging.INFO) else None)
        finally:
            tmp.cleanup()
        run.dir = Path(out)
        run.summary = json.loads(summary)
        run._statement = dict(model=str(self.path), loss=loss, lr=_lr_text(lr), batch=batch,
                              steps=steps,
                              shuffle=shuffle, lora_rank=rank, lora_alpha=alpha,
                              lora_targets=targets, table_bits=table_bits, act_frac=act_frac,
                              weight_frac=weight_frac)
        run._data = {"x": xs, "y": ys}
        return run

    def __repr__(self) -> str:
        return f"<zkgrad.Model {self.path}>"


class Run:
    """A training run's directory (as `zkgrad train --out` writes it) and its summary."""

    dir: Path
    summary: dict

    @property
    def steps(self) -> int:
        return self.summary["steps"]

    @property
    def final_weight_root(self) -> str:
        return self.summary["final_weight_root"]

    @property
    def proofs(self) -> list:
        """The steps' proof files, in order."""
        return sorted(self.dir.rglob("*.zkp"))

    _KEYS = ("loss", "lr", "batch", "steps", "shuffle", "lora_rank", "lora_alpha",
             "lora_targets", "table_bits", "act_frac", "weight_frac")

    def verify(self, model: Optional[Union["Model", str, os.PathLike]] = None,
               data: Any = None, **statement: Any) -> dict:
        """Checks the run as `zkgrad verify-run` does: every step's proof, the chain of weight
        commitments, the batches against `data`. The statement (model, loss, lr, batch, LoRA,
        precision) is the one this run was asked for unless given here; the run's manifest is
        only compared with it. Raises InvalidProof if the run does not prove it."""
        unknown = sorted(set(statement) - set(self._KEYS))
        if unknown:
            raise TypeError(f"Run.verify: unknown statement field(s) {unknown}; "
                            f"known: {list(self._KEYS)}")
        st = dict(self._statement)
        st.update(statement)
        st["lr"] = _lr_text(st["lr"])
        if model is not None:
            st["model"] = str(model.path if isinstance(model, Model) else model)
        d = self._data if data is None else data
        tmp = tempfile.TemporaryDirectory(prefix="zkgrad-data-")
        try:
            path = Path(tmp.name) / "data.json"
            if isinstance(d, dict):
                x, y = d["x"], d["y"]
            else:
                x, y = d
            path.write_text(json.dumps({"x": np.asarray(x, dtype=np.float64).tolist(),
                                        "y": np.asarray(y, dtype=np.float64).tolist()}))
            steps, losses, root = _zkgrad.verify_run(
                str(self.dir), st["model"], str(path), st["loss"], st["lr"], st["batch"], st["steps"],
                st["shuffle"], st["lora_rank"], st["lora_alpha"], st["lora_targets"],
                st["table_bits"], st["act_frac"], st["weight_frac"])
        finally:
            tmp.cleanup()
        if "final_weight_root" in self.summary and root != self.summary["final_weight_root"]:
            raise InvalidProof(f"the run's proofs end at weights {root}, not at the "
                               f"{self.summary['final_weight_root']} it was trained to")
        return {"steps": steps, "losses": losses, "final_weight_root": root}

    def __repr__(self) -> str:
        return f"<zkgrad.Run {self.steps} steps in {self.dir}>"


def _proof_bytes(proof: Union[Proof, bytes, str, os.PathLike]) -> bytes:
    if isinstance(proof, Proof):
        return proof.to_bytes()
    if isinstance(proof, (bytes, bytearray, memoryview)):
        return bytes(proof)
    if isinstance(proof, (str, os.PathLike)):
        return _zkgrad.read_proof_file(str(proof))
    raise TypeError(f"proof: a zkgrad.Proof, bytes or a path, not {type(proof).__name__}")


def verify(proof: Union[Proof, bytes, str, os.PathLike],
           model_or_commitment: Union[Model, str, bytes, os.PathLike],
           input: Any = None) -> Verified:
    """Checks a proof against a model (a Model, or an ONNX file's path: the statement is that
    model's at the default options) or a model commitment (64 hex digits, or its 32 bytes).
    With `input`, also that the proof is of that input (to within its quantization). Raises
    InvalidProof if it does not verify, ValueError or Error if an argument is unusable.

    Use the returned Verified's output: a Proof object made here whose output differs from what
    its bytes prove is refused, and a loaded proof's `claimed_output` is never checked."""
    data = _proof_bytes(proof)
    m = model_or_commitment
    if isinstance(m, (bytes, bytearray)) and len(m) == 32:
        m = bytes(m).hex()
    if isinstance(m, str) and len(m.strip()) == 64 and all(
            c in "0123456789abcdefABCDEF" for c in m.strip()):
        c = m.strip().lower()
        i, o, st, gen = _zkgrad.verify_commitment(data, c)
        v = Verified(i, o, st, gen, c)
    elif isinstance(m, Model):
        v = m.verify(data)
    elif isinstance(m, (str, os.PathLike)):
        v = Model(m).verify(data)
    else:
        raise TypeError("model_or_commitment: a zkgrad.Model, a path, or a commitment")
    if isinstance(proof, Proof) and proof._output is not None and (
            proof._output.size != v.output.size
            or not np.array_equal(proof._output.ravel(), v.output)):
        raise InvalidProof("the Proof object's output is not the output its bytes prove")
    if input is not None:
        given = np.frombuffer(_as_f64_bytes(input), dtype="<f8")
        _, _, frac = _zkgrad.read_proof(data)
        if given.size != v.input.size or not np.all(
                np.abs(given - v.input) <= 2.0 ** -(frac + 1) * (1 + 1e-9)):
            raise InvalidProof("the proof is of another input")
    return v
