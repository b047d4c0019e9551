//! `zkgrad._zkgrad`: the Python package's native module. It holds no logic of its own: a model is
//! loaded, committed, proven and verified by `zkgrad-workflow`'s functions, exactly as the CLI
//! does (`zkgrad prove`, `zkgrad verify`). The pure-Python layer (`python/zkgrad/`) converts
//! arrays (numpy, torch, lists) to little-endian f64 bytes and back.
//!
//! Proving and verifying release the GIL; the prover's phases are reported to Python's
//! `logging` (logger `zkgrad`) as they start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{CommittedModel, Phase};
use zkgrad_verifier::ProofFile;
use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::commitment::commitment_hex;
use zkgrad_workflow::generate::Generated;
use zkgrad_workflow::generate::Generator;
use zkgrad_workflow::model::{LoadedModel, Precision};
use zkgrad_workflow::prove::prove_committed;
use zkgrad_workflow::run_spec::{StepOptions, TrainPrecision};
use zkgrad_workflow::scheme::{parse_scheme, PcsChoice};
use zkgrad_workflow::train::{StepDone, TrainOptions};
use zkgrad_workflow::verify::{verify_against_commitment, Accepted};

create_exception!(
    _zkgrad,
    Error,
    PyException,
    "A zkgrad operation could not be done (an unusable model, input or proof file)."
);
create_exception!(
    _zkgrad,
    InvalidProof,
    Error,
    "The proof does not verify for the statement it was checked against."
);

fn error(e: impl std::fmt::Display) -> PyErr {
    Error::new_err(e.to_string().replace('\n', " "))
}

/// `prove`'s result: the proof file, the output, its shapes, the proof's and the call's seconds.
type Proved<'py> = (Bound<'py, PyBytes>, Vec<f64>, String, f64, f64);

/// `generate`'s result: the prompt's ids, the generated ids, the proof file, the commitment.
type GenerationProved<'py> = (Vec<i64>, Vec<i64>, Bound<'py, PyBytes>, String);

/// What `verify` returns: input, output, the statement, and a generation's prompt and tokens.
type Checked = (Vec<f64>, Vec<f64>, String, Option<Generated>);

/// A model ready to prove at one input size and scheme: loaded, quantized, weights committed.
struct Prepared {
    model: LoadedModel,
    params: PcsParams,
    committed: CommittedModel,
    commitment: String,
}

/// A model file with its precision options; prepared per (input size, scheme) on first use.
#[pyclass(frozen, module = "zkgrad._zkgrad")]
struct NativeModel {
    path: PathBuf,
    precision: Precision,
    scheme: PcsChoice,
    /// Keyed by (input values, scheme name): a model with a symbolic (sequence) dimension is
    /// specialized to each input size, as `zkgrad prove` does (a fixed model has one size:
    /// key 0). At most [`MAX_PREPARED`] entries: a verifier handed proofs of many sizes does not
    /// keep a model per size.
    prepared: Mutex<HashMap<(usize, String), Arc<Prepared>>>,
    /// The generators of [`NativeModel::generate`] (quantized without float weights, their
    /// weights committed on first use), keyed as `prepared` by (sequence length — 0 for a
    /// fixed-length export —, scheme name); at most [`MAX_GENERATORS`]. Each generates one
    /// sequence at a time.
    generators: Mutex<HashMap<(usize, String), Kept<Generator>>>,
    /// Whether the model's input has a symbolic dimension.
    dynamic: bool,
    /// The model file's BLAKE3 hash when this object was made: every load checks it, so one
    /// object never describes two versions of its file.
    hash: [u8; 32],
}

/// A generator kept by a model, used by one generation at a time.
type Kept<T> = Arc<Mutex<T>>;

/// The most generators a model keeps: one, the last used. A dynamic export has one per
/// sequence length, and each holds its quantized weights and their commitment (GPT-2 124M:
/// about 4.3 GB), so prompts of several lengths would otherwise keep several of them.
const MAX_GENERATORS: usize = 1;

/// The most prepared (loaded and committed) sizes and schemes a model keeps.
const MAX_PREPARED: usize = 4;

/// A model file's bytes, read as the CLI reads it (a regular file, at most the CLI's limit).
fn read_model_file(path: &std::path::Path) -> PyResult<Vec<u8>> {
    zkgrad_workflow::files::read_regular(path, zkgrad_workflow::files::MAX_MODEL_BYTES)
        .map_err(|e| PyValueError::new_err(format!("model file {}: {e:#}", path.display())))
}

fn scheme_of(name: &str) -> PyResult<PcsChoice> {
    parse_scheme(name).map_err(|e| PyValueError::new_err(format!("scheme: {e}")))
}

impl NativeModel {
    /// The scheme a call names: "default" (this model's) or "auto", "ligero", "whir",
    /// "whir-unique".
    fn choice(&self, scheme: &str) -> PyResult<PcsChoice> {
        if scheme == "default" {
            Ok(self.scheme)
        } else {
            scheme_of(scheme)
        }
    }

    /// Refuses a model file that changed since this object was made.
    fn check_unchanged(&self) -> PyResult<()> {
        if *blake3::hash(&read_model_file(&self.path)?).as_bytes() != self.hash {
            return Err(error(format!(
                "model file {} changed since this Model was made: make a new one",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// The generator for sequences of `n_values` ids under `scheme`: kept from an earlier
    /// generation, or loaded now (its weights are committed by its first generation).
    fn generator(&self, n_values: usize, scheme: &str) -> PyResult<Kept<Generator>> {
        let key = (if self.dynamic { n_values } else { 0 }, scheme.to_string());
        // A generator whose generation panicked may hold a half-built circuit: loaded again.
        if let Some(g) = self.generators.lock().map_err(error)?.get(&key) {
            if !g.is_poisoned() {
                return Ok(g.clone());
            }
        }
        self.check_unchanged()?;
        let choice = self.choice(scheme)?;
        let g = Generator::load(&self.path, &self.precision, n_values, choice, Mode::Off)
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
        let g = Arc::new(Mutex::new(g));
        let mut kept = self.generators.lock().map_err(error)?;
        if kept.len() >= MAX_GENERATORS {
            kept.clear();
        }
        kept.insert(key, g.clone());
        Ok(g)
    }

    fn prepare(&self, n_values: usize, scheme: &str) -> PyResult<Arc<Prepared>> {
        let n_values = if self.dynamic { n_values } else { 0 };
        let key = (n_values, scheme.to_string());
        if let Some(p) = self.prepared.lock().map_err(error)?.get(&key) {
            return Ok(p.clone());
        }
        self.check_unchanged()?;
        if self.dynamic && n_values == 0 {
            return Err(error(
                "this model has a dynamic sequence axis: its commitment depends on the input's \
                 length (model.commitment_for(n_values), or the commitment a proof reports)",
            ));
        }
        let choice = self.choice(scheme)?;
        let model = LoadedModel::load_for_input(&self.path, &self.precision, Mode::Off, n_values)
            .map_err(|e| error(format!("{e:#}")))?;
        let params = choice.params_for(&model.q);
        let committed = CommittedModel::new(&model.q, &params);
        let commitment = commitment_hex(&model.q.describe(), &committed.root());
        let p = Arc::new(Prepared {
            model,
            params,
            committed,
            commitment,
        });
        let mut cache = self.prepared.lock().map_err(error)?;
        if cache.len() >= MAX_PREPARED {
            cache.clear();
        }
        cache.insert(key, p.clone());
        Ok(p)
    }
}

#[pymethods]
impl NativeModel {
    #[new]
    #[pyo3(signature = (path, table_bits=None, act_frac=None, weight_frac=None, per_tensor_scales=None, scheme="auto"))]
    fn new(
        path: PathBuf,
        table_bits: Option<u32>,
        act_frac: Option<u32>,
        weight_frac: Option<u32>,
        per_tensor_scales: Option<bool>,
        scheme: &str,
    ) -> PyResult<Self> {
        let mut precision = Precision::default();
        if let Some(t) = table_bits {
            precision.table_bits = t;
        }
        precision.act_frac = act_frac;
        precision.weight_frac = weight_frac;
        precision.per_tensor = per_tensor_scales;
        let scheme = scheme_of(scheme)?;
        // Read once here: the file is checked to be an ONNX model now (its input's symbolic
        // dimensions), and hashed.
        let bytes = read_model_file(&path)?;
        let (symbolic, _) = zkgrad_onnx::symbolic_input_dims(&bytes)
            .map_err(|e| error(format!("model {}: {e}", path.display())))?;
        Ok(Self {
            path,
            precision,
            scheme,
            prepared: Mutex::new(HashMap::new()),
            generators: Mutex::new(HashMap::new()),
            dynamic: !symbolic.is_empty(),
            hash: *blake3::hash(&bytes).as_bytes(),
        })
    }

    /// Loads and commits the model for inputs of `n_values` values (0: the model's own input
    /// size) under `scheme` ("default": the model's); its commitment (64 hex digits).
    #[pyo3(signature = (n_values=0, scheme="default"))]
    fn commitment(&self, py: Python<'_>, n_values: usize, scheme: &str) -> PyResult<String> {
        let scheme = scheme.to_string();
        py.detach(|| {
            self.prepare(n_values, &scheme)
                .map(|p| p.commitment.clone())
        })
    }

    /// Whether the model's input has a dynamic (sequence) axis.
    #[getter]
    fn dynamic(&self) -> bool {
        self.dynamic
    }

    /// The model as `zkgrad inspect` and `zkgrad commit --json` describe it (a model with a
    /// dynamic axis: specialized to inputs of `n_values` values).
    #[pyo3(signature = (n_values=0))]
    fn inspect(&self, py: Python<'_>, n_values: usize) -> PyResult<String> {
        py.detach(|| {
            let p = self.prepare(n_values, "default")?;
            let q = &p.model.q;
            let g = &p.model.graph;
            Ok(format!(
                "{{\"parameters\": {}, \"nodes\": {}, \"input_values\": {}, \"input_shape\": {:?}, \"act_frac\": {}, \"weight_frac\": {}, \"table_bits\": {}, \"pcs\": \"{}\", \"commitment\": \"{}\"}}",
                q.n_params(),
                g.nodes.len(),
                q.public_input_len(),
                g.input_shape,
                q.config.act_frac,
                q.config.weight_frac,
                q.config.table_bits,
                p.params.scheme().name(),
                p.commitment
            ))
        })
    }

    /// Proves the model on `x` (little-endian f64 bytes, every graph input concatenated):
    /// `(proof file bytes, output values, output shapes json, the proof's seconds, the library
    /// call's seconds)` — the library call (`prove_committed`: quantizing, the float reference,
    /// the proof, its bytes) is what a Rust caller would pay; the rest is the binding's.
    /// `log`: called with each phase's name as it starts.
    #[pyo3(signature = (x, scheme="default", log=None))]
    fn prove<'py>(
        &self,
        py: Python<'py>,
        x: &[u8],
        scheme: &str,
        log: Option<Py<PyAny>>,
    ) -> PyResult<Proved<'py>> {
        if !x.len().is_multiple_of(8) {
            return Err(PyValueError::new_err("input: f64 bytes expected"));
        }
        let values: Vec<f64> = x
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "input: value {i} is {v}; inputs must be finite numbers"
            )));
        }
        let scheme = scheme.to_string();
        let (bytes, output, shapes, secs, lib_secs) = py.detach(|| -> PyResult<_> {
            let p = self.prepare(values.len(), &scheme)?;
            let t0 = std::time::Instant::now();
            let xq = p
                .model
                .quantize_input(&values)
                .map_err(|e| PyValueError::new_err(format!("input: {e:#}")))?;
            let on_phase = |ph: Phase| {
                if let Some(log) = &log {
                    Python::attach(|py| {
                        let _ = log.call1(py, (ph.name(),));
                    });
                }
            };
            let proof = prove_committed(&p.model, &p.params, &p.committed, &values, &xq, &on_phase)
                .map_err(|e| error(format!("model {}: {e}", self.path.display())))?;
            let shapes: Vec<String> = p
                .model
                .graph
                .output_parts
                .iter()
                .map(|(_, s)| format!("{s:?}"))
                .collect();
            let shapes = if shapes.is_empty() {
                format!("[{:?}]", p.model.graph.shape(p.model.graph.output))
            } else {
                format!("[{}]", shapes.join(", "))
            };
            Ok((
                proof.bytes.clone(),
                proof.output.concat(),
                shapes,
                proof.prove_time.as_secs_f64(),
                t0.elapsed().as_secs_f64(),
            ))
        })?;
        Ok((PyBytes::new(py, &bytes), output, shapes, secs, lib_secs))
    }

    /// Verifies a proof file's bytes against this model with its options (the statement is
    /// this model's, never the proof's): `(input, output, statement)`; raises InvalidProof.
    #[pyo3(signature = (proof, scheme="default"))]
    fn verify(&self, py: Python<'_>, proof: &[u8], scheme: &str) -> PyResult<Checked> {
        let proof = parse(proof)?;
        let scheme = scheme.to_string();
        py.detach(|| {
            let n = proof.input.len();
            if !self.dynamic {
                let p = self.prepare(n, &scheme)?;
                let want = p.model.q.public_input_len();
                if n != want {
                    return Err(InvalidProof::new_err(format!(
                        "the proof's public input has {n} values; the model takes {want}"
                    )));
                }
            }
            let p = self.prepare(n, &scheme)?;
            let choice = self.choice(&scheme)?;
            let (a, gen) =
                zkgrad_workflow::generate::verify_model_proof(&proof, &p.model, &choice, Mode::Off)
                    .map_err(InvalidProof::new_err)?;
            let (i, o, st) = accepted(a);
            Ok((i, o, st, gen))
        })
    }

    /// Decodes `max_new` tokens greedily after `prompt` (token ids) and proves the decoding,
    /// as `zkgrad generate` does: `(prompt ids, generated ids, proof file bytes, commitment)`.
    #[pyo3(signature = (prompt, max_new, scheme="default", log=None))]
    fn generate<'py>(
        &self,
        py: Python<'py>,
        prompt: Vec<f64>,
        max_new: usize,
        scheme: &str,
        log: Option<Py<PyAny>>,
    ) -> PyResult<GenerationProved<'py>> {
        let g = py.detach(|| -> PyResult<_> {
            let generator = self.generator(prompt.len() + max_new, scheme)?;
            let mut generator = generator.lock().map_err(error)?;
            generator
                .prompt_ids(&prompt, "prompt")
                .map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
            let on_phase = |ph: Phase| {
                if let Some(log) = &log {
                    Python::attach(|py| {
                        let _ = log.call1(py, (ph.name(),));
                    });
                }
            };
            generator
                .generate(&prompt, max_new, "prompt", &on_phase)
                .map_err(|e| error(format!("model {}: {e:#}", self.path.display())))
        })?;
        Ok((
            g.prompt,
            g.generated,
            PyBytes::new(py, &g.proof.bytes),
            g.proof.commitment,
        ))
    }
}

/// Trains `model` as `zkgrad train` does (the same driver, `workflow::train::train`): SGD or
/// LoRA steps on the data file `data` into the new run directory `out`, each step proven if
/// `prove`; `log` is called with each finished step's line. Returns the summary as JSON.
#[pyfunction]
#[pyo3(signature = (model, data, out, steps, loss, lr, batch, prove, shuffle=None, lora_rank=None, lora_alpha=None, lora_targets=Vec::new(), table_bits=None, act_frac=None, weight_frac=None, log=None))]
fn train(
    py: Python<'_>,
    model: PathBuf,
    data: PathBuf,
    out: PathBuf,
    steps: usize,
    loss: String,
    lr: String,
    batch: usize,
    prove: bool,
    shuffle: Option<u64>,
    lora_rank: Option<usize>,
    lora_alpha: Option<f64>,
    lora_targets: Vec<String>,
    table_bits: Option<u32>,
    act_frac: Option<u32>,
    weight_frac: Option<u32>,
    log: Option<Py<PyAny>>,
) -> PyResult<String> {
    let o = TrainOptions {
        model,
        data,
        targets: None,
        steps,
        out: out.clone(),
        prove,
        step: step_options(
            loss,
            lr,
            batch,
            shuffle,
            lora_rank,
            lora_alpha,
            lora_targets,
            table_bits,
            act_frac,
            weight_frac,
        ),
    };
    let s = py.detach(|| {
        zkgrad_workflow::train::train(&o, &mut |d: &StepDone| {
            if let Some(log) = &log {
                let line = format!(
                    "step {}/{}: loss {:.6} (f64 SGD {:.6}){}",
                    d.step,
                    d.steps,
                    d.loss,
                    d.loss_f64,
                    d.proof.map_or(String::new(), |p| format!(", proof {p}"))
                );
                Python::attach(|py| {
                    let _ = log.call1(py, (line,));
                });
            }
        })
        .map_err(|e| error(format!("{e:#}")))
    })?;
    Ok(format!(
        "{{\"steps\": {}, \"total_ms\": {}, \"prove_ms\": {}, \"proof_bytes\": {}, \"final_weight_root\": \"{}\", \"max_weight_deviation_from_f64_sgd\": {}, \"final_loss\": {}}}",
        s.steps,
        s.total_ms,
        s.prove_ms,
        s.proof_bytes,
        s.final_weight_root,
        s.max_weight_deviation,
        s.final_loss.map_or("null".to_string(), |l| l.to_string())
    ))
}

/// Checks a run directory as `zkgrad verify-run` does (`workflow::verify_run`), against the
/// statement given here — never the run's manifest: `(steps, losses, final weight root)`;
/// raises InvalidProof if the run does not prove it.
#[pyfunction]
#[pyo3(signature = (run, model, data, loss, lr, batch, steps=None, shuffle=None, lora_rank=None, lora_alpha=None, lora_targets=Vec::new(), table_bits=None, act_frac=None, weight_frac=None))]
fn verify_run(
    py: Python<'_>,
    run: PathBuf,
    model: PathBuf,
    data: Option<PathBuf>,
    loss: String,
    lr: String,
    batch: usize,
    steps: Option<usize>,
    shuffle: Option<u64>,
    lora_rank: Option<usize>,
    lora_alpha: Option<f64>,
    lora_targets: Vec<String>,
    table_bits: Option<u32>,
    act_frac: Option<u32>,
    weight_frac: Option<u32>,
) -> PyResult<(usize, Vec<f64>, String)> {
    let o = zkgrad_workflow::verify_run::VerifyRunOptions {
        run,
        model: Some(model),
        data,
        targets: None,
        steps,
        merged: None,
        step: step_options(
            loss,
            lr,
            batch,
            shuffle,
            lora_rank,
            lora_alpha,
            lora_targets,
            table_bits,
            act_frac,
            weight_frac,
        ),
    };
    py.detach(|| match zkgrad_workflow::verify_run::verify_run(&o) {
        Ok(v) => Ok((v.steps, v.losses, v.final_weight_root)),
        Err(zkgrad_workflow::Failure::Invalid(why)) => Err(InvalidProof::new_err(why)),
        Err(zkgrad_workflow::Failure::Unusable(e)) => Err(error(format!("{e:#}"))),
    })
}

/// A training statement from the Python arguments, with `zkgrad train`'s defaults.
fn step_options(
    loss: String,
    lr: String,
    batch: usize,
    shuffle: Option<u64>,
    lora_rank: Option<usize>,
    lora_alpha: Option<f64>,
    lora_targets: Vec<String>,
    table_bits: Option<u32>,
    act_frac: Option<u32>,
    weight_frac: Option<u32>,
) -> StepOptions {
    StepOptions {
        loss,
        lr,
        batch,
        shuffle,
        lora_rank,
        lora_alpha,
        lora_targets,
        precision: TrainPrecision {
            table_bits: table_bits.unwrap_or(zkgrad_circuit::QConfig::DEFAULT_TABLE_BITS),
            act_frac,
            weight_frac: weight_frac.unwrap_or(zkgrad_model::train::TrainConfig::WEIGHT_FRAC),
        },
    }
}

fn parse(proof: &[u8]) -> PyResult<ProofFile> {
    ProofFile::from_bytes(proof).map_err(|e| error(format!("proof file: {e}")))
}

fn accepted(a: Accepted) -> (Vec<f64>, Vec<f64>, String) {
    (a.input, a.output.concat(), a.statement.precision_line())
}

/// Verifies a proof file's bytes against a model commitment (64 hex digits): `(input, output,
/// statement, generation)`, the generation's `(prompt, generated)` where the committed circuit
/// ends in exactly the greedy check (`generation_of_circuit`, as `zkgrad verify --commitment`).
#[pyfunction]
fn verify_commitment(py: Python<'_>, proof: &[u8], commitment: &str) -> PyResult<Checked> {
    let c = zkgrad_workflow::hex::parse_hex32(commitment)
        .map_err(|e| PyValueError::new_err(format!("commitment: {e}")))?;
    let proof = parse(proof)?;
    py.detach(|| {
        let a = verify_against_commitment(&proof, &c).map_err(|f| match f {
            zkgrad_workflow::Failure::Invalid(why) => InvalidProof::new_err(why),
            zkgrad_workflow::Failure::Unusable(e) => error(format!("{e:#}")),
        })?;
        let gen = zkgrad_workflow::generate::generation_of_circuit(&proof.circuit, &proof.input)
            .map_err(InvalidProof::new_err)?;
        let (i, o, st) = accepted(a);
        Ok((i, o, st, gen))
    })
}

/// A proof file's bytes, read as the CLI reads it (a regular file, at most its limit).
#[pyfunction]
fn read_proof_file<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyBytes>> {
    let b = zkgrad_workflow::files::read_regular(&path, zkgrad_workflow::files::MAX_PROOF_BYTES)
        .map_err(|e| PyValueError::new_err(format!("proof file {}: {e:#}", path.display())))?;
    Ok(PyBytes::new(py, &b))
}

/// The proof file's claimed output (dequantized at its circuit's output scale) and precision
/// line, read without verifying.
#[pyfunction]
fn read_proof(proof: &[u8]) -> PyResult<(Vec<f64>, String, u32)> {
    let p = parse(proof)?;
    let g = zkgrad_circuit::QGraph::from_description(&p.circuit)
        .map_err(|e| error(format!("proof file: its circuit description: {e}")))?;
    let line = zkgrad_workflow::statement::Statement {
        config: p.config,
        scheme: p.pcs,
    }
    .precision_line();
    Ok((
        zkgrad_workflow::output::dequantize(&p.output, g.output_tensor().frac),
        line,
        g.input().frac,
    ))
}

#[pymodule]
fn _zkgrad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("InvalidProof", m.py().get_type::<InvalidProof>())?;
    m.add_class::<NativeModel>()?;
    m.add_function(wrap_pyfunction!(verify_commitment, m)?)?;
    m.add_function(wrap_pyfunction!(read_proof, m)?)?;
    m.add_function(wrap_pyfunction!(read_proof_file, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(verify_run, m)?)?;
    Ok(())
}
