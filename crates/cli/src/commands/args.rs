//! Arguments several commands share (precision, commitment scheme, a training run's statement),
//! and the library options they give.

use std::path::PathBuf;

use clap::Args;
use zkgrad_circuit::QConfig;
use zkgrad_model::train::TrainConfig;
use zkgrad_workflow::run_spec::{StepOptions, TrainPrecision as TrainPrecisionOptions};
use zkgrad_workflow::scheme::{parse_scheme, PcsChoice};

/// The commitment scheme, shared by `prove` and `commit` (the model commitment depends on it).
#[derive(Args, Clone, Debug)]
pub struct SchemeChoice {
    /// Commitment scheme: "auto" (Ligero unless its proof would exceed 2 MiB, then WHIR),
    /// "ligero" (the fastest prover; openings of O(√n) bytes), "whir" (openings of
    /// O(log² n) bytes, ~200 KB for 2^25 values, and committed multiplicities; seconds more for a deep
    /// CNN) or "whir-unique" (WHIR, its tables of 2^24 values or more opened in the
    /// unique-decoding regime: 120–150 KB more below 2^27 values; at 2^27, folding 8 variables
    /// in the first round, 357 KB more and an opening 2.5–2.8 s faster; `generate`'s "auto"
    /// takes it where it would take "whir"). The model commitment depends on it;
    /// `verify` checks the proof uses it.
    #[arg(long = "pcs", default_value = "auto", value_parser = parse_scheme)]
    pub scheme: PcsChoice,
}

/// Precision settings shared by `prove`, `verify` and `commit` (the model commitment depends on
/// them): `verify --model` builds the circuit exactly as `prove` does with the same flags.
#[derive(Args, Clone, Debug)]
pub struct Precision {
    /// Bits of every lookup table (range checks and activation tables); 4..=20.
    #[arg(long, default_value_t = QConfig::DEFAULT_TABLE_BITS)]
    pub table_bits: u32,
    /// Fractional bits of activations; by default calibrated (see --calibration).
    #[arg(long)]
    pub act_frac: Option<u32>,
    /// Inputs to calibrate on ({"input_data": [[...], ...]}, one array per sample); by default
    /// 64 samples from U(-1, 1) with a fixed seed.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Fractional bits of weights (at most --table-bits).
    #[arg(long)]
    pub weight_frac: Option<u32>,
    /// Calibrate a scale for every tensor instead of one for all activations (transformers:
    /// residual streams in the thousands beside values below 1) — the default for models with
    /// an embedding lookup or attention. Ignored with --act-frac.
    #[arg(long, conflicts_with = "global_scale")]
    pub per_tensor_scales: bool,
    /// One calibrated scale for all activations, also for a transformer (the default for
    /// every other model).
    #[arg(long)]
    pub global_scale: bool,
}

impl Precision {
    /// The precision these flags ask for.
    pub fn options(&self) -> zkgrad_workflow::model::Precision {
        zkgrad_workflow::model::Precision {
            table_bits: self.table_bits,
            act_frac: self.act_frac,
            calibration: self.calibration.clone(),
            weight_frac: self.weight_frac,
            per_tensor: if self.per_tensor_scales {
                Some(true)
            } else if self.global_scale {
                Some(false)
            } else {
                None
            },
        }
    }
}

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

impl StepArgs {
    /// The statement these flags give (unchecked: [`StepOptions::parse`] checks it).
    pub fn options(&self) -> StepOptions {
        let p = &self.precision;
        StepOptions {
            loss: self.loss.clone(),
            lr: self.lr.clone(),
            batch: self.batch,
            shuffle: self.shuffle,
            lora_rank: self.lora_rank,
            lora_alpha: self.lora_alpha,
            lora_targets: self.lora_targets.clone(),
            precision: TrainPrecisionOptions {
                table_bits: p.table_bits,
                act_frac: p.act_frac,
                weight_frac: p.weight_frac,
            },
        }
    }
}
