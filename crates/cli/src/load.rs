//! Loading an ONNX model and quantizing it at the requested precision.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use zkgrad_model::quant::quantize_input;
use zkgrad_model::{Graph, QConfig, QGraph};

/// Precision settings shared by `prove` and `commit` (the model commitment depends on them).
#[derive(Args, Clone, Debug, Default)]
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
}

impl Precision {
    pub fn from_config(c: QConfig) -> Self {
        Self {
            table_bits: c.table_bits,
            act_frac: Some(c.act_frac),
            calibration: None,
            weight_frac: Some(c.weight_frac),
        }
    }
}

/// Deterministic calibration samples: 64 draws from U(-1, 1)^n and the two corners ±1.
pub fn default_samples(n: usize) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = (0..64)
        .map(|k| zkgrad_model::zoo::uniform(0xca11b + k, n))
        .collect();
    out.push(vec![1.0; n]);
    out.push(vec![-1.0; n]);
    out
}

pub struct LoadedModel {
    pub graph: Graph,
    pub q: QGraph,
}

impl LoadedModel {
    pub fn import(path: &Path) -> Result<Graph> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read model file {}", path.display()))?;
        zkgrad_onnx::import(&bytes).map_err(|e| anyhow!("model {}: {e}", path.display()))
    }

    /// Imports and quantizes, calibrating `act_frac` unless it is given.
    pub fn load(path: &Path, p: &Precision) -> Result<Self> {
        let graph = Self::import(path)?;
        let n = graph.n_inputs();
        let samples = match &p.calibration {
            Some(c) => {
                let s = crate::input::read_input(c)?;
                if let Some(bad) = s.iter().find(|x| x.len() != n) {
                    bail!(
                        "calibration file {}: a sample has {} values, the model expects {n}",
                        c.display(),
                        bad.len()
                    );
                }
                s
            }
            None => default_samples(n),
        };
        if !(4..=20).contains(&p.table_bits) {
            bail!("--table-bits must be within 4..=20, got {}", p.table_bits);
        }
        let mut config = QConfig::calibrate(&graph, &samples, p.table_bits);
        if let Some(f) = p.act_frac {
            config.act_frac = f;
        }
        if let Some(f) = p.weight_frac {
            config.weight_frac = f;
        }
        let q = QGraph::from_graph(&graph, config)
            .map_err(|e| anyhow!("model {}: {e}", path.display()))?;
        Ok(Self { graph, q })
    }

    /// Imports and quantizes at exactly the given settings (used by `verify`).
    pub fn load_with_config(path: &Path, p: &Precision) -> Result<Self> {
        Self::load(path, p)
    }

    /// The public input from one array per graph input (or one array holding all of them).
    pub fn join_inputs(&self, arrays: &[Vec<f64>]) -> Result<Vec<f64>> {
        let sizes: Vec<usize> = self
            .q
            .input_tensors()
            .iter()
            .map(|&t| self.q.tensors[t].len())
            .collect();
        if arrays.len() == 1 {
            return Ok(arrays[0].clone());
        }
        if arrays.len() != sizes.len() {
            bail!(
                "the model has {} inputs, the file holds {} arrays",
                sizes.len(),
                arrays.len()
            );
        }
        for (i, (a, n)) in arrays.iter().zip(&sizes).enumerate() {
            if a.len() != *n {
                bail!("input {i} has {} values, the model expects {n}", a.len());
            }
        }
        Ok(arrays.concat())
    }

    pub fn quantize_input(&self, x: &[f64]) -> Result<Vec<i64>> {
        let n = self.q.public_input_len();
        if x.len() != n {
            bail!(
                "input has {} values, the model expects {n} (shape {:?})",
                x.len(),
                self.graph.input_shape
            );
        }
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                quantize_input(v, self.q.config.act_frac)
                    .ok_or_else(|| anyhow!("input value {i} ({v}) cannot be represented"))
            })
            .collect()
    }
}
