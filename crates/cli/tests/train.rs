//! `zkgrad train` / `zkgrad verify-run` as users run them, and runs tampered with: every test
//! of a tampered run names the attack it stops.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zkgrad"))
}
fn example(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}
mod common;

/// `zkgrad-test-train-{name}-{pid}`, swept once its run has finished (`common::tmpdir`).
fn tmpdir(name: &str) -> PathBuf {
    common::tmpdir(name)
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const DATA: &str = r#"{"x": [[0.9, -0.2, 0.1, 0.2, 0.7], [-0.5, 0.3, 0.8, -0.1, 0.0], [0.2, 0.2, -0.9, 0.4, -0.3]], "y": [[0.5, -0.25], [0.1, 0.3], [-0.4, 0.2]]}"#;

/// Three proven steps of the seed MLP on three samples at lr 0.01 (plus `extra`), into
/// `dir/name`; the data file is `dir/data.json`.
fn train_into(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Output) {
    let data = dir.join("data.json");
    std::fs::write(&data, DATA).unwrap();
    let run = dir.join(name);
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

fn train(dir: &Path, extra: &[&str]) -> (PathBuf, Output) {
    train_into(dir, "run", extra)
}

/// `verify-run RUN --model M --data dir/data.json --lr 0.01 ARGS`: the statement of [`train`]
/// (with `args` for any other setting, `--lr` included).
fn verify_run_with(run: &Path, model: &Path, args: &[&str]) -> Output {
    let lr: &[&str] = if args.contains(&"--lr") {
        &[]
    } else {
        &["--lr", "0.01"]
    };
    bin()
        .arg("verify-run")
        .arg(run)
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(run.parent().unwrap().join("data.json"))
        .args(lr)
        .args(args)
        .output()
        .unwrap()
}

fn verify_run(run: &Path, model: &Path) -> Output {
    verify_run_with(run, model, &[])
}

/// Exit `code`, and for a failure a one-line message on stderr; never a panic.
fn assert_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}: {}", stderr(o));
    if code == 0 {
        return;
    }
    let e = stderr(o);
    let last = e.trim().lines().last().unwrap_or_default();
    let prefix = if code == 1 {
        "invalid proof: "
    } else {
        "error: "
    };
    assert!(last.starts_with(prefix), "{what}: {e}");
}

/// A named edit of a run directory.
type Tamper<'a> = Box<dyn Fn(&Path) + 'a>;

fn manifest(run: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap()
}

/// A copy of `run` at `dir/name`, its manifest edited by `edit` (which may change files too).
fn tampered(run: &Path, dir: &Path, name: &str, edit: &dyn Fn(&Path, &mut Value)) -> PathBuf {
    let r = dir.join(name);
    let _ = std::fs::remove_dir_all(&r);
    std::fs::create_dir_all(&r).unwrap();
    for e in std::fs::read_dir(run).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), r.join(e.file_name())).unwrap();
    }
    let mut m = manifest(run);
    edit(&r, &mut m);
    std::fs::write(
        r.join("manifest.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    r
}

/// `src` with every Linear weight scaled by `k` (the same graph, other weights).
fn scaled_model(src: &Path, dst: &Path, k: f64) {
    let bytes = std::fs::read(src).unwrap();
    let (mut g, sources) = zkgrad_onnx::import_with_sources(&bytes).unwrap();
    for n in g.nodes.iter_mut() {
        if let zkgrad_model::Op::Linear { w, .. } = &mut n.op {
            w.iter_mut().for_each(|v| *v *= k);
        }
    }
    std::fs::write(
        dst,
        zkgrad_onnx::export_weights(&bytes, &g, &sources).unwrap(),
    )
    .unwrap();
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
    assert!(run.join("final-weights.bin").exists());
    let v = bin()
        .arg("verify-run")
        .arg(&run)
        .args(["--lr", "0.01", "--data"])
        .arg(example("mlp/sample.json"))
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let so = stdout(&v);
    assert!(so.starts_with("verified 1 steps"), "{so}");
    // The statement checked is printed: the model used (the manifest's path by default), the
    // settings, the precision, the recomputed loss, the checked files.
    for needle in [
        "model: ",
        "mlp.onnx",
        "statement: lr 0.01, batch 1, loss mse, full SGD, data order",
        "precision: activations 2^-",
        "weights 2^-28, tables 2^20; scheme ligero",
        "loss: step 1 ",
        "final files: final.onnx and final-weights.bin hold the proven final weights",
    ] {
        assert!(so.contains(needle), "{needle:?} not in {so}");
    }
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

/// The chain of proofs: a step skipped, repeated or reordered, a proof flipped, missing or
/// extra, a chain from another model.
#[test]
fn broken_chains_are_rejected() {
    let d = tmpdir("chain");
    let (run, o) = train(&d, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = example("mlp/mlp.onnx");
    assert_exit(&verify_run(&run, &model), 0, "honest");
    let steps = |m: &mut Value| m["steps"].as_array_mut().unwrap().clone();
    let r = tampered(&run, &d, "skipped", &|r, m| {
        let mut s = steps(m);
        s.remove(1);
        s[1]["step"] = json!(2);
        s[1]["proof"] = json!("step-0002.zkp");
        m["steps"] = Value::Array(s);
        std::fs::rename(r.join("step-0003.zkp"), r.join("step-0002.zkp")).unwrap();
    });
    assert_exit(&verify_run(&r, &model), 1, "a step skipped");
    let r = tampered(&run, &d, "repeated", &|r, _| {
        std::fs::copy(r.join("step-0001.zkp"), r.join("step-0002.zkp")).unwrap();
    });
    assert_exit(&verify_run(&r, &model), 1, "a step repeated");
    let r = tampered(&run, &d, "reordered", &|r, _| {
        std::fs::rename(r.join("step-0001.zkp"), r.join("tmp")).unwrap();
        std::fs::rename(r.join("step-0002.zkp"), r.join("step-0001.zkp")).unwrap();
        std::fs::rename(r.join("tmp"), r.join("step-0002.zkp")).unwrap();
    });
    assert_exit(&verify_run(&r, &model), 1, "steps reordered");
    // A chain that starts from another model (same architecture, other weights).
    assert_exit(
        &verify_run(&run, &run.join("final.onnx")),
        1,
        "a chain from another model",
    );
    let r = tampered(&run, &d, "flipped", &|r, _| {
        let p = r.join("step-0002.zkp");
        let mut b = std::fs::read(&p).unwrap();
        let n = b.len() - 100;
        b[n] ^= 1;
        std::fs::write(&p, b).unwrap();
    });
    assert_exit(&verify_run(&r, &model), 1, "a flipped proof byte");
    // A missing proof, an extra proof, no manifest: unusable (2).
    let r = tampered(&run, &d, "missing", &|r, _| {
        std::fs::remove_file(r.join("step-0003.zkp")).unwrap()
    });
    assert_exit(&verify_run(&r, &model), 2, "a missing proof");
    let r = tampered(&run, &d, "extra", &|r, _| {
        std::fs::copy(r.join("step-0001.zkp"), r.join("step-0004.zkp")).unwrap();
    });
    let o = verify_run(&r, &model);
    assert_exit(&o, 2, "an extra proof");
    assert!(stderr(&o).contains("not part of the run"), "{}", stderr(&o));
    let r = tampered(&run, &d, "outside", &|_, m| {
        m["steps"][0]["proof"] = json!("../run/step-0001.zkp");
    });
    assert_exit(&verify_run(&r, &model), 2, "a proof named outside the run");
    let r = tampered(&run, &d, "partial", &|_, _| {});
    std::fs::remove_file(r.join("manifest.json")).unwrap();
    let o = verify_run(&r, &model);
    assert_exit(&o, 2, "no manifest");
    assert!(stderr(&o).contains("incomplete"), "{}", stderr(&o));
}

/// Every manifest field that states something is compared with the verifier's statement, the
/// proofs or the data; the trainer's report (paths, f64 losses, deviation) is never printed.
#[test]
fn edited_manifests_are_rejected() {
    let d = tmpdir("manifest");
    let (run, o) = train(&d, &["--shuffle", "7", "--batch", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = example("mlp/mlp.onnx");
    let good = ["--shuffle", "7", "--batch", "2"];
    let check = |r: &Path| verify_run_with(r, &model, &good);
    assert_exit(&check(&run), 0, "honest");
    let m0 = manifest(&run);
    let other_root = m0["final_weight_root"].clone();
    for (name, code, edit) in [
        (
            "initial_root",
            1,
            &(|m: &mut Value| m["initial_weight_root"] = other_root.clone()) as &dyn Fn(&mut Value),
        ),
        ("final_root", 1, &|m: &mut Value| {
            m["final_weight_root"] = m["initial_weight_root"].clone()
        }),
        ("act_frac", 1, &|m: &mut Value| {
            m["act_frac"] = json!(m["act_frac"].as_u64().unwrap() - 1)
        }),
        ("weight_frac", 1, &|m: &mut Value| {
            m["weight_frac"] = json!(20)
        }),
        ("table_bits", 1, &|m: &mut Value| {
            m["table_bits"] = json!(19)
        }),
        ("lr", 1, &|m: &mut Value| m["lr"] = json!(0.02)),
        ("batch", 1, &|m: &mut Value| m["batch"] = json!(1)),
        ("loss", 1, &|m: &mut Value| m["loss"] = json!("xent")),
        ("lora", 1, &|m: &mut Value| {
            m["lora"] = json!({"rank": 1, "alpha": 1.0, "targets": []})
        }),
        ("shuffle_seed", 1, &|m: &mut Value| m["shuffle"] = json!(8)),
        ("step_numbers", 1, &|m: &mut Value| {
            m["steps"][0]["step"] = json!(2);
            m["steps"][1]["step"] = json!(1);
        }),
        ("step_number_skipped", 1, &|m: &mut Value| {
            m["steps"][2]["step"] = json!(4)
        }),
        ("recorded_loss", 1, &|m: &mut Value| {
            let l = m["steps"][1]["loss"].as_f64().unwrap();
            m["steps"][1]["loss"] = json!(l * 0.5);
        }),
        ("recorded_loss_removed", 1, &|m: &mut Value| {
            m["steps"][1].as_object_mut().unwrap().remove("loss");
        }),
        ("samples", 1, &|m: &mut Value| {
            m["steps"][0]["samples"] = json!([0, 0])
        }),
        ("root_after", 1, &|m: &mut Value| {
            m["steps"][0]["weight_root_after"] = json!("00")
        }),
        ("format_99", 2, &|m: &mut Value| {
            m["format"] = json!("zkgrad-run/99")
        }),
        ("format_1", 2, &|m: &mut Value| {
            m["format"] = json!("zkgrad-run/1")
        }),
        ("zero_steps", 2, &|m: &mut Value| m["steps"] = json!([])),
        ("not_proved", 2, &|m: &mut Value| m["proved"] = json!(false)),
        ("incomplete", 2, &|m: &mut Value| {
            m["complete"] = json!(false)
        }),
    ] {
        let r = tampered(&run, &d, name, &|r, m| {
            edit(m);
            if m["steps"].as_array().is_some_and(|s| s.is_empty()) {
                for k in 1..=3 {
                    std::fs::remove_file(r.join(format!("step-000{k}.zkp"))).unwrap();
                }
            }
        });
        let o = check(&r);
        assert_exit(&o, code, &format!("manifest {name} edited"));
        if name == "zero_steps" {
            assert!(
                stderr(&o).contains("a run of 0 steps proves nothing"),
                "{}",
                stderr(&o)
            );
        }
        if name == "format_99" {
            assert!(
                stderr(&o).contains("unsupported run format"),
                "{}",
                stderr(&o)
            );
        }
    }
    // A field the statement gives is named in the message.
    let r = tampered(&run, &d, "named", &|_, m| m["weight_frac"] = json!(20));
    let e = stderr(&check(&r));
    assert!(e.contains("weight_frac is 20; you asked about 28"), "{e}");

    // The trainer's report: accepted when edited, and never printed as fact.
    let r = tampered(&run, &d, "report", &|_, m| {
        m["max_weight_deviation_from_f64_sgd"] = json!(12345.678);
        m["data"] = json!("/nowhere/forged-data.json");
        m["model"] = json!("/nowhere/forged-model.onnx");
        for s in m["steps"].as_array_mut().unwrap() {
            s["loss_f64"] = json!(98765.4321);
        }
    });
    let o = check(&r);
    assert_exit(&o, 0, "the trainer's report edited");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    for forged in ["12345", "98765", "forged"] {
        assert!(!all.contains(forged), "{forged} printed: {all}");
    }
    let o = bin()
        .arg("verify-run")
        .arg(&r)
        .args(["--json", "--lr", "0.01"])
        .args(good)
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(d.join("data.json"))
        .output()
        .unwrap();
    assert_exit(&o, 0, "--json");
    let all = stdout(&o);
    for forged in ["12345", "98765", "forged"] {
        assert!(!all.contains(forged), "{forged} printed: {all}");
    }
    // Without the data, the manifest's model path is the default model (the proofs check it):
    // a forged path is unusable, not trusted.
    let o = bin()
        .arg("verify-run")
        .arg(&r)
        .args(["--lr", "0.01", "--act-frac"])
        .arg(m0["act_frac"].to_string())
        .args(good)
        .output()
        .unwrap();
    assert_exit(&o, 2, "a forged model path");
}

/// The statement is the verifier's: a run checked with another lr, batch, loss, LoRA setting,
/// precision or step count is rejected, even when the manifest is edited to agree with it.
#[test]
fn runs_are_checked_against_the_statement_asked_about() {
    let d = tmpdir("statement");
    let (run, o) = train(&d, &["--batch", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = example("mlp/mlp.onnx");
    let act_frac = manifest(&run)["act_frac"].as_u64().unwrap().to_string();
    let right: Vec<Vec<&str>> = vec![
        vec!["--batch", "2"],
        vec!["--batch", "2", "--loss", "mse", "--steps", "3"],
        vec![
            "--batch",
            "2",
            "--act-frac",
            &act_frac,
            "--weight-frac",
            "28",
            "--table-bits",
            "20",
        ],
    ];
    for args in &right {
        assert_exit(
            &verify_run_with(&run, &model, args),
            0,
            &format!("{args:?}"),
        );
    }
    let other_af = (act_frac.parse::<u32>().unwrap() - 1).to_string();
    let wrong: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--lr", "0.02", "--batch", "2"], "lr"),
        (vec!["--batch", "1"], "batch"),
        (vec!["--batch", "2", "--loss", "xent"], "loss"),
        (vec!["--batch", "2", "--lora-rank", "2"], "lora"),
        (vec!["--batch", "2", "--act-frac", &other_af], "act_frac"),
        (vec!["--batch", "2", "--weight-frac", "27"], "weight_frac"),
        (vec!["--batch", "2", "--table-bits", "19"], "table_bits"),
        (vec!["--batch", "2", "--shuffle", "1"], "shuffle"),
        (vec!["--batch", "2", "--steps", "4"], "--steps"),
    ];
    for (args, field) in &wrong {
        let o = verify_run_with(&run, &model, args);
        assert_exit(&o, 1, &format!("{args:?}"));
        assert!(stderr(&o).contains(field), "{field}: {}", stderr(&o));
    }
    // A manifest edited to agree with a wrong statement: the proofs still disagree.
    for (name, edit, args) in [
        (
            "lr",
            &(|m: &mut Value| m["lr"] = json!(0.02)) as &dyn Fn(&mut Value),
            vec!["--lr", "0.02", "--batch", "2"],
        ),
        (
            "act_frac",
            &|m: &mut Value| m["act_frac"] = json!(m["act_frac"].as_u64().unwrap() - 1),
            vec!["--batch", "2", "--act-frac", other_af.as_str()],
        ),
        (
            "weight_frac",
            &|m: &mut Value| m["weight_frac"] = json!(27),
            vec!["--batch", "2", "--weight-frac", "27"],
        ),
    ] {
        let r = tampered(&run, &d, &format!("agree-{name}"), &|_, m| edit(m));
        let o = verify_run_with(&r, &model, &args);
        assert_exit(
            &o,
            1,
            &format!("manifest and statement agreeing on another {name}"),
        );
        let e = stderr(&o);
        assert!(
            e.contains("step 1") || e.contains("initial_weight_root"),
            "{e}"
        );
    }
    // Without --act-frac, act_frac comes from the data: no data, no statement.
    let o = bin()
        .arg("verify-run")
        .arg(&run)
        .args(["--lr", "0.01", "--batch", "2", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert_exit(&o, 2, "no --data and no --act-frac");
    assert!(stderr(&o).contains("give --data"), "{}", stderr(&o));
    // With --act-frac and no data, the batches are unchecked, and stderr says so.
    let o = bin()
        .arg("verify-run")
        .arg(&run)
        .args([
            "--lr",
            "0.01",
            "--batch",
            "2",
            "--act-frac",
            &act_frac,
            "--model",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert_exit(&o, 0, "--act-frac without data");
    assert!(
        stderr(&o).contains("the batches were not checked against a data file"),
        "{}",
        stderr(&o)
    );
    // Other data: its samples are not the proofs' batches (or another act_frac).
    let other = d.join("other.json");
    std::fs::write(&other, DATA.replace("0.9", "0.8")).unwrap();
    let o = bin()
        .arg("verify-run")
        .arg(&run)
        .args(["--lr", "0.01", "--batch", "2", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&other)
        .output()
        .unwrap();
    assert_exit(&o, 1, "other data");
}

/// The files a full-SGD run ships are checked against the proven chain: final-weights.bin
/// re-committed, final.onnx regenerated byte for byte.
#[test]
fn final_files_that_do_not_hold_the_proven_weights_are_rejected() {
    let d = tmpdir("final");
    let (run, o) = train(&d, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (run2, o) = train_into(&d, "run2", &["--batch", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = example("mlp/mlp.onnx");
    assert_exit(&verify_run(&run, &model), 0, "honest");
    // train is deterministic: the same run twice gives the same final files.
    let (again, o) = train_into(&d, "again", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["final.onnx", "final-weights.bin", "manifest.json"] {
        assert_eq!(
            std::fs::read(run.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
    let file = |r: &Path, f: &str| r.join(f);
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "final.onnx replaced by scaled weights",
            Box::new(|r: &Path| scaled_model(&run.join("final.onnx"), &file(r, "final.onnx"), 1.5)),
        ),
        (
            "final.onnx replaced by another run's",
            Box::new(|r: &Path| {
                std::fs::copy(run2.join("final.onnx"), file(r, "final.onnx")).unwrap();
            }),
        ),
        (
            "final.onnx replaced by the input model",
            Box::new(|r: &Path| {
                std::fs::copy(&model, file(r, "final.onnx")).unwrap();
            }),
        ),
        (
            "final.onnx deleted",
            Box::new(|r: &Path| std::fs::remove_file(file(r, "final.onnx")).unwrap()),
        ),
        (
            "final.onnx with a byte appended",
            Box::new(|r: &Path| {
                let mut b = std::fs::read(file(r, "final.onnx")).unwrap();
                b.push(0);
                std::fs::write(file(r, "final.onnx"), b).unwrap();
            }),
        ),
        (
            "final-weights.bin edited",
            Box::new(|r: &Path| {
                let p = file(r, "final-weights.bin");
                let mut b = std::fs::read(&p).unwrap();
                let n = b.len() - 8;
                b[n] ^= 1;
                std::fs::write(&p, b).unwrap();
            }),
        ),
        (
            "final-weights.bin truncated",
            Box::new(|r: &Path| {
                let p = file(r, "final-weights.bin");
                let b = std::fs::read(&p).unwrap();
                std::fs::write(&p, &b[..b.len() / 2]).unwrap();
            }),
        ),
        (
            "final-weights.bin deleted",
            Box::new(|r: &Path| std::fs::remove_file(file(r, "final-weights.bin")).unwrap()),
        ),
        (
            "final-weights.bin of another run",
            Box::new(|r: &Path| {
                std::fs::copy(run2.join("final-weights.bin"), file(r, "final-weights.bin"))
                    .unwrap();
            }),
        ),
        (
            "final-weights.bin and final.onnx of another run",
            Box::new(|r: &Path| {
                for f in ["final-weights.bin", "final.onnx"] {
                    std::fs::copy(run2.join(f), file(r, f)).unwrap();
                }
            }),
        ),
    ];
    for (what, edit) in &cases {
        let r = tampered(&run, &d, "t", &|r, _| edit(r));
        assert_exit(&verify_run(&r, &model), 1, what);
    }
    // An adapters.json in a full-SGD run is nothing the run proves.
    let r = tampered(&run, &d, "t", &|r, _| {
        std::fs::write(r.join("adapters.json"), "{}").unwrap()
    });
    assert_exit(&verify_run(&r, &model), 2, "a stray adapters.json");
}

#[test]
fn shuffled_runs_record_their_samples_and_verify() {
    let d = tmpdir("shuffle");
    let (run, o) = train(&d, &["--shuffle", "7", "--batch", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&run);
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
    let model = example("mlp/mlp.onnx");
    let o = verify_run_with(&run, &model, &["--shuffle", "7", "--batch", "2"]);
    assert_exit(&o, 0, "honest");
    assert!(stdout(&o).contains("shuffle seed 7"), "{}", stdout(&o));
    // The same run claimed in data order (no --shuffle) is another statement.
    assert_exit(
        &verify_run_with(&run, &model, &["--batch", "2"]),
        1,
        "data order",
    );
}

#[test]
fn lora_runs_verify_merge_and_refuse_tampering() {
    let d = tmpdir("lora");
    // Adapters on the first and last layer: the backward pass crosses the frozen middle one.
    let lora = [
        "--lora-rank",
        "2",
        "--lora-alpha",
        "4",
        "--lora-targets",
        "/fc3/Gemm,/fc1/Gemm",
    ];
    let (run, o) = train(&d, &lora);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "adapters.json",
        "final.onnx",
        "manifest.json",
        "step-0001.zkp",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
    assert!(!run.join("final-weights.bin").exists());
    let m = manifest(&run);
    assert_eq!(m["lora"]["rank"], 2);
    let model = example("mlp/mlp.onnx");
    // The targets in another order are the same statement.
    let lora_swapped = [
        "--lora-rank",
        "2",
        "--lora-alpha",
        "4",
        "--lora-targets",
        "/fc1/Gemm,/fc3/Gemm",
    ];
    for args in [&lora, &lora_swapped] {
        let v = verify_run_with(&run, &model, args);
        assert_exit(&v, 0, "honest");
        assert!(
            stdout(&v).contains(
                "final files: final.onnx and adapters.json hold the proven final weights"
            ),
            "{}",
            stdout(&v)
        );
    }
    // Another rank, alpha or set of targets, or full SGD: another statement.
    for (args, what) in [
        (
            vec!["--lora-rank", "2", "--lora-targets", "/fc1/Gemm,/fc3/Gemm"],
            "alpha",
        ),
        (
            vec![
                "--lora-rank",
                "1",
                "--lora-alpha",
                "4",
                "--lora-targets",
                "/fc1/Gemm,/fc3/Gemm",
            ],
            "rank",
        ),
        (
            vec![
                "--lora-rank",
                "2",
                "--lora-alpha",
                "4",
                "--lora-targets",
                "/fc1/Gemm",
            ],
            "targets",
        ),
        (vec!["--lora-rank", "2", "--lora-alpha", "4"], "all targets"),
        (vec![], "full SGD"),
    ] {
        assert_exit(&verify_run_with(&run, &model, &args), 1, what);
    }
    // merge-lora writes W + (α/r)·B·A and prints its commitment, saying it verified nothing;
    // final.onnx is the same model.
    let merged = d.join("merged.onnx");
    let o = bin()
        .args(["merge-lora"])
        .arg(&run)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim().len(), 64);
    assert!(stderr(&o).contains("not verified here"), "{}", stderr(&o));
    let check_merged = |r: &Path, m: &Path| {
        let mut args = lora.to_vec();
        args.push("--merged");
        args.push(m.to_str().unwrap());
        verify_run_with(r, &model, &args)
    };
    for m in [&merged, &run.join("final.onnx")] {
        assert_exit(&check_merged(&run, m), 0, "merged");
    }
    // The base model is not the merged one.
    let v = check_merged(&run, &model);
    assert_exit(&v, 1, "the base model as the merge");
    assert!(
        stderr(&v).contains("is not W + (α/r)·B·A"),
        "{}",
        stderr(&v)
    );
    // adapters.json edited, swapped with another run's, deleted: rejected with or without
    // --merged.
    let (run2, o) = train_into(&d, "run2", &[&lora[..], &["--batch", "2"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "adapters.json edited",
            Box::new(|r: &Path| {
                let p = r.join("adapters.json");
                let mut doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let a0 = doc["adapters"][0]["A"][0].as_i64().unwrap();
                doc["adapters"][0]["A"][0] = json!(a0 + 1);
                std::fs::write(&p, doc.to_string()).unwrap();
            }),
        ),
        (
            "adapters.json with a float",
            Box::new(|r: &Path| {
                let p = r.join("adapters.json");
                let mut doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                doc["adapters"][0]["A"][0] = json!(0.5);
                std::fs::write(&p, doc.to_string()).unwrap();
            }),
        ),
        (
            "adapters.json's layers swapped",
            Box::new(|r: &Path| {
                let p = r.join("adapters.json");
                let mut doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                doc["adapters"].as_array_mut().unwrap().reverse();
                std::fs::write(&p, doc.to_string()).unwrap();
            }),
        ),
        (
            "adapters.json of another run",
            Box::new(|r: &Path| {
                std::fs::copy(run2.join("adapters.json"), r.join("adapters.json")).unwrap();
            }),
        ),
        (
            "adapters.json deleted",
            Box::new(|r: &Path| std::fs::remove_file(r.join("adapters.json")).unwrap()),
        ),
        (
            "adapters.json not JSON",
            Box::new(|r: &Path| std::fs::write(r.join("adapters.json"), "[").unwrap()),
        ),
        (
            "final.onnx of another run",
            Box::new(|r: &Path| {
                std::fs::copy(run2.join("final.onnx"), r.join("final.onnx")).unwrap();
            }),
        ),
        (
            "final.onnx replaced by scaled weights",
            Box::new(|r: &Path| scaled_model(&run.join("final.onnx"), &r.join("final.onnx"), 1.5)),
        ),
    ];
    for (what, edit) in &cases {
        let r = tampered(&run, &d, "t", &|r, _| edit(r));
        assert_exit(&verify_run_with(&r, &model, &lora), 1, what);
        assert_exit(&check_merged(&r, &merged), 1, &format!("{what}, --merged"));
    }
    let r = tampered(&run, &d, "t", &|r, _| {
        std::fs::write(r.join("final-weights.bin"), b"ZKGRADFW").unwrap()
    });
    assert_exit(
        &verify_run_with(&r, &model, &lora),
        2,
        "a stray final-weights.bin",
    );
    // A LoRA run checked against another base model is refused.
    let v = verify_run_with(&run, &example("iris/mlp.onnx"), &lora);
    assert!(matches!(v.status.code(), Some(1 | 2)), "{}", stderr(&v));
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
