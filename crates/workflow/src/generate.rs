//! Verified greedy generation: decode greedily on the circuit's own integer logits, then prove
//! one forward pass over the prompt and the generated tokens with the greedy-choice check of
//! every generated position (`zkgrad_model::generate`).
//!
//! The model is a fixed-length export: `T` token ids in, logits `[T, V]` out. The prompt and
//! the generated tokens fill the first `P + N ≤ T` positions and the rest is padded with id 0;
//! the causal mask (a constant of the circuit) keeps the padding out of every earlier row.

use anyhow::{bail, Result};
use zkgrad_circuit::{QGraph, QOp};
use zkgrad_model::generate::{argmax_rows, check_greedy, greedy_check_of};

use crate::model::LoadedModel;

/// The positions a model generates over: its token-id input (tensor 0, read by an embedding)
/// and its logits (the output, one row per position).
fn positions(q: &QGraph) -> Result<(usize, usize)> {
    // The vocabulary of the embedding that reads the ids; the logits must be over it.
    let vocab = q.nodes.iter().find_map(|n| match n.op {
        QOp::Embed { ids: 0, w } => q.weights.get(w).map(|w| w.rows),
        _ => None,
    });
    let t = q.input().len();
    let out = q.output_tensor();
    if vocab != Some(out.cols) || q.input_tensors().len() != 1 || out.rows != t {
        bail!(
            "generation needs a language model with one input of token ids and logits over its \
             vocabulary, one row per position (this one has {} inputs, a vocabulary of {} and an \
             output of [{}, {}] for {t} ids)",
            q.input_tensors().len(),
            vocab.map_or("none".to_string(), |v| v.to_string()),
            out.rows,
            out.cols
        );
    }
    Ok((t, out.cols))
}

/// The Gemm node whose output rows are the logits' rows, requantized (each logit row reads
/// that row of the Gemm and nothing else), if the logits are made so.
fn lm_head(q: &QGraph) -> Option<usize> {
    let out = q.output_tensor();
    let mut t = q.output;
    loop {
        let ni = q.producer(t)?;
        let shape = q.tensors.get(t)?;
        if (shape.rows, shape.cols) != (out.rows, out.cols) {
            return None;
        }
        match q.nodes.get(ni)?.op {
            QOp::Requant { x, .. } => t = x,
            QOp::Gemm { .. } => return Some(ni),
            _ => return None,
        }
    }
}

/// A greedy decoding, ready to prove.
pub struct Generation {
    /// The model's circuit with the greedy-choice check of the generated positions.
    pub model: LoadedModel,
    /// The `T` ids proved on: prompt, generated tokens, padding.
    pub ids: Vec<i64>,
    pub prompt_len: usize,
    pub generated: Vec<i64>,
    /// The greedy decoding's time (its forward passes).
    pub decode_time: std::time::Duration,
}

/// Told how many tokens are decoded, after each one.
pub type OnToken<'a> = &'a (dyn Fn(usize) + Sync);

/// Decodes `max_new` tokens greedily after `prompt` (ids already checked against the
/// vocabulary by [`LoadedModel::quantize_input`]) and builds the circuit that proves it.
pub fn greedy(m: LoadedModel, prompt: &[i64], max_new: usize) -> Result<Generation> {
    greedy_observed(m, prompt, max_new, &|_| {})
}

/// [`greedy`], telling `on_token` how many tokens are decoded as each one is.
pub fn greedy_observed(
    m: LoadedModel,
    prompt: &[i64],
    max_new: usize,
    on_token: OnToken,
) -> Result<Generation> {
    let t0 = std::time::Instant::now();
    let (t, vocab) = positions(&m.q)?;
    let p = prompt.len();
    if p == 0 || max_new == 0 || p + max_new > t {
        bail!(
            "a prompt of {p} tokens and {max_new} new tokens do not fit the model's {t} positions \
             (it was exported for a fixed length; both must be at least 1)"
        );
    }
    let mut ids = prompt.to_vec();
    ids.resize(t, 0);
    let head = lm_head(&m.q);
    for pos in p..p + max_new {
        // Position `pos − 1`'s logits: with the LM head computing that row only, where the
        // logits are its rows requantized.
        let w = match head {
            Some(h) => zkgrad_model::forward_one_row(&m.q, &ids, h, pos - 1),
            None => zkgrad_model::forward(&m.q, &ids),
        }
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let row = w.values[m.q.output]
            .get((pos - 1) * vocab..pos * vocab)
            .unwrap_or_default();
        ids[pos] = argmax_rows(row, vocab).first().copied().unwrap_or(0) as i64;
        on_token(pos + 1 - p);
    }
    let decode_time = t0.elapsed();
    let mut q = m.q.clone();
    let logits = q.output;
    check_greedy(&mut q, logits, 0, p, max_new).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Generation {
        generated: ids[p..p + max_new].to_vec(),
        ids,
        prompt_len: p,
        decode_time,
        model: LoadedModel { q, ..m },
    })
}

/// Whether a verified generation proof's positions after the generated tokens hold the
/// padding `generate` writes (id 0): the tail is not the prover's to choose. `Err`: why not.
pub fn check_padding(ids: &[i64], first: usize, n: usize) -> std::result::Result<(), String> {
    match ids.iter().skip(first + n).position(|&v| v != 0) {
        None => Ok(()),
        Some(k) => Err(format!(
            "position {} after the generated tokens holds id {} instead of the padding 0",
            first + n + k,
            ids[first + n + k]
        )),
    }
}

/// If the proof's circuit description holds a greedy-choice check that fits this model, the
/// model's circuit with that check (`(prompt length, generated count)` taken from the
/// description: the verifier then checks the statement it built itself, and any that verifies
/// is true); else the model as it is (and a proof of anything else fails against it).
pub fn circuit_for_proof(
    m: LoadedModel,
    description: &[u8],
) -> (LoadedModel, Option<(usize, usize)>) {
    let Some((first, n)) = QGraph::from_description(description)
        .ok()
        .and_then(|d| greedy_check_of(&d, 0))
    else {
        return (m, None);
    };
    if positions(&m.q).is_err() {
        return (m, None);
    }
    let mut q = m.q.clone();
    let logits = q.output;
    match check_greedy(&mut q, logits, 0, first, n) {
        Ok(()) => (LoadedModel { q, ..m }, Some((first, n))),
        Err(_) => (m, None),
    }
}

/// A prompt checked against a model: the model specialized to prompt + new tokens (a dynamic
/// sequence axis) or as it is (a fixed-length export), and the prompt's ids.
pub struct Prompted {
    pub model: LoadedModel,
    pub prompt_ids: Vec<i64>,
}

/// Loads `path` for a prompt of token ids followed by `max_new` generated tokens, and checks
/// the prompt as the model's input checks its ids (integers in the vocabulary), at the
/// positions they take. What `zkgrad generate` and the Python bindings run first.
/// `what` names the prompt in errors about it ("input file X", "prompt"); `cache` says whether
/// the calibration is read from (and stored in) the cache.
pub fn load_for_prompt(
    path: &std::path::Path,
    precision: &crate::model::Precision,
    prompt: &[f64],
    max_new: usize,
    what: &str,
    cache: crate::cache::Mode,
) -> Result<Prompted> {
    use anyhow::{anyhow, Context};
    let n = prompt.len() + max_new;
    let m = LoadedModel::load_for_input(path, precision, cache, n)?;
    let t = m.q.input().len();
    if prompt.len() > t {
        return Err(anyhow!(
            "{what}: a prompt of {} tokens is longer than the model's {t} positions",
            prompt.len()
        ));
    }
    let mut padded = prompt.to_vec();
    padded.resize(t, 0.0);
    let ids = m
        .quantize_input(&padded)
        .with_context(|| what.to_string())?;
    Ok(Prompted {
        model: m,
        prompt_ids: ids[..prompt.len()].to_vec(),
    })
}

/// What a verified generation proof establishes: the prompt's ids, then the generated ones.
pub type Generated = (Vec<i64>, Vec<i64>);

/// A proven greedy decoding.
pub struct GenerationProof {
    pub prompt: Vec<i64>,
    pub generated: Vec<i64>,
    pub proof: crate::prove::InferenceProof,
    /// The weight commitment's time (once per model).
    pub commit_time: std::time::Duration,
    /// The greedy decoding's time.
    pub decode_time: std::time::Duration,
    /// The scheme the proof is made with.
    pub scheme: zkgrad_pcs::Scheme,
}

/// Decodes `max_new` tokens greedily after the prompt and proves the decoding (one forward
/// pass over prompt and output with a proven argmax at every generated position).
pub fn prove_generation(
    p: Prompted,
    max_new: usize,
    scheme: crate::scheme::PcsChoice,
    on_phase: zkgrad_prover::OnPhase,
) -> Result<GenerationProof> {
    prove_generation_observed(p, max_new, scheme, &|_| {}, &|| {}, on_phase)
}

/// [`prove_generation`], telling `on_token` the tokens decoded so far, `on_weights` when the
/// weight commitment starts, and `on_phase` when each prover phase starts.
pub fn prove_generation_observed(
    p: Prompted,
    max_new: usize,
    scheme: crate::scheme::PcsChoice,
    on_token: OnToken,
    on_weights: &(dyn Fn() + Sync),
    on_phase: zkgrad_prover::OnPhase,
) -> Result<GenerationProof> {
    let g = greedy_observed(p.model, &p.prompt_ids, max_new, on_token)?;
    on_weights();
    let prover = crate::prove::InferenceProver::new(&g.model, scheme);
    let x: Vec<f64> = g.ids.iter().map(|&v| v as f64).collect();
    let proof = prover
        .prove_observed(&x, &g.ids, on_phase)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(GenerationProof {
        prompt: g.ids[..g.prompt_len].to_vec(),
        generated: g.generated.clone(),
        proof,
        commit_time: prover.commit_time,
        decode_time: g.decode_time,
        scheme: prover.params.scheme(),
    })
}

/// Checks `proof` against the loaded model `m` as `zkgrad verify --model` does: a generation
/// proof against the model's circuit with the greedy check its description names (and its
/// padding), any other against the model as it is (no copy of the model then). `Ok`: what it
/// states, with the prompt and the proven greedy tokens for a generation proof; `Err`: why it
/// is invalid.
pub fn verify_model_proof(
    proof: &zkgrad_verifier::ProofFile,
    m: &LoadedModel,
    scheme: &crate::scheme::PcsChoice,
    cache: crate::cache::Mode,
) -> std::result::Result<(crate::verify::Accepted, Option<Generated>), String> {
    let named = QGraph::from_description(&proof.circuit)
        .ok()
        .and_then(|d| greedy_check_of(&d, 0))
        .filter(|_| positions(&m.q).is_ok());
    let Some((first, n)) = named else {
        return Ok((
            crate::verify::verify_against_model(proof, m, scheme, cache)?,
            None,
        ));
    };
    let mut q = m.q.clone();
    let logits = q.output;
    if check_greedy(&mut q, logits, 0, first, n).is_err() {
        return Ok((
            crate::verify::verify_against_model(proof, m, scheme, cache)?,
            None,
        ));
    }
    let with_check = LoadedModel {
        q,
        graph: m.graph.clone(),
        value_tensors: m.value_tensors.clone(),
    };
    let ok = crate::verify::verify_against_model(proof, &with_check, scheme, cache)?;
    check_padding(&proof.input, first, n)?;
    let ids = &proof.input;
    let part = |r: std::ops::Range<usize>| ids.get(r).unwrap_or_default().to_vec();
    Ok((ok, Some((part(0..first), part(first..first + n)))))
}
