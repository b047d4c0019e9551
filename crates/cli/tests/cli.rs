//! The `zkgrad` binary as users run it: exit codes, messages, files written or not.

mod common;
use common::*;

use std::path::Path;
use std::process::Output;

#[test]
fn prove_verify_commit_and_inspect_the_example() {
    let d = tmpdir("happy");
    let o = prove(&d, &example("mlp/mlp.onnx"), &example("mlp/input.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out.json")).unwrap()).unwrap();
    assert_eq!(out["output_data"][0].as_array().unwrap().len(), 2);

    let v = verify(example("mlp/mlp.onnx"), d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let so = String::from_utf8_lossy(&v.stdout);
    assert!(so.starts_with("verified"));
    assert!(so.contains("input:") && so.contains("output:"));

    // The commitment printed by `commit` verifies the proof without the model file.
    let c = run(bin()
        .args(["commit", "--model"])
        .arg(example("mlp/mlp.onnx")));
    assert!(c.status.success());
    let commitment = String::from_utf8_lossy(&c.stdout).trim().to_string();
    assert_eq!(commitment.len(), 64);
    let v = run(bin()
        .args(["verify", "--commitment", &commitment, "--proof"])
        .arg(d.join("p.zkp"))
        .arg("--json"));
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(j["verified"], true);

    // Another commitment: invalid proof, exit 1.
    let other = format!(
        "{}{}",
        if commitment.starts_with('0') {
            "1"
        } else {
            "0"
        },
        &commitment[1..]
    );
    let v = run(bin()
        .args(["verify", "--commitment", &other, "--proof"])
        .arg(d.join("p.zkp")));
    assert_eq!(v.status.code(), Some(1));

    let i = run(bin()
        .args(["inspect", "--model"])
        .arg(example("mlp/mlp.onnx")));
    assert!(i.status.success());
    let text = String::from_utf8_lossy(&i.stdout);
    assert!(
        text.contains("parameters: 138")
            && text.contains("Gemm")
            && text.contains("status: supported")
    );

    // --json prints one JSON object.
    let d2 = tmpdir("json");
    let o = run(bin()
        .args(["prove", "--json", "--model"])
        .arg(example("mlp/mlp.onnx"))
        .arg("--input")
        .arg(example("mlp/input.json"))
        .arg("--proof")
        .arg(d2.join("p.zkp")));
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["proof_bytes"].as_u64().unwrap() > 0);
    assert!(j["max_abs_error"].as_f64().unwrap() < 1e-3);
}

#[test]
fn the_matmul_variant_proves_too() {
    let d = tmpdir("matmul");
    let o = prove(
        &d,
        &example("mlp/mlp_matmul.onnx"),
        &example("mlp/input.json"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = verify(example("mlp/mlp_matmul.onnx"), d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(0));
    // ... and is rejected against the other model.
    let v = verify(example("mlp/mlp.onnx"), d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(1));
}

fn assert_unusable(o: &Output, dir: &Path, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    let e = stderr(o);
    let last = e.trim().lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("error: "),
        "last line is not the error: {e:?}"
    );
    assert!(last.contains(needle), "message {last:?} lacks {needle:?}");
    assert!(
        !dir.join("p.zkp").exists() && !dir.join("out.json").exists(),
        "partial output left"
    );
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_write_nothing() {
    let d = tmpdir("bad");
    let model = example("mlp/mlp.onnx");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    assert_unusable(
        &prove(
            &d,
            &model,
            &write("short.json", r#"{"input_data": [[1, 2, 3]]}"#),
        ),
        &d,
        "expects 5",
    );
    assert_unusable(
        &prove(
            &d,
            &model,
            &write("nan.json", r#"{"input_data": [[NaN, 1, 2, 3, 4]]}"#),
        ),
        &d,
        "NaN",
    );
    assert_unusable(
        &prove(&d, &model, &write("inf.json", "[1e999, 1, 2, 3, 4]")),
        &d,
        "out of range",
    );
    assert_unusable(
        &prove(&d, &model, &write("garbage.json", "not json")),
        &d,
        "JSON",
    );
    assert_unusable(
        &prove(&d, &model, &d.join("missing.json")),
        &d,
        "cannot read input",
    );
    assert_unusable(
        &prove(&d, &d.join("missing.onnx"), &example("mlp/input.json")),
        &d,
        "cannot read model",
    );
    let bytes = std::fs::read(&model).unwrap();
    let trunc = d.join("trunc.onnx");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    assert_unusable(
        &prove(&d, &trunc, &example("mlp/input.json")),
        &d,
        "not a valid ONNX model",
    );
    let o = prove(
        &d,
        &example("unsupported/softsign.onnx"),
        &write("four.json", "[1, 2, 3, 4]"),
    );
    assert_unusable(&o, &d, "unsupported op Softsign at node /act/Softsign");
    // Out of the calibrated range: a clear refusal, not a bad proof.
    assert_unusable(
        &prove(
            &d,
            &model,
            &write("huge.json", "[1000, 1000, 1000, 1000, 1000]"),
        ),
        &d,
        "calibrated range",
    );
}

#[test]
fn unusable_proof_files_exit_2_and_tampered_ones_exit_1() {
    let d = tmpdir("proofs");
    let model = example("mlp/mlp.onnx");
    assert!(prove(&d, &model, &example("mlp/input.json"))
        .status
        .success());
    let good = std::fs::read(d.join("p.zkp")).unwrap();
    let check = |p: &Path| verify(&model, p);
    let bad = d.join("bad.zkp");
    std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
    assert_eq!(check(&bad).status.code(), Some(2));
    std::fs::write(&bad, b"definitely not a proof").unwrap();
    let o = check(&bad);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a zkgrad proof"));
    // The version after this build's.
    let mut future = good.clone();
    let next = u16::from_le_bytes([good[8], good[9]]) + 1;
    future[8..10].copy_from_slice(&next.to_le_bytes());
    std::fs::write(&bad, &future).unwrap();
    let o = check(&bad);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("unsupported proof version {next}")));
    assert_eq!(check(&d.join("nope.zkp")).status.code(), Some(2));
    let mut t = good.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    std::fs::write(&bad, &t).unwrap();
    assert_eq!(check(&bad).status.code(), Some(1));
}

/// The golden proof freezes format version 11 (version 10 opened a `whir-unique` table of 2^27
/// values or more folding 7 variables in its first round, where version 11 folds 8; version 9
/// opened a WHIR table in the Johnson
/// bound's list-decoding regime without binding it to one candidate first, where version 10
/// draws an out-of-domain claim on it right after the roots and proves it in its opening;
/// version 8 split range checks wider than 16 bits
/// on large tensors into 16-bit limbs, where version 9 takes 20-bit limbs in a circuit whose
/// wide checks read 2^20 values or more, and binds that rule in the protocol id; version 7 opened every WHIR table folding 5
/// variables in its first round, where version 8 folds 7 in the first round of a table of 2^27
/// values or more, and binds that in the WHIR parameters' id; version 6 ran one lookup GKR per lookup with
/// Ligero and one padded value-side tree with WHIR, where version 7 proves the lookups as a
/// forest of exactly full trees under both schemes; version 5 opened WHIR tables folding 4
/// variables a round and stored packed weights as padded blocks; version 4 left an update's
/// rounding virtual and unbounded, its Gemm contractions unmasked and its softmax slack
/// growing with the row, with 148 Ligero queries; version 3 had no scheme byte and sent every
/// lookup's multiplicities in clear; version 2 committed an update's rounding and encoded the
/// witness's zero tail; version 1 sent multiplicities as field elements): this build must
/// verify it, and refuse versions 1 to 10 as unsupported. A later build that changes the format
/// bumps the version and must reject this one with "unsupported proof version".
#[test]
fn golden_proof_fixture_v11_still_verifies_and_older_versions_are_refused() {
    let fixture = root().join("tests/fixtures/seed_mlp_v11.zkp");
    let bytes = std::fs::read(&fixture).unwrap();
    assert_eq!(&bytes[..8], b"ZKGRADPF");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 11);
    let v = verify(example("mlp/mlp.onnx"), &fixture);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    for old_version in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] {
        let old = verify(
            example("mlp/mlp.onnx"),
            root().join(format!("tests/fixtures/seed_mlp_v{old_version}.zkp")),
        );
        assert_eq!(old.status.code(), Some(2));
        assert!(
            stderr(&old).contains(&format!("unsupported proof version {old_version}")),
            "{}",
            stderr(&old)
        );
    }
    // Proving is deterministic: the same model and input give the same bytes.
    let d = tmpdir("golden");
    assert!(
        prove(&d, &example("mlp/mlp.onnx"), &example("mlp/input.json"))
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(d.join("p.zkp")).unwrap(),
        bytes,
        "the prover's output changed: bump the format version and regenerate the fixture"
    );
}

#[test]
fn two_input_model_with_transpose_and_matrix_products() {
    let d = tmpdir("two");
    let model = example("two_inputs/xty.onnx");
    let o = prove(&d, &model, &example("two_inputs/input.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let v = verify(&model, d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    // One array per graph input: a wrong count or length is refused.
    let bad = d.join("bad.json");
    std::fs::write(&bad, r#"{"input_data": [[1, 2, 3]]}"#).unwrap();
    let o = prove(&d.join("x"), &model, &bad);
    assert_eq!(o.status.code(), Some(2));
    std::fs::write(
        &bad,
        r#"{"input_data": [[1,2,3,4,5,6,7,8,9,10,11,12], [1, 2]]}"#,
    )
    .unwrap();
    let o = prove(&d.join("x"), &model, &bad);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("input 1 has 2 values"),
        "{}",
        stderr(&o)
    );
}

/// `verify --model` checks the statement its own flags give, with prove's defaults; a proof of
/// the same model and input at another precision or scheme is another statement.
#[test]
fn verify_checks_the_precision_and_scheme_it_is_asked_about() {
    let d = tmpdir("statement");
    let model = example("mlp/mlp.onnx");
    let input = example("mlp/input.json");
    let verify_flags = |proof: &Path, flags: &[&str]| {
        run(bin()
            .args(["verify", "--model"])
            .arg(&model)
            .arg("--proof")
            .arg(proof)
            .args(flags))
    };
    // The default statement is printed with the verdict.
    let p = d.join("default.zkp");
    assert!(prove_flags(&[], &model, &input, &p).status.success());
    let o = verify_flags(&p, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let so = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        so.contains("precision: activations 2^-")
            && so.contains("weights 2^-20, tables 2^20; scheme ligero"),
        "{so}"
    );
    let o = verify_flags(&p, &["--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            j["weight_frac"].as_u64(),
            j["table_bits"].as_u64(),
            j["pcs"].as_str()
        ),
        (Some(20), Some(20), Some("ligero"))
    );
    assert!(j["act_frac"].as_u64().is_some());
    // The same statement asked explicitly (act_frac as calibrated) verifies too.
    let af = j["act_frac"].as_u64().unwrap().to_string();
    assert_eq!(
        verify_flags(&p, &["--act-frac", &af, "--pcs", "ligero"])
            .status
            .code(),
        Some(0)
    );
    for (flags, hint, printed) in [
        (
            vec!["--weight-frac", "5"],
            "pass --weight-frac 5",
            "weights 2^-5, tables 2^20",
        ),
        (vec!["--table-bits", "8"], "--table-bits 8", "tables 2^8"),
        (
            vec!["--act-frac", "10"],
            "pass --act-frac 10",
            "activations 2^-10,",
        ),
    ] {
        let p = d.join(format!("{}.zkp", flags.join("")));
        let o = prove_flags(&flags, &model, &input, &p);
        assert!(o.status.success(), "{}", stderr(&o));
        // Not the model's default statement: one line naming both and the flags to pass.
        let o = verify_flags(&p, &[]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{flags:?} accepted as the default statement"
        );
        let e = stderr(&o);
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(
            e.starts_with("invalid proof: the proof is for ")
                && e.contains("you asked about")
                && e.contains(hint),
            "{e}"
        );
        // Asked about with the prover's flags, it is that statement, and says so.
        let o = verify_flags(&p, &flags);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(printed));
    }
    // A proof made with a calibration file is checked with that file.
    let calib = d.join("calib.json");
    std::fs::write(&calib, r#"{"input_data": [[8, -8, 8, -8, 8]]}"#).unwrap();
    let p = d.join("calibrated.zkp");
    let flags = ["--calibration", calib.to_str().unwrap()];
    assert!(prove_flags(&flags, &model, &input, &p).status.success());
    assert_eq!(verify_flags(&p, &[]).status.code(), Some(1));
    assert_eq!(verify_flags(&p, &flags).status.code(), Some(0));
    // Precision flags mean nothing beside --commitment, which binds the precision itself.
    let o = run(bin()
        .args([
            "verify",
            "--commitment",
            &"0".repeat(64),
            "--weight-frac",
            "5",
            "--proof",
        ])
        .arg(d.join("default.zkp")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn relu_mask_as_exported_backward_passes_write_it() {
    // X * Cast(Greater(X, 0)): the mask maps onto the ReLU-derivative table.
    let d = tmpdir("mask");
    let model = example("two_inputs/mask.onnx");
    let o = prove(&d, &model, &example("two_inputs/input.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let v = verify(&model, d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let i = run(bin().args(["inspect", "--model"]).arg(&model));
    let text = String::from_utf8_lossy(&i.stdout);
    assert!(
        text.contains("Greater") && text.contains("Cast") && text.contains("status: supported"),
        "{text}"
    );
}

#[test]
fn sgd_steps_exported_from_pytorch_prove_through_the_inference_path() {
    // examples/gen_sgd_step.py: the seed MLP's SGD step as one graph (Slice, Reshape, Transpose,
    // MatMul, broadcast Add, Greater + Cast, ReduceSum, Concat, two outputs), from PyTorch's
    // TorchScript exporter and from its dynamo exporter.
    for (k, model) in ["sgd_step/step.onnx", "sgd_step/step_dynamo.onnx"]
        .into_iter()
        .enumerate()
    {
        let d = tmpdir(&format!("step{k}"));
        let model = example(model);
        let input = example("sgd_step/input.json");
        let o = run(bin()
            .args(["prove", "--json", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .arg("--calibration")
            .arg(&input)
            .arg("--proof")
            .arg(d.join("p.zkp")));
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let parts = j["output_data"].as_array().unwrap();
        assert_eq!(parts.len(), 2, "theta_next and loss");
        assert_eq!(parts[0].as_array().unwrap().len(), 138);
        assert_eq!(parts[1].as_array().unwrap().len(), 1);
        assert!(j["max_abs_error"].as_f64().unwrap() < 1e-5, "{j}");
        // theta_next really differs from theta (the step moved the weights).
        let theta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
        let moved = parts[0]
            .as_array()
            .unwrap()
            .iter()
            .zip(theta["input_data"][0].as_array().unwrap())
            .filter(|(a, b)| {
                let s = (1u64 << j["act_frac"].as_u64().unwrap()) as f64;
                a.as_f64().unwrap() != (b.as_f64().unwrap() * s).round() / s
            })
            .count();
        assert!(moved > 100, "{moved} weights moved");
        // The statement is the calibrated one: verify calibrates on the same file.
        let v = run(bin()
            .args(["verify", "--model"])
            .arg(&model)
            .arg("--proof")
            .arg(d.join("p.zkp"))
            .arg("--calibration")
            .arg(&input));
        assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
        assert_eq!(verify(&model, d.join("p.zkp")).status.code(), Some(1));
        // Checked against another model: rejected.
        let v = verify(example("mlp/mlp.onnx"), d.join("p.zkp"));
        assert_ne!(v.status.code(), Some(0));
    }
}

#[test]
fn prove_report_lists_every_layer_with_its_error() {
    let d = tmpdir("report");
    let o = prove_flags(
        &["--json", "--report"],
        &example("cnn/mixed.onnx"),
        &example("cnn/input.json"),
        &d.join("p.zkp"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = j["report"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["op"] == "Conv"));
    assert!(rows.iter().any(|r| r["op"] == "Max"));
    for r in rows {
        let (e, v) = (
            r["max_abs_error"].as_f64().unwrap(),
            r["max_abs_value"].as_f64().unwrap(),
        );
        assert!(e.is_finite() && e < 1e-3 * v.max(1.0), "{r}");
    }
    assert!(stderr(&o).contains("max |error|"));
}

#[test]
fn weights_in_an_external_data_file_are_read_and_must_stay_beside_the_model() {
    // examples/gen_cnn.py: the same CNN with its initializers in mixed.onnx.data.
    let d = tmpdir("external");
    let ext = example("cnn_external/mixed.onnx");
    let o = prove(&d, &ext, &example("cnn/input.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    // The same model, the same commitment: the inline copy verifies the proof.
    for m in [ext, example("cnn/mixed.onnx")] {
        let v = verify(&m, d.join("p.zkp"));
        assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    }
    // A location that leaves the model's directory is refused.
    let o = prove(
        &d.join("x"),
        &example("unsupported/outside_data.onnx"),
        &example("cnn/input.json"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("inside the model's directory"),
        "{}",
        stderr(&o)
    );
}

/// `--pcs whir` end to end: the proof says which scheme it used and `verify` follows it; the
/// model commitment depends on the scheme; a flipped byte or a relabelled scheme is refused.
#[test]
fn the_whir_scheme_end_to_end() {
    let d = tmpdir("whir");
    let model = example("cnn/mixed.onnx");
    let input = example("cnn/input.json");
    let o = prove_flags(
        &["--pcs", "whir", "--json"],
        &model,
        &input,
        &d.join("p.zkp"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["pcs"], "whir");
    // The proof's soundness, reported: the budget's union bound, at least the 100-bit target.
    let bits = j["soundness_bits"].as_f64().unwrap();
    assert!((100.0..130.0).contains(&bits), "{bits}");
    assert!(stderr(&o).contains(&format!("soundness: {bits:.1} bits")));
    // The verifier asks about WHIR itself: by default (auto: Ligero for this model) the proof
    // is another statement.
    let verify_whir = |p: &Path| {
        run(bin()
            .args(["verify", "--pcs", "whir", "--model"])
            .arg(&model)
            .arg("--proof")
            .arg(p))
    };
    let v = verify_whir(&d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(String::from_utf8_lossy(&v.stdout).contains("; scheme whir"));
    let v = verify(&model, d.join("p.zkp"));
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(stderr(&v).contains("pass --pcs whir"), "{}", stderr(&v));
    // The commitment `commit --pcs whir` prints verifies it; the default (auto) one does not.
    let commit = |extra: &[&str]| {
        let c = run(bin().arg("commit").args(extra).arg("--model").arg(&model));
        assert!(c.status.success(), "{}", stderr(&c));
        String::from_utf8_lossy(&c.stdout).trim().to_string()
    };
    let (whir, auto) = (commit(&["--pcs", "whir"]), commit(&[]));
    assert_ne!(whir, auto);
    let by = |c: &str| {
        run(bin()
            .args(["verify", "--commitment", c, "--proof"])
            .arg(d.join("p.zkp")))
        .status
        .code()
    };
    assert_eq!(by(&whir), Some(0));
    assert_eq!(by(&auto), Some(1));
    // Tampering: a byte near the end (inside the WHIR-era transcript) and the scheme byte.
    let good = std::fs::read(d.join("p.zkp")).unwrap();
    let bad = d.join("bad.zkp");
    let mut t = good.clone();
    let k = t.len() - 100;
    t[k] ^= 0x20;
    std::fs::write(&bad, &t).unwrap();
    assert_eq!(verify_whir(&bad).status.code(), Some(1));
    let mut t = good.clone();
    t[22] = 0; // the scheme byte after magic, version and three u32 precision fields
    std::fs::write(&bad, &t).unwrap();
    assert_eq!(verify_whir(&bad).status.code(), Some(1));
    // ... nor does asking about Ligero make the relabelled proof valid.
    assert_eq!(verify(&model, &bad).status.code(), Some(1));
    t[22] = 7;
    std::fs::write(&bad, &t).unwrap();
    let v = verify_whir(&bad);
    assert_eq!(v.status.code(), Some(2), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("unknown commitment scheme"),
        "{}",
        stderr(&v)
    );
    // An unknown --pcs value is a usage error.
    let o = prove_flags(&["--pcs", "kzg"], &model, &input, &d.join("q.zkp"));
    assert_eq!(o.status.code(), Some(2));
    assert!(!d.join("q.zkp").exists());
}
