//! A training run's statement apart from its model, data and length: the options `train` runs
//! and `verify-run` checks a run against (with the same defaults), parsed into a [`RunSpec`],
//! and the step circuit ([`RunCircuit`]) it gives for a model.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_model::Graph;

use crate::data::Dataset;
use crate::run_circuit::RunCircuit;

/// The seed of LoRA's initial A (B starts at 0): fixed, so that a run's first weight root
/// follows from the base model, the rank and the targets.
pub const LORA_SEED: u64 = 0x1042A;

/// The statement of a run apart from its model, data and length, as given (unparsed: [`parse`]
/// checks it and names the offending CLI flag).
///
/// [`parse`]: StepOptions::parse
#[derive(Clone, Debug)]
pub struct StepOptions {
    /// The loss: "mse" (½‖out − y‖²) or "xent" (softmax cross-entropy), averaged over the batch.
    pub loss: String,
    /// The learning rate (a positive number).
    pub lr: String,
    /// Samples per step, taken in data order (wrapping around) unless `shuffle` is given.
    pub batch: usize,
    /// Shuffle the samples with this seed, anew every epoch.
    pub shuffle: Option<u64>,
    /// LoRA: train rank-R adapters on the Linear layers; `None`: full SGD.
    pub lora_rank: Option<usize>,
    /// LoRA: the adapters' output is scaled by α/R (default α = R).
    pub lora_alpha: Option<f64>,
    /// LoRA: adapt only these Linear nodes (default: all).
    pub lora_targets: Vec<String>,
    pub precision: TrainPrecision,
}

/// The precision of a training circuit.
#[derive(Clone, Debug)]
pub struct TrainPrecision {
    /// Bits of every lookup table (range checks and activation tables); 4..=20.
    pub table_bits: u32,
    /// Fractional bits of activations; `None`: derived from the data (see [`RunSpec::circuit`]).
    pub act_frac: Option<u32>,
    /// Fractional bits of weights.
    pub weight_frac: u32,
}

/// A run's statement, parsed from [`StepOptions`] (or read from a manifest).
pub struct RunSpec {
    pub sgd: SgdSpec,
    pub shuffle: Option<u64>,
    /// `None`: full SGD.
    pub lora: Option<LoraSpec>,
    pub precision: TrainPrecision,
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

impl StepOptions {
    /// The statement these options give, or the first one that is out of range.
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
                loss: match m.get("loss") {
                    Some(Value::String(l)) if l == "mse" => Loss::Mse,
                    Some(Value::String(l)) if l == "xent" => Loss::SoftmaxCrossEntropy,
                    Some(other) => bail!("field \"loss\" is {other}, not \"mse\" or \"xent\""),
                    None => bail!("no loss"),
                },
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

    /// How the statement reads in verify-run's report: `lr L, batch B, loss F, <full SGD or LoRA
    /// settings>, <data order or shuffle seed>`.
    pub fn describe(&self) -> String {
        let lora = match &self.lora {
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
        let order = match self.shuffle {
            None => "data order".to_string(),
            Some(s) => format!("shuffle seed {s}"),
        };
        format!(
            "lr {}, batch {}, loss {}, {lora}, {order}",
            self.sgd.lr,
            self.sgd.batch,
            loss_name(self.sgd.loss)
        )
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
        let bytes = crate::model::read_model(model)?;
        let (base, sources) =
            zkgrad_onnx::import_with_sources_and_limits(&bytes, crate::limits::get())
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
        .map_err(|e| {
            let e = e.to_string();
            // The quantizer lowers the learning rate's scale until it fits; a large rate runs
            // out of scale, which it reports as too small.
            if e.contains("too small to represent") && self.sgd.lr >= 1.0 {
                anyhow!(
                    "--lr {} is too large to represent exactly with weights at 2^-{} and activations at 2^-{}: lower --lr",
                    self.sgd.lr,
                    cfg.weight_frac,
                    cfg.act_frac
                )
            } else {
                anyhow!("model {}: {e}", model.display())
            }
        })?;
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
