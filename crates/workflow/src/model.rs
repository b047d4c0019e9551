//! Loading an ONNX model and quantizing it at the requested precision.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::graph::Op;
use zkgrad_model::Graph;

use crate::cache::{cached, Mode};
use crate::calibration::calibration_samples;
use crate::files::{read_regular, MAX_MODEL_BYTES};

/// The precision to quantize a model at, as `prove`, `verify` and `commit` take it (the model
/// commitment depends on it): `verify --model` builds the circuit exactly as `prove` does with
/// the same settings.
#[derive(Clone, Debug)]
pub struct Precision {
    /// Bits of every lookup table (range checks and activation tables); 4..=20.
    pub table_bits: u32,
    /// Fractional bits of activations; `None`: calibrated (see `calibration`).
    pub act_frac: Option<u32>,
    /// Inputs to calibrate on (`{"input_data": [[...], ...]}`, one array per sample); `None`:
    /// [`crate::calibration::default_samples`].
    pub calibration: Option<PathBuf>,
    /// Fractional bits of weights (at most `table_bits`); `None`: the default, capped at
    /// `table_bits`.
    pub weight_frac: Option<u32>,
    /// A calibrated scale per tensor (`zkgrad_model::calibrate_per_tensor`) instead of one
    /// `act_frac` for every activation; not with `act_frac`. `None`: per tensor for a model
    /// with an embedding lookup or attention ([`per_tensor_by_default`]), one scale otherwise.
    pub per_tensor: Option<bool>,
}

impl Default for Precision {
    /// The default precision: tables of 2^[`QConfig::DEFAULT_TABLE_BITS`], everything else
    /// derived.
    fn default() -> Self {
        Self {
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            act_frac: None,
            calibration: None,
            weight_frac: None,
            per_tensor: None,
        }
    }
}

/// A model imported from ONNX and quantized: its float graph, its circuit, and where each float
/// value sits in the circuit.
pub struct LoadedModel {
    pub graph: Graph,
    pub q: QGraph,
    /// For each float value, the quantized tensor holding it.
    pub value_tensors: Vec<usize>,
}

/// The start of a calibration's cache key: `tag`, the zkgrad version, the model file, the
/// table width and the samples, each length-prefixed.
fn calibration_key(
    tag: &[u8],
    model: &zkgrad_onnx::InlinedModel,
    table_bits: u32,
    samples: &[Vec<f64>],
) -> Result<blake3::Hasher> {
    let mut h = blake3::Hasher::new();
    h.update(tag);
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(&model.byte_len().to_le_bytes());
    model.write_bytes(&mut h).map_err(|e| anyhow!("{e}"))?;
    h.update(&table_bits.to_le_bytes());
    h.update(&(samples.len() as u64).to_le_bytes());
    for s in samples {
        h.update(&(s.len() as u64).to_le_bytes());
        for v in s {
            h.update(&v.to_bits().to_le_bytes());
        }
    }
    Ok(h)
}

/// A calibration cache key, computed now (it hashes the model's bytes, which the caller then
/// frees) where the cache is used, else left unused (zeros).
fn eager_key(cache: Mode, key: impl FnOnce() -> Result<blake3::Hasher>) -> Result<[u8; 32]> {
    Ok(match cache {
        Mode::Off => [0; 32],
        Mode::Use | Mode::Refresh => key()?.finalize().into(),
    })
}

/// Whether a loaded model keeps its float weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatWeights {
    /// Kept: the float model runs (accuracy against it, calibration).
    Keep,
    /// Quantized in their own memory: only the quantized model runs (`generate`).
    Drop,
}

/// Whether a model gets a scale per tensor unless told otherwise: one with an embedding lookup
/// or a batched (attention) product — a transformer, whose residual stream and LayerNorm
/// squares one global scale cannot hold beside its small values (GPT-2 124M: top-1 0 of 16
/// with one scale, 16 of 16 per tensor). The choice depends on the model alone, so `verify
/// --model` makes the same one.
pub fn per_tensor_by_default(graph: &Graph) -> bool {
    graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Embed { .. } | Op::BatchMatMul { .. }))
}

/// A model file's bytes, with initializers stored in external data files (as PyTorch's dynamo
/// exporter writes them) read in. A location must be a relative path inside the model's
/// directory.
pub fn read_model(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_regular(path, MAX_MODEL_BYTES).context("cannot read model file")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    // External data: relative paths that resolve inside the model's directory, regular files
    // only, exactly each tensor's bytes (zkgrad_onnx::inline_external_data_in_dir).
    zkgrad_onnx::inline_external_data_in_dir(&bytes, dir, crate::limits::get())
        .map_err(|e| anyhow!("model {}: {e}", path.display()))
}

/// [`read_model`], the model kept parsed (for [`zkgrad_onnx::import_inlined`]).
fn read_model_parsed(path: &Path) -> Result<zkgrad_onnx::InlinedModel> {
    let bytes = read_regular(path, MAX_MODEL_BYTES).context("cannot read model file")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    zkgrad_onnx::inline_external_data_in_dir_parsed(bytes, dir, crate::limits::get())
        .map_err(|e| anyhow!("model {}: {e}", path.display()))
}

impl LoadedModel {
    /// Imports and quantizes, calibrating `act_frac` unless it is given (the calibrated value
    /// read from, or stored in, the cache as `cache` says).
    pub fn load(path: &Path, p: &Precision, cache: Mode) -> Result<Self> {
        Self::load_with_dims(path, p, cache, &[])
    }

    /// [`Self::load`] for an input of `n_values` values: a model exported with a symbolic
    /// dimension on its input (a dynamic sequence axis) is specialized to the size that input
    /// has; any other model is loaded as it is.
    pub fn load_for_input(
        path: &Path,
        p: &Precision,
        cache: Mode,
        n_values: usize,
    ) -> Result<Self> {
        Self::load_for_input_keeping(path, p, cache, n_values, FloatWeights::Keep)
    }

    /// [`Self::load_for_input`], keeping the float model's weights or not (`generate` runs only
    /// the quantized model, so its weights are quantized in their own memory).
    pub fn load_for_input_keeping(
        path: &Path,
        p: &Precision,
        cache: Mode,
        n_values: usize,
        float: FloatWeights,
    ) -> Result<Self> {
        // The graph's input shapes only: its external data is read once, by the load below.
        let bytes = read_regular(path, MAX_MODEL_BYTES).context("cannot read model file")?;
        let (symbolic, fixed) = zkgrad_onnx::symbolic_input_dims(&bytes)
            .map_err(|e| anyhow!("model {}: {e}", path.display()))?;
        let dims = match symbolic.as_slice() {
            [] => Vec::new(),
            [(_, name)] => {
                if !n_values.is_multiple_of(fixed) || n_values == 0 {
                    bail!(
                        "model {}: an input of {n_values} values does not fill its symbolic \
                         dimension {} (the other dimensions hold {fixed})",
                        path.display(),
                        if name.is_empty() { "(unnamed)" } else { name }
                    );
                }
                vec![(name.clone(), n_values / fixed)]
            }
            several => bail!(
                "model {}: its input has {} symbolic dimensions ({}); one (a sequence axis) is \
                 supported",
                path.display(),
                several.len(),
                several
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Self::load_inner(path, p, cache, &dims, float)
    }

    /// [`Self::load`] with symbolic input dimensions given sizes
    /// ([`zkgrad_onnx::import_specialized`]).
    pub fn load_with_dims(
        path: &Path,
        p: &Precision,
        cache: Mode,
        dims: &[(String, usize)],
    ) -> Result<Self> {
        Self::load_inner(path, p, cache, dims, FloatWeights::Keep)
    }

    /// [`Self::load_with_dims`], keeping the float model's weights or not.
    fn load_inner(
        path: &Path,
        p: &Precision,
        cache: Mode,
        dims: &[(String, usize)],
        float: FloatWeights,
    ) -> Result<Self> {
        if p.act_frac.is_some() {
            if let Some(c) = &p.calibration {
                bail!(
                    "--calibration {} has no effect with --act-frac (calibration only chooses act_frac): give one of them",
                    c.display()
                );
            }
        }
        // Parsed once: the calibration key hashes its bytes (the file's, external data inline)
        // as they are encoded, and the import reads the parsed model.
        let bytes = read_model_parsed(path)?;
        let mut graph = zkgrad_onnx::import_inlined(&bytes, crate::limits::get(), dims)
            .map_err(|e| anyhow!("model {}: {e}", path.display()))?;
        if !(4..=20).contains(&p.table_bits) {
            bail!("--table-bits must be within 4..=20, got {}", p.table_bits);
        }
        let per_tensor = p
            .per_tensor
            .unwrap_or_else(|| per_tensor_by_default(&graph));
        if per_tensor && p.act_frac.is_none() {
            return Self::load_per_tensor(path, graph, p, bytes, cache, float);
        }
        let act_frac = match p.act_frac {
            Some(act_frac) => act_frac,
            None => {
                let samples = calibration_samples(&graph, p.calibration.as_deref())?;
                // 66 float forward passes: seconds for a deep CNN, so cached like a weight root.
                let key = eager_key(cache, || {
                    calibration_key(b"zkgrad/cache/act-frac/v1/", &bytes, p.table_bits, &samples)
                })?;
                // The model's bytes (its weights, as stored) are not needed past the key.
                drop(bytes);
                let calibrate = || {
                    zkgrad_model::calibrate(&graph, &samples, p.table_bits)
                        .act_frac
                        .to_le_bytes()
                };
                u32::from_le_bytes(cached("act-frac", || key, cache, calibrate))
            }
        };
        let config = QConfig {
            act_frac,
            weight_frac: p
                .weight_frac
                .unwrap_or(QConfig::DEFAULT_WEIGHT_FRAC.min(p.table_bits)),
            table_bits: p.table_bits,
        };
        let (q, value_tensors) = match float {
            FloatWeights::Keep => zkgrad_model::quantize_with_map(&graph, config),
            FloatWeights::Drop => zkgrad_model::quantize_with_map_consuming(&mut graph, config),
        }
        .map_err(|e| anyhow!("model {}: {e}", path.display()))?;
        Ok(Self {
            graph,
            q,
            value_tensors,
        })
    }

    /// [`Self::load`] with a calibrated scale per tensor: the circuit is a function of the
    /// model, the calibration samples and the table width, as `verify` rebuilds it. The
    /// statement's `act_frac` is the finest scale.
    /// The scales are cached like `act_frac` (`zkgrad commit` stores them, `verify --model`
    /// reads them): 64 float forward passes are minutes for GPT-2 124M.
    fn load_per_tensor(
        path: &Path,
        mut graph: Graph,
        p: &Precision,
        bytes: zkgrad_onnx::InlinedModel,
        cache: Mode,
        float: FloatWeights,
    ) -> Result<Self> {
        if !(4..=20).contains(&p.table_bits) {
            bail!("--table-bits must be within 4..=20, got {}", p.table_bits);
        }
        let samples = calibration_samples(&graph, p.calibration.as_deref())?;
        let n = graph.nodes.len() + 1;
        let key = eager_key(cache, || {
            let mut h = calibration_key(
                b"zkgrad/cache/per-tensor-fracs/v2/",
                &bytes,
                p.table_bits,
                &samples,
            )?;
            // The graph as imported (a specialized sequence length is another graph).
            h.update(&(n as u64).to_le_bytes());
            for node in &graph.nodes {
                for d in &node.shape {
                    h.update(&(*d as u64).to_le_bytes());
                }
                h.update(b";");
            }
            Ok(h)
        })?;
        // The model's bytes (its weights, as stored: GPT-2 124M's 0.5 GB) are not needed past
        // the key; freed, the quantized weights reuse their memory.
        drop(bytes);
        let calibrate = || {
            zkgrad_model::calibrate_per_tensor(&graph, &samples, p.table_bits)
                .iter()
                .map(|&f| u8::try_from(f).unwrap_or(u8::MAX))
                .collect()
        };
        let fracs: Vec<u32> =
            crate::cache::cached_len("per-tensor-fracs", || key, cache, n, calibrate)
                .into_iter()
                .map(u32::from)
                .collect();
        let config = QConfig {
            act_frac: fracs.iter().copied().max().unwrap_or(0),
            weight_frac: p
                .weight_frac
                .unwrap_or(QConfig::DEFAULT_WEIGHT_FRAC.min(p.table_bits)),
            table_bits: p.table_bits,
        };
        let (q, value_tensors) = match float {
            FloatWeights::Keep => zkgrad_model::quantize_with_scales(&graph, config, &fracs),
            FloatWeights::Drop => {
                zkgrad_model::quantize_with_scales_consuming(&mut graph, config, &fracs)
            }
        }
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
        zkgrad_model::quantize_public_input(&self.q, x).map_err(|e| anyhow!(e))
    }
}
