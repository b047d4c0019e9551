//! The training-run driver (what `zkgrad train` does): SGD or LoRA steps on a data set, each
//! optionally proven, chained by their weight commitments, into a new run directory (see
//! [`crate::run_dir`]). Progress is reported through a callback, one call per step; the caller
//! decides what to print.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use serde_json::json;
use zkgrad_model::lora::lora_step_f64;
use zkgrad_model::quantize_input;
use zkgrad_model::train::{sgd_step_f64, Loss};
use zkgrad_model::{Graph, Op};
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{prove, CommittedModel};

use crate::data::Dataset;
use crate::files::write_atomic;
use crate::hex::hex;
use crate::run_circuit::{dequantized, RunCircuit};
use crate::run_dir::{proof_name, ADAPTERS_FILE, FINAL_ONNX, MANIFEST, RUN_FORMAT};
use crate::run_spec::{loss_name, RunSpec, StepOptions};
use crate::steps::{public_targets, sample_order, step_loss};

/// A training run to make.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The ONNX model to train (recorded in the manifest as given).
    pub model: PathBuf,
    /// The training data (see [`Dataset::load`]).
    pub data: PathBuf,
    /// For a CSV: how many of the last columns are targets.
    pub targets: Option<usize>,
    /// Number of steps (at least 1).
    pub steps: usize,
    /// The run directory to create (absent or empty).
    pub out: PathBuf,
    /// Prove every step.
    pub prove: bool,
    /// The run's statement.
    pub step: StepOptions,
}

/// One finished step, as the driver reports it.
#[derive(Clone, Debug)]
pub struct StepDone<'a> {
    /// The step, from 1.
    pub step: usize,
    /// The run's number of steps.
    pub steps: usize,
    /// The proven (quantized) step's loss.
    pub loss: f64,
    /// The loss of the f64 step on the same batch, from the f64 weights.
    pub loss_f64: f64,
    /// The step's proof file in the run directory, if proven.
    pub proof: Option<&'a str>,
}

/// What a finished run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    pub steps: usize,
    /// The whole run, in milliseconds.
    pub total_ms: f64,
    /// Proving, in milliseconds (0 without proofs).
    pub prove_ms: f64,
    /// The proofs' total size.
    pub proof_bytes: usize,
    /// The weight commitment after the last step (hex).
    pub final_weight_root: String,
    /// The largest |W − W_f64 SGD| over the final weights.
    pub max_weight_deviation: f64,
    /// The last step's loss.
    pub final_loss: Option<f64>,
}

/// Trains as `o` says into the new directory `o.out`, calling `progress` after each step. On
/// failure what the run wrote is removed, and the directories it created: a directory the user
/// made beforehand (or a link to one) stays, empty as it was.
pub fn train(o: &TrainOptions, progress: &mut dyn FnMut(&StepDone)) -> Result<TrainSummary> {
    let spec = o.step.parse()?;
    if o.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let d = Dataset::load(&o.data, o.targets)?;
    if spec.sgd.loss == Loss::SoftmaxCrossEntropy {
        if let Some((i, row)) =
            d.y.iter()
                .enumerate()
                .find(|(_, r)| (r.iter().sum::<f64>() - 1.0).abs() > 1e-6)
        {
            bail!(
                "data {}: cross-entropy targets must sum to 1; row {i} sums to {}",
                o.data.display(),
                row.iter().sum::<f64>()
            );
        }
    }
    let run = spec.circuit(&o.model, Some((&d, &o.data)), o.steps)?;
    if sgd_len(spec.sgd.batch, o.steps).is_none() {
        bail!(
            "--batch {} × --steps {} is too large",
            spec.sgd.batch,
            o.steps
        );
    }
    let created = crate::run_dir::create(&o.out)?;
    let mut written = Vec::new();
    let result = run_steps(o, &spec, &run, &d, &mut written, progress);
    if result.is_err() {
        // Incomplete: remove what this run wrote and the directories it created, nothing else.
        created.undo(&o.out, &written);
    }
    result
}

fn sgd_len(batch: usize, steps: usize) -> Option<usize> {
    batch.checked_mul(steps)
}

/// A step's forward or proving error, with advice in `train`'s own flags.
fn step_error(step: usize, e: &dyn std::fmt::Display) -> anyhow::Error {
    let msg = e.to_string().replace(
        "(calibrate on inputs like it with --calibration FILE, or lower --act-frac)",
        "(give a lower --act-frac, or a lower --lr if the weights grew during the run)",
    );
    anyhow!("step {step}: {msg}")
}

/// Writes `bytes` to `name` in the run directory, noting it in `written`.
fn write_run_file(
    o: &TrainOptions,
    written: &mut Vec<String>,
    name: &str,
    bytes: &[u8],
) -> Result<()> {
    written.push(name.to_string());
    write_atomic(&o.out.join(name), bytes)
}

fn run_steps(
    o: &TrainOptions,
    spec: &RunSpec,
    run: &RunCircuit,
    d: &Dataset,
    written: &mut Vec<String>,
    progress: &mut dyn FnMut(&StepDone),
) -> Result<TrainSummary> {
    let params = PcsParams::default();
    let (q0, cfg, sgd) = (&run.q0, run.cfg, &spec.sgd);
    let mut ints: Vec<Vec<i64>> = q0.weights.iter().map(|w| w.data.clone()).collect();
    let mut float = run.graph.clone();
    let mut model = CommittedModel::new(q0, &params);
    let initial_root = model.root();
    let len =
        sgd_len(sgd.batch, o.steps).ok_or_else(|| anyhow!("--batch × --steps is too large"))?;
    let order = sample_order(d.x.len(), len, spec.shuffle);
    let mut steps = Vec::new();
    let mut last_loss = None;
    let (mut prove_ms, mut proof_bytes) = (0.0f64, 0usize);
    let t_run = Instant::now();
    for step in 0..o.steps {
        let idx: Vec<usize> = order
            .get(step * sgd.batch..(step + 1) * sgd.batch)
            .ok_or_else(|| anyhow!("data {}: no samples", o.data.display()))?
            .to_vec();
        let xb: Vec<f64> = idx.iter().flat_map(|&i| d.x[i].iter().copied()).collect();
        let yb: Vec<f64> = idx.iter().flat_map(|&i| d.y[i].iter().copied()).collect();
        let q = run.with_weights(&ints);
        let public: Vec<i64> = xb
            .iter()
            .chain(&yb)
            .map(|&v| {
                quantize_input(v, cfg.act_frac)
                    .ok_or_else(|| anyhow!("data value {v} cannot be represented"))
            })
            .collect::<Result<_>>()?;
        let root_before = model.root();
        let t0 = Instant::now();
        let (witness, proof_file) = if o.prove {
            let out = prove(&q, &model, &public, &params).map_err(|e| step_error(step + 1, &e))?;
            prove_ms += t0.elapsed().as_secs_f64() * 1e3;
            let name = proof_name(step + 1);
            let b = out.proof.to_bytes();
            proof_bytes += b.len();
            write_run_file(o, written, &name, &b)?;
            (out.witness, Some(name))
        } else {
            (
                zkgrad_model::forward(&q, &public).map_err(|e| step_error(step + 1, &e))?,
                None,
            )
        };
        for (ni, wi) in q.updates() {
            ints[wi] = witness.values[ni + 1].clone();
        }
        model = CommittedModel::new(&run.with_weights(&ints), &params);
        // The loss of the step's public data: what verify-run recomputes from the proof.
        let (y, y_frac) = public_targets(&q, &public)
            .ok_or_else(|| anyhow!("step {}: the circuit has no targets", step + 1))?;
        let loss = step_loss(
            sgd.loss,
            &witness.values[q.output],
            q.output_tensor().frac,
            y,
            y_frac,
            sgd.batch,
        );
        let (f_next, loss_f64) = match &spec.lora {
            Some(_) => lora_step_f64(&float, &run.adapters, &xb, &yb, sgd),
            None => sgd_step_f64(&float, &xb, &yb, sgd),
        };
        float = f_next;
        progress(&StepDone {
            step: step + 1,
            steps: o.steps,
            loss,
            loss_f64,
            proof: proof_file.as_deref(),
        });
        last_loss = Some(loss);
        steps.push(json!({
            "step": step + 1,
            "samples": idx,
            "weight_root_before": hex(&root_before),
            "weight_root_after": hex(&model.root()),
            "loss": loss,
            "loss_f64": loss_f64,
            "proof": proof_file,
        }));
    }
    let trained = dequantized(&run.graph, &ints, cfg.weight_frac);
    let max_dev = max_weight_deviation(&trained, &float);
    // The exact final weights (for LoRA, the adapters), then the float32 model.
    match &spec.lora {
        Some(l) => {
            let doc = run.adapters_json(&ints, l);
            write_run_file(o, written, ADAPTERS_FILE, format!("{doc}\n").as_bytes())?;
        }
        None => write_run_file(
            o,
            written,
            crate::weights_file::FILE_NAME,
            &crate::weights_file::encode(q0, &ints, cfg.weight_frac),
        )?,
    }
    let onnx = run.final_onnx(&ints, spec.lora.as_ref())?;
    write_run_file(o, written, FINAL_ONNX, &onnx)?;
    let manifest = json!({
        "format": RUN_FORMAT,
        "model": o.model,
        "data": o.data,
        "loss": loss_name(sgd.loss),
        "lr": sgd.lr,
        "batch": sgd.batch,
        "shuffle": spec.shuffle,
        "proved": o.prove,
        "act_frac": cfg.act_frac,
        "weight_frac": cfg.weight_frac,
        "table_bits": cfg.table_bits,
        "initial_weight_root": hex(&initial_root),
        "final_weight_root": hex(&model.root()),
        "max_weight_deviation_from_f64_sgd": max_dev,
        "lora": spec.lora_json(),
        "steps": steps,
        "complete": true,
    });
    write_run_file(o, written, MANIFEST, format!("{manifest:#}\n").as_bytes())?;
    Ok(TrainSummary {
        steps: o.steps,
        total_ms: t_run.elapsed().as_secs_f64() * 1e3,
        prove_ms,
        proof_bytes,
        final_weight_root: hex(&model.root()),
        max_weight_deviation: max_dev,
        final_loss: last_loss,
    })
}

/// The final weights' distance from f64 SGD on the same data: the largest |W − W_f64| over
/// every Linear layer's weights and biases.
fn max_weight_deviation(trained: &Graph, float: &Graph) -> f64 {
    let mut max_dev = 0.0f64;
    for (a_n, b_n) in trained.nodes.iter().zip(&float.nodes) {
        if let (
            Op::Linear {
                w: w1, bias: b1, ..
            },
            Op::Linear {
                w: w2, bias: b2, ..
            },
        ) = (&a_n.op, &b_n.op)
        {
            for (x, y) in w1.iter().zip(w2) {
                max_dev = max_dev.max((x - y).abs());
            }
            if let (Some(b1), Some(b2)) = (b1, b2) {
                for (x, y) in b1.iter().zip(b2) {
                    max_dev = max_dev.max((x - y).abs());
                }
            }
        }
    }
    max_dev
}
