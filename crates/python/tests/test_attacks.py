"""Attacks on the `zkgrad` Python package, as an adversary and as a demanding user.

Each test states what it attacks. The review that wrote them found a truncated training run
that verified, a long-lived verifier pinning a model copy per forged input length, a Model
describing two versions of its file, proof paths read without limits, a Proof object whose
output was replaced still verifying, no way to bind the expected input, inputs of non-real
dtypes proven silently, and several input and API traps; each is fixed, and its test checks
the fix.

Run:
    cd target && ZKGRAD_BIN=$PWD/release/zkgrad py-venv/bin/python -m pytest -q -rs \
        -W ignore::DeprecationWarning ../crates/python/tests/test_attacks.py
"""

import copy
import decimal
import gc
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import zkgrad

ROOT = Path(__file__).resolve().parents[3]
MLP = ROOT / "examples" / "mlp" / "mlp.onnx"
MLP_MATMUL = ROOT / "examples" / "mlp" / "mlp_matmul.onnx"
MLP_INPUT = json.loads((ROOT / "examples" / "mlp" / "input.json").read_text())["input_data"]
NANOGPT = ROOT / "examples" / "transformers" / "nanogpt" / "model.onnx"
NANOGPT_INPUT = json.loads(
    (ROOT / "examples" / "transformers" / "nanogpt" / "input.json").read_text())["input_data"]
GPT2_DYNAMIC = ROOT / "examples" / "transformers" / "gpt2_dynamic" / "model.onnx"

# What an unusable argument or an invalid proof may raise. Anything else (a PanicException, which
# is a BaseException, a raw TypeError/OverflowError from a conversion, ...) is a finding.
CLEAN = (zkgrad.Error, ValueError)


# ---------------------------------------------------------------------------------------------
# The proof file format (crates/verifier/src/proof.rs), to forge well-formed files.
# magic | version u16 | act u32 | weight u32 | table u32 | pcs u8 | root[32] | protocol id[32]
# | circuit_len u32 | circuit | n_in u32 | zigzag-LEB128 × n_in | n_out u32 | ... | body_len u64
# | body
# ---------------------------------------------------------------------------------------------

def _rvar(b, i):
    v = k = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << (7 * k)
        k += 1
        if not c & 0x80:
            return v, i


def _wvar(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def parse_proof(b):
    assert b[:8] == b"ZKGRADPF"
    d = {}
    i = 8
    d["version"], d["act"], d["wf"], d["tb"] = struct.unpack_from("<HIII", b, i)
    i += 14
    d["pcs"] = b[i]
    i += 1
    d["root"], d["pid"] = b[i:i + 32], b[i + 32:i + 64]
    i += 64
    (n,) = struct.unpack_from("<I", b, i)
    i += 4
    d["circuit"] = b[i:i + n]
    i += n
    for k in ("input", "output"):
        (n,) = struct.unpack_from("<I", b, i)
        i += 4
        vals = []
        for _ in range(n):
            z, i = _rvar(b, i)
            vals.append((z >> 1) ^ -(z & 1))
        d[k] = vals
    (n,) = struct.unpack_from("<Q", b, i)
    i += 8
    d["body_offset"] = i
    d["body"] = b[i:i + n]
    assert i + n == len(b)
    return d


def build_proof(d, **changes):
    d = {**d, **changes}
    out = bytearray(b"ZKGRADPF")
    out += struct.pack("<HIII", d["version"], d["act"], d["wf"], d["tb"])
    out.append(d["pcs"])
    out += d["root"] + d["pid"]
    out += struct.pack("<I", len(d["circuit"])) + d["circuit"]
    for k in ("input", "output"):
        out += struct.pack("<I", len(d[k]))
        for v in d[k]:
            out += _wvar(((v << 1) ^ (v >> 63)) & (2**64 - 1))
    out += struct.pack("<Q", len(d["body"])) + d["body"]
    return bytes(out)


def outcome(f):
    """'accepted', 'invalid', 'error' (zkgrad.Error or ValueError), or the unexpected
    exception's type name (a finding)."""
    try:
        f()
        return "accepted"
    except zkgrad.InvalidProof:
        return "invalid"
    except CLEAN:
        return "error"
    except BaseException as e:  # noqa: B036 — a PanicException is a BaseException
        return f"{type(e).__module__}.{type(e).__name__}: {e}"


def one_line_error(excinfo):
    msg = str(excinfo.value)
    assert msg and "\n" not in msg, repr(msg)
    return msg


@pytest.fixture(scope="module")
def mlp():
    return zkgrad.Model(MLP)


@pytest.fixture(scope="module")
def mlp_proof(mlp):
    return mlp.prove(MLP_INPUT)


def _tweaked_mlp_bytes(delta=1e-3):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    mp = onnx.load(str(MLP))
    init = mp.graph.initializer[0]
    a = numpy_helper.to_array(init).copy()
    a.flat[0] += delta
    init.CopyFrom(numpy_helper.from_array(a, init.name))
    return mp.SerializeToString()


# =============================================================================================
# 1. verify checks the VERIFIER's statement, never the proof's
# =============================================================================================

OTHER_STATEMENTS = {
    "act_frac 16": dict(act_frac=16),
    "weight_frac 16": dict(weight_frac=16),
    "table_bits 14": dict(table_bits=14),
    "scheme whir": dict(scheme="whir"),
}


@pytest.mark.parametrize("prover_opts", list(OTHER_STATEMENTS.values()), ids=list(OTHER_STATEMENTS))
def test_a_proof_at_another_precision_or_scheme_is_invalid_both_ways(mlp, prover_opts):
    other = zkgrad.Model(MLP, **prover_opts)
    p = other.prove(MLP_INPUT)
    assert zkgrad.verify(p, other).output.size == 2  # it is a good proof of its own statement
    # ...of another statement than the default model's, by model and by commitment,
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, mlp)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, mlp.commitment)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, str(MLP))
    # and the other way round.
    q = mlp.prove(MLP_INPUT)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(q, other)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(q, other.commitment)


def test_a_proof_of_another_model_is_invalid(mlp):
    for other in (zkgrad.Model(MLP_MATMUL), zkgrad.Model(_tweaked_mlp_bytes())):
        p = other.prove(MLP_INPUT)
        assert other.commitment != mlp.commitment
        with pytest.raises(zkgrad.InvalidProof):
            zkgrad.verify(p, mlp)
        with pytest.raises(zkgrad.InvalidProof):
            zkgrad.verify(p, mlp.commitment)
        with pytest.raises(zkgrad.InvalidProof):
            zkgrad.verify(mlp.prove(MLP_INPUT), other)


def test_a_whir_proof_is_not_accepted_by_an_auto_model_unless_its_verifier_asks_for_whir(mlp):
    p = mlp.prove(MLP_INPUT, scheme="whir")
    with pytest.raises(zkgrad.InvalidProof, match="whir"):
        zkgrad.verify(p, mlp)
    assert mlp.verify(p, scheme="whir").output.size == 2  # the verifier's own choice


def test_reencoded_public_output_or_input_never_verifies(mlp, mlp_proof):
    d = parse_proof(mlp_proof.to_bytes())
    forged = []
    for i in range(len(d["output"])):
        for delta in (1, -1, 1 << 10, -(1 << 40)):
            out = list(d["output"])
            out[i] += delta
            forged.append(build_proof(d, output=out))
    forged += [
        build_proof(d, input=[v + 1 for v in d["input"]]),
        build_proof(d, input=d["input"][::-1]),
        build_proof(d, input=d["input"][:-1]),
        build_proof(d, input=d["input"] + [0]),
        build_proof(d, input=[]),
        build_proof(d, output=[]),
        build_proof(d, output=d["output"] + [0]),
        build_proof(d, output=[2**63 - 1, -2**63]),
    ]
    for b in forged:
        for target in (mlp, mlp.commitment):
            with pytest.raises(zkgrad.InvalidProof):
                zkgrad.verify(b, target)


@pytest.mark.parametrize("field,value,expected", [
    ("act", 17, "invalid"), ("act", 16, "invalid"), ("wf", 19, "invalid"),
    ("pcs", 1, "invalid"),
    ("tb", 19, "error"), ("tb", 99, "error"), ("act", 2**32 - 1, "error"), ("pcs", 7, "error"),
    ("version", -1, "error"), ("version", +1, "error"),
])
def test_header_claims_are_compared_never_trusted(mlp, mlp_proof, field, value, expected):
    d = parse_proof(mlp_proof.to_bytes())
    if field == "version":
        # The versions either side of the one this build writes.
        value += d["version"]
    b = build_proof(d, **{field: value})
    assert outcome(lambda: zkgrad.verify(b, mlp)) == expected
    assert outcome(lambda: zkgrad.verify(b, mlp.commitment)) == expected


def test_every_bit_flip_in_header_circuit_and_public_data_and_body_is_rejected(mlp, mlp_proof):
    b = mlp_proof.to_bytes()
    body_at = parse_proof(b)["body_offset"]
    c = mlp.commitment
    seen = {}
    for i in range(len(b)):
        for bit in ((0, 3, 7) if i < body_at + 64 else (i % 8,)):
            t = bytearray(b)
            t[i] ^= 1 << bit
            t = bytes(t)
            for name, target in (("model", mlp), ("commitment", c)):
                r = outcome(lambda: zkgrad.verify(t, target))
                assert r in ("invalid", "error"), (i, bit, name, r)
                seen[r] = seen.get(r, 0) + 1
            r = outcome(lambda: zkgrad.Proof(t))  # reading the claim never crashes
            assert r in ("accepted", "error"), (i, bit, r)
    assert seen.get("invalid", 0) > 0 and seen.get("error", 0) > 0


def test_truncated_and_extended_files_are_rejected(mlp, mlp_proof):
    b = mlp_proof.to_bytes()
    for n in list(range(0, 120)) + list(range(120, len(b), 13)) + [len(b) - 1]:
        for target in (mlp, mlp.commitment):
            assert outcome(lambda: zkgrad.verify(b[:n], target)) == "error", n
        assert outcome(lambda: zkgrad.Proof(b[:n])) == "error", n
    for extra in (b"\0", b"\0" * 8, b"ZKGRADPF", bytes(range(256))):
        for target in (mlp, mlp.commitment):
            assert outcome(lambda: zkgrad.verify(b + extra, target)) == "error"
    # The body's length field lying in either direction.
    d = parse_proof(b)
    at = d["body_offset"] - 8
    for n in (0, len(d["body"]) - 1, len(d["body"]) + 1, 2**64 - 1):
        t = b[:at] + struct.pack("<Q", n) + b[at + 8:]
        assert outcome(lambda: zkgrad.verify(t, mlp)) == "error"


def test_random_circuit_and_body_mutations_never_verify_or_crash(mlp, mlp_proof):
    b = mlp_proof.to_bytes()
    d = parse_proof(b)
    c = mlp.commitment
    rng = random.Random(1234)
    for it in range(1500):
        part = "circuit" if it % 2 else "body"
        t = bytearray(d[part])
        i = rng.randrange(len(t) - 8)
        r = rng.random()
        if r < 0.4:
            t[i] ^= 1 << rng.randrange(8)
        elif r < 0.7:
            t[i:i + 4] = struct.pack("<I", rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 1 << 20,
                                                       rng.randrange(1 << 32))))
        elif r < 0.85:
            t[i:i + 8] = struct.pack("<Q", rng.choice((2**64 - 1, 2**64 - 2**32 + 1,
                                                       rng.randrange(2**64))))
        else:
            del t[i:i + rng.randrange(1, 9)]
        if bytes(t) == d[part]:
            continue
        forged = build_proof(d, **{part: bytes(t)})
        for target in (mlp, c):
            r = outcome(lambda: zkgrad.verify(forged, target))
            assert r in ("invalid", "error"), (it, part, r)
        assert outcome(lambda: zkgrad.Proof(forged)) in ("accepted", "error")


def test_a_proof_of_another_input_verifies_and_only_verified_input_tells(mlp):
    other = [[0.1, 0.2, 0.3, 0.4, 0.5]]
    p = mlp.prove(other)
    v = zkgrad.verify(p, mlp)  # a valid proof: of the model on ANOTHER input
    # The verifier must compare v.input with the input it cares about itself, and at the
    # quantization's precision (2^-act_frac), never exactly.
    assert not np.allclose(v.input, np.ravel(MLP_INPUT), atol=2**-17)
    np.testing.assert_allclose(v.input, np.ravel(other), atol=2**-18)


def test_verify_can_bind_the_expected_input(mlp):
    p = mlp.prove([[0.1, 0.2, 0.3, 0.4, 0.5]])
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, mlp, input=MLP_INPUT)


def test_proof_attributes_do_not_change_what_verify_checks(mlp, mlp_proof):
    p = copy.copy(mlp_proof)
    p.commitment = "00" * 32
    p.statement = "activations 2^-1; scheme magic"
    p.prove_seconds = -1.0
    v = zkgrad.verify(p, mlp)
    np.testing.assert_array_equal(v.output, mlp_proof.output.ravel())
    assert "2^-18" in v.statement
    # Verifying against the commitment a proof object carries proves nothing about the model
    # the verifier means; a forged one is at least rejected.
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, p.commitment)
    other = zkgrad.Model(MLP_MATMUL).prove(MLP_INPUT)
    p._bytes = other.to_bytes()  # the bytes are all verify reads
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, mlp)


@pytest.mark.parametrize("how", ["attribute", "constructor"])
def test_a_proof_object_with_a_replaced_output_does_not_verify(mlp, mlp_proof, how):
    fake = np.array([[9.0, -9.0]])
    if how == "attribute":
        p = copy.copy(mlp_proof)
        p._output = fake
    else:
        p = zkgrad.Proof(mlp_proof.to_bytes(), output=fake)
    try:
        v = zkgrad.verify(p, mlp)
    except zkgrad.InvalidProof:
        return
    # Acceptable alternative: verification makes proof.output the proven value.
    np.testing.assert_array_equal(p.output.ravel(), v.output)


def test_a_loaded_proof_output_is_the_files_claim_until_verified(tmp_path, mlp, mlp_proof):
    """A loaded proof's output is only its `claimed_output` until zkgrad.verify checks it."""
    d = parse_proof(mlp_proof.to_bytes())
    forged = build_proof(d, output=[v + (1 << 18) for v in d["output"]])  # +1.0 each
    path = tmp_path / "forged.zkp"
    path.write_bytes(forged)
    p = zkgrad.Proof.load(path)
    # The file's claim is readable only under its name; .output refuses until verified.
    np.testing.assert_allclose(p.claimed_output, mlp_proof.output.ravel() + 1.0)
    with pytest.raises(zkgrad.Error, match="loaded"):
        p.output
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p, mlp)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(path, mlp.commitment)


def test_bad_verify_arguments_raise_clean_errors(mlp, mlp_proof):
    for bad in (b"", b"ZKGRADPF", b"not a proof", bytes(1000)):
        with pytest.raises(zkgrad.Error, match="proof file") as e:
            zkgrad.verify(bad, mlp)
        one_line_error(e)
    with pytest.raises(ValueError):
        zkgrad.verify(mlp_proof, "g" * 64)  # not hex: taken for a path, which is absent
    with pytest.raises(ValueError, match="scheme"):
        mlp.verify(mlp_proof, scheme="bogus")
    # Upper-case hex is the same commitment.
    zkgrad.verify(mlp_proof, mlp.commitment.upper())


def test_a_commitment_with_a_newline_or_as_raw_bytes_is_understood(mlp, mlp_proof):
    zkgrad.verify(mlp_proof, mlp.commitment + "\n")
    zkgrad.verify(mlp_proof, bytes.fromhex(mlp.commitment))


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_forged_input_lengths_do_not_pin_copies_of_the_model():
    m = zkgrad.Model(NANOGPT)
    d = parse_proof(m.prove(NANOGPT_INPUT).to_bytes())
    gc.collect()
    before = _rss_mb()
    for k in range(1, 11):
        forged = build_proof(d, input=[0] * (len(d["input"]) + k), output=[], body=b"")
        with pytest.raises(zkgrad.Error):
            zkgrad.verify(forged, m)
    gc.collect()
    grown = _rss_mb() - before
    assert grown < 40, f"{grown:.0f} MB kept after 10 forged proofs of ~{len(forged)} bytes"


def _in_subprocess(code, timeout):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_proof_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path):
    fifo = tmp_path / "proof.zkp"
    os.mkfifo(fifo)
    r = _in_subprocess(f"""
        import zkgrad
        for f in (lambda: zkgrad.verify({str(fifo)!r}, {str(MLP)!r}),
                  lambda: zkgrad.Proof.load({str(fifo)!r})):
            try:
                f()
            except (zkgrad.Error, ValueError) as e:
                print("refused:", e)
    """, timeout=10)
    assert r.stdout.count("refused:") == 2, r.stdout + r.stderr


def test_a_model_is_one_snapshot_of_its_file(tmp_path):
    path = tmp_path / "model.onnx"
    shutil.copy(MLP, path)
    m = zkgrad.Model(path)
    p = m.prove(MLP_INPUT)
    path.write_bytes(_tweaked_mlp_bytes(0.5))
    assert m.commitment == p.commitment
    zkgrad.verify(m.prove(MLP_INPUT), m.commitment)


# =============================================================================================
# 2. Inputs
# =============================================================================================

def _inputs_rejected():
    cases = {
        "nan": [[np.nan, 0, 0, 0, 0]],
        "inf": [[0, 0, np.inf, 0, 0]],
        "-inf": np.array([[0, 0, 0, 0, -np.inf]], dtype=np.float32),
        "too few": [[1.0, 2.0, 3.0]],
        "too many": np.zeros((2, 5)),
        "empty list": [],
        "empty array": np.zeros((1, 0)),
        "ragged": [[0.1, 0.2], [0.3, 0.4, 0.5]],
        "dict": {"x": 1},
        "objects": np.array([object()] * 5, dtype=object),
        "non-numeric strings": [["a", "b", "c", "d", "e"]],
        "None": None,
        "generator": (v for v in MLP_INPUT[0]),
        "int64 max": np.array([[np.iinfo(np.int64).max, 0, 0, 0, 0]]),
        "int64 min": np.array([[np.iinfo(np.int64).min, 0, 0, 0, 0]]),
        "1e300": [[1e300, 0, 0, 0, 0]],
        "max float": [[np.finfo(np.float64).max, 0, 0, 0, 0]],
    }
    return list(cases.values()), list(cases)


@pytest.mark.parametrize("x", _inputs_rejected()[0], ids=_inputs_rejected()[1])
def test_unusable_inputs_raise_a_one_line_value_error(mlp, x):
    with pytest.raises(ValueError) as e:
        mlp.prove(x)
    assert len(one_line_error(e)) < 400


def test_inputs_outside_the_calibrated_range_raise_error(mlp):
    for x in ([[1e4, 0, 0, 0, 0]], [[-1e6, 0, 0, 0, 0]]):
        with pytest.raises(zkgrad.Error, match="range") as e:
            mlp.prove(x)
        one_line_error(e)


def test_every_layout_and_float_dtype_gives_the_same_proof(mlp):
    base = mlp.prove(np.array(MLP_INPUT, dtype=np.float64)).to_bytes()
    wide = np.zeros((3, 10))
    wide[1, ::2] = MLP_INPUT[0]
    same = {
        "list": MLP_INPUT,
        "tuple": tuple(map(tuple, MLP_INPUT)),
        "flat": np.ravel(MLP_INPUT),
        "strided view": wide[1, ::2],
        "fortran": np.asfortranarray(np.array(MLP_INPUT)),
        "big-endian": np.array(MLP_INPUT, dtype=">f8"),
        "column view": np.array(MLP_INPUT).T.copy().T,
        "readonly": np.frombuffer(np.array(MLP_INPUT).tobytes()).reshape(1, 5),
        "memoryview": memoryview(np.ravel(MLP_INPUT)),
    }
    for name, x in same.items():
        assert mlp.prove(x).to_bytes() == base, name
    # float32 rounds the values first: the same proof as its f64 image.
    x32 = np.array(MLP_INPUT, dtype=np.float32)
    assert mlp.prove(x32).to_bytes() == mlp.prove(x32.astype(np.float64)).to_bytes()


def test_torch_tensors_grad_views_and_half_precision(mlp):
    torch = pytest.importorskip("torch")
    base = mlp.prove(np.array(MLP_INPUT)).to_bytes()
    t = torch.tensor(MLP_INPUT, dtype=torch.float64, requires_grad=True)
    assert mlp.prove(t).to_bytes() == base
    assert mlp.prove(t * 1).to_bytes() == base  # a non-leaf tensor in a graph
    wide = torch.zeros(5, 3, dtype=torch.float64)
    wide[:, 1] = torch.tensor(MLP_INPUT[0], dtype=torch.float64)
    assert not wide[:, 1].is_contiguous()
    assert mlp.prove(wide[:, 1]).to_bytes() == base
    h = torch.tensor(MLP_INPUT, dtype=torch.float16)
    assert mlp.prove(h).to_bytes() == mlp.prove(h.double()).to_bytes()
    with pytest.raises(ValueError, match="finite"):
        mlp.prove(torch.full((1, 5), float("nan")))
    if not torch.cuda.is_available():
        with pytest.raises(Exception):  # there is no CUDA tensor to give; torch says so itself
            torch.zeros(1, 5, device="cuda")


def _silently_converted():
    torch_cases = {}
    try:
        import torch

        torch_cases["torch complex"] = torch.tensor(MLP_INPUT, dtype=torch.complex64) + 1j
    except ImportError:
        pass
    cases = {
        "numpy complex": np.array(MLP_INPUT, dtype=complex) + 1j,
        "bool": [[True, False, True, False, True]],
        "numeric strings": [["0.1", "0.2", "0.3", "0.4", "0.5"]],
        "Decimal objects": [[decimal.Decimal("0.1")] * 5],
        "timedelta64": np.array([[0, 0, 0, 0, 0]], dtype="timedelta64[s]"),
        **torch_cases,
    }
    return list(cases.values()), list(cases)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning"
                            if hasattr(np, "exceptions") else "ignore")
@pytest.mark.parametrize("x", _silently_converted()[0], ids=_silently_converted()[1])
def test_non_real_dtypes_are_refused(mlp, x):
    with pytest.raises(ValueError):
        mlp.prove(x)


def test_a_huge_python_int_raises_value_error(mlp):
    with pytest.raises(ValueError):
        mlp.prove([[10**400, 0, 0, 0, 0]])


def _torch_tensors_numpy_cannot_take():
    try:
        import torch
    except ImportError:
        return [], []
    cases = {
        "bfloat16": torch.tensor(MLP_INPUT, dtype=torch.bfloat16),
        "sparse": torch.tensor(MLP_INPUT).to_sparse(),
        "meta": torch.empty(1, 5, device="meta"),
    }
    return list(cases.values()), list(cases)


@pytest.mark.parametrize("t", _torch_tensors_numpy_cannot_take()[0],
                         ids=_torch_tensors_numpy_cannot_take()[1])
def test_torch_tensors_numpy_cannot_take_are_converted_or_refused_cleanly(mlp, t):
    assert outcome(lambda: mlp.prove(t)) in ("accepted", "error")


# =============================================================================================
# 3. Model sources
# =============================================================================================

def test_unusable_model_sources_raise_clean_errors(tmp_path, mlp_proof):
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "nodir").mkdir()
    (tmp_path / "dirmodel" / "model.onnx").mkdir(parents=True)
    for source, exc in [
        (b"not an onnx file", zkgrad.Error),
        (b"", zkgrad.Error),
        (MLP.read_bytes()[:100], zkgrad.Error),
        (mlp_proof.to_bytes(), zkgrad.Error),
        (tmp_path / "empty.onnx", zkgrad.Error),
        (tmp_path / "nodir", ValueError),
        (tmp_path / "dirmodel", ValueError),
        (tmp_path / "absent.onnx", ValueError),
        ("/dev/null", ValueError),
        (ROOT / "examples" / "unsupported" / "softsign.onnx", zkgrad.Error),
        (ROOT / "examples" / "unsupported" / "outside_data.onnx", zkgrad.Error),
    ]:
        with pytest.raises(exc) as e:
            zkgrad.Model(source).commitment
        one_line_error(e)


def test_a_directory_with_model_onnx_is_a_model_source(tmp_path, mlp):
    shutil.copy(MLP, tmp_path / "model.onnx")
    assert zkgrad.Model(tmp_path).commitment == mlp.commitment
    assert zkgrad.Model(str(tmp_path)).commitment == mlp.commitment


def _matmul_model(dims, external=None):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w = TensorProto()
    w.name, w.data_type = "w", TensorProto.FLOAT
    w.dims.extend(dims)
    if external is not None:
        w.data_location = TensorProto.EXTERNAL
        w.external_data.add(key="location", value=external)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, dims[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, dims[1]])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("dims,external,match", [
    ([100000, 100000], None, "limit"),
    ([1 << 31, 1 << 31], None, "limit"),
    ([-1, 4], None, "negative"),
    ([4, 4], "/etc/passwd", "relative path"),
    ([4, 4], "../../../../etc/passwd", "relative path"),
    ([4, 4], "/dev/zero", "relative path"),
])
def test_hostile_onnx_declarations_are_refused(dims, external, match):
    with pytest.raises(zkgrad.Error, match=match) as e:
        zkgrad.Model(_matmul_model(dims, external)).commitment
    one_line_error(e)


def test_precision_options_out_of_range(mlp):
    for opts in (dict(table_bits=99), dict(table_bits=3), dict(act_frac=30),
                 dict(weight_frac=60)):
        with pytest.raises(zkgrad.Error):
            zkgrad.Model(MLP, **opts).commitment
    for opts in (dict(table_bits=14.0), dict(table_bits="14"), dict(scheme=None)):
        with pytest.raises((TypeError, ValueError)):
            zkgrad.Model(MLP, **opts)


def test_a_model_that_cannot_load_is_refused_by_the_constructor():
    with pytest.raises(zkgrad.Error):
        zkgrad.Model(b"not an onnx file")


def test_a_model_with_a_dynamic_axis_is_inspected_per_length():
    m = zkgrad.Model(GPT2_DYNAMIC)
    assert m.dynamic
    with pytest.raises(zkgrad.Error, match="dynamic sequence axis"):
        m.inspect()
    with pytest.raises(zkgrad.Error, match="dynamic sequence axis"):
        m.commitment
    info = m.inspect(4)
    assert info["parameters"] > 0 and info["input_values"] == 4
    assert m.commitment_for(4) == info["commitment"] != m.commitment_for(6)


def test_a_model_with_a_dynamic_axis_proves_each_length_under_its_own_commitment():
    m = zkgrad.Model(GPT2_DYNAMIC)
    p4, p6 = m.prove([[1, 2, 3, 4]]), m.prove([[1, 2, 3, 4, 5, 6]])
    assert p4.commitment != p6.commitment
    zkgrad.verify(p4, m)
    zkgrad.verify(p6, m)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(p4, p6.commitment)
    # A forged length the model cannot take: refused (as unusable, before any proof check).
    d = parse_proof(p4.to_bytes())
    with pytest.raises(zkgrad.Error):
        zkgrad.verify(build_proof(d, input=[0] * 100, output=[], body=b""), m)


@pytest.mark.skipif(not hasattr(zkgrad.Model, "generate"),
                    reason="the installed wheel predates Model.generate")
def test_a_generation_proof_with_any_token_changed_is_invalid():
    m = zkgrad.Model(GPT2_DYNAMIC)
    generated, proof = m.generate([3, 14, 15, 9], max_new_tokens=3)
    v = zkgrad.verify(proof, m)
    assert v.generated == generated
    d = parse_proof(proof.to_bytes())
    for i in range(len(d["input"])):
        ids = list(d["input"])
        ids[i] = (ids[i] + 1) % 64
        for target in (m, proof.commitment):
            assert outcome(lambda: zkgrad.verify(build_proof(d, input=ids), target)) in (
                "invalid", "error"), i
    # A plain forward pass over the same ids proves no generation: .generated says so.
    plain = zkgrad.verify(m.prove([[3, 14, 15, 9] + list(generated)]), m)
    assert plain.generated is None


# =============================================================================================
# 4. Threads
# =============================================================================================

def test_concurrent_proofs_and_verifications_on_one_model_are_correct():
    xs = [np.roll(np.array(NANOGPT_INPUT), k, axis=-1) for k in range(4)]
    shared = zkgrad.Model(NANOGPT)  # fresh: the threads race on its first preparation
    barrier = threading.Barrier(len(xs))

    def prove(x):
        barrier.wait()
        return shared.prove(x)

    with ThreadPoolExecutor(len(xs)) as ex:
        proofs = list(ex.map(prove, xs))
    alone = zkgrad.Model(NANOGPT)
    for x, p in zip(xs, proofs):
        q = alone.prove(x)
        assert p.to_bytes() == q.to_bytes()
        assert p.commitment == q.commitment == alone.commitment

    def verify(i):
        barrier.wait()
        # Each thread also checks a neighbour's proof and a tampered one.
        bad = bytearray(proofs[i].to_bytes())
        bad[-9] ^= 4
        with pytest.raises(zkgrad.InvalidProof):
            zkgrad.verify(bytes(bad), shared)
        return zkgrad.verify(proofs[(i + 1) % len(xs)], shared)

    with ThreadPoolExecutor(len(xs)) as ex:
        verified = list(ex.map(verify, range(len(xs))))
    for i, v in enumerate(verified):
        j = (i + 1) % len(xs)
        np.testing.assert_array_equal(v.output, proofs[j].output.ravel())
        np.testing.assert_array_equal(v.input, xs[j].ravel())


def test_proving_and_verifying_interleave_across_threads(mlp):
    results, errors = [], []

    def worker(seed):
        try:
            rng = np.random.default_rng(seed)
            for _ in range(10):
                x = rng.uniform(-1, 1, (1, 5))
                p = mlp.prove(x)
                v = zkgrad.verify(p, mlp)
                np.testing.assert_allclose(v.input, x.ravel(), atol=2**-18)
                results.append(v)
        except BaseException as e:  # noqa: B036
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 60


# =============================================================================================
# 5. Training runs
# =============================================================================================

TRAIN_X = [[0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1], [0.2, 0.2, 0.2, 0.2, 0.2]]
TRAIN_Y = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mlp):
    d = tmp_path_factory.mktemp("runs")
    kw = dict(loss="mse", batch=1)
    return {
        "r3": mlp.train((TRAIN_X, TRAIN_Y), lr=0.05, steps=3, out=d / "r3", **kw),
        "r2": mlp.train((TRAIN_X, TRAIN_Y), lr=0.05, steps=2, out=d / "r2", **kw),
        "lr": mlp.train((TRAIN_X, TRAIN_Y), lr=0.06, steps=3, out=d / "lr", **kw),
    }


def _edited(run, tmp_path):
    """A copy of `run` whose directory is a fresh copy of its own."""
    r = copy.copy(run)
    r.dir = tmp_path / "run"
    shutil.copytree(run.dir, r.dir)
    return r


def _manifest(f):
    def edit(d, runs):
        m = json.loads((d / "manifest.json").read_text())
        f(m, runs)
        (d / "manifest.json").write_text(json.dumps(m))
    return edit


def _flip(name, at):
    def edit(d, runs):
        b = bytearray((d / name).read_bytes())
        b[at % len(b)] ^= 1
        (d / name).write_bytes(bytes(b))
    return edit


def _copy_from(other, name, as_name=None):
    return lambda d, runs: shutil.copy(runs[other].dir / name, d / (as_name or name))


RUN_EDITS_INVALID = {
    "step 2 from the lr=0.06 run": _copy_from("lr", "step-0002.zkp"),
    "step 1 from the lr=0.06 run": _copy_from("lr", "step-0001.zkp"),
    "steps 1 and 2 swapped": lambda d, runs: (
        shutil.copy(runs["r3"].dir / "step-0001.zkp", d / "step-0002.zkp"),
        shutil.copy(runs["r3"].dir / "step-0002.zkp", d / "step-0001.zkp")),
    "step 2 repeated as step 3": _copy_from("r3", "step-0002.zkp", "step-0003.zkp"),
    "step 2 body bit": _flip("step-0002.zkp", -50),
    "final weights bit": _flip("final-weights.bin", 20),
    "final weights of the lr run": _copy_from("lr", "final-weights.bin"),
    "final weights deleted": lambda d, runs: (d / "final-weights.bin").unlink(),
    "final.onnx bit": _flip("final.onnx", -10),
    "final.onnx of the lr run": _copy_from("lr", "final.onnx"),
    "manifest loss": _manifest(lambda m, r: m["steps"][1].__setitem__("loss", 0.1)),
    "manifest lr": _manifest(lambda m, r: m.__setitem__("lr", 0.06)),
    "manifest samples": _manifest(lambda m, r: m["steps"][1].__setitem__("samples", [2])),
    "manifest step number": _manifest(lambda m, r: m["steps"][1].__setitem__("step", 5)),
    "manifest final root": _manifest(
        lambda m, r: m.__setitem__("final_weight_root", r["lr"].final_weight_root)),
    "manifest initial root": _manifest(
        lambda m, r: m.__setitem__("initial_weight_root", "00" * 32)),
    "directory of the lr run": lambda d, runs: (
        shutil.rmtree(d), shutil.copytree(runs["lr"].dir, d)),
}

RUN_EDITS_UNUSABLE = {
    "step 2 header bit": _flip("step-0002.zkp", 9),
    "step 2 truncated": lambda d, runs: (d / "step-0002.zkp").write_bytes(
        (d / "step-0002.zkp").read_bytes()[:-1]),
    "step 2 deleted": lambda d, runs: (d / "step-0002.zkp").unlink(),
    "an extra proof": _copy_from("r3", "step-0002.zkp", "step-0004.zkp"),
    "manifest drops step 3": _manifest(lambda m, r: m.__setitem__("steps", m["steps"][:2])),
    "manifest proved false": _manifest(lambda m, r: m.__setitem__("proved", False)),
    "manifest incomplete": _manifest(lambda m, r: m.__setitem__("complete", False)),
    "manifest deleted": lambda d, runs: (d / "manifest.json").unlink(),
    "manifest not json": lambda d, runs: (d / "manifest.json").write_text("{"),
    "a stray adapters.json": lambda d, runs: (d / "adapters.json").write_text("{}"),
}


@pytest.mark.parametrize("edit", list(RUN_EDITS_INVALID.values()), ids=list(RUN_EDITS_INVALID))
def test_a_run_edited_after_training_is_invalid(tmp_path, runs, edit):
    r = _edited(runs["r3"], tmp_path)
    assert r.verify()["steps"] == 3
    edit(r.dir, runs)
    with pytest.raises(zkgrad.InvalidProof) as e:
        r.verify()
    one_line_error(e)


@pytest.mark.parametrize("edit", list(RUN_EDITS_UNUSABLE.values()), ids=list(RUN_EDITS_UNUSABLE))
def test_a_run_whose_files_are_broken_is_refused(tmp_path, runs, edit):
    # Fails closed, as zkgrad.Error ("cannot be checked"), not InvalidProof: callers that catch
    # only InvalidProof see these propagate.
    r = _edited(runs["r3"], tmp_path)
    edit(r.dir, runs)
    with pytest.raises(zkgrad.Error) as e:
        r.verify()
    one_line_error(e)


@pytest.mark.parametrize("statement", [
    dict(lr="0.06"), dict(lr="0.050000001"), dict(batch=3), dict(loss="xent"), dict(shuffle=1),
    dict(table_bits=14), dict(weight_frac=16),
    dict(data=(TRAIN_X[::-1], TRAIN_Y[::-1])), dict(data=(TRAIN_X, [[0.0, 1.0]] * 3)),
    dict(lora_rank=2),
], ids=lambda s: ",".join(f"{k}" for k in s))
def test_another_training_statement_is_invalid(runs, statement):
    with pytest.raises(zkgrad.InvalidProof):
        runs["r3"].verify(**statement)


def test_another_initial_model_is_invalid(tmp_path, runs):
    other = tmp_path / "other.onnx"
    other.write_bytes(_tweaked_mlp_bytes())
    with pytest.raises(zkgrad.InvalidProof):
        runs["r3"].verify(model=other)
    with pytest.raises(zkgrad.InvalidProof):
        runs["r3"].verify(model=zkgrad.Model(_tweaked_mlp_bytes(-1e-3)))


def test_a_run_truncated_to_fewer_steps_is_invalid(tmp_path, runs):
    r = _edited(runs["r3"], tmp_path)
    shutil.rmtree(r.dir)
    shutil.copytree(runs["r2"].dir, r.dir)
    with pytest.raises(zkgrad.InvalidProof):
        r.verify()


@pytest.mark.parametrize("statement", [dict(steps=2), dict(learning_rate="0.07")],
                         ids=["steps", "typo"])
def test_run_verify_never_ignores_a_statement_it_is_given(runs, statement):
    with pytest.raises((zkgrad.InvalidProof, TypeError)):
        runs["r3"].verify(**statement)


def test_run_verify_takes_lr_as_train_does(runs):
    assert runs["r3"].verify(lr=0.05)["steps"] == 3
    with pytest.raises(zkgrad.InvalidProof):
        runs["r3"].verify(lr=0.06)


def test_train_takes_a_numpy_float_lr(mlp):
    run = mlp.train((TRAIN_X, TRAIN_Y), loss="mse", lr=np.float64(0.05), prove=False)
    assert run.steps == 1


def test_bad_training_arguments_raise_clean_errors(mlp):
    for kw in (dict(lr="abc"), dict(lr=-1.0), dict(lr=float("nan")), dict(batch=0),
               dict(steps=0), dict(loss="hinge"), dict(lora=0), dict(lora="x")):
        args = dict(loss="mse", lr=0.05, prove=False)
        args.update(kw)
        with pytest.raises(CLEAN) as e:
            mlp.train((TRAIN_X, TRAIN_Y), **args)
        one_line_error(e)
    for data in (([["a"] * 5], [[1.0, 0.0]]), ([[np.nan] * 5], [[1.0, 0.0]]),
                 (TRAIN_X, TRAIN_Y[:2]), (TRAIN_X, [[1.0]] * 3)):
        with pytest.raises(CLEAN):
            mlp.train(data, loss="mse", lr=0.05, prove=False)
    unproved = mlp.train((TRAIN_X, TRAIN_Y), loss="mse", lr=0.05, prove=False)
    with pytest.raises(zkgrad.Error, match="not proven"):
        unproved.verify()
