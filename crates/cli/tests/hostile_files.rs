//! Hostile files (issue 13): inputs, models, proofs, data sets, outputs, run directories and the
//! cache that would make zkgrad hang, read without bound, accept something malformed, write a
//! partial result or remove what the user made. Each is refused: exit 2, one line naming the file
//! and the fault, within 2 s and 200 MB, nothing written. The corpus is made here, in each test's
//! own temporary directory, from fixed seeds.

mod common;
use common::hostile::*;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

fn mkfifo(p: &Path) {
    let s = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(s.success(), "mkfifo {}", p.display());
}

fn zero_link(p: &Path) {
    std::os::unix::fs::symlink("/dev/zero", p).unwrap();
}

fn mlp() -> PathBuf {
    example("mlp/mlp.onnx")
}

/// `zkgrad prove --model M --input I --proof dir/p.zkp ARGS`.
fn prove_cmd(model: &Path, input: &Path, proof: &Path, args: &[&str]) -> Command {
    let mut c = bin();
    c.args(["prove", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--proof")
        .arg(proof)
        .args(args);
    c
}

/// The name of `p`, for the message's needle.
fn name(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

/// A `.npy` file: version, header text and data.
fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY".to_vec();
    b.extend_from_slice(&[version, 0]);
    if version == 1 {
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

const INPUT5: [f32; 5] = [0.9, -0.2, 0.1, 0.2, 0.7];

fn npy_header(shape: &str) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}")
}

// ---------------------------------------------------------------------------------------------
// Hangs and unbounded reads.

#[test]
fn fifo_input_refused_without_hanging() {
    let d = tmpdir("fifo-input");
    let input = d.join("input.json");
    mkfifo(&input);
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(&mlp(), &input, &d.join("p.zkp"), &[]));
    assert_refused(
        "fifo input",
        &b,
        &["input.json", "not a regular file"],
        &d,
        &before,
    );
}

#[test]
fn fifo_model_refused_without_hanging() {
    let d = tmpdir("fifo-model");
    let model = d.join("model.onnx");
    mkfifo(&model);
    let before = files_under(&d);
    let b = run_bounded(bin().args(["inspect", "--model"]).arg(&model));
    assert_refused(
        "fifo model (inspect)",
        &b,
        &["model.onnx", "not a regular file"],
        &d,
        &before,
    );
    let b = run_bounded(&mut prove_cmd(
        &model,
        &example("mlp/input.json"),
        &d.join("p.zkp"),
        &[],
    ));
    assert_refused(
        "fifo model (prove)",
        &b,
        &["model.onnx", "not a regular file"],
        &d,
        &before,
    );
    let b = run_bounded(bin().args(["commit", "--model"]).arg(&model));
    assert_refused(
        "fifo model (commit)",
        &b,
        &["model.onnx", "not a regular file"],
        &d,
        &before,
    );
}

#[test]
fn fifo_proof_refused_without_hanging() {
    let d = tmpdir("fifo-proof");
    let proof = d.join("p.zkp");
    mkfifo(&proof);
    let before = files_under(&d);
    let b = run_bounded(
        bin()
            .args(["verify", "--model"])
            .arg(mlp())
            .arg("--proof")
            .arg(&proof),
    );
    assert_refused(
        "fifo proof",
        &b,
        &["p.zkp", "not a regular file"],
        &d,
        &before,
    );
}

#[test]
fn fifo_data_file_refused_without_hanging() {
    let d = tmpdir("fifo-data");
    let data = d.join("data.json");
    mkfifo(&data);
    let before = files_under(&d);
    let b = run_bounded(
        bin()
            .args(["train", "--model"])
            .arg(mlp())
            .arg("--data")
            .arg(&data)
            .args(["--lr", "0.01", "--out"])
            .arg(d.join("run")),
    );
    assert_refused(
        "fifo data",
        &b,
        &["data.json", "not a regular file"],
        &d,
        &before,
    );
}

#[test]
fn links_to_dev_zero_refused_without_reading_them() {
    let d = tmpdir("dev-zero");
    let input = d.join("zero.json");
    zero_link(&input);
    let model = d.join("zero.onnx");
    zero_link(&model);
    let proof = d.join("zero.zkp");
    zero_link(&proof);
    let npy_in = d.join("zero.npy");
    zero_link(&npy_in);
    let before = files_under(&d);
    let out = d.join("p.zkp");
    for (case, b, file) in [
        (
            "input -> /dev/zero",
            run_bounded(&mut prove_cmd(&mlp(), &input, &out, &[])),
            "zero.json",
        ),
        (
            ".npy input -> /dev/zero",
            run_bounded(&mut prove_cmd(&mlp(), &npy_in, &out, &[])),
            "zero.npy",
        ),
        (
            "model -> /dev/zero",
            run_bounded(&mut prove_cmd(
                &model,
                &example("mlp/input.json"),
                &out,
                &[],
            )),
            "zero.onnx",
        ),
        (
            "proof -> /dev/zero",
            run_bounded(
                bin()
                    .args(["verify", "--model"])
                    .arg(mlp())
                    .arg("--proof")
                    .arg(&proof),
            ),
            "zero.zkp",
        ),
    ] {
        assert_refused(case, &b, &[file, "not a regular file"], &d, &before);
    }
}

#[test]
fn fifo_cache_entries_are_recomputed_without_hanging() {
    let d = tmpdir("fifo-cache");
    let cached = || {
        let mut c = bin();
        c.env("ZKGRAD_CACHE_DIR", d.join("cache"))
            .env("XDG_CONFIG_HOME", d.join("config"))
            .args(["commit", "--model"])
            .arg(mlp());
        c
    };
    let first = run_bounded(&mut cached());
    assert_eq!(first.code(), Some(0), "{}", first.stderr);
    let mut entries = 0;
    for kind in ["act-frac", "weight-root"] {
        let Ok(rd) = std::fs::read_dir(d.join("cache").join(kind)) else {
            continue;
        };
        for e in rd.flatten() {
            std::fs::remove_file(e.path()).unwrap();
            mkfifo(&e.path());
            entries += 1;
        }
    }
    assert!(entries > 0, "the first run cached nothing");
    let b = run_bounded(&mut cached());
    assert!(!b.killed, "a FIFO in the cache hangs");
    assert_eq!(b.code(), Some(0), "{}", b.stderr);
    assert!(b.seconds < MAX_SECONDS, "took {:.2} s", b.seconds);
    assert_eq!(b.stdout, first.stdout, "the same commitment");
}

// ---------------------------------------------------------------------------------------------
// Malformed inputs.

#[test]
fn ragged_json_input_refused_naming_the_row() {
    let d = tmpdir("ragged");
    let input = d.join("ragged.json");
    std::fs::write(&input, r#"{"input_data": [[[0.1, 0.2, 0.3], [0.4, 0.5]]]}"#).unwrap();
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(&mlp(), &input, &d.join("p.zkp"), &[]));
    assert_refused(
        "ragged",
        &b,
        &["ragged.json", "ragged", "input_data[0][1]"],
        &d,
        &before,
    );
}

#[test]
fn mixed_depth_json_input_refused_naming_the_element() {
    let d = tmpdir("mixed");
    let input = d.join("mixed.json");
    std::fs::write(&input, "[0.1, [0.2, 0.3], 0.4, 0.5]").unwrap();
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(&mlp(), &input, &d.join("p.zkp"), &[]));
    assert_refused("mixed depth", &b, &["mixed.json", "[1]"], &d, &before);
    std::fs::write(&input, r#"{"input_data": [[0.1, "0.2", 0.3, 0.4, 0.5]]}"#).unwrap();
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(&mlp(), &input, &d.join("p.zkp"), &[]));
    assert_refused(
        "string leaf",
        &b,
        &["mixed.json", "input_data[0][1]", "string"],
        &d,
        &before,
    );
}

#[test]
fn malformed_npy_inputs_refused_naming_the_fault() {
    let d = tmpdir("npy");
    let data = f32s(&INPUT5);
    let ok = npy(1, &npy_header("(5,)"), &data);
    let mut v0 = ok.clone();
    v0[6] = 0;
    let mut v99 = ok.clone();
    v99[6] = 99;
    let mut trailing = ok.clone();
    trailing.extend_from_slice(&[0, 0, 0, 0]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("version_0", v0, "version 0.0"),
        ("version_99", v99, "version 99.0"),
        (
            "no_shape",
            npy(1, "{'descr': '<f4', 'fortran_order': False}", &data),
            "'shape'",
        ),
        ("not_a_dict", npy(1, "('<f4', False, (5,))", &data), "dict"),
        ("truncated", ok[..ok.len() - 3].to_vec(), "truncated"),
        ("trailing", trailing, "trailing"),
        (
            "shape_1e12",
            npy(1, &npy_header("(1000000000000,)"), &data),
            "shape (1000000000000,)",
        ),
        ("shape_7", npy(1, &npy_header("(7,)"), &data), "shape (7,)"),
        (
            "shape_negative",
            npy(1, &npy_header("(-5,)"), &data),
            "negative",
        ),
        (
            "shape_not_a_tuple",
            npy(1, &npy_header("(5)"), &data),
            "not a tuple",
        ),
        (
            "fortran_no_space_garbage",
            npy(
                1,
                "{'descr': '<f4', 'fortran_order':Flase, 'shape': (5,)}",
                &data,
            ),
            "unsupported value",
        ),
        (
            "extra_key",
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), 'x': 'y'}",
                &data,
            ),
            "unknown key",
        ),
        (
            "big_endian",
            npy(
                1,
                "{'descr': '>f4', 'fortran_order': False, 'shape': (5,)}",
                &data,
            ),
            "not supported",
        ),
    ];
    for (case, bytes, fault) in cases {
        let input = d.join(format!("{case}.npy"));
        std::fs::write(&input, bytes).unwrap();
        let before = files_under(&d);
        let b = run_bounded(&mut prove_cmd(&mlp(), &input, &d.join("p.zkp"), &[]));
        assert_refused(case, &b, &[&format!("{case}.npy"), fault], &d, &before);
    }
    // Three values for a model of five: read, then refused against the model.
    let input = d.join("three.npy");
    std::fs::write(&input, npy(1, &npy_header("(3,)"), &f32s(&INPUT5[..3]))).unwrap();
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(&mlp(), &input, &d.join("p.zkp"), &[]));
    assert_refused("three values", &b, &["three.npy", "expects 5"], &d, &before);
}

#[test]
fn fortran_order_written_without_a_space_is_parsed_and_refused() {
    let d = tmpdir("fortran");
    let data = d.join("data");
    std::fs::create_dir(&data).unwrap();
    let x: Vec<f32> = (0..15).map(|i| (i as f32) / 20.0).collect();
    std::fs::write(
        data.join("x.npy"),
        npy(
            1,
            "{'descr':'<f4','fortran_order':True,'shape':(3,5)}",
            &f32s(&x),
        ),
    )
    .unwrap();
    std::fs::write(
        data.join("y.npy"),
        npy(1, &npy_header("(3, 2)"), &f32s(&[0.1; 6])),
    )
    .unwrap();
    let before = files_under(&d);
    let b = run_bounded(
        bin()
            .args(["train", "--model"])
            .arg(mlp())
            .arg("--data")
            .arg(&data)
            .args(["--lr", "0.01", "--out"])
            .arg(d.join("run")),
    );
    assert_refused(
        "fortran order",
        &b,
        &["x.npy", "Fortran order"],
        &d,
        &before,
    );
}

// ---------------------------------------------------------------------------------------------
// Outputs.

#[test]
fn proof_or_output_naming_a_directory_refused_up_front() {
    let d = tmpdir("out-dir");
    let sub = d.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let before = files_under(&d);
    let input = example("mlp/input.json");
    let b = run_bounded(&mut prove_cmd(&mlp(), &input, &sub, &[]));
    assert_refused("--proof DIR", &b, &["sub", "is a directory"], &d, &before);
    let out = sub.to_str().unwrap().to_string();
    let b = run_bounded(&mut prove_cmd(
        &mlp(),
        &input,
        &d.join("p.zkp"),
        &["--output", &out],
    ));
    assert_refused("--output DIR", &b, &["sub", "is a directory"], &d, &before);
}

#[test]
fn output_in_a_missing_directory_refused_before_proving() {
    let d = tmpdir("out-missing");
    let before = files_under(&d);
    let out = d.join("nowhere/out.json");
    let b = run_bounded(&mut prove_cmd(
        &mlp(),
        &example("mlp/input.json"),
        &d.join("p.zkp"),
        &["--output", out.to_str().unwrap()],
    ));
    assert_refused(
        "--output in a missing dir",
        &b,
        &["out.json", "does not exist"],
        &d,
        &before,
    );
}

#[test]
fn same_path_for_proof_and_output_refused() {
    let d = tmpdir("same-path");
    let p = d.join("x.zkp");
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(
        &mlp(),
        &example("mlp/input.json"),
        &p,
        &["--output", p.to_str().unwrap()],
    ));
    assert_refused(
        "--proof X --output X",
        &b,
        &["x.zkp", "same file"],
        &d,
        &before,
    );
    // Nor may an output overwrite the input.
    let input = d.join("input.json");
    std::fs::copy(example("mlp/input.json"), &input).unwrap();
    let before = files_under(&d);
    let b = run_bounded(&mut prove_cmd(
        &mlp(),
        &input,
        &d.join("p.zkp"),
        &["--output", input.to_str().unwrap()],
    ));
    assert_refused(
        "--output INPUT",
        &b,
        &["input.json", "same file as --input"],
        &d,
        &before,
    );
}

#[test]
fn a_users_tmp_file_survives_a_run() {
    let d = tmpdir("user-tmp");
    std::fs::write(d.join("p.tmp"), b"mine").unwrap();
    std::fs::write(d.join("out.tmp"), b"mine too").unwrap();
    let o = prove(&d, &mlp(), &example("mlp/input.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("p.tmp")).unwrap(), b"mine");
    assert_eq!(std::fs::read(d.join("out.tmp")).unwrap(), b"mine too");
    let names: Vec<String> = files_under(&d)
        .iter()
        .map(|p| name(p).to_string())
        .collect();
    assert_eq!(names, ["out.json", "out.tmp", "p.tmp", "p.zkp"]);
}

// ---------------------------------------------------------------------------------------------
// Run directories.

/// Data whose inputs leave the range of `--act-frac 16`: training fails at step 1, after the
/// run directory was made.
const OUT_OF_RANGE_DATA: &str = r#"{"x": [[900, -900, 900, -900, 900]], "y": [[0.5, -0.25]]}"#;

fn failing_train(d: &Path, out: &Path) -> Bounded {
    let data = d.join("data.json");
    if !data.exists() {
        std::fs::write(&data, OUT_OF_RANGE_DATA).unwrap();
    }
    run_bounded(
        bin()
            .args(["train", "--model"])
            .arg(mlp())
            .arg("--data")
            .arg(&data)
            .args(["--lr", "0.01", "--act-frac", "16", "--out"])
            .arg(out),
    )
}

#[test]
fn failed_train_keeps_the_users_directory_and_link() {
    let d = tmpdir("train-user-dir");
    std::fs::write(d.join("data.json"), OUT_OF_RANGE_DATA).unwrap();
    let mine = d.join("mine");
    std::fs::create_dir(&mine).unwrap();
    let before = files_under(&d);
    let b = failing_train(&d, &mine);
    assert_refused("train into the user's dir", &b, &["step 1"], &d, &before);
    assert!(mine.is_dir(), "the user's directory was removed");
    // Advice in train's own flags (train has no --calibration).
    assert!(!b.stderr.contains("--calibration"), "{}", b.stderr);
    // A link given as --out: the link and its target stay.
    let target = d.join("target");
    std::fs::create_dir(&target).unwrap();
    let link = d.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let before = files_under(&d);
    let b = failing_train(&d, &link);
    assert_refused("train into a link", &b, &["step 1"], &d, &before);
    assert!(link.is_symlink() && target.is_dir());
}

#[test]
fn failed_train_into_new_nested_directories_removes_the_parents_it_made() {
    let d = tmpdir("train-nested");
    std::fs::write(d.join("data.json"), OUT_OF_RANGE_DATA).unwrap();
    let before = files_under(&d);
    let b = failing_train(&d, &d.join("a/b/c/run"));
    assert_refused("train into a/b/c/run", &b, &["step 1"], &d, &before);
    assert!(!d.join("a").exists());
}

#[test]
fn train_into_a_file_refused() {
    let d = tmpdir("train-file");
    std::fs::write(d.join("data.json"), OUT_OF_RANGE_DATA).unwrap();
    std::fs::write(d.join("file"), b"mine").unwrap();
    let before = files_under(&d);
    let b = failing_train(&d, &d.join("file"));
    assert_refused(
        "train --out FILE",
        &b,
        &["file", "not a directory"],
        &d,
        &before,
    );
}

// ---------------------------------------------------------------------------------------------
// Messages.

#[test]
fn bad_loss_in_a_manifest_names_the_manifest_field() {
    let d = tmpdir("manifest-loss");
    let run = d.join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(
        run.join("manifest.json"),
        r#"{"format": "zkgrad-run/2", "complete": true, "lora": null, "batch": 1, "lr": 0.01,
            "loss": "hinge", "table_bits": 20, "act_frac": 10, "weight_frac": 28, "steps": []}"#,
    )
    .unwrap();
    let before = files_under(&d);
    let b = run_bounded(
        bin()
            .arg("merge-lora")
            .arg(&run)
            .arg("--out")
            .arg(d.join("merged.onnx")),
    );
    assert_refused(
        "manifest loss",
        &b,
        &["manifest.json", "field \"loss\" is \"hinge\""],
        &d,
        &before,
    );
    assert!(!b.stderr.contains("--loss"), "{}", b.stderr);
}

#[test]
fn huge_learning_rate_is_called_too_large() {
    let d = tmpdir("lr-large");
    std::fs::write(
        d.join("data.json"),
        r#"{"x": [[0.9, -0.2, 0.1, 0.2, 0.7]], "y": [[0.5, -0.25]]}"#,
    )
    .unwrap();
    let before = files_under(&d);
    let b = run_bounded(
        bin()
            .args(["train", "--model"])
            .arg(mlp())
            .arg("--data")
            .arg(d.join("data.json"))
            .args(["--lr", "1000", "--act-frac", "8", "--out"])
            .arg(d.join("run")),
    );
    assert_refused("--lr 1000", &b, &["--lr 1000", "too large"], &d, &before);
    assert!(!b.stderr.contains("too small"), "{}", b.stderr);
}

#[test]
fn calibration_with_act_frac_refused() {
    let d = tmpdir("calib-act-frac");
    let before = files_under(&d);
    let calib = example("mlp/input.json");
    let b = run_bounded(&mut prove_cmd(
        &mlp(),
        &example("mlp/input.json"),
        &d.join("p.zkp"),
        &["--act-frac", "10", "--calibration", calib.to_str().unwrap()],
    ));
    assert_refused(
        "--calibration with --act-frac",
        &b,
        &["--calibration", "input.json", "--act-frac"],
        &d,
        &before,
    );
}

#[test]
fn proof_header_precision_is_blamed_on_the_proof_file() {
    let d = tmpdir("header-precision");
    let o = prove(&d, &mlp(), &example("mlp/input.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut bytes = std::fs::read(d.join("p.zkp")).unwrap();
    // The header: magic (8), version (2), act_frac, weight_frac, table_bits (u32 each).
    bytes[14..18].copy_from_slice(&39u32.to_le_bytes());
    let proof = d.join("w39.zkp");
    std::fs::write(&proof, &bytes).unwrap();
    let before = files_under(&d);
    let b = run_bounded(
        bin()
            .args(["verify", "--model"])
            .arg(mlp())
            .arg("--proof")
            .arg(&proof)
            .args(["--weight-frac", "39", "--no-cache"]),
    );
    assert_refused(
        "weights at 2^-39",
        &b,
        &["w39.zkp", "weights 2^-39"],
        &d,
        &before,
    );
}

// ---------------------------------------------------------------------------------------------
// Mutated inputs through the binary: refused (exit 2, one line) or proved; never a panic.

#[test]
fn mutated_inputs_through_the_binary_are_refused_or_proved() {
    let d = tmpdir("mutated");
    let valid = npy(1, &npy_header("(5,)"), &f32s(&INPUT5));
    let mut state = 0x5eed_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for k in 0..6 {
        let mut b = valid.clone();
        match k % 3 {
            0 => {
                let i = next() % b.len();
                b[i] ^= 1 << (next() % 8);
            }
            1 => b.truncate(next() % b.len()),
            _ => {
                let i = 10 + next() % (b.len() - 10);
                b.insert(i, b"{}(),:' 0123456789"[next() % 18]);
            }
        }
        let input = d.join(format!("m{k}.npy"));
        std::fs::write(&input, &b).unwrap();
        let proof = d.join(format!("m{k}.zkp"));
        let r = run_bounded(&mut prove_cmd(&mlp(), &input, &proof, &[]));
        assert!(!r.killed, "case {k}: a hang");
        match r.code() {
            Some(0) => assert!(proof.exists(), "case {k}"),
            Some(2) => {
                assert_eq!(r.stderr.trim().lines().count(), 1, "case {k}: {}", r.stderr);
                assert!(!proof.exists(), "case {k}: a proof was left");
            }
            other => panic!("case {k}: exit {other:?}: {}", r.stderr),
        }
    }
}
