//! `zkgrad verify-run`: checks a run directory against the statement its arguments give, and
//! `zkgrad merge-lora`, which writes a LoRA run's merged model (without verifying the run).
//!
//! The statement is the verifier's: the model, learning rate, batch, loss, LoRA settings, shuffle
//! seed and precision come from the arguments (with `train`'s defaults), `act_frac` derived from
//! the data as `train` derives it, and the scheme is Ligero, as training steps always are.
//! Nothing in the manifest shapes it; every manifest field is compared with it, with the proofs
//! or with the data, or ignored and never printed (`model` and `data` paths, `loss_f64`,
//! `max_weight_deviation_from_f64_sgd`: the trainer's report). Every file a run ships is checked
//! against the proven chain: each step's proof, the exact final weights (`final-weights.bin`, or
//! `adapters.json` for LoRA) re-committed to the proven final root, and `final.onnx` regenerated
//! from the input model and those weights and compared byte for byte.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use serde_json::{json, Value};
use zkgrad_model::quantize_input;
use zkgrad_model::{Graph, Op};
use zkgrad_pcs::PcsParams;
use zkgrad_verifier::{commit_weights_root, verify_with_model, ProofFile};

use crate::data::Dataset;
use crate::files::{open_regular, read_at_most, read_bounded};
use crate::load::Statement;
use crate::train::{
    loss_name, proof_name, public_targets, sample_order, step_loss, write_atomic, RunSpec,
    StepArgs, ADAPTERS_FILE, FINAL_ONNX, MANIFEST, RUN_FORMAT,
};
use crate::weights_file;
use crate::{hex, Failure};

#[derive(Args)]
pub struct VerifyRunArgs {
    /// The run directory.
    run: PathBuf,
    /// The model the run started from (default: the path the manifest records; the proofs
    /// check the file either way).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The data the run was trained on: act_frac is derived from it as train derives it (unless
    /// --act-frac is given), and every step's batch is checked to be its samples in the run's
    /// order. Without it, the batches are not checked against any data.
    #[arg(long)]
    data: Option<PathBuf>,
    /// For a CSV data file: how many of the last columns are targets.
    #[arg(long)]
    targets: Option<usize>,
    /// The number of steps the run must have (default: any).
    #[arg(long)]
    steps: Option<usize>,
    /// For a LoRA run: also check that this model is the base model with W + (α/r)·B·A for the
    /// run's final adapters.
    #[arg(long)]
    merged: Option<PathBuf>,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    step: StepArgs,
}

#[derive(Args)]
pub struct MergeLoraArgs {
    /// The run directory of a LoRA run.
    run: PathBuf,
    /// Where to write the merged model (the base graph with W + (α/r)·B·A).
    #[arg(long)]
    out: PathBuf,
    /// The base model (default: the path recorded in the manifest).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn unusable(e: anyhow::Error) -> Failure {
    Failure::Unusable(e)
}

fn invalid(msg: impl Into<String>) -> Failure {
    Failure::Invalid(msg.into())
}

/// The largest manifest read (a million steps' entries fit).
const MAX_MANIFEST_BYTES: usize = 1 << 30;

/// A run's manifest: of this format, and marked complete (a run directory without one, or with
/// an incomplete one, is never mistaken for a finished run).
fn read_manifest(run: &Path) -> Result<Value, Failure> {
    let mpath = run.join(MANIFEST);
    let bytes = read_at_most(&mpath, MAX_MANIFEST_BYTES).map_err(|_| {
        unusable(anyhow!(
            "{} holds no {MANIFEST}: not a run, or an incomplete one",
            run.display()
        ))
    })?;
    let m: Value = serde_json::from_slice(&bytes)
        .map_err(|e| unusable(anyhow!("{}: {e}", mpath.display())))?;
    if m.get("format") != Some(&json!(RUN_FORMAT)) {
        return Err(unusable(anyhow!(
            "{}: unsupported run format {} (this zkgrad reads {RUN_FORMAT})",
            mpath.display(),
            m.get("format").unwrap_or(&Value::Null)
        )));
    }
    if m.get("complete") != Some(&json!(true)) {
        return Err(unusable(anyhow!(
            "{}: the run is not marked complete",
            mpath.display()
        )));
    }
    Ok(m)
}

/// The model a run started from: the one given, else the path its manifest records.
fn run_model(m: &Value, run: &Path, given: Option<&PathBuf>) -> Result<PathBuf, Failure> {
    match given {
        Some(p) => Ok(p.clone()),
        None => m
            .get("model")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .ok_or_else(|| {
                unusable(anyhow!(
                    "{}: no model recorded; give --model",
                    run.join(MANIFEST).display()
                ))
            }),
    }
}

/// Every step's proof is `step-NNNN.zkp`, listed and present, and no other proof lies in RUN/.
fn check_proof_files(run: &Path, steps: &[Value]) -> Result<(), Failure> {
    let mut listed = BTreeSet::new();
    for (i, s) in steps.iter().enumerate() {
        let want = proof_name(i + 1);
        match s.get("proof").and_then(Value::as_str) {
            Some(p) if p == want => {}
            None => {
                return Err(unusable(anyhow!(
                    "{}: step {} has no proof",
                    run.join(MANIFEST).display(),
                    i + 1
                )))
            }
            Some(p) => {
                return Err(unusable(anyhow!(
                    "{}: step {}'s proof is {p:?}; a run proves step {} in {want}",
                    run.join(MANIFEST).display(),
                    i + 1,
                    i + 1
                )))
            }
        }
        listed.insert(want);
    }
    let present: BTreeSet<String> = std::fs::read_dir(run)
        .map_err(|e| unusable(anyhow!("{}: {e}", run.display())))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".zkp"))
        .collect();
    if let Some(missing) = listed.difference(&present).next() {
        return Err(unusable(anyhow!(
            "{}: proof {missing} is missing",
            run.display()
        )));
    }
    if let Some(extra) = present.difference(&listed).next() {
        return Err(unusable(anyhow!(
            "{}: proof {extra} is not part of the run's manifest",
            run.display()
        )));
    }
    Ok(())
}

/// A manifest field must be what the statement gives (exit 1 naming both otherwise).
fn field_is(m: &Value, field: &str, want: &Value, flag: &str) -> Result<(), Failure> {
    let got = m.get(field).unwrap_or(&Value::Null);
    if got != want {
        return Err(invalid(format!(
            "{MANIFEST}: {field} is {got}; you asked about {want} ({flag})"
        )));
    }
    Ok(())
}

/// How the statement reads in verify-run's report.
fn describe(spec: &RunSpec) -> String {
    let lora = match &spec.lora {
        None => "full SGD".to_string(),
        Some(l) => format!(
            "LoRA rank {}, alpha {}, targets {}",
            l.rank,
            l.alpha,
            if l.targets.is_empty() {
                "all Linear layers".to_string()
            } else {
                l.targets.join(",")
            }
        ),
    };
    let order = match spec.shuffle {
        None => "data order".to_string(),
        Some(s) => format!("shuffle seed {s}"),
    };
    format!(
        "lr {}, batch {}, loss {}, {lora}, {order}",
        spec.sgd.lr,
        spec.sgd.batch,
        loss_name(spec.sgd.loss)
    )
}

pub fn cmd_verify_run(a: VerifyRunArgs) -> Result<(), Failure> {
    let spec = a.step.parse().map_err(unusable)?;
    let m = read_manifest(&a.run)?;
    if m.get("proved") != Some(&json!(true)) {
        return Err(unusable(anyhow!(
            "{}: the run was not proven (train with --prove)",
            a.run.display()
        )));
    }
    let steps = m
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| unusable(anyhow!("{}: no steps", a.run.join(MANIFEST).display())))?;
    if steps.is_empty() {
        return Err(unusable(anyhow!(
            "{}: a run of 0 steps proves nothing",
            a.run.join(MANIFEST).display()
        )));
    }
    let n = steps.len();
    check_proof_files(&a.run, steps)?;
    if a.merged.is_some() && spec.lora.is_none() {
        return Err(unusable(anyhow!(
            "--merged applies to LoRA runs (give the run's --lora-rank)"
        )));
    }
    let model = run_model(&m, &a.run, a.model.as_ref())?;
    let data = match &a.data {
        Some(p) => Some(Dataset::load(p, a.targets).map_err(unusable)?),
        None => None,
    };
    let run = spec
        .circuit(&model, data.as_ref().zip(a.data.as_deref()), n)
        .map_err(unusable)?;
    let t0 = Instant::now();

    // The statement against the manifest: every field that shapes it.
    if let Some(k) = a.steps {
        if k != n {
            return Err(invalid(format!(
                "the run has {n} steps; you asked about {k} (--steps)"
            )));
        }
    }
    let cfg = run.cfg;
    for (field, want, flag) in [
        ("lr", json!(spec.sgd.lr), "--lr"),
        ("batch", json!(spec.sgd.batch), "--batch"),
        ("loss", json!(loss_name(spec.sgd.loss)), "--loss"),
        (
            "lora",
            spec.lora_json(),
            "--lora-rank/--lora-alpha/--lora-targets",
        ),
        ("shuffle", json!(spec.shuffle), "--shuffle"),
        // The precision fields in the order act_frac's derivation depends on them.
        ("table_bits", json!(cfg.table_bits), "--table-bits"),
        ("weight_frac", json!(cfg.weight_frac), "--weight-frac"),
        (
            "act_frac",
            json!(cfg.act_frac),
            "--act-frac, or derived from --data",
        ),
    ] {
        field_is(&m, field, &want, flag)?;
    }
    // The other kind of run's exact-weights file: not part of this run, and never checked.
    let stray = match spec.lora {
        Some(_) => weights_file::FILE_NAME,
        None => ADAPTERS_FILE,
    };
    if a.run.join(stray).exists() {
        return Err(unusable(anyhow!(
            "{}: {stray} is not part of a {} run",
            a.run.display(),
            if spec.lora.is_some() {
                "LoRA"
            } else {
                "full-SGD"
            }
        )));
    }
    // Training steps are proven with Ligero: fixed, never read from anywhere.
    let params = PcsParams::default();
    let asked = Statement {
        config: run.q0.config,
        scheme: params.scheme(),
    };
    let initial = commit_weights_root(&run.q0, &params);
    field_is(
        &m,
        "initial_weight_root",
        &json!(hex(&initial)),
        &format!("the weights of {} at this precision", model.display()),
    )?;

    let len = spec
        .sgd
        .batch
        .checked_mul(n)
        .ok_or_else(|| unusable(anyhow!("--batch {} is too large", spec.sgd.batch)))?;
    let order = data
        .as_ref()
        .map(|d| sample_order(d.x.len(), len, spec.shuffle));
    let mut root = initial;
    let mut losses = Vec::with_capacity(n);
    for (i, s) in steps.iter().enumerate() {
        let k = i + 1;
        if s.get("step") != Some(&json!(k)) {
            return Err(invalid(format!(
                "{MANIFEST}: step entry {k} is numbered {}",
                s.get("step").unwrap_or(&Value::Null)
            )));
        }
        let name = proof_name(k);
        let pbytes = open_regular(&a.run.join(&name))
            .and_then(|f| read_bounded(f, usize::MAX))
            .map_err(|e| unusable(anyhow!("{}: {e}", a.run.join(&name).display())))?;
        let p = ProofFile::from_bytes(&pbytes)
            .map_err(|e| unusable(anyhow!("{}: {e}", a.run.join(&name).display())))?;
        let claimed = Statement {
            config: p.config,
            scheme: p.pcs,
        };
        if let Some(why) = claimed.differs_from(&asked, false) {
            return Err(invalid(format!("step {k}: {why}")));
        }
        if p.circuit != run.q0.describe() {
            return Err(invalid(format!(
                "step {k}: the proof is for another circuit than a step of {} with this lr, batch, loss and LoRA settings",
                model.display()
            )));
        }
        if p.weight_root != root {
            return Err(invalid(format!(
                "step {k}: does not start from the weights step {i} ended with (a step skipped, repeated or reordered?)"
            )));
        }
        let v = verify_with_model(&p, &run.q0, &root, &params)
            .map_err(|e| invalid(format!("step {k}: {e}")))?;
        if let (Some(d), Some(order)) = (&data, &order) {
            let idx = &order[i * spec.sgd.batch..k * spec.sgd.batch];
            if s.get("samples") != Some(&json!(idx)) {
                return Err(invalid(format!(
                    "{MANIFEST}: step {k}'s samples are {}; the run's order gives {}",
                    s.get("samples").unwrap_or(&Value::Null),
                    json!(idx)
                )));
            }
            let expect: Option<Vec<i64>> = idx
                .iter()
                .flat_map(|&j| d.x[j].iter())
                .chain(idx.iter().flat_map(|&j| d.y[j].iter()))
                .map(|&v| quantize_input(v, cfg.act_frac))
                .collect();
            if expect.as_deref() != Some(&p.input[..]) {
                return Err(invalid(format!(
                    "step {k}: the proof's batch is not samples {} of the data",
                    json!(idx)
                )));
            }
        }
        for (field, want) in [
            ("weight_root_before", hex(&root)),
            ("weight_root_after", hex(&v.weight_root_after)),
        ] {
            if s.get(field) != Some(&json!(want)) {
                return Err(invalid(format!(
                    "{MANIFEST}: step {k}'s {field} is {}; the proofs give {want}",
                    s.get(field).unwrap_or(&Value::Null)
                )));
            }
        }
        let (y, y_frac) = public_targets(&run.q0, &p.input)
            .ok_or_else(|| invalid(format!("step {k}: the public input holds no targets")))?;
        let loss = step_loss(
            spec.sgd.loss,
            &p.output,
            run.q0.output_tensor().frac,
            y,
            y_frac,
            spec.sgd.batch,
        );
        let recorded = s.get("loss").and_then(Value::as_f64);
        if !recorded.is_some_and(|r| (r - loss).abs() <= 1e-9 * loss.abs()) {
            return Err(invalid(format!(
                "{MANIFEST}: step {k}'s loss is {}; its proof's output and targets give {loss}",
                s.get("loss").unwrap_or(&Value::Null)
            )));
        }
        losses.push(loss);
        root = v.weight_root_after;
    }
    let final_root = hex(&root);
    field_is(
        &m,
        "final_weight_root",
        &json!(final_root),
        "where the proofs end",
    )?;

    // The files the run ships: the exact final weights must commit to the proven final root,
    // and final.onnx must be what train writes for them.
    let (ints, weights_path) = match &spec.lora {
        None => {
            let path = a.run.join(weights_file::FILE_NAME);
            let bytes = read_at_most(&path, weights_file::expected_len(&run.q0) + 1)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            let ints = weights_file::decode(&bytes, &run.q0, cfg.weight_frac)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            (ints, path)
        }
        Some(l) => {
            let path = a.run.join(ADAPTERS_FILE);
            // A decimal i64 and its separator take at most 21 bytes.
            let limit = 22 * run.q0.weights.iter().map(|w| w.data.len()).sum::<usize>() + 4096;
            let doc: Value = read_at_most(&path, limit)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            let ints = run
                .weights_from_adapters(&doc, l)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            (ints, path)
        }
    };
    if commit_weights_root(&run.with_weights(&ints), &params) != root {
        return Err(invalid(format!(
            "{}: these are not the weights the proofs end with",
            weights_path.display()
        )));
    }
    let want = run
        .final_onnx(&ints, spec.lora.as_ref())
        .map_err(unusable)?;
    let onnx_path = a.run.join(FINAL_ONNX);
    let got = read_at_most(&onnx_path, want.len() + 1)
        .map_err(|e| invalid(format!("{}: {e}", onnx_path.display())))?;
    if got != want {
        return Err(invalid(format!(
            "{} is not {} with the proven final weights (as train writes it)",
            onnx_path.display(),
            model.display()
        )));
    }
    if let (Some(path), Some(l)) = (&a.merged, &spec.lora) {
        let mbytes = crate::load::read_model(path).map_err(unusable)?;
        let got = zkgrad_onnx::import(&mbytes)
            .map_err(|e| unusable(anyhow!("model {}: {e}", path.display())))?;
        if let Err(why) = same_weights(&got, &run.final_graph(&ints, Some(l))) {
            return Err(invalid(format!(
                "{} is not W + (α/r)·B·A for the run's final adapters: {why}",
                path.display()
            )));
        }
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let exact = weights_path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if data.is_none() {
        eprintln!("note: the batches were not checked against a data file (give --data)");
    }
    if a.json {
        out!(
            "{}",
            json!({"verified": true, "steps": n, "model": model, "lr": spec.sgd.lr,
                   "batch": spec.sgd.batch, "loss": loss_name(spec.sgd.loss), "lora": spec.lora_json(),
                   "shuffle": spec.shuffle, "act_frac": cfg.act_frac, "weight_frac": cfg.weight_frac,
                   "table_bits": cfg.table_bits, "pcs": asked.scheme.name(), "losses": losses,
                   "batches_checked": data.is_some(), "final_weight_root": final_root,
                   "final_files": [FINAL_ONNX, exact], "verify_ms": ms})
        );
    } else {
        out!("verified {n} steps");
        out!("model: {}", model.display());
        out!("statement: {}", describe(&spec));
        out!("precision: {}", asked.precision_line());
        match (losses.first(), losses.last()) {
            (Some(first), Some(last)) if n > 1 => {
                out!("loss: step 1 {first:.6}, step {n} {last:.6}")
            }
            (Some(first), _) => out!("loss: step 1 {first:.6}"),
            _ => {}
        }
        if let Some(d) = &a.data {
            out!("batches: the samples of {} in the run's order", d.display());
        }
        out!("final weight root: {final_root}");
        out!("final files: {FINAL_ONNX} and {exact} hold the proven final weights");
        if let Some(p) = &a.merged {
            out!("merged model: {} is W + (α/r)·B·A for them", p.display());
        }
        eprintln!("checked in {ms:.1} ms");
    }
    Ok(())
}

/// Whether two graphs hold the same Linear weights up to float32 rounding.
fn same_weights(got: &Graph, want: &Graph) -> std::result::Result<(), String> {
    let lin = |g: &Graph| -> Vec<Vec<f64>> {
        g.nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Linear { w, bias, .. } => {
                    let mut v = w.clone();
                    v.extend(bias.iter().flatten());
                    Some(v)
                }
                _ => None,
            })
            .collect()
    };
    let (a, b) = (lin(got), lin(want));
    if a.len() != b.len() {
        return Err(format!("{} Linear layers, expected {}", a.len(), b.len()));
    }
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        if x.len() != y.len() {
            return Err(format!(
                "layer {k} has {} parameters, expected {}",
                x.len(),
                y.len()
            ));
        }
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            if (p - q).abs() > 1e-6 * q.abs().max(1.0) {
                return Err(format!(
                    "layer {k}, parameter {i}: {p} where W + (α/r)·B·A is {q}"
                ));
            }
        }
    }
    Ok(())
}

/// `merge-lora` writes the model the run's `adapters.json` describes. It does not verify the
/// run: it builds the step circuit from the statement the manifest records and only checks that
/// the adapters commit to the manifest's final weight root; `verify-run RUN/ … --merged OUT`
/// checks the run and the merged model against the verifier's own statement.
pub fn cmd_merge_lora(a: MergeLoraArgs) -> Result<(), Failure> {
    let m = read_manifest(&a.run)?;
    let spec = RunSpec::recorded(&m)
        .map_err(|e| unusable(anyhow!("{}: {e:#}", a.run.join(MANIFEST).display())))?;
    let Some(l) = &spec.lora else {
        return Err(unusable(anyhow!("{} is not a LoRA run", a.run.display())));
    };
    let model = run_model(&m, &a.run, a.model.as_ref())?;
    let n = m.get("steps").and_then(Value::as_array).map_or(1, Vec::len);
    let run = spec.circuit(&model, None, n).map_err(unusable)?;
    let path = a.run.join(ADAPTERS_FILE);
    let limit = 22 * run.q0.weights.iter().map(|w| w.data.len()).sum::<usize>() + 4096;
    let doc: Value = read_at_most(&path, limit)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| unusable(anyhow!("{}: {e}", path.display())))?;
    let ints = run
        .weights_from_adapters(&doc, l)
        .map_err(|e| unusable(anyhow!("{}: {e}", path.display())))?;
    let root = hex(&commit_weights_root(
        &run.with_weights(&ints),
        &PcsParams::default(),
    ));
    if m.get("final_weight_root") != Some(&json!(root)) {
        return Err(unusable(anyhow!(
            "{}: these adapters do not commit to the manifest's final weight root",
            path.display()
        )));
    }
    let merged_graph = run.final_graph(&ints, Some(l));
    let onnx = zkgrad_onnx::export_weights(&run.bytes, &merged_graph, run.sources())
        .map_err(|e| unusable(anyhow!("writing {}: {e}", a.out.display())))?;
    write_atomic(&a.out, &onnx).map_err(unusable)?;
    // The merged model's commitment, as `zkgrad commit` prints it (default precision and scheme).
    let precision = crate::load::Precision {
        table_bits: zkgrad_circuit::QConfig::DEFAULT_TABLE_BITS,
        ..Default::default()
    };
    let lm = crate::load::LoadedModel::load(&a.out, &precision, crate::cache::Mode::Off)
        .map_err(unusable)?;
    let scheme = zkgrad_verifier::protocol::auto_scheme(&lm.q);
    let wroot = commit_weights_root(&lm.q, &PcsParams::for_scheme(scheme));
    let c = hex(&zkgrad_verifier::model_commitment(&lm.q.describe(), &wroot));
    eprintln!(
        "merged W + ({}/{})·B·A from {} into {}; the run itself is not verified here: `zkgrad verify-run {} … --merged {}` does",
        l.alpha,
        l.rank,
        path.display(),
        a.out.display(),
        a.run.display(),
        a.out.display()
    );
    if a.json {
        out!(
            "{}",
            json!({"merged": a.out, "model_commitment": c, "run_verified": false})
        );
    } else {
        out!("{c}");
    }
    Ok(())
}
