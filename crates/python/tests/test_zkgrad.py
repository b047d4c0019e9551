"""The `zkgrad` Python package, end to end: real proofs, checked by the package and by the
`zkgrad` command line (target/release/zkgrad, or $ZKGRAD_BIN), and the other way round."""

import json
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import zkgrad

ROOT = Path(__file__).resolve().parents[3]
MLP = ROOT / "examples" / "mlp" / "mlp.onnx"
MLP_INPUT = json.loads((ROOT / "examples" / "mlp" / "input.json").read_text())["input_data"]
NANOGPT = ROOT / "examples" / "transformers" / "nanogpt" / "model.onnx"
NANOGPT_INPUT = json.loads(
    (ROOT / "examples" / "transformers" / "nanogpt" / "input.json").read_text())["input_data"]
CLI = os.environ.get("ZKGRAD_BIN", str(ROOT / "target" / "release" / "zkgrad"))


def cli(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def mlp():
    return zkgrad.Model(MLP)


def test_prove_and_verify_the_seed_mlp_from_numpy_and_lists(mlp):
    for x in (np.array(MLP_INPUT), MLP_INPUT, np.array(MLP_INPUT, dtype=np.float32)):
        p = mlp.prove(x)
        assert p.output.shape == (1, 2)
        v = zkgrad.verify(p, mlp)
        np.testing.assert_allclose(v.output, p.output.ravel())
        assert "activations 2^-18" in v.statement


def test_commitment_and_inspect_match_the_cli(mlp):
    out = cli("commit", "--model", MLP, "--json")
    assert out.returncode == 0, out.stderr
    assert mlp.commitment == json.loads(out.stdout)["model_commitment"]
    info = mlp.inspect()
    assert info["parameters"] == 138 and info["input_values"] == 5
    assert info["commitment"] == mlp.commitment


def test_proof_bytes_save_and_load(tmp_path, mlp):
    p = mlp.prove(MLP_INPUT)
    path = tmp_path / "p.zkp"
    p.save(path)
    assert path.read_bytes() == p.to_bytes()
    q = zkgrad.Proof.load(path)
    np.testing.assert_allclose(q.claimed_output, p.output.ravel())
    with pytest.raises(zkgrad.Error, match="loaded"):
        q.output  # unchecked: zkgrad.verify gives the proven output
    # By commitment, by model path, by model object: the same verdict.
    for m in (mlp.commitment, str(MLP), MLP, mlp):
        np.testing.assert_allclose(zkgrad.verify(q, m).output, p.output.ravel())
    assert zkgrad.verify(path, mlp).output.size == 2


def test_a_flipped_proof_byte_raises_invalid_proof(mlp):
    data = bytearray(mlp.prove(MLP_INPUT).to_bytes())
    data[-40] ^= 1
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(bytes(data), mlp)
    with pytest.raises(zkgrad.InvalidProof):
        zkgrad.verify(bytes(data), mlp.commitment)
    assert issubclass(zkgrad.InvalidProof, zkgrad.Error)


def test_a_proof_of_another_model_or_precision_is_invalid(mlp):
    p = mlp.prove(MLP_INPUT)
    coarse = zkgrad.Model(MLP, table_bits=14)
    with pytest.raises(zkgrad.InvalidProof, match="precision|activations"):
        zkgrad.verify(p, coarse)


def test_unusable_inputs_raise_value_error_or_error(mlp):
    with pytest.raises(ValueError, match="inputs must be finite numbers"):
        mlp.prove([[np.nan, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="expects 5"):
        mlp.prove([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError):
        mlp.prove([["a", "b"]])
    with pytest.raises(zkgrad.Error, match="proof file"):
        zkgrad.verify(b"not a proof", mlp)
    with pytest.raises(zkgrad.Error):
        zkgrad.Model(b"not an onnx file").commitment
    with pytest.raises(ValueError, match="not found"):
        zkgrad.Model("/nonexistent/model.onnx")
    with pytest.raises(zkgrad.Error, match="zero knowledge"):
        mlp.prove(MLP_INPUT, zk=True)
    with pytest.raises(ValueError, match="scheme"):
        zkgrad.Model(MLP, scheme="magic")


def test_python_proofs_verify_with_the_cli_and_cli_proofs_in_python(tmp_path, mlp):
    p = mlp.prove(MLP_INPUT)
    path = tmp_path / "py.zkp"
    p.save(path)
    out = cli("verify", "--model", MLP, "--proof", path, "--json")
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(json.loads(out.stdout)["output_data"][0], p.output.ravel())
    cli_proof = tmp_path / "cli.zkp"
    out = cli("prove", "--model", MLP, "--input", ROOT / "examples" / "mlp" / "input.json",
              "--proof", cli_proof)
    assert out.returncode == 0, out.stderr
    v = zkgrad.verify(cli_proof, mlp)
    np.testing.assert_allclose(v.output, p.output.ravel())


def test_schemes_and_bytes_sources(mlp):
    m = zkgrad.Model(MLP.read_bytes(), scheme="whir")
    p = m.prove(MLP_INPUT)
    assert "whir" in p.statement
    assert m.commitment != mlp.commitment
    zkgrad.verify(p, m)
    q = mlp.prove(MLP_INPUT, scheme="whir")
    assert q.commitment == m.commitment
    zkgrad.verify(q, q.commitment)


def test_progress_is_logged_and_the_gil_is_released(caplog):
    m = zkgrad.Model(NANOGPT)
    m.commitment  # load and commit first
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    with caplog.at_level(logging.INFO, logger="zkgrad"):
        t.start()
        p = m.prove(NANOGPT_INPUT)
        done.set()
        t.join()
    phases = [r.getMessage() for r in caplog.records if r.getMessage().startswith("proving: ")]
    assert phases == [f"proving: {s}" for s in
                      ("forward", "commitments", "lookups", "layers", "openings")]
    # Another Python thread ran while the proof was made (~0.2 s or more).
    assert len(ticks) > 20, len(ticks)
    zkgrad.verify(p, m)


def test_a_pytorch_module_proved_end_to_end():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import zkgrad.torch as zt

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x = torch.rand(1, 6) * 2 - 1
    proof = zt.prove(module, x)
    np.testing.assert_allclose(proof.output.ravel(), module(x).detach().numpy().ravel(), atol=1e-3)
    v = zkgrad.verify(proof, proof.model)
    np.testing.assert_allclose(v.output, proof.output.ravel())


def test_training_steps_are_proven_and_the_run_checks_with_the_cli(tmp_path, mlp):
    x = [[0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1]]
    y = [[1.0, 0.0], [0.0, 1.0]]
    run = mlp.train((np.array(x), np.array(y)), loss="mse", lr=0.05, batch=2, steps=2,
                    out=tmp_path / "run")
    assert run.steps == 2 and len(run.proofs) == 2
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"x": x, "y": y}))
    out = cli("verify-run", run.dir, "--model", MLP, "--data", data, "--loss", "mse",
              "--lr", "0.05", "--batch", "2")
    assert out.returncode == 0, out.stderr
    checked = run.verify()
    assert checked["steps"] == 2 and checked["final_weight_root"] == run.final_weight_root
    # Another statement (a different learning rate) is not what the run proves.
    with pytest.raises(zkgrad.InvalidProof):
        run.verify(lr="0.06")
    lora = mlp.train({"x": x, "y": y}, loss="mse", lr=0.05, lora={"rank": 2}, prove=False)
    assert lora.steps == 1 and lora.proofs == []
    with pytest.raises(ValueError, match="finite"):
        mlp.train(([[np.inf, 0, 0, 0, 0]], [[1.0, 0.0]]), loss="mse", lr=0.1)
    with pytest.raises(zkgrad.Error, match="loss"):
        mlp.train((x, y), loss="hinge", lr=0.1)


def test_greedy_generation_is_proven_and_its_tokens_verified(tmp_path):
    d = ROOT / "examples" / "transformers" / "gpt2_dynamic"
    model_path = next(p for p in sorted(d.glob("*.onnx")))
    m = zkgrad.Model(model_path)
    generated, proof = m.generate([3, 14, 15, 9], max_new_tokens=3)
    assert len(generated) == 3
    v = zkgrad.verify(proof, m)
    assert v.prompt == [3, 14, 15, 9] and v.generated == generated
    # By the commitment alone too: the committed circuit ends in the greedy check.
    by_commitment = zkgrad.verify(proof, proof.commitment)
    assert by_commitment.prompt == [3, 14, 15, 9] and by_commitment.generated == generated
    # A plain inference proof has no generation.
    plain = m.prove([[3, 14, 15, 9]])
    assert zkgrad.verify(plain, plain.commitment).generated is None
    # The CLI agrees, and names the same tokens.
    path = tmp_path / "gen.zkp"
    proof.save(path)
    out = cli("verify", "--model", model_path, "--proof", path, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["generated"] == generated
    with pytest.raises(ValueError, match="prompt"):
        m.generate([3, 1e9], max_new_tokens=1)
    # The Model keeps its generator (loaded once, weights committed by the first generation):
    # the same request proves the same bytes, and another length verifies as its own.
    again, proof_again = m.generate([3, 14, 15, 9], max_new_tokens=3)
    assert again == generated and proof_again.to_bytes() == proof.to_bytes()
    more, proof_more = m.generate([3, 14, 15, 9, 2], max_new_tokens=2)
    v = zkgrad.verify(proof_more, m)
    assert v.prompt == [3, 14, 15, 9, 2] and v.generated == more


def test_a_hugging_face_checkpoint_directory_is_exported_and_proven(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=1, n_head=2)
    lm = transformers.GPT2LMHeadModel(cfg).eval()
    lm.save_pretrained(tmp_path / "ckpt")
    m = zkgrad.Model(tmp_path / "ckpt")
    ids = [[3, 14, 15, 9, 2, 6]]
    proof = m.prove(ids)
    with torch.no_grad():
        want = lm(input_ids=torch.tensor(ids), use_cache=False).logits.numpy()
    assert proof.output.size == want.size
    np.testing.assert_allclose(proof.output.ravel(), want.ravel(), atol=5e-2)
    zkgrad.verify(proof, m)
    generated, gp = m.generate([3, 14, 15], max_new_tokens=2)
    assert zkgrad.verify(gp, m).generated == generated
