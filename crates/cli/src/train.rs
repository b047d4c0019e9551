//! `zkgrad train` and `zkgrad verify-run`: SGD runs, each step optionally proven, chained by
//! their weight commitments.
//!
//! RUN/ holds `step-NNNN.zkp` (with `--prove`), `final.onnx` (the trained weights as float32 in
//! the input model's graph) and `manifest.json`, written last and atomically: a directory
//! without a manifest is an incomplete run, never mistaken for a complete one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use zkgrad_model::lora::{lora_step, lora_step_f64, merged, with_adapters, Adapter, LoraSpec};
use zkgrad_model::quant::quantize_input;
use zkgrad_model::train::{sgd_step, sgd_step_f64, Loss, SgdSpec, TrainConfig};
use zkgrad_model::{Graph, Op, QGraph};
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::{verify, ProofFile};

use crate::data::Dataset;
use crate::{hex, Failure};

#[derive(Args)]
pub struct TrainArgs {
    /// The ONNX model (an MLP: Gemm/MatMul layers with ReLU, Sigmoid or Tanh).
    #[arg(long)]
    model: PathBuf,
    /// Training data: {"x": [[...]], "y": [[...]]} JSON, a CSV (with --targets), or a directory
    /// with x.npy and y.npy.
    #[arg(long)]
    data: PathBuf,
    /// For a CSV: how many of the last columns are targets.
    #[arg(long)]
    targets: Option<usize>,
    /// The loss: mse (½‖out − y‖²) or xent (softmax cross-entropy; targets one-hot or
    /// probabilities summing to 1), averaged over the batch.
    #[arg(long, default_value = "mse")]
    loss: String,
    /// The learning rate (a positive number).
    #[arg(long, allow_hyphen_values = true)]
    lr: String,
    /// Samples per step, taken in data order (wrapping around) unless --shuffle is given.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Shuffle the samples with this seed, anew every epoch (the manifest records the samples
    /// of each step either way).
    #[arg(long)]
    shuffle: Option<u64>,
    /// Number of SGD steps.
    #[arg(long, default_value_t = 1)]
    steps: usize,
    /// The run directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Prove every step.
    #[arg(long)]
    prove: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// LoRA: train rank-R adapters A (R × in), B (out × R) on the Linear layers; the base
    /// weights stay frozen. A starts from U(−1/√in, 1/√in) (a fixed seed), B from 0.
    #[arg(long)]
    lora_rank: Option<usize>,
    /// LoRA: the adapters' output is scaled by α/R (default α = R).
    #[arg(long, allow_hyphen_values = true)]
    lora_alpha: Option<f64>,
    /// LoRA: adapt only these Linear nodes (comma-separated names; default: all).
    #[arg(long, value_delimiter = ',')]
    lora_targets: Vec<String>,
}

/// The seed of LoRA's initial A (B starts at 0): fixed, so that a run's first weight root
/// follows from the base model, the rank and the targets.
pub const LORA_SEED: u64 = 0x1042A;

fn lora_of(a: &TrainArgs) -> Result<Option<LoraSpec>> {
    match a.lora_rank {
        None if a.lora_alpha.is_some() || !a.lora_targets.is_empty() => {
            bail!("--lora-alpha and --lora-targets need --lora-rank")
        }
        None => Ok(None),
        Some(0) => bail!("--lora-rank must be at least 1"),
        Some(rank) => {
            let alpha = a.lora_alpha.unwrap_or(rank as f64);
            if !(alpha.is_finite() && alpha > 0.0) {
                bail!("--lora-alpha must be a positive number, got {alpha}");
            }
            Ok(Some(LoraSpec {
                rank,
                alpha,
                targets: a.lora_targets.clone(),
            }))
        }
    }
}

/// The LoRA settings a manifest records, if any.
fn manifest_lora(m: &Value) -> Option<LoraSpec> {
    let l = m.get("lora").filter(|l| !l.is_null())?;
    Some(LoraSpec {
        rank: l["rank"].as_u64()? as usize,
        alpha: l["alpha"].as_f64()?,
        targets: l["targets"]
            .as_array()?
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
    })
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

#[derive(Args)]
pub struct VerifyRunArgs {
    /// The run directory.
    run: PathBuf,
    /// The model the run started from (default: the path recorded in the manifest).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Also check that every step's public batch is the samples the manifest lists from this
    /// data file (the data the run was trained on).
    #[arg(long)]
    data: Option<PathBuf>,
    /// For a CSV data file: how many of the last columns are targets.
    #[arg(long)]
    targets: Option<usize>,
    /// For a LoRA run: also check that this model is the base model with W + (α/r)·B·A for the
    /// run's final adapters.
    #[arg(long)]
    merged: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn parse_loss(s: &str) -> Result<Loss> {
    match s {
        "mse" => Ok(Loss::Mse),
        "xent" => Ok(Loss::SoftmaxCrossEntropy),
        other => bail!("--loss {other}: use mse or xent"),
    }
}

fn parse_lr(s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => bail!("--lr must be a positive number, got {s:?}"),
    }
}

/// The training circuit's precision for a data set: activations calibrated on the inputs, and
/// narrow enough that the targets fit the public range too.
fn train_config(graph: &Graph, d: &Dataset, steps: usize) -> TrainConfig {
    let headroom = if steps > 1 {
        TrainConfig::RUN_HEADROOM_BITS
    } else {
        0
    };
    let mut cfg = TrainConfig::calibrate(graph, &d.x, headroom);
    let max_y = d.y.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let limit = (1u64 << (cfg.table_bits - 1)) as f64;
    while cfg.act_frac > 0 && max_y * 1.25 * ((1u64 << cfg.act_frac) as f64) >= limit {
        cfg.act_frac -= 1;
    }
    cfg
}

fn set_weights(q: &mut QGraph, ints: &[Vec<i64>]) {
    for (w, v) in q.weights.iter_mut().zip(ints) {
        w.data = v.clone();
    }
}

/// The float graph holding the quantized weights `ints` (at 2^-frac).
fn dequantized(graph: &Graph, ints: &[Vec<i64>], frac: u32) -> Graph {
    let s = (1u64 << frac) as f64;
    let mut g = graph.clone();
    let mut k = 0;
    for n in g.nodes.iter_mut() {
        if let Op::Linear { w, bias, .. } = &mut n.op {
            *w = ints[k].iter().map(|&v| v as f64 / s).collect();
            k += 1;
            if let Some(b) = bias {
                *b = ints[k].iter().map(|&v| v as f64 / s).collect();
                k += 1;
            }
        }
    }
    g
}

/// The sample of every position of the run: data order wrapping around, or a fresh seeded
/// permutation per epoch (SplitMix64 + Fisher–Yates, so every platform draws the same).
fn sample_order(n: usize, len: usize, shuffle: Option<u64>) -> Vec<usize> {
    let mut out = Vec::with_capacity(len);
    let mut state = shuffle.unwrap_or(0);
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    while out.len() < len {
        let mut epoch: Vec<usize> = (0..n).collect();
        if shuffle.is_some() {
            for i in (1..n).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                epoch.swap(i, j);
            }
        }
        out.extend(epoch);
    }
    out.truncate(len);
    out
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

pub fn cmd_train(a: TrainArgs) -> Result<()> {
    let lr = parse_lr(&a.lr)?;
    let loss = parse_loss(&a.loss)?;
    if a.batch == 0 || a.steps == 0 {
        bail!("--batch and --steps must be at least 1");
    }
    let bytes = crate::load::read_model(&a.model)?;
    let (graph, sources) = zkgrad_onnx::import_with_sources(&bytes)
        .map_err(|e| anyhow!("model {}: {e}", a.model.display()))?;
    let d = Dataset::load(&a.data, a.targets)?;
    let (n_in, n_out) = (
        graph.n_inputs(),
        graph.shape(graph.output).iter().product::<usize>(),
    );
    if d.x[0].len() != n_in || d.y[0].len() != n_out {
        bail!(
            "data {}: samples have {} inputs and {} targets, the model takes {n_in} and gives {n_out}",
            a.data.display(),
            d.x[0].len(),
            d.y[0].len()
        );
    }
    if loss == Loss::SoftmaxCrossEntropy {
        if let Some((i, row)) =
            d.y.iter()
                .enumerate()
                .find(|(_, r)| (r.iter().sum::<f64>() - 1.0).abs() > 1e-6)
        {
            bail!(
                "data {}: cross-entropy targets must sum to 1; row {i} sums to {}",
                a.data.display(),
                row.iter().sum::<f64>()
            );
        }
    }
    let spec = SgdSpec {
        batch: a.batch,
        lr,
        loss,
    };
    let lora = lora_of(&a)?;
    let (train_graph, adapters) = match &lora {
        Some(l) => with_adapters(&graph, l, LORA_SEED, 0.0)
            .map_err(|e| anyhow!("model {}: {e}", a.model.display()))?,
        None => (graph.clone(), Vec::new()),
    };
    let cfg = train_config(&train_graph, &d, a.steps);
    let q0 = match &lora {
        Some(l) => lora_step(&train_graph, &adapters, l, &spec, cfg),
        None => sgd_step(&graph, &spec, cfg),
    }
    .map_err(|e| anyhow!("model {}: {e}", a.model.display()))?;
    if a.out.exists() && std::fs::read_dir(&a.out).map_or(true, |mut r| r.next().is_some()) {
        bail!(
            "run directory {} already exists and is not empty",
            a.out.display()
        );
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let lora_run = lora.as_ref().map(|l| (l, adapters.as_slice()));
    let result = run_steps(
        &a,
        &bytes,
        &train_graph,
        &sources,
        &d,
        &spec,
        cfg,
        &q0,
        lora_run,
    );
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&a.out); // ours, and incomplete
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn run_steps(
    a: &TrainArgs,
    bytes: &[u8],
    graph: &Graph,
    sources: &std::collections::HashMap<usize, zkgrad_onnx::LinearSource>,
    d: &Dataset,
    spec: &SgdSpec,
    cfg: TrainConfig,
    q0: &QGraph,
    lora: Option<(&LoraSpec, &[Adapter])>,
) -> Result<()> {
    let params = PcsParams::default();
    let fw = cfg.weight_frac;
    let mut ints: Vec<Vec<i64>> = q0.weights.iter().map(|w| w.data.clone()).collect();
    let mut float = graph.clone();
    let mut model = CommittedModel::new(q0, &params);
    let initial_root = model.root();
    let n = d.x.len();
    let order = sample_order(n, a.batch * a.steps, a.shuffle);
    let mut steps = Vec::new();
    let (mut prove_ms, mut proof_bytes) = (0.0f64, 0usize);
    let t_run = Instant::now();
    for step in 0..a.steps {
        let idx: Vec<usize> = order[step * a.batch..(step + 1) * a.batch].to_vec();
        let xb: Vec<f64> = idx.iter().flat_map(|&i| d.x[i].iter().copied()).collect();
        let yb: Vec<f64> = idx.iter().flat_map(|&i| d.y[i].iter().copied()).collect();
        let mut q = q0.clone();
        set_weights(&mut q, &ints);
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
        let (witness, proof_name) = if a.prove {
            let out = prove(&q, &model, &public, &params)
                .map_err(|e| anyhow!("step {}: {e}", step + 1))?;
            prove_ms += t0.elapsed().as_secs_f64() * 1e3;
            let name = format!("step-{:04}.zkp", step + 1);
            let b = out.proof.to_bytes();
            proof_bytes += b.len();
            write_atomic(&a.out.join(&name), &b)?;
            (out.witness, Some(name))
        } else {
            (
                q.forward(&public)
                    .map_err(|e| anyhow!("step {}: {e}", step + 1))?,
                None,
            )
        };
        for (ni, wi) in q.updates() {
            ints[wi] = witness.values[ni + 1].clone();
        }
        let mut next = q0.clone();
        set_weights(&mut next, &ints);
        model = CommittedModel::new(&next, &params);
        let s = (1u64 << cfg.act_frac) as f64;
        let pred = &witness.values[q.output];
        let loss = match spec.loss {
            Loss::Mse => {
                pred.iter()
                    .zip(&yb)
                    .map(|(p, y)| 0.5 * (*p as f64 / s - y).powi(2))
                    .sum::<f64>()
                    / a.batch as f64
            }
            Loss::SoftmaxCrossEntropy => {
                let n = yb.len() / a.batch;
                pred.chunks(n)
                    .zip(yb.chunks(n))
                    .map(|(o, t)| {
                        let o: Vec<f64> = o.iter().map(|v| *v as f64 / s).collect();
                        let m = o.iter().copied().fold(f64::MIN, f64::max);
                        let lse = m + o.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                        -o.iter().zip(t).map(|(v, y)| y * (v - lse)).sum::<f64>()
                    })
                    .sum::<f64>()
                    / a.batch as f64
            }
        };
        let (f_next, loss_f64) = match lora {
            Some((_, ads)) => lora_step_f64(&float, ads, &xb, &yb, spec),
            None => sgd_step_f64(&float, &xb, &yb, spec),
        };
        float = f_next;
        eprintln!(
            "step {}/{}: loss {loss:.6} (f64 SGD {loss_f64:.6}){}",
            step + 1,
            a.steps,
            proof_name
                .as_ref()
                .map_or(String::new(), |p| format!(", proof {p}"))
        );
        steps.push(json!({
            "step": step + 1,
            "samples": idx,
            "weight_root_before": hex(&root_before),
            "weight_root_after": hex(&model.root()),
            "loss": loss,
            "loss_f64": loss_f64,
            "proof": proof_name,
        }));
    }
    // Final weights, and how far they are from f64 SGD on the same data.
    let trained = dequantized(graph, &ints, fw);
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
    // A LoRA run's final model is the base with the adapters merged (W + (α/r)·B·A); its exact
    // adapters go to adapters.json.
    let final_graph = match lora {
        Some((l, ads)) => {
            let adapters: Vec<Value> = ads
                .iter()
                .map(|ad| {
                    let ints_of = |v: usize| {
                        q0.weights
                            .iter()
                            .position(|w| w.name == format!("{}.weight", graph.nodes[v - 1].name))
                            .map(|wi| ints[wi].clone())
                    };
                    json!({"layer": ad.name, "A": ints_of(ad.a), "B": ints_of(ad.b)})
                })
                .collect();
            let doc =
                json!({"weight_frac": fw, "rank": l.rank, "alpha": l.alpha, "adapters": adapters});
            write_atomic(&a.out.join("adapters.json"), format!("{doc}\n").as_bytes())?;
            merged(&trained, ads, l.scale())
        }
        None => trained.clone(),
    };
    let onnx = zkgrad_onnx::export_weights(bytes, &final_graph, sources)
        .map_err(|e| anyhow!("writing final.onnx: {e}"))?;
    write_atomic(&a.out.join("final.onnx"), &onnx)?;
    let manifest = json!({
        "format": "zkgrad-run/1",
        "model": a.model,
        "data": a.data,
        "loss": a.loss,
        "lr": spec.lr,
        "batch": spec.batch,
        "shuffle": a.shuffle,
        "proved": a.prove,
        "act_frac": cfg.act_frac,
        "weight_frac": cfg.weight_frac,
        "table_bits": cfg.table_bits,
        "initial_weight_root": hex(&initial_root),
        "final_weight_root": hex(&model.root()),
        "max_weight_deviation_from_f64_sgd": max_dev,
        "lora": lora.map(|(l, _)| json!({"rank": l.rank, "alpha": l.alpha, "targets": l.targets})),
        "steps": steps,
        "complete": true,
    });
    write_atomic(
        &a.out.join("manifest.json"),
        format!("{manifest:#}\n").as_bytes(),
    )?;
    let total_ms = t_run.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "trained {} steps in {total_ms:.0} ms{}; max |W − W_f64 SGD| = {max_dev:.3e}; run in {}",
        a.steps,
        if a.prove {
            format!(" (proving {prove_ms:.0} ms, {proof_bytes} proof bytes)")
        } else {
            String::new()
        },
        a.out.display()
    );
    if a.json {
        out!(
            "{}",
            json!({"run": a.out, "steps": a.steps, "total_ms": total_ms, "prove_ms": prove_ms, "proof_bytes": proof_bytes,
                   "final_weight_root": hex(&model.root()), "max_weight_deviation_from_f64_sgd": max_dev,
                   "final_loss": steps.last().map(|s| s["loss"].clone())})
        );
    }
    Ok(())
}

fn unusable(e: anyhow::Error) -> Failure {
    Failure::Unusable(e)
}

/// A run's manifest, which must be marked complete (a run directory without one, or with an
/// incomplete one, is never mistaken for a finished run).
fn read_manifest(run: &Path) -> std::result::Result<(Value, PathBuf), Failure> {
    let mpath = run.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|_| {
        unusable(anyhow!(
            "{} holds no manifest.json: not a run, or an incomplete one",
            run.display()
        ))
    })?;
    let m: Value =
        serde_json::from_str(&text).map_err(|e| unusable(anyhow!("{}: {e}", mpath.display())))?;
    if m["complete"] != json!(true) {
        return Err(unusable(anyhow!(
            "{}: the run is not marked complete",
            mpath.display()
        )));
    }
    Ok((m, mpath))
}

/// The model a run started from: the one given, else the path its manifest records.
fn run_model(
    m: &Value,
    mpath: &Path,
    given: Option<&PathBuf>,
) -> std::result::Result<PathBuf, Failure> {
    match given {
        Some(p) => Ok(p.clone()),
        None => m["model"].as_str().map(PathBuf::from).ok_or_else(|| {
            unusable(anyhow!(
                "{}: no model recorded; give --model",
                mpath.display()
            ))
        }),
    }
}

pub fn cmd_verify_run(a: VerifyRunArgs) -> std::result::Result<(), Failure> {
    let (m, mpath) = read_manifest(&a.run)?;
    if m["proved"] != json!(true) {
        return Err(unusable(anyhow!(
            "{}: the run was not proven (train with --prove)",
            a.run.display()
        )));
    }
    let steps = m["steps"]
        .as_array()
        .ok_or_else(|| unusable(anyhow!("{}: no steps", mpath.display())))?;
    // Every listed proof present, and no proof that is not listed.
    let listed: BTreeSet<String> = steps
        .iter()
        .filter_map(|s| s["proof"].as_str().map(String::from))
        .collect();
    if listed.len() != steps.len() {
        return Err(unusable(anyhow!(
            "{}: a step has no proof",
            mpath.display()
        )));
    }
    let present: BTreeSet<String> = std::fs::read_dir(&a.run)
        .map_err(|e| unusable(anyhow!("{}: {e}", a.run.display())))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".zkp"))
        .collect();
    if let Some(missing) = listed.difference(&present).next() {
        return Err(unusable(anyhow!(
            "{}: proof {missing} is missing",
            a.run.display()
        )));
    }
    if let Some(extra) = present.difference(&listed).next() {
        return Err(unusable(anyhow!(
            "{}: proof {extra} is not part of the run's manifest",
            a.run.display()
        )));
    }
    let model_path = run_model(&m, &mpath, a.model.as_ref())?;
    let bytes = crate::load::read_model(&model_path).map_err(unusable)?;
    let graph = zkgrad_onnx::import(&bytes)
        .map_err(|e| unusable(anyhow!("model {}: {e}", model_path.display())))?;
    let lr = m["lr"]
        .as_f64()
        .ok_or_else(|| unusable(anyhow!("{}: no lr", mpath.display())))?;
    let batch = m["batch"]
        .as_u64()
        .ok_or_else(|| unusable(anyhow!("{}: no batch", mpath.display())))?
        as usize;
    let data = match &a.data {
        Some(p) => Some(Dataset::load(p, a.targets).map_err(unusable)?),
        None => None,
    };
    let lora = manifest_lora(&m);
    if a.merged.is_some() && lora.is_none() {
        return Err(unusable(anyhow!(
            "--merged: {} is not a LoRA run",
            a.run.display()
        )));
    }
    let params = PcsParams::default();
    let t0 = Instant::now();
    let mut root: Option<[u8; 32]> = None;
    let mut q0: Option<QGraph> = None;
    for (i, s) in steps.iter().enumerate() {
        let name = s["proof"].as_str().unwrap_or_default();
        let pbytes =
            std::fs::read(a.run.join(name)).map_err(|e| unusable(anyhow!("{name}: {e}")))?;
        let p = ProofFile::from_bytes(&pbytes).map_err(|e| unusable(anyhow!("{name}: {e}")))?;
        if q0.is_none() {
            // The circuit every step must use: this model, this lr and batch, the run's precision.
            let cfg = TrainConfig {
                table_bits: p.config.table_bits,
                act_frac: p.config.act_frac,
                weight_frac: p.config.weight_frac,
            };
            let loss = parse_loss(m["loss"].as_str().unwrap_or("mse")).map_err(unusable)?;
            let spec = SgdSpec { batch, lr, loss };
            let q = match &lora {
                Some(l) => with_adapters(&graph, l, LORA_SEED, 0.0)
                    .map_err(|e| anyhow!(e))
                    .and_then(|(g, ads)| {
                        lora_step(&g, &ads, l, &spec, cfg).map_err(|e| anyhow!("{e}"))
                    }),
                None => sgd_step(&graph, &spec, cfg).map_err(|e| anyhow!("{e}")),
            }
            .map_err(|e| unusable(anyhow!("model {}: {e}", model_path.display())))?;
            let start = CommittedModel::new(&q, &params).root();
            if p.weight_root != start {
                return Err(Failure::Invalid(format!(
                    "step 1 does not start from the weights of {}",
                    model_path.display()
                )));
            }
            root = Some(start);
            q0 = Some(q);
        }
        let (Some(q), Some(r)) = (&q0, root) else {
            return Err(unusable(anyhow!(
                "internal error: no circuit for step {}",
                i + 1
            )));
        };
        if p.circuit != q.describe() || p.config != q.config {
            return Err(Failure::Invalid(format!(
                "step {}: the proof is for another circuit (model, lr, batch or precision)",
                i + 1
            )));
        }
        if p.weight_root != r {
            return Err(Failure::Invalid(format!("step {}: does not start from the weights step {} ended with (a step skipped, repeated or reordered?)", i + 1, i)));
        }
        let v = verify(q, &r, &p.input, &p.output, &p.body, &params)
            .map_err(|e| Failure::Invalid(format!("step {}: {e}", i + 1)))?;
        if let Some(d) = &data {
            let idx: Vec<usize> = s["samples"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_u64().map(|x| x as usize))
                        .collect()
                })
                .unwrap_or_default();
            if idx.len() != batch || idx.iter().any(|&j| j >= d.x.len()) {
                return Err(Failure::Invalid(format!(
                    "step {}: the manifest's samples do not fit the data",
                    i + 1
                )));
            }
            let vals: Vec<f64> = idx
                .iter()
                .flat_map(|&j| d.x[j].iter())
                .chain(idx.iter().flat_map(|&j| d.y[j].iter()))
                .copied()
                .collect();
            let expect: Option<Vec<i64>> = vals
                .iter()
                .map(|&v| quantize_input(v, q.config.act_frac))
                .collect();
            if expect.as_deref() != Some(&p.input[..]) {
                return Err(Failure::Invalid(format!(
                    "step {}: the proof's batch is not the samples the manifest lists",
                    i + 1
                )));
            }
        }
        let rec = (
            s["weight_root_before"].as_str(),
            s["weight_root_after"].as_str(),
        );
        if rec
            != (
                Some(hex(&r).as_str()),
                Some(hex(&v.weight_root_after).as_str()),
            )
        {
            return Err(Failure::Invalid(format!(
                "step {}: the manifest's weight roots disagree with the proof",
                i + 1
            )));
        }
        root = Some(v.weight_root_after);
    }
    let final_root = root.map(|r| hex(&r)).unwrap_or_default();
    if m["final_weight_root"].as_str() != Some(final_root.as_str()) {
        return Err(Failure::Invalid(
            "the manifest's final weight root is not where the proofs end".into(),
        ));
    }
    if let (Some(path), Some(l), Some(q)) = (&a.merged, &lora, &q0) {
        // Adapters that are not the ones the proofs end with make the run invalid (exit 1).
        let want = merged_from_run(&a.run, &graph, l, q, &final_root)
            .map_err(|e| Failure::Invalid(format!("{e:#}")))?;
        let mbytes = crate::load::read_model(path).map_err(unusable)?;
        let got = zkgrad_onnx::import(&mbytes)
            .map_err(|e| unusable(anyhow!("model {}: {e}", path.display())))?;
        if let Err(why) = same_weights(&got, &want) {
            return Err(Failure::Invalid(format!(
                "{} is not W + (α/r)·B·A for the run's final adapters: {why}",
                path.display()
            )));
        }
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if a.json {
        out!(
            "{}",
            json!({"verified": true, "steps": steps.len(), "final_weight_root": final_root, "verify_ms": ms})
        );
    } else {
        out!("verified {} steps", steps.len());
        out!("final weight root: {final_root}");
        eprintln!("checked in {ms:.1} ms");
    }
    Ok(())
}

/// The merged model of a LoRA run: the base with W + (α/r)·B·A for the adapters in
/// `adapters.json`, which must be the ones the run's final weight root commits to.
fn merged_from_run(
    run: &Path,
    base: &Graph,
    lora: &LoraSpec,
    q0: &QGraph,
    final_root: &str,
) -> Result<Graph> {
    let path = run.join("adapters.json");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{}", path.display()))?;
    let (adapted, ads) = with_adapters(base, lora, LORA_SEED, 0.0).map_err(|e| anyhow!(e))?;
    // The run's final weights: the base's (frozen) and the adapters from the file.
    let mut q = q0.clone();
    for (ad, entry) in ads.iter().zip(
        doc["adapters"]
            .as_array()
            .map(|v| v.as_slice())
            .unwrap_or(&[]),
    ) {
        for (v, key) in [(ad.a, "A"), (ad.b, "B")] {
            let name = format!("{}.weight", adapted.nodes[v - 1].name);
            let vals: Vec<i64> = entry[key]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_i64()).collect())
                .unwrap_or_default();
            let w = q
                .weights
                .iter_mut()
                .find(|w| w.name == name)
                .ok_or_else(|| anyhow!("{}: no adapter {name}", path.display()))?;
            if vals.len() != w.data.len() {
                bail!(
                    "{}: adapter {name} holds {} values, expected {}",
                    path.display(),
                    vals.len(),
                    w.data.len()
                );
            }
            w.data = vals;
        }
    }
    let root = CommittedModel::new(&q, &PcsParams::default()).root();
    if hex(&root) != final_root {
        bail!(
            "{}: these adapters are not the ones the run ended with",
            path.display()
        );
    }
    let ints: Vec<Vec<i64>> = q.weights.iter().map(|w| w.data.clone()).collect();
    let trained = dequantized(&adapted, &ints, q.config.weight_frac);
    Ok(merged(&trained, &ads, lora.scale()))
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

pub fn cmd_merge_lora(a: MergeLoraArgs) -> std::result::Result<(), Failure> {
    let (m, mpath) = read_manifest(&a.run)?;
    let lora = manifest_lora(&m)
        .ok_or_else(|| unusable(anyhow!("{} is not a LoRA run", a.run.display())))?;
    let model_path = run_model(&m, &mpath, a.model.as_ref())?;
    let bytes = crate::load::read_model(&model_path).map_err(unusable)?;
    let (graph, sources) = zkgrad_onnx::import_with_sources(&bytes)
        .map_err(|e| unusable(anyhow!("model {}: {e}", model_path.display())))?;
    let cfg = TrainConfig {
        table_bits: m["table_bits"].as_u64().unwrap_or(20) as u32,
        act_frac: m["act_frac"].as_u64().unwrap_or(0) as u32,
        weight_frac: m["weight_frac"]
            .as_u64()
            .unwrap_or(TrainConfig::WEIGHT_FRAC as u64) as u32,
    };
    let spec = SgdSpec {
        batch: m["batch"].as_u64().unwrap_or(1) as usize,
        lr: m["lr"].as_f64().unwrap_or(0.01),
        loss: parse_loss(m["loss"].as_str().unwrap_or("mse")).map_err(unusable)?,
    };
    let (adapted, ads) =
        with_adapters(&graph, &lora, LORA_SEED, 0.0).map_err(|e| unusable(anyhow!(e)))?;
    let q0 = lora_step(&adapted, &ads, &lora, &spec, cfg).map_err(|e| unusable(anyhow!("{e}")))?;
    let final_root = m["final_weight_root"].as_str().unwrap_or_default();
    let merged_graph = merged_from_run(&a.run, &graph, &lora, &q0, final_root).map_err(unusable)?;
    let onnx = zkgrad_onnx::export_weights(&bytes, &merged_graph, &sources)
        .map_err(|e| unusable(anyhow!("writing {}: {e}", a.out.display())))?;
    write_atomic(&a.out, &onnx).map_err(unusable)?;
    // The merged model's commitment, as `zkgrad commit` prints it (default precision).
    let precision = crate::load::Precision {
        table_bits: zkgrad_model::QConfig::DEFAULT_TABLE_BITS,
        ..Default::default()
    };
    let lm = crate::load::LoadedModel::load(&a.out, &precision, crate::cache::Mode::Off)
        .map_err(unusable)?;
    let scheme = zkgrad_verifier::protocol::auto_scheme(&lm.q);
    let root = CommittedModel::new(&lm.q, &PcsParams::for_scheme(scheme)).root();
    let c = hex(&zkgrad_verifier::model_commitment(&lm.q.describe(), &root));
    if a.json {
        out!("{}", json!({"merged": a.out, "model_commitment": c}));
    } else {
        eprintln!(
            "merged W + ({}/{})·B·A into {}",
            lora.alpha,
            lora.rank,
            a.out.display()
        );
        out!("{c}");
    }
    Ok(())
}
