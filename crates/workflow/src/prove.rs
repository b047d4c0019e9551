//! Proving inference: a loaded model's weights committed once, then a proof of the model on an
//! input, with what the CLI (or a server) reports about it.

use std::time::{Duration, Instant};

use zkgrad_pcs::PcsParams;
use zkgrad_prover::{prove_observed, CommittedModel, OnPhase, ProveError, ProveOutput};

use crate::commitment::commitment_hex;
use crate::model::LoadedModel;
use crate::output::{dequantize, split_outputs};
use crate::scheme::PcsChoice;

/// A model ready to prove: its weights committed under the chosen scheme.
pub struct InferenceProver<'m> {
    pub model: &'m LoadedModel,
    pub params: PcsParams,
    pub committed: CommittedModel,
    /// How long committing to the weights took (once per model).
    pub commit_time: Duration,
}

/// A proof of one inference.
pub struct InferenceProof {
    /// The proof, the witness it was made from, and the prover's phase timings.
    pub out: ProveOutput,
    /// The proof file's bytes.
    pub bytes: Vec<u8>,
    pub prove_time: Duration,
    /// The proven output, dequantized: one array per graph output.
    pub output: Vec<Vec<f64>>,
    /// Every value of the float model on the same input (see [`Self::float_output`]); only the
    /// output's, the others empty, from [`prove_once`] without `all_float`.
    pub float: Vec<Vec<f64>>,
    /// The largest |proven − float| over the output.
    pub max_abs_error: f64,
    /// The model commitment the proof is checked against (hex).
    pub commitment: String,
}

impl InferenceProof {
    /// The proof file's size, then what it holds: the proof body (the cryptographic proof),
    /// the circuit description, and the rest — the public input and output (the statement)
    /// and the header.
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        let (total, body, circuit) = (
            self.bytes.len(),
            self.out.proof.body.len(),
            self.out.proof.circuit.len(),
        );
        (total, body, circuit, total.saturating_sub(body + circuit))
    }

    /// [`Self::sizes`] as the summary line says it.
    pub fn size_summary(&self, scheme: &str) -> String {
        let (total, body, circuit, public) = self.sizes();
        format!(
            "proof {total} bytes ({scheme}: body {body}, circuit {circuit}, public values {public})"
        )
    }
}

impl<'m> InferenceProver<'m> {
    /// Commits to `model`'s weights under `scheme` (timed).
    pub fn new(model: &'m LoadedModel, scheme: PcsChoice) -> Self {
        let (params, committed, commit_time) = commit(model, scheme);
        Self {
            model,
            params,
            committed,
            commit_time,
        }
    }

    /// Proves the model on the input `x`, quantized as `xq` (see
    /// [`LoadedModel::quantize_input`]).
    pub fn prove(&self, x: &[f64], xq: &[i64]) -> Result<InferenceProof, ProveError> {
        self.prove_observed(x, xq, &|_| {})
    }

    /// [`Self::prove`], telling `on_phase` when each of the prover's phases starts.
    pub fn prove_observed(
        &self,
        x: &[f64],
        xq: &[i64],
        on_phase: OnPhase,
    ) -> Result<InferenceProof, ProveError> {
        prove_committed(self.model, &self.params, &self.committed, x, xq, on_phase)
    }
}

/// `m`'s weights committed under `scheme`: the parameters, the commitment and its time.
fn commit(m: &LoadedModel, scheme: PcsChoice) -> (PcsParams, CommittedModel, Duration) {
    let params = scheme.params_for(&m.q);
    let t0 = Instant::now();
    let committed = CommittedModel::new(&m.q, &params);
    (params, committed, t0.elapsed())
}

/// Proves `m`, its weights committed in `committed` under `params`, on the input `x`, quantized
/// as `xq` ([`LoadedModel::quantize_input`]): what [`InferenceProver::prove`] does, for a
/// caller that keeps the committed model itself (the Python bindings).
pub fn prove_committed(
    m: &LoadedModel,
    params: &PcsParams,
    committed: &CommittedModel,
    x: &[f64],
    xq: &[i64],
    on_phase: OnPhase,
) -> Result<InferenceProof, ProveError> {
    let t1 = Instant::now();
    let out = prove_observed(&m.q, committed, xq, params, on_phase)?;
    let prove_time = t1.elapsed();
    Ok(finish(m, out, prove_time, m.graph.forward_f64(x)))
}

/// [`prove_committed`] without the float model's pass (a model loaded without its float
/// weights: a generation, which reports no float error; `max_abs_error` is NaN). `m` is kept
/// whole, to be proven again.
pub fn prove_committed_quantized(
    m: &LoadedModel,
    params: &PcsParams,
    committed: &CommittedModel,
    xq: &[i64],
    on_phase: OnPhase,
) -> Result<InferenceProof, ProveError> {
    let t1 = Instant::now();
    let out = prove_observed(&m.q, committed, xq, params, on_phase)?;
    Ok(finish(m, out, t1.elapsed(), Vec::new()))
}

/// Proves the model `m`, its weights committed in `committed` under `params`, on `xq`,
/// freeing `m`'s quantized weights once the forward pass is done: the rest of the proof reads
/// the committed tables, and GPT-2 124M's weights are 1 GB that its later tables reuse instead
/// of fresh pages. `m` cannot be run again. `float` is the float model's pass on the same
/// input, run by the caller before its float weights were freed ([`prove_once`]), or empty
/// (`max_abs_error` NaN: a generation reports no float error).
pub fn prove_consuming_weights(
    m: &mut LoadedModel,
    params: &PcsParams,
    committed: &CommittedModel,
    xq: &[i64],
    float: Vec<Vec<f64>>,
    on_phase: OnPhase,
) -> Result<InferenceProof, ProveError> {
    let t1 = Instant::now();
    let forwarded = zkgrad_prover::forward(&m.q, xq, params, on_phase)?;
    m.q.drop_weight_values();
    let out = zkgrad_prover::prove_forwarded(&m.q, committed, forwarded, params, on_phase);
    Ok(finish(m, out, t1.elapsed(), float))
}

/// A model proven once ([`prove_once`]): the proof, and the commitment it was made under.
pub struct ProvenOnce {
    pub proof: InferenceProof,
    pub params: PcsParams,
    /// How long committing to the weights took.
    pub commit_time: Duration,
}

/// Proves `m` on the input `x`, quantized as `xq`, once — what `zkgrad prove` does — holding
/// only what is still to be read: the float model's pass runs first and the float weights are
/// freed, then the weights are committed (`on_weights` is told when), and the quantized weights
/// are freed once the forward pass has read them ([`prove_consuming_weights`]). Of the float
/// pass, every node's values are kept for `all_float` (`--report`), the output's otherwise
/// (the rest would be held through the proof for nothing: witness-sized at long sequences). A
/// model proven again keeps everything instead ([`InferenceProver`], [`prove_committed`]). `m`
/// cannot be run again.
///
/// Every page freed is one the later tables reuse rather than fault in fresh (GPT-2 124M's
/// float and quantized weights are about 1 GB each).
pub fn prove_once(
    m: &mut LoadedModel,
    scheme: PcsChoice,
    x: &[f64],
    xq: &[i64],
    all_float: bool,
    on_weights: &dyn Fn(),
    on_phase: OnPhase,
) -> Result<ProvenOnce, ProveError> {
    let mut float = m.graph.forward_f64(x);
    if !all_float {
        let output = m.graph.output;
        for (i, values) in float.iter_mut().enumerate() {
            if i != output {
                *values = Vec::new();
            }
        }
    }
    m.graph.drop_weights();
    on_weights();
    let (params, committed, commit_time) = commit(m, scheme);
    let proof = prove_consuming_weights(m, &params, &committed, xq, float, on_phase)?;
    Ok(ProvenOnce {
        proof,
        params,
        commit_time,
    })
}

/// The proof file and what is reported about a proof `out` of `m` that took `prove_time`,
/// beside the float model's pass on the same input (`float`: per value, empty where not kept;
/// all empty if not run).
fn finish(
    m: &LoadedModel,
    out: ProveOutput,
    prove_time: Duration,
    float: Vec<Vec<f64>>,
) -> InferenceProof {
    let bytes = out.proof.to_bytes();
    let frac = m.q.output_tensor().frac;
    let y = dequantize(&out.proof.output, frac);
    let max_abs_error = match float.get(m.graph.output) {
        Some(fy) => y
            .iter()
            .zip(fy)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max),
        None => f64::NAN,
    };
    let output = split_outputs(&m.graph, &y);
    let commitment = commitment_hex(&out.proof.circuit, &out.proof.weight_root);
    InferenceProof {
        out,
        bytes,
        prove_time,
        output,
        float,
        max_abs_error,
        commitment,
    }
}

impl InferenceProof {
    /// The float model's output, one array per graph output.
    pub fn float_output(&self, model: &LoadedModel) -> Vec<Vec<f64>> {
        split_outputs(
            &model.graph,
            self.float
                .get(model.graph.output)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
    }
}
