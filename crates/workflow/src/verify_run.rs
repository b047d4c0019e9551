//! Checking a run directory against the statement its verifier gives (what `zkgrad verify-run`
//! does).
//!
//! The statement is the verifier's: the model, learning rate, batch, loss, LoRA settings, shuffle
//! seed and precision come from the options (with `train`'s defaults), `act_frac` derived from
//! the data as `train` derives it, and the scheme is Ligero, as training steps always are.
//! Nothing in the manifest shapes it; every manifest field is compared with it, with the proofs
//! or with the data, or ignored and never reported (`model` and `data` paths, `loss_f64`,
//! `max_weight_deviation_from_f64_sgd`: the trainer's report). Every file a run ships is checked
//! against the proven chain: each step's proof, the exact final weights (`final-weights.bin`, or
//! `adapters.json` for LoRA) re-committed to the proven final root, and `final.onnx` regenerated
//! from the input model and those weights and compared byte for byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::anyhow;
use serde_json::{json, Value};
use zkgrad_model::quantize_input;
use zkgrad_model::train::TrainConfig;
use zkgrad_model::{Graph, Op};
use zkgrad_pcs::PcsParams;
use zkgrad_verifier::{commit_weights_root, verify_with_model, ProofFile};

use crate::data::Dataset;
use crate::failure::{invalid, unusable, Failure};
use crate::files::{read_at_most, MAX_PROOF_BYTES};
use crate::hex::hex;
use crate::run_circuit::RunCircuit;
use crate::run_dir::{
    check_proof_files, proof_name, read_adapters, read_manifest, run_model, ADAPTERS_FILE,
    FINAL_ONNX, MANIFEST,
};
use crate::run_spec::{loss_name, RunSpec, StepOptions};
use crate::statement::Statement;
use crate::steps::{public_targets, sample_order, step_loss};
use crate::weights_file;

/// A run to check, and the statement to check it against.
#[derive(Clone, Debug)]
pub struct VerifyRunOptions {
    /// The run directory.
    pub run: PathBuf,
    /// The model the run started from (`None`: the path the manifest records; the proofs check
    /// the file either way).
    pub model: Option<PathBuf>,
    /// The data the run was trained on: `act_frac` is derived from it as `train` derives it
    /// (unless given), and every step's batch is checked to be its samples in the run's order.
    /// `None`: the batches are not checked against any data.
    pub data: Option<PathBuf>,
    /// For a CSV data file: how many of the last columns are targets.
    pub targets: Option<usize>,
    /// The number of steps the run must have (`None`: any).
    pub steps: Option<usize>,
    /// For a LoRA run: also check that this model is the base model with W + (α/r)·B·A for the
    /// run's final adapters.
    pub merged: Option<PathBuf>,
    /// The statement.
    pub step: StepOptions,
}

/// A run that verified: the statement it proves, and what its proofs say.
pub struct RunVerified {
    /// Its number of steps.
    pub steps: usize,
    /// The model it started from.
    pub model: PathBuf,
    /// The statement it was checked against.
    pub spec: RunSpec,
    /// The step circuit's precision.
    pub cfg: TrainConfig,
    /// The precision and scheme every step's proof was checked at.
    pub statement: Statement,
    /// Each step's loss, recomputed from its proof's public data.
    pub losses: Vec<f64>,
    /// Whether every batch was checked against the data.
    pub batches_checked: bool,
    /// The weight commitment the proofs end with (hex).
    pub final_weight_root: String,
    /// The file holding the exact final weights (`final-weights.bin` or `adapters.json`).
    pub exact_weights_file: String,
    /// The time the checks took after the step circuit was built, in milliseconds.
    pub verify_ms: f64,
}

/// Checks the run directory `o.run` against the statement `o` gives: [`Failure::Invalid`] if it
/// does not prove it, [`Failure::Unusable`] if it cannot be checked.
pub fn verify_run(o: &VerifyRunOptions) -> Result<RunVerified, Failure> {
    let spec = o.step.parse().map_err(unusable)?;
    let m = read_manifest(&o.run)?;
    if m.get("proved") != Some(&json!(true)) {
        return Err(unusable(anyhow!(
            "{}: the run was not proven (train with --prove)",
            o.run.display()
        )));
    }
    let steps = m
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| unusable(anyhow!("{}: no steps", o.run.join(MANIFEST).display())))?;
    if steps.is_empty() {
        return Err(unusable(anyhow!(
            "{}: a run of 0 steps proves nothing",
            o.run.join(MANIFEST).display()
        )));
    }
    let n = steps.len();
    check_proof_files(&o.run, steps)?;
    if o.merged.is_some() && spec.lora.is_none() {
        return Err(unusable(anyhow!(
            "--merged applies to LoRA runs (give the run's --lora-rank)"
        )));
    }
    let model = run_model(&m, &o.run, o.model.as_ref())?;
    let data = match &o.data {
        Some(p) => Some(Dataset::load(p, o.targets).map_err(unusable)?),
        None => None,
    };
    let run = spec
        .circuit(&model, data.as_ref().zip(o.data.as_deref()), n)
        .map_err(unusable)?;
    let t0 = Instant::now();

    // The statement against the manifest: every field that shapes it.
    if let Some(k) = o.steps {
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
    if o.run.join(stray).exists() {
        return Err(unusable(anyhow!(
            "{}: {stray} is not part of a {} run",
            o.run.display(),
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

    let chain = Chain {
        run_dir: &o.run,
        model: &model,
        spec: &spec,
        run: &run,
        data: data.as_ref(),
        asked,
        params: &params,
    };
    let (root, losses) = chain.check_steps(steps, initial)?;
    let final_root = hex(&root);
    field_is(
        &m,
        "final_weight_root",
        &json!(final_root),
        "where the proofs end",
    )?;
    let weights_path = chain.check_final_files(&root, o.merged.as_deref())?;
    let verify_ms = t0.elapsed().as_secs_f64() * 1e3;
    let exact_weights_file = weights_path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(RunVerified {
        steps: n,
        model,
        spec,
        cfg,
        statement: asked,
        losses,
        batches_checked: data.is_some(),
        final_weight_root: final_root,
        exact_weights_file,
        verify_ms,
    })
}

/// A manifest field must be what the statement gives (invalid, naming both, otherwise).
fn field_is(m: &Value, field: &str, want: &Value, flag: &str) -> Result<(), Failure> {
    let got = m.get(field).unwrap_or(&Value::Null);
    if got != want {
        return Err(invalid(format!(
            "{MANIFEST}: {field} is {got}; you asked about {want} ({flag})"
        )));
    }
    Ok(())
}

/// What checking a run's chain of steps and its final files needs.
struct Chain<'a> {
    run_dir: &'a Path,
    model: &'a Path,
    spec: &'a RunSpec,
    run: &'a RunCircuit,
    data: Option<&'a Dataset>,
    asked: Statement,
    params: &'a PcsParams,
}

impl Chain<'_> {
    /// Every step's proof against the statement, each starting where the last ended from
    /// `initial`, its manifest entry against it, and (with data) its batch against the data:
    /// the final weight root and every step's loss.
    fn check_steps(
        &self,
        steps: &[Value],
        initial: [u8; 32],
    ) -> Result<([u8; 32], Vec<f64>), Failure> {
        let (spec, run, cfg) = (self.spec, self.run, self.run.cfg);
        let n = steps.len();
        let len = spec
            .sgd
            .batch
            .checked_mul(n)
            .ok_or_else(|| unusable(anyhow!("--batch {} is too large", spec.sgd.batch)))?;
        let order = self
            .data
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
            let ppath = self.run_dir.join(&name);
            let pbytes = read_at_most(&ppath, MAX_PROOF_BYTES + 1)
                .map_err(|e| unusable(anyhow!("{}: {e}", ppath.display())))?;
            if pbytes.len() > MAX_PROOF_BYTES {
                return Err(unusable(anyhow!(
                    "{}: larger than {MAX_PROOF_BYTES} bytes",
                    ppath.display()
                )));
            }
            let p = ProofFile::from_bytes(&pbytes)
                .map_err(|e| unusable(anyhow!("{}: {e}", self.run_dir.join(&name).display())))?;
            let claimed = Statement {
                config: p.config,
                scheme: p.pcs,
            };
            if let Some(why) = claimed.differs_from(&self.asked, false) {
                return Err(invalid(format!("step {k}: {why}")));
            }
            if p.circuit != run.q0.describe() {
                return Err(invalid(format!(
                    "step {k}: the proof is for another circuit than a step of {} with this lr, batch, loss and LoRA settings",
                    self.model.display()
                )));
            }
            if p.weight_root != root {
                return Err(invalid(format!(
                    "step {k}: does not start from the weights step {i} ended with (a step skipped, repeated or reordered?)"
                )));
            }
            let v = verify_with_model(&p, &run.q0, &root, self.params)
                .map_err(|e| invalid(format!("step {k}: {e}")))?;
            if let (Some(d), Some(order)) = (self.data, &order) {
                let idx = order
                    .get(i * spec.sgd.batch..k * spec.sgd.batch)
                    .ok_or_else(|| unusable(anyhow!("the data holds no samples")))?;
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
        Ok((root, losses))
    }

    /// The files the run ships: the exact final weights must commit to the proven final root
    /// `root`, `final.onnx` must be what train writes for them, and `merged` (for LoRA) the
    /// base model with the final adapters merged in. The exact weights' file.
    fn check_final_files(
        &self,
        root: &[u8; 32],
        merged: Option<&Path>,
    ) -> Result<PathBuf, Failure> {
        let (spec, run) = (self.spec, self.run);
        let (ints, weights_path) = match &spec.lora {
            None => {
                let path = self.run_dir.join(weights_file::FILE_NAME);
                let bytes = read_at_most(&path, weights_file::expected_len(&run.q0) + 1)
                    .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
                let ints = weights_file::decode(&bytes, &run.q0, run.cfg.weight_frac)
                    .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
                (ints, path)
            }
            Some(l) => {
                let path = self.run_dir.join(ADAPTERS_FILE);
                let doc = read_adapters(&path, &run.q0)
                    .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
                let ints = run
                    .weights_from_adapters(&doc, l)
                    .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
                (ints, path)
            }
        };
        if commit_weights_root(&run.with_weights(&ints), self.params) != *root {
            return Err(invalid(format!(
                "{}: these are not the weights the proofs end with",
                weights_path.display()
            )));
        }
        let want = run
            .final_onnx(&ints, spec.lora.as_ref())
            .map_err(unusable)?;
        let onnx_path = self.run_dir.join(FINAL_ONNX);
        let got = read_at_most(&onnx_path, want.len() + 1)
            .map_err(|e| invalid(format!("{}: {e}", onnx_path.display())))?;
        if got != want {
            return Err(invalid(format!(
                "{} is not {} with the proven final weights (as train writes it)",
                onnx_path.display(),
                self.model.display()
            )));
        }
        if let (Some(path), Some(l)) = (merged, &spec.lora) {
            let mbytes = crate::model::read_model(path).map_err(unusable)?;
            let got = zkgrad_onnx::import_with_limits(&mbytes, crate::limits::get())
                .map_err(|e| unusable(anyhow!("model {}: {e}", path.display())))?;
            if let Err(why) = same_weights(&got, &run.final_graph(&ints, Some(l))) {
                return Err(invalid(format!(
                    "{} is not W + (α/r)·B·A for the run's final adapters: {why}",
                    path.display()
                )));
            }
        }
        Ok(weights_path)
    }
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
