//! Loading an ONNX model and quantizing it at the requested precision.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::cache::{cached, Mode};
use clap::Args;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::quantize_input;
use zkgrad_model::Graph;

/// The commitment scheme, shared by `prove` and `commit` (the model commitment depends on it).
#[derive(Args, Clone, Debug)]
pub struct SchemeChoice {
    /// Commitment scheme: "auto" (Ligero unless its proof would exceed 2 MiB, then WHIR),
    /// "ligero" (the fastest prover; openings of O(√n) bytes) or "whir" (openings of
    /// O(log² n) bytes, ~200 KB for 2^25 values, and succinct lookups; seconds more for a deep
    /// CNN). The model commitment depends on it; `verify` checks the proof uses it.
    #[arg(long = "pcs", default_value = "auto", value_parser = parse_scheme)]
    pub scheme: PcsChoice,
}

/// A `--pcs` value: a scheme, or `None` for "auto".
#[derive(Clone, Copy, Debug)]
pub struct PcsChoice(pub Option<zkgrad_pcs::Scheme>);

impl SchemeChoice {
    /// The parameters for `q`: the chosen scheme's, or `auto`'s choice for `q`.
    pub fn params_for(&self, q: &zkgrad_circuit::QGraph) -> zkgrad_pcs::PcsParams {
        zkgrad_pcs::PcsParams::for_scheme(
            self.scheme
                .0
                .unwrap_or_else(|| zkgrad_verifier::protocol::auto_scheme(q)),
        )
    }
}

/// "auto" (`None`), "ligero" or "whir".
pub(crate) fn parse_scheme(s: &str) -> std::result::Result<PcsChoice, String> {
    use zkgrad_pcs::Scheme;
    if s == "auto" {
        return Ok(PcsChoice(None));
    }
    [Scheme::Ligero, Scheme::Whir]
        .into_iter()
        .find(|scheme| scheme.name() == s)
        .map(|scheme| PcsChoice(Some(scheme)))
        .ok_or_else(|| format!("unknown scheme {s:?} (expected \"auto\", \"ligero\" or \"whir\")"))
}

/// Precision settings shared by `prove`, `verify` and `commit` (the model commitment depends on
/// them): `verify --model` builds the circuit exactly as `prove` does with the same flags.
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

/// What a proof claims beyond its model and public data: the precision and the commitment
/// scheme. The verifier's own statement is built from its arguments; a proof's is only compared
/// with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statement {
    pub config: QConfig,
    pub scheme: zkgrad_pcs::Scheme,
}

impl Statement {
    /// `activations 2^-A, weights 2^-W, tables 2^K; scheme S`, as `verify` prints it.
    pub fn precision_line(&self) -> String {
        format!("{}; scheme {}", self.precision(), self.scheme.name())
    }

    fn precision(&self) -> String {
        let c = &self.config;
        format!(
            "activations 2^-{}, weights 2^-{}, tables 2^{}",
            c.act_frac, c.weight_frac, c.table_bits
        )
    }

    /// `None` if `self` (a proof's) is `asked` (the verifier's), else one line naming both and
    /// the flags that would check the proof's statement instead (`--pcs` only where `pcs_flag`:
    /// training steps are always Ligero).
    pub fn differs_from(&self, asked: &Statement, pcs_flag: bool) -> Option<String> {
        if self == asked {
            return None;
        }
        let (p, q) = (&self.config, &asked.config);
        let mut flags = Vec::new();
        for (name, got, want) in [
            ("--act-frac", p.act_frac, q.act_frac),
            ("--weight-frac", p.weight_frac, q.weight_frac),
            ("--table-bits", p.table_bits, q.table_bits),
        ] {
            if got != want {
                flags.push(format!("{name} {got}"));
            }
        }
        if self.scheme != asked.scheme && pcs_flag {
            flags.push(format!("--pcs {}", self.scheme.name()));
        }
        let hint = if flags.is_empty() {
            String::new()
        } else {
            format!(" — pass {} to check that statement", flags.join(" "))
        };
        Some(format!(
            "the proof is for {} ({}); you asked about {} ({}){hint}",
            self.precision(),
            self.scheme.name(),
            asked.precision(),
            asked.scheme.name()
        ))
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

/// Values in each graph input, in the order the public input concatenates them.
fn input_sizes(graph: &Graph) -> Vec<usize> {
    let mut v = vec![graph.input_shape.iter().product::<usize>()];
    v.extend(
        graph
            .nodes
            .iter()
            .filter(|n| matches!(n.op, zkgrad_model::Op::Input { .. }))
            .map(|n| n.shape.iter().product::<usize>()),
    );
    v
}

/// The samples `act_frac` is calibrated on: those of `--calibration FILE`, else
/// [`default_samples`].
fn calibration_samples(graph: &Graph, file: Option<&Path>) -> Result<Vec<Vec<f64>>> {
    let n = graph.n_inputs();
    let Some(c) = file else {
        return Ok(default_samples(n));
    };
    let mut s = crate::input::read_input(c)?;
    // A model with several inputs: one sample may be written as one array per graph input, as
    // `prove --input` takes it.
    let sizes = input_sizes(graph);
    if sizes.len() > 1 && s.len() == sizes.len() && s.iter().zip(&sizes).all(|(a, n)| a.len() == *n)
    {
        s = vec![s.concat()];
    }
    if let Some(bad) = s.iter().find(|x| x.len() != n) {
        bail!(
            "calibration file {}: a sample has {} values, the model expects {n}",
            c.display(),
            bad.len()
        );
    }
    Ok(s)
}

/// One line of `prove --report`: a float value against the quantized tensor holding it.
pub struct LayerError {
    pub node: String,
    pub op: &'static str,
    pub shape: Vec<usize>,
    pub scale_bits: u32,
    pub max_abs_error: f64,
    pub max_abs_value: f64,
}

impl LoadedModel {
    /// Per graph node: the largest |proven − float| over its values, beside the largest |float|.
    pub fn layer_errors(&self, float: &[Vec<f64>], witness: &[Vec<i64>]) -> Vec<LayerError> {
        let mut out = Vec::new();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            let v = i + 1;
            let (Some(&t), Some(f)) = (self.value_tensors.get(v), float.get(v)) else {
                continue;
            };
            let (Some(tensor), Some(q)) = (self.q.tensors.get(t), witness.get(t)) else {
                continue;
            };
            if q.len() != f.len() {
                continue;
            }
            let s = (1u64 << tensor.frac.min(62)) as f64;
            let max_abs_error = q
                .iter()
                .zip(f)
                .map(|(a, b)| (*a as f64 / s - b).abs())
                .fold(0.0, f64::max);
            let max_abs_value = f.iter().map(|b| b.abs()).fold(0.0, f64::max);
            out.push(LayerError {
                node: node.name.clone(),
                op: node.op.name(),
                shape: node.shape.clone(),
                scale_bits: tensor.frac,
                max_abs_error,
                max_abs_value,
            });
        }
        out
    }
}

pub struct LoadedModel {
    pub graph: Graph,
    pub q: QGraph,
    /// For each float value, the quantized tensor holding it.
    pub value_tensors: Vec<usize>,
}

/// A model file's bytes, with initializers stored in external data files (as PyTorch's dynamo
/// exporter writes them) read in. A location must be a relative path inside the model's
/// directory.
pub fn read_model(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    zkgrad_onnx::inline_external_data(&bytes, |location| {
        let rel = Path::new(location);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err("must be a relative path inside the model's directory".into());
        }
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .map_err(|e| anyhow!("model {}: {e}", path.display()))
}

impl LoadedModel {
    /// Imports and quantizes, calibrating `act_frac` unless it is given (the calibrated value
    /// read from, or stored in, the cache as `cache` says).
    pub fn load(path: &Path, p: &Precision, cache: Mode) -> Result<Self> {
        let bytes = read_model(path)?;
        let graph =
            zkgrad_onnx::import(&bytes).map_err(|e| anyhow!("model {}: {e}", path.display()))?;
        if !(4..=20).contains(&p.table_bits) {
            bail!("--table-bits must be within 4..=20, got {}", p.table_bits);
        }
        let act_frac = match p.act_frac {
            Some(act_frac) => act_frac,
            None => {
                let samples = calibration_samples(&graph, p.calibration.as_deref())?;
                // 66 float forward passes: seconds for a deep CNN, so cached like a weight root.
                let key = || {
                    let mut h = blake3::Hasher::new();
                    h.update(b"zkgrad/cache/act-frac/v1/");
                    h.update(env!("CARGO_PKG_VERSION").as_bytes());
                    h.update(&(bytes.len() as u64).to_le_bytes());
                    h.update(&bytes);
                    h.update(&p.table_bits.to_le_bytes());
                    h.update(&(samples.len() as u64).to_le_bytes());
                    for s in &samples {
                        h.update(&(s.len() as u64).to_le_bytes());
                        for v in s {
                            h.update(&v.to_bits().to_le_bytes());
                        }
                    }
                    *h.finalize().as_bytes()
                };
                let calibrate = || {
                    zkgrad_model::calibrate(&graph, &samples, p.table_bits)
                        .act_frac
                        .to_le_bytes()
                };
                u32::from_le_bytes(cached("act-frac", key, cache, calibrate))
            }
        };
        let config = QConfig {
            act_frac,
            weight_frac: p
                .weight_frac
                .unwrap_or(QConfig::DEFAULT_WEIGHT_FRAC.min(p.table_bits)),
            table_bits: p.table_bits,
        };
        let (q, value_tensors) = zkgrad_model::quantize_with_map(&graph, config)
            .map_err(|e| anyhow!("model {}: {e}", path.display()))?;
        Ok(Self {
            graph,
            q,
            value_tensors,
        })
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

/// The weight commitment of `q`'s weights under `params`: read from the cache (`cache`:
/// [`Mode::Use`]) if an authenticated entry for exactly these quantized weights, circuit, PCS
/// parameters and zkgrad version exists, else computed (and stored unless [`Mode::Off`]).
pub fn weight_root_cached(q: &QGraph, params: &zkgrad_pcs::PcsParams, cache: Mode) -> [u8; 32] {
    // Keyed on the quantized weights themselves (not the file, whose data may live in an
    // external .data file): a changed weight is another entry.
    let key = || {
        let mut h = blake3::Hasher::new();
        h.update(b"zkgrad/cache/weight-root/v3/");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(zkgrad_verifier::WEIGHTS_DOMAIN);
        let pb = params.to_bytes();
        h.update(&(pb.len() as u64).to_le_bytes());
        h.update(&pb);
        let d = q.describe();
        h.update(&(d.len() as u64).to_le_bytes());
        h.update(&d);
        let mut buf = Vec::with_capacity(8 << 12);
        for w in &q.weights {
            h.update(&(w.data.len() as u64).to_le_bytes());
            for chunk in w.data.chunks(1 << 12) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                h.update(&buf);
            }
        }
        *h.finalize().as_bytes()
    };
    cached("weight-roots", key, cache, || {
        zkgrad_verifier::commit_weights_root(q, params)
    })
}
