//! `zkgrad train` / `zkgrad verify-run` as users run them, and runs tampered with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zkgrad"))
}
fn example(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}
fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkgrad-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Three proven steps of the seed MLP on three samples.
fn train(dir: &Path, extra: &[&str]) -> (PathBuf, Output) {
    let data = dir.join("data.json");
    std::fs::write(
        &data,
        r#"{"x": [[0.9, -0.2, 0.1, 0.2, 0.7], [-0.5, 0.3, 0.8, -0.1, 0.0], [0.2, 0.2, -0.9, 0.4, -0.3]], "y": [[0.5, -0.25], [0.1, 0.3], [-0.4, 0.2]]}"#,
    )
    .unwrap();
    let run = dir.join("run");
    let o = bin()
        .args(["train", "--model"])
        .arg(example("mlp/mlp.onnx"))
        .arg("--data")
        .arg(&data)
        .args(["--lr", "0.01", "--steps", "3", "--prove", "--out"])
        .arg(&run)
        .args(extra)
        .output()
        .unwrap();
    (run, o)
}

fn verify_run(run: &Path, model: &Path) -> Output {
    bin()
        .arg("verify-run")
        .arg(run)
        .arg("--model")
        .arg(model)
        .output()
        .unwrap()
}

#[test]
fn the_seed_step_in_one_command() {
    let d = tmpdir("seed");
    let run = d.join("run");
    let o = bin()
        .args(["train", "--model"])
        .arg(example("mlp/mlp.onnx"))
        .arg("--data")
        .arg(example("mlp/sample.json"))
        .args(["--lr", "0.01", "--steps", "1", "--prove", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["manifest.json", "final.onnx", "step-0001.zkp"] {
        assert!(run.join(f).exists(), "{f}");
    }
    let v = verify_run(&run, &example("mlp/mlp.onnx"));
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("verified 1 steps"));
    // The trained model imports and proves inference like any model.
    let p = bin()
        .args(["prove", "--model"])
        .arg(run.join("final.onnx"))
        .arg("--input")
        .arg(example("mlp/input.json"))
        .arg("--proof")
        .arg(d.join("p.zkp"))
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", stderr(&p));
}

#[test]
fn tampered_runs_are_rejected() {
    let d = tmpdir("tamper");
    let (run, o) = train(&d, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = example("mlp/mlp.onnx");
    assert_eq!(verify_run(&run, &model).status.code(), Some(0));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    let copy = |name: &str, edit: &dyn Fn(&Path, &mut serde_json::Value)| -> PathBuf {
        let r = d.join(name);
        let _ = std::fs::remove_dir_all(&r);
        std::fs::create_dir_all(&r).unwrap();
        for e in std::fs::read_dir(&run).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), r.join(e.file_name())).unwrap();
        }
        let mut m = manifest.clone();
        edit(&r, &mut m);
        std::fs::write(
            r.join("manifest.json"),
            serde_json::to_vec_pretty(&m).unwrap(),
        )
        .unwrap();
        r
    };
    let steps = |m: &mut serde_json::Value| m["steps"].as_array_mut().unwrap().clone();

    // A step skipped.
    let r = copy("skipped", &|r, m| {
        let mut s = steps(m);
        s.remove(1);
        m["steps"] = serde_json::Value::Array(s);
        std::fs::remove_file(r.join("step-0002.zkp")).unwrap();
    });
    assert_eq!(
        verify_run(&r, &model).status.code(),
        Some(1),
        "skipped step accepted"
    );
    // A step repeated.
    let r = copy("repeated", &|r, m| {
        std::fs::copy(r.join("step-0001.zkp"), r.join("step-0002.zkp")).unwrap();
        let _ = m;
    });
    assert_eq!(
        verify_run(&r, &model).status.code(),
        Some(1),
        "repeated step accepted"
    );
    // Steps reordered.
    let r = copy("reordered", &|r, m| {
        std::fs::rename(r.join("step-0001.zkp"), r.join("tmp")).unwrap();
        std::fs::rename(r.join("step-0002.zkp"), r.join("step-0001.zkp")).unwrap();
        std::fs::rename(r.join("tmp"), r.join("step-0002.zkp")).unwrap();
        let _ = m;
    });
    assert_eq!(
        verify_run(&r, &model).status.code(),
        Some(1),
        "reordered steps accepted"
    );
    // Another learning rate claimed.
    let r = copy("lr", &|_, m| m["lr"] = serde_json::json!(0.02));
    assert_eq!(
        verify_run(&r, &model).status.code(),
        Some(1),
        "another lr accepted"
    );
    // A chain that starts from another model (same architecture, other weights: the trained one).
    assert_eq!(
        verify_run(&run, &run.join("final.onnx")).status.code(),
        Some(1)
    );
    // A missing proof, an extra proof, no manifest: unusable (2).
    let r = copy("missing", &|r, _| {
        std::fs::remove_file(r.join("step-0003.zkp")).unwrap()
    });
    assert_eq!(verify_run(&r, &model).status.code(), Some(2));
    let r = copy("extra", &|r, _| {
        std::fs::copy(r.join("step-0001.zkp"), r.join("step-0004.zkp")).unwrap();
    });
    let o = verify_run(&r, &model);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not part of the run"), "{}", stderr(&o));
    let r = copy("partial", &|r, _| {
        std::fs::remove_file(r.join("manifest.json")).unwrap()
    });
    std::fs::remove_file(r.join("manifest.json")).ok();
    let o = verify_run(&r, &model);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("incomplete"), "{}", stderr(&o));
    // A flipped byte in a proof.
    let r = copy("flipped", &|r, _| {
        let p = r.join("step-0002.zkp");
        let mut b = std::fs::read(&p).unwrap();
        let n = b.len() - 100;
        b[n] ^= 1;
        std::fs::write(&p, b).unwrap();
    });
    assert_eq!(verify_run(&r, &model).status.code(), Some(1));
}

#[test]
fn bad_training_input_exits_2_and_leaves_no_run() {
    let d = tmpdir("bad");
    let model = example("mlp/mlp.onnx");
    let run = d.join("run");
    let go = |data: &str, lr: &str| -> Output {
        let p = d.join("d.json");
        std::fs::write(&p, data).unwrap();
        bin()
            .args(["train", "--model"])
            .arg(&model)
            .arg("--data")
            .arg(&p)
            .args(["--lr", lr, "--out"])
            .arg(&run)
            .args(["--prove"])
            .output()
            .unwrap()
    };
    let good = r#"{"x": [[0.1, 0.2, 0.3, 0.4, 0.5]], "y": [[0.1, 0.2]]}"#;
    for (data, lr, needle) in [
        (
            r#"{"x": [[0.1, 0.2, 0.3]], "y": [[0.1, 0.2]]}"#,
            "0.01",
            "the model takes 5",
        ),
        (
            r#"{"x": [[NaN, 0.2, 0.3, 0.4, 0.5]], "y": [[0.1, 0.2]]}"#,
            "0.01",
            "NaN",
        ),
        (good, "0", "positive number"),
        (good, "-0.5", "positive number"),
        (good, "fast", "positive number"),
    ] {
        let o = go(data, lr);
        assert_eq!(o.status.code(), Some(2), "{data} {lr}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(!run.exists(), "a run directory was left behind");
    }
}

#[test]
fn shuffled_runs_record_their_samples_and_verify() {
    let d = tmpdir("shuffle");
    let (run, o) = train(&d, &["--shuffle", "7", "--batch", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["shuffle"], 7);
    let samples: Vec<Vec<u64>> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect();
    // 3 steps of 2 over 3 samples: the first epoch is a permutation of 0..3.
    let mut first: Vec<u64> = samples.concat()[..3].to_vec();
    first.sort();
    assert_eq!(first, vec![0, 1, 2]);
    assert_eq!(
        verify_run(&run, &example("mlp/mlp.onnx")).status.code(),
        Some(0)
    );
}

#[test]
fn lora_runs_verify_merge_and_refuse_tampering() {
    let d = tmpdir("lora");
    // Adapters on the first and last layer: the backward pass crosses the frozen middle one.
    let (run, o) = train(
        &d,
        &[
            "--lora-rank",
            "2",
            "--lora-alpha",
            "4",
            "--lora-targets",
            "/fc1/Gemm,/fc3/Gemm",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "adapters.json",
        "final.onnx",
        "manifest.json",
        "step-0001.zkp",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["lora"]["rank"], 2);
    let model = example("mlp/mlp.onnx");
    let v = verify_run(&run, &model);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    // merge-lora writes W + (α/r)·B·A and prints its commitment; final.onnx is the same model.
    let merged = d.join("merged.onnx");
    let o = bin()
        .args(["merge-lora"])
        .arg(&run)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim().len(), 64);
    let check_merged = |m: &Path| {
        bin()
            .arg("verify-run")
            .arg(&run)
            .arg("--merged")
            .arg(m)
            .output()
            .unwrap()
    };
    for m in [&merged, &run.join("final.onnx")] {
        let v = check_merged(m);
        assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    }
    // The base model is not the merged one.
    let v = check_merged(&model);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("is not W + (α/r)·B·A"),
        "{}",
        stderr(&v)
    );
    // Adapters that are not the ones the proofs end with.
    let apath = run.join("adapters.json");
    let good = std::fs::read_to_string(&apath).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&good).unwrap();
    let a0 = doc["adapters"][0]["A"][0].as_i64().unwrap();
    doc["adapters"][0]["A"][0] = serde_json::json!(a0 + 1);
    std::fs::write(&apath, doc.to_string()).unwrap();
    let v = check_merged(&merged);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    std::fs::write(&apath, good).unwrap();
    // A LoRA run checked against another base model is refused.
    let v = verify_run(&run, &example("iris/mlp.onnx"));
    assert_ne!(v.status.code(), Some(0));
}

#[test]
fn lora_flags_without_a_rank_or_with_unknown_targets_are_refused() {
    let d = tmpdir("loraflags");
    let (run, o) = train(&d, &["--lora-alpha", "4"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("need --lora-rank"));
    assert!(!run.exists());
    let (run, o) = train(&d, &["--lora-rank", "2", "--lora-targets", "no_such_node"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no Linear node named no_such_node"),
        "{}",
        stderr(&o)
    );
    assert!(!run.exists());
    let (_, o) = train(&d, &["--lora-rank", "0"]);
    assert_eq!(o.status.code(), Some(2));
}
