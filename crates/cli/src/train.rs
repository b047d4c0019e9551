//! `zkgrad train`: SGD or LoRA runs, each step optionally proven, chained by their weight
//! commitments; and what `train` and `verify-run` share: a run's statement ([`StepArgs`]), the
//! step circuit it gives for a model ([`RunCircuit`]), the loss formula and the files it writes.
//!
//! RUN/ holds `step-NNNN.zkp` (with `--prove`), `final.onnx` (the trained weights as float32 in
//! the input model's graph; for LoRA the merged W + (α/r)·B·A), the exact final weights
//! (`final-weights.bin`, see [`crate::weights_file`], or for LoRA `adapters.json`) and
//! `manifest.json` (format [`RUN_FORMAT`]), written last and atomically: a directory without a
//! manifest is an incomplete run, never mistaken for a complete one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::lora::{lora_step, lora_step_f64, merged, with_adapters, Adapter, LoraSpec};
use zkgrad_model::quantize_input;
use zkgrad_model::train::{sgd_step, sgd_step_f64, Loss, SgdSpec, TrainConfig};
use zkgrad_model::{Graph, Op};
use zkgrad_onnx::LinearSource;
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{prove, CommittedModel};

use crate::data::Dataset;
use crate::hex;

/// The manifest format `train` writes and `verify-run` reads.
pub const RUN_FORMAT: &str = "zkgrad-run/2";

/// The seed of LoRA's initial A (B starts at 0): fixed, so that a run's first weight root
/// follows from the base model, the rank and the targets.
pub const LORA_SEED: u64 = 0x1042A;

/// The statement of a run apart from its model, data and length: `train` runs it, `verify-run`
/// checks a run against it (with the same defaults).
#[derive(Args, Clone, Debug)]
pub struct StepArgs {
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
    /// LoRA: train rank-R adapters A (R × in), B (out × R) on the Linear layers; the base
    /// weights stay frozen. A starts from U(−1/√in, 1/√in) (a fixed seed), B from 0. Without
    /// it: full SGD.
    #[arg(long)]
    lora_rank: Option<usize>,
    /// LoRA: the adapters' output is scaled by α/R (default α = R).
    #[arg(long, allow_hyphen_values = true)]
    lora_alpha: Option<f64>,
    /// LoRA: adapt only these Linear nodes (comma-separated names; default: all).
    #[arg(long, value_delimiter = ',')]
    lora_targets: Vec<String>,
    #[command(flatten)]
    precision: TrainPrecision,
}

/// The precision of a training circuit.
#[derive(Args, Clone, Debug)]
pub struct TrainPrecision {
    /// Bits of every lookup table (range checks and activation tables); 4..=20.
    #[arg(long, default_value_t = QConfig::DEFAULT_TABLE_BITS)]
    table_bits: u32,
    /// Fractional bits of activations; by default derived from the data: calibrated on its
    /// inputs (less 3 bits of headroom for runs of several steps) and narrow enough that its
    /// targets fit.
    #[arg(long)]
    act_frac: Option<u32>,
    /// Fractional bits of weights (28: updates down to 3.7e-9 survive).
    #[arg(long, default_value_t = TrainConfig::WEIGHT_FRAC)]
    weight_frac: u32,
}

/// A parsed [`StepArgs`].
pub struct RunSpec {
    pub sgd: SgdSpec,
    pub shuffle: Option<u64>,
    /// `None`: full SGD.
    pub lora: Option<LoraSpec>,
    precision: TrainPrecision,
}

fn parse_loss(s: &str) -> Result<Loss> {
    match s {
        "mse" => Ok(Loss::Mse),
        "xent" => Ok(Loss::SoftmaxCrossEntropy),
        other => bail!("--loss {other}: use mse or xent"),
    }
}

pub fn loss_name(l: Loss) -> &'static str {
    match l {
        Loss::Mse => "mse",
        Loss::SoftmaxCrossEntropy => "xent",
    }
}

fn parse_lr(s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => bail!("--lr must be a positive number, got {s:?}"),
    }
}

impl StepArgs {
    pub fn parse(&self) -> Result<RunSpec> {
        let lr = parse_lr(&self.lr)?;
        let loss = parse_loss(&self.loss)?;
        if self.batch == 0 {
            bail!("--batch must be at least 1");
        }
        let lora = match self.lora_rank {
            None if self.lora_alpha.is_some() || !self.lora_targets.is_empty() => {
                bail!("--lora-alpha and --lora-targets need --lora-rank")
            }
            None => None,
            Some(0) => bail!("--lora-rank must be at least 1"),
            Some(rank) => {
                let alpha = self.lora_alpha.unwrap_or(rank as f64);
                if !(alpha.is_finite() && alpha > 0.0) {
                    bail!("--lora-alpha must be a positive number, got {alpha}");
                }
                // The adapted layers are a set: the order they are named in changes nothing.
                let mut targets = self.lora_targets.clone();
                targets.sort();
                targets.dedup();
                Some(LoraSpec {
                    rank,
                    alpha,
                    targets,
                })
            }
        };
        if !(4..=20).contains(&self.precision.table_bits) {
            bail!(
                "--table-bits must be within 4..=20, got {}",
                self.precision.table_bits
            );
        }
        Ok(RunSpec {
            sgd: SgdSpec {
                batch: self.batch,
                lr,
                loss,
            },
            shuffle: self.shuffle,
            lora,
            precision: self.precision.clone(),
        })
    }
}

impl RunSpec {
    /// The statement a manifest records (the trainer's word: for `merge-lora`, which verifies
    /// nothing, never for `verify-run`).
    pub fn recorded(m: &Value) -> Result<RunSpec> {
        let num = |f: &str| {
            m.get(f)
                .and_then(Value::as_u64)
                .ok_or_else(|| anyhow!("no {f}"))
        };
        let small =
            |f: &str| num(f).and_then(|v| u32::try_from(v).map_err(|_| anyhow!("{f} is {v}")));
        let lora = match m.get("lora") {
            None | Some(Value::Null) => None,
            Some(l) => Some(LoraSpec {
                rank: l
                    .get("rank")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| anyhow!("no lora.rank"))? as usize,
                alpha: l
                    .get("alpha")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| anyhow!("no lora.alpha"))?,
                targets: l
                    .get("targets")
                    .and_then(Value::as_array)
                    .ok_or_else(|| anyhow!("no lora.targets"))?
                    .iter()
                    .map(|t| {
                        t.as_str()
                            .map(String::from)
                            .ok_or_else(|| anyhow!("a lora target is {t}"))
                    })
                    .collect::<Result<_>>()?,
            }),
        };
        Ok(RunSpec {
            sgd: SgdSpec {
                batch: num("batch")? as usize,
                lr: m
                    .get("lr")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| anyhow!("no lr"))?,
                loss: parse_loss(m.get("loss").and_then(Value::as_str).unwrap_or_default())?,
            },
            shuffle: m.get("shuffle").and_then(Value::as_u64),
            lora,
            precision: TrainPrecision {
                table_bits: small("table_bits")?,
                act_frac: Some(small("act_frac")?),
                weight_frac: small("weight_frac")?,
            },
        })
    }

    /// The LoRA settings as the manifest records them (`null` for full SGD).
    pub fn lora_json(&self) -> Value {
        match &self.lora {
            Some(l) => json!({"rank": l.rank, "alpha": l.alpha, "targets": l.targets}),
            None => Value::Null,
        }
    }

    /// The training circuit's precision: the flags', with `act_frac` derived from the data when
    /// not given (calibrated on its inputs like inference, less headroom for runs of several
    /// steps, and narrow enough that the targets fit the public range too).
    fn config(&self, graph: &Graph, data: Option<&Dataset>, steps: usize) -> Result<TrainConfig> {
        let p = &self.precision;
        let k = p.table_bits;
        let act_frac = match (p.act_frac, data) {
            (Some(f), _) => f,
            (None, Some(d)) => {
                let headroom = if steps > 1 {
                    TrainConfig::RUN_HEADROOM_BITS
                } else {
                    0
                };
                let mut f = zkgrad_model::calibrate(graph, &d.x, k)
                    .act_frac
                    .saturating_sub(headroom);
                let max_y = d.y.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
                let limit = (1u64 << (k - 1)) as f64;
                while f > 0 && max_y * 1.25 * ((1u64 << f) as f64) >= limit {
                    f -= 1;
                }
                f
            }
            (None, None) => bail!(
                "act_frac is derived from the training data as train derives it: give --data (or --act-frac)"
            ),
        };
        Ok(TrainConfig {
            table_bits: k,
            act_frac,
            weight_frac: p.weight_frac,
        })
    }

    /// The step circuit of this statement for the model at `model`, at the precision `config`
    /// gives for `data` and a run of `steps` steps.
    pub fn circuit(
        &self,
        model: &Path,
        data: Option<(&Dataset, &Path)>,
        steps: usize,
    ) -> Result<RunCircuit> {
        let bytes = crate::load::read_model(model)?;
        let (base, sources) = zkgrad_onnx::import_with_sources(&bytes)
            .map_err(|e| anyhow!("model {}: {e}", model.display()))?;
        if let Some((d, path)) = data {
            let (n_in, n_out) = (
                base.n_inputs(),
                base.shape(base.output).iter().product::<usize>(),
            );
            if d.x[0].len() != n_in || d.y[0].len() != n_out {
                bail!(
                    "data {}: samples have {} inputs and {} targets, the model takes {n_in} and gives {n_out}",
                    path.display(),
                    d.x[0].len(),
                    d.y[0].len()
                );
            }
        }
        let (graph, adapters) = match &self.lora {
            Some(l) => with_adapters(&base, l, LORA_SEED, 0.0)
                .map_err(|e| anyhow!("model {}: {e}", model.display()))?,
            None => (base, Vec::new()),
        };
        let cfg = self.config(&graph, data.map(|(d, _)| d), steps)?;
        let q0 = match &self.lora {
            Some(l) => lora_step(&graph, &adapters, l, &self.sgd, cfg),
            None => sgd_step(&graph, &self.sgd, cfg),
        }
        .map_err(|e| anyhow!("model {}: {e}", model.display()))?;
        Ok(RunCircuit {
            bytes,
            sources,
            graph,
            adapters,
            q0,
            cfg,
        })
    }
}

/// A run's statement resolved against its model: the step circuit every step's proof uses.
pub struct RunCircuit {
    /// The model file (external data read in): `final.onnx` is this file with new weights.
    pub bytes: Vec<u8>,
    sources: HashMap<usize, LinearSource>,
    /// The float graph trained (the base with adapters, for LoRA).
    pub graph: Graph,
    pub adapters: Vec<Adapter>,
    /// The step circuit, holding the model's own weights (and the initial adapters).
    pub q0: QGraph,
    pub cfg: TrainConfig,
}

impl RunCircuit {
    /// Where each Linear layer's weights sit among the model file's initializers.
    pub fn sources(&self) -> &HashMap<usize, LinearSource> {
        &self.sources
    }

    /// The step circuit with the weights `ints` (one vector per weight of `q0`).
    pub fn with_weights(&self, ints: &[Vec<i64>]) -> QGraph {
        let mut q = self.q0.clone();
        for (w, v) in q.weights.iter_mut().zip(ints) {
            w.data = v.clone();
        }
        q
    }

    /// The model `final.onnx` holds for the weights `ints`: the trained graph with them
    /// (dequantized), the adapters merged into their layers for LoRA.
    pub fn final_graph(&self, ints: &[Vec<i64>], lora: Option<&LoraSpec>) -> Graph {
        let trained = dequantized(&self.graph, ints, self.cfg.weight_frac);
        match lora {
            Some(l) => merged(&trained, &self.adapters, l.scale()),
            None => trained,
        }
    }

    /// `final.onnx`'s bytes for the weights `ints`: the input model file with the final graph's
    /// weights as float32. `train` writes it and `verify-run` regenerates it to compare.
    pub fn final_onnx(&self, ints: &[Vec<i64>], lora: Option<&LoraSpec>) -> Result<Vec<u8>> {
        zkgrad_onnx::export_weights(&self.bytes, &self.final_graph(ints, lora), &self.sources)
            .map_err(|e| anyhow!("writing final.onnx: {e}"))
    }

    /// The index of the weight of `q0` that float value `v` (an adapter's A or B) holds.
    fn weight_of(&self, v: usize) -> Option<usize> {
        let name = format!("{}.weight", self.graph.nodes.get(v.checked_sub(1)?)?.name);
        self.q0.weights.iter().position(|w| w.name == name)
    }

    /// `adapters.json` for the weights `ints`: per adapted layer its A and B, as integers at
    /// 2^-weight_frac.
    pub fn adapters_json(&self, ints: &[Vec<i64>], l: &LoraSpec) -> Value {
        let adapters: Vec<Value> = self
            .adapters
            .iter()
            .map(|ad| {
                let of = |v: usize| self.weight_of(v).and_then(|wi| ints.get(wi)).cloned();
                json!({"layer": ad.name, "A": of(ad.a), "B": of(ad.b)})
            })
            .collect();
        json!({"weight_frac": self.cfg.weight_frac, "rank": l.rank, "alpha": l.alpha, "adapters": adapters})
    }

    /// The final weights an `adapters.json` describes: `q0`'s (the frozen base) with the file's
    /// adapters. Every field must be what this statement gives.
    pub fn weights_from_adapters(
        &self,
        doc: &Value,
        l: &LoraSpec,
    ) -> Result<Vec<Vec<i64>>, String> {
        for (field, want) in [
            ("weight_frac", json!(self.cfg.weight_frac)),
            ("rank", json!(l.rank)),
            ("alpha", json!(l.alpha)),
        ] {
            if doc.get(field) != Some(&want) {
                return Err(format!(
                    "{field} is {}; the run's is {want}",
                    doc.get(field).unwrap_or(&Value::Null)
                ));
            }
        }
        let entries = doc
            .get("adapters")
            .and_then(Value::as_array)
            .ok_or("no \"adapters\" array")?;
        if entries.len() != self.adapters.len() {
            return Err(format!(
                "{} adapters; the run adapts {} layers",
                entries.len(),
                self.adapters.len()
            ));
        }
        let mut ints: Vec<Vec<i64>> = self.q0.weights.iter().map(|w| w.data.clone()).collect();
        for (ad, entry) in self.adapters.iter().zip(entries) {
            if entry.get("layer").and_then(Value::as_str) != Some(ad.name.as_str()) {
                return Err(format!(
                    "an adapter is for layer {}; expected {}",
                    entry.get("layer").unwrap_or(&Value::Null),
                    ad.name
                ));
            }
            for (v, key) in [(ad.a, "A"), (ad.b, "B")] {
                let wi = self
                    .weight_of(v)
                    .ok_or_else(|| format!("no weight for {}'s {key}", ad.name))?;
                let vals = entry
                    .get(key)
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("{}: no {key} array", ad.name))?;
                let want = self.q0.weights[wi].data.len();
                if vals.len() != want {
                    return Err(format!(
                        "{}'s {key} holds {} values, expected {want}",
                        ad.name,
                        vals.len()
                    ));
                }
                ints[wi] = vals
                    .iter()
                    .map(|x| {
                        x.as_i64()
                            .ok_or_else(|| format!("{}'s {key} holds {x}, not an integer", ad.name))
                    })
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(ints)
    }
}

/// A step's loss, as `train` records it and `verify-run` recomputes it from the proof's public
/// data: the predictions `pred` (the step's public output, at 2^-`pred_frac`) against the
/// targets `y` (the public input's, at 2^-`y_frac`), averaged over the batch.
pub fn step_loss(
    loss: Loss,
    pred: &[i64],
    pred_frac: u32,
    y: &[i64],
    y_frac: u32,
    batch: usize,
) -> f64 {
    let (sp, sy) = ((1u64 << pred_frac) as f64, (1u64 << y_frac) as f64);
    let batch = batch.max(1);
    match loss {
        Loss::Mse => {
            pred.iter()
                .zip(y)
                .map(|(p, y)| 0.5 * (*p as f64 / sp - *y as f64 / sy).powi(2))
                .sum::<f64>()
                / batch as f64
        }
        Loss::SoftmaxCrossEntropy => {
            let n = (y.len() / batch).max(1);
            pred.chunks(n)
                .zip(y.chunks(n))
                .map(|(o, t)| {
                    let o: Vec<f64> = o.iter().map(|v| *v as f64 / sp).collect();
                    let m = o.iter().copied().fold(f64::MIN, f64::max);
                    let lse = m + o.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    -o.iter()
                        .zip(t)
                        .map(|(v, y)| *y as f64 / sy * (v - lse))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / batch as f64
        }
    }
}

/// The targets in a step's public input (public input 1, after the batch), with their scale.
pub fn public_targets<'a>(q: &QGraph, public: &'a [i64]) -> Option<(&'a [i64], u32)> {
    let t = *q.input_tensors().get(1)?;
    let off = q.public_offset(t)?;
    let tensor = q.tensors.get(t)?;
    Some((public.get(off..off + tensor.len())?, tensor.frac))
}

/// The float graph holding the quantized weights `ints` (at 2^-frac).
fn dequantized(graph: &Graph, ints: &[Vec<i64>], frac: u32) -> Graph {
    let s = (1u64 << frac) as f64;
    let mut g = graph.clone();
    let mut k = 0;
    let mut next = || {
        let v: Vec<f64> = ints
            .get(k)
            .map(|w| w.iter().map(|&v| v as f64 / s).collect())
            .unwrap_or_default();
        k += 1;
        v
    };
    for n in g.nodes.iter_mut() {
        if let Op::Linear { w, bias, .. } = &mut n.op {
            *w = next();
            if let Some(b) = bias {
                *b = next();
            }
        }
    }
    g
}

/// The sample of every position of the run: data order wrapping around, or a fresh seeded
/// permutation per epoch (SplitMix64 + Fisher–Yates, so every platform draws the same).
pub fn sample_order(n: usize, len: usize, shuffle: Option<u64>) -> Vec<usize> {
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

/// Writes `bytes` to `path` through a temporary sibling, so that `path` is never half-written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

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
    #[command(flatten)]
    step: StepArgs,
}

pub fn cmd_train(a: TrainArgs) -> Result<()> {
    let spec = a.step.parse()?;
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let d = Dataset::load(&a.data, a.targets)?;
    if spec.sgd.loss == Loss::SoftmaxCrossEntropy {
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
    let run = spec.circuit(&a.model, Some((&d, &a.data)), a.steps)?;
    if a.out.exists() && std::fs::read_dir(&a.out).map_or(true, |mut r| r.next().is_some()) {
        bail!(
            "run directory {} already exists and is not empty",
            a.out.display()
        );
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let result = run_steps(&a, &spec, &run, &d);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&a.out); // ours, and incomplete
    }
    result
}

fn run_steps(a: &TrainArgs, spec: &RunSpec, run: &RunCircuit, d: &Dataset) -> Result<()> {
    let params = PcsParams::default();
    let (q0, cfg, sgd) = (&run.q0, run.cfg, &spec.sgd);
    let mut ints: Vec<Vec<i64>> = q0.weights.iter().map(|w| w.data.clone()).collect();
    let mut float = run.graph.clone();
    let mut model = CommittedModel::new(q0, &params);
    let initial_root = model.root();
    let order = sample_order(d.x.len(), sgd.batch * a.steps, spec.shuffle);
    let mut steps = Vec::new();
    let (mut prove_ms, mut proof_bytes) = (0.0f64, 0usize);
    let t_run = Instant::now();
    for step in 0..a.steps {
        let idx: Vec<usize> = order[step * sgd.batch..(step + 1) * sgd.batch].to_vec();
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
        let (witness, proof_file) = if a.prove {
            let out = prove(&q, &model, &public, &params)
                .map_err(|e| anyhow!("step {}: {e}", step + 1))?;
            prove_ms += t0.elapsed().as_secs_f64() * 1e3;
            let name = proof_name(step + 1);
            let b = out.proof.to_bytes();
            proof_bytes += b.len();
            write_atomic(&a.out.join(&name), &b)?;
            (out.witness, Some(name))
        } else {
            (
                zkgrad_model::forward(&q, &public)
                    .map_err(|e| anyhow!("step {}: {e}", step + 1))?,
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
        eprintln!(
            "step {}/{}: loss {loss:.6} (f64 SGD {loss_f64:.6}){}",
            step + 1,
            a.steps,
            proof_file
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
            "proof": proof_file,
        }));
    }
    // Final weights, and how far they are from f64 SGD on the same data.
    let trained = dequantized(&run.graph, &ints, cfg.weight_frac);
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
    // The exact final weights (for LoRA, the adapters), then the float32 model.
    match &spec.lora {
        Some(l) => {
            let doc = run.adapters_json(&ints, l);
            write_atomic(&a.out.join(ADAPTERS_FILE), format!("{doc}\n").as_bytes())?;
        }
        None => write_atomic(
            &a.out.join(crate::weights_file::FILE_NAME),
            &crate::weights_file::encode(q0, &ints, cfg.weight_frac),
        )?,
    }
    write_atomic(
        &a.out.join(FINAL_ONNX),
        &run.final_onnx(&ints, spec.lora.as_ref())?,
    )?;
    let manifest = json!({
        "format": RUN_FORMAT,
        "model": a.model,
        "data": a.data,
        "loss": loss_name(sgd.loss),
        "lr": sgd.lr,
        "batch": sgd.batch,
        "shuffle": spec.shuffle,
        "proved": a.prove,
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
    write_atomic(&a.out.join(MANIFEST), format!("{manifest:#}\n").as_bytes())?;
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

/// The files of a run directory.
pub const MANIFEST: &str = "manifest.json";
pub const FINAL_ONNX: &str = "final.onnx";
pub const ADAPTERS_FILE: &str = "adapters.json";

/// The proof file of step `step` (from 1).
pub fn proof_name(step: usize) -> String {
    format!("step-{step:04}.zkp")
}
