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
use zkgrad_model::ForwardError;
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{CommittedModel, ProveError};

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
    let nodes = m.q.nodes.len();
    let model = with_greedy_check(m, prompt.len(), max_new)?;
    let (ids, decode_time) = decode(&model.q, nodes, prompt, max_new, on_token)?;
    Ok(Generation {
        generated: ids[prompt.len()..prompt.len() + max_new].to_vec(),
        ids,
        prompt_len: prompt.len(),
        decode_time,
        model,
    })
}

/// `m` with the greedy-choice check of `max_new` tokens after a prompt of `p` appended (it
/// depends on the counts only, so it is built before the tokens are decoded).
fn with_greedy_check(m: LoadedModel, p: usize, max_new: usize) -> Result<LoadedModel> {
    let LoadedModel {
        mut q,
        graph,
        value_tensors,
    } = m;
    append_greedy_check(&mut q, p, max_new)?;
    Ok(LoadedModel {
        q,
        graph,
        value_tensors,
    })
}

/// Appends to `q` the greedy-choice check of `max_new` tokens after a prompt of `p`.
fn append_greedy_check(q: &mut QGraph, p: usize, max_new: usize) -> Result<()> {
    let (t, _) = positions(q)?;
    if p == 0 || max_new == 0 || p + max_new > t {
        bail!(
            "a prompt of {p} tokens and {max_new} new tokens do not fit the model's {t} positions \
             (it was exported for a fixed length; both must be at least 1)"
        );
    }
    let logits = q.output;
    check_greedy(q, logits, 0, p, max_new).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The greedy decoding of `max_new` tokens after `prompt` on the first `nodes` nodes of `q`
/// (the model's, through its logits): the `T` ids (padded with 0) and the decoding's time.
/// Incremental passes ([`zkgrad_model::Decoder`]), which assume a causal model as the proof
/// of the decoding does.
fn decode(
    q: &QGraph,
    nodes: usize,
    prompt: &[i64],
    max_new: usize,
    on_token: OnToken,
) -> Result<(Vec<i64>, std::time::Duration)> {
    let t0 = std::time::Instant::now();
    let (t, vocab) = positions(q)?;
    let p = prompt.len();
    let mut ids = prompt.to_vec();
    ids.resize(t, 0);
    // Position `pos − 1`'s logits, each pass computing the Gemms' rows of the new position
    // only (and the LM head's row `pos − 1`, where the logits are its rows requantized).
    let mut decoder = zkgrad_model::Decoder::new(q, nodes, lm_head(q));
    for pos in p..p + max_new {
        let at = (pos - 1) * vocab..pos * vocab;
        let next = match decoder.step(&ids, pos) {
            Ok(out) => argmax_rows(out.get(at).unwrap_or_default(), vocab),
            // A value outside a table in a row no token reads (the rows past `pos` hold the
            // last pass's values): the whole pass, which names a real failure.
            Err(_) => {
                let out = decoder.whole(&ids).map_err(|e| anyhow::anyhow!("{e}"))?;
                argmax_rows(out.get(at).unwrap_or_default(), vocab)
            }
        };
        ids[pos] = next.first().copied().unwrap_or(0) as i64;
        on_token(pos + 1 - p);
    }
    Ok((ids, t0.elapsed()))
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
/// the calibration is read from (and stored in) the cache. The model comes without its float
/// weights: only its circuit runs.
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
    // Only the quantized model runs: its weights are quantized in the float ones' memory.
    let m = LoadedModel::load_for_input_keeping(
        path,
        precision,
        cache,
        n,
        crate::model::FloatWeights::Drop,
    )?;
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
    /// The weight commitment's time (once per model: zero where a [`Generator`] kept it).
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
/// decoding is done and the weight commitment (which runs alongside it) is awaited, and
/// `on_phase` when each prover phase starts.
///
/// The circuit — the model and the greedy check of `max_new` tokens after the prompt — does
/// not depend on the tokens, so its weights are committed while they are decoded (GPT-2
/// 124M, 8 tokens: decoding 1.1 s and committing 3.5 s take 4.1–4.3 s together, neither
/// keeping both cores busy throughout on its own).
pub fn prove_generation_observed(
    p: Prompted,
    max_new: usize,
    scheme: crate::scheme::PcsChoice,
    on_token: OnToken,
    on_weights: &(dyn Fn() + Sync),
    on_phase: zkgrad_prover::OnPhase,
) -> Result<GenerationProof> {
    use std::time::Instant;
    let nodes = p.model.q.nodes.len();
    let prompt = p.prompt_ids;
    let mut model = with_greedy_check(p.model, prompt.len(), max_new)?;
    model.graph.drop_weights();
    let params = scheme.for_generation(&model.q).params_for(&model.q);
    let (committed, decoded) = rayon::join(
        || {
            let t0 = Instant::now();
            let c = zkgrad_prover::CommittedModel::new(&model.q, &params);
            (c, t0.elapsed())
        },
        || {
            let d = decode(&model.q, nodes, &prompt, max_new, on_token);
            on_weights();
            d
        },
    );
    let (ids, decode_time) = decoded?;
    let (committed, commit_time) = committed;
    let proof = crate::prove::prove_consuming_weights(
        &mut model,
        &params,
        &committed,
        &ids,
        Vec::new(),
        on_phase,
    );
    GenerationProof::split(
        &ids,
        prompt.len(),
        max_new,
        proof,
        (commit_time, decode_time),
        params.scheme(),
    )
}

impl GenerationProof {
    /// The proof of the `ids` proven on (the prompt's first `p`, then `n` generated ones), or
    /// the proving error in a generation's terms ([`refused`]). `times`: the weight
    /// commitment's and the decoding's.
    fn split(
        ids: &[i64],
        p: usize,
        n: usize,
        proof: std::result::Result<crate::prove::InferenceProof, ProveError>,
        (commit_time, decode_time): (std::time::Duration, std::time::Duration),
        scheme: zkgrad_pcs::Scheme,
    ) -> Result<Self> {
        Ok(Self {
            prompt: ids[..p].to_vec(),
            generated: ids[p..p + n].to_vec(),
            proof: proof.map_err(refused)?,
            commit_time,
            decode_time,
            scheme,
        })
    }
}

/// A proving error of a generation, said in its terms. The greedy check refuses a token only
/// where a logit row reads later positions: the proven pass holds the generated tokens there,
/// the decoding's passes did not, and no decoding order makes one pass certify it.
fn refused(e: ProveError) -> anyhow::Error {
    match &e {
        ProveError::Forward(ForwardError::OutOfRange { node, .. })
            if node.starts_with("generation/") =>
        {
            anyhow::anyhow!(
                "the greedy check refuses the decoded tokens ({e}): the model's logits at a \
                 position depend on later positions (it is not causal), so one forward pass \
                 cannot certify a greedy decoding"
            )
        }
        _ => anyhow::anyhow!("{e}"),
    }
}

/// A language model kept for repeated verified generations (the Python bindings'
/// `Model.generate`): loaded and quantized once, without its float weights, and its weights
/// committed on the first generation and kept, so that each later one only decodes and proves
/// (GPT-2 124M, 8 tokens after 8: the `zkgrad generate` command loads and commits every time).
///
/// Each generation appends the greedy check of its own prompt and token counts to the circuit
/// and takes it off again afterwards; the check reads the logits and adds no weight, so the
/// weights committed once are the weights of every generation's circuit (checked: a check that
/// added a weight is refused, and a circuit whose commitment parameters differ is committed
/// anew).
pub struct Generator {
    model: LoadedModel,
    choice: crate::scheme::PcsChoice,
    committed: Option<(PcsParams, CommittedModel)>,
}

impl Generator {
    /// Loads `path` for sequences of `n_values` token ids (prompt + new tokens: a dynamic
    /// sequence axis is specialized to it; a fixed-length export is loaded as it is), computing
    /// the calibration as `cache` says.
    pub fn load(
        path: &std::path::Path,
        precision: &crate::model::Precision,
        n_values: usize,
        choice: crate::scheme::PcsChoice,
        cache: crate::cache::Mode,
    ) -> Result<Self> {
        let mut model = LoadedModel::load_for_input_keeping(
            path,
            precision,
            cache,
            n_values,
            crate::model::FloatWeights::Drop,
        )?;
        model.graph.drop_weights();
        Ok(Self {
            model,
            choice,
            committed: None,
        })
    }

    /// Decodes `max_new` tokens greedily after `prompt` (token ids, checked as the model's input
    /// checks them: integers in the vocabulary, at most the model's positions) and proves the
    /// decoding, as [`prove_generation`] does. `what` names the prompt in errors about it.
    pub fn generate(
        &mut self,
        prompt: &[f64],
        max_new: usize,
        what: &str,
        on_phase: zkgrad_prover::OnPhase,
    ) -> Result<GenerationProof> {
        let ids = self.prompt_ids(prompt, what)?;
        // The circuit without the check, its weights aside (they are not copied), put back
        // after the generation whatever it does.
        let weights = std::mem::take(&mut self.model.q.weights);
        let base = self.model.q.clone();
        self.model.q.weights = weights;
        let result = self.prove_checked(&ids, max_new, on_phase);
        let weights = std::mem::take(&mut self.model.q.weights);
        self.model.q = QGraph { weights, ..base };
        result
    }

    /// The prompt's ids, checked as the model's input checks them (integers in the
    /// vocabulary, at most the model's positions). `what` names the prompt in errors.
    pub fn prompt_ids(&self, prompt: &[f64], what: &str) -> Result<Vec<i64>> {
        use anyhow::Context;
        let t = self.model.q.input().len();
        if prompt.len() > t {
            bail!(
                "{what}: a prompt of {} tokens is longer than the model's {t} positions",
                prompt.len()
            );
        }
        let mut padded = prompt.to_vec();
        padded.resize(t, 0.0);
        let ids = self
            .model
            .quantize_input(&padded)
            .with_context(|| what.to_string())?;
        Ok(ids[..prompt.len()].to_vec())
    }

    /// [`Self::generate`] on the circuit as loaded: appends the check, commits the weights
    /// unless they are committed under this circuit's parameters, decodes and proves.
    fn prove_checked(
        &mut self,
        prompt: &[i64],
        max_new: usize,
        on_phase: zkgrad_prover::OnPhase,
    ) -> Result<GenerationProof> {
        let (nodes, weights) = (self.model.q.nodes.len(), self.model.q.weights.len());
        append_greedy_check(&mut self.model.q, prompt.len(), max_new)?;
        if self.model.q.weights.len() != weights {
            bail!("the greedy check added weights to the circuit; nothing was proven");
        }
        let q = &self.model.q;
        let params = self.choice.for_generation(q).params_for(q);
        let kept = match self.committed.take() {
            Some((p, c)) if p == params => Some(c),
            _ => None,
        };
        // Committed (the first time) while the tokens are decoded, as `prove_generation` does.
        let ((committed, commit_time), decoded) = rayon::join(
            || match kept {
                Some(c) => (c, std::time::Duration::ZERO),
                None => {
                    let t0 = std::time::Instant::now();
                    (CommittedModel::new(q, &params), t0.elapsed())
                }
            },
            || decode(q, nodes, prompt, max_new, &|_| {}),
        );
        let proven = decoded.and_then(|(ids, decode_time)| {
            let proof = crate::prove::prove_committed_quantized(
                &self.model,
                &params,
                &committed,
                &ids,
                on_phase,
            );
            GenerationProof::split(
                &ids,
                prompt.len(),
                max_new,
                proof,
                (commit_time, decode_time),
                params.scheme(),
            )
        });
        self.committed = Some((params, committed));
        proven
    }
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
    let scheme = scheme.for_generation(&with_check.q);
    let ok = crate::verify::verify_against_model(proof, &with_check, &scheme, cache)?;
    Ok((ok, Some(generated_of(&proof.input, first, n)?)))
}

/// The prompt `ids[..first]` and the generated `ids[first..first + n]` of a verified
/// generation, once the rest is `generate`'s padding ([`check_padding`]).
fn generated_of(ids: &[i64], first: usize, n: usize) -> std::result::Result<Generated, String> {
    check_padding(ids, first, n)?;
    let part = |r: std::ops::Range<usize>| ids.get(r).unwrap_or_default().to_vec();
    Ok((part(0..first), part(first..first + n)))
}

/// What a proof checked against a model commitment certifies about a generation, read from
/// its circuit description alone (the commitment binds it) and its public ids:
/// `Ok(Some((prompt, generated)))` where the circuit is a circuit followed by exactly the
/// greedy check [`check_greedy`] appends to its output logits — rebuilt here on the
/// description's own nodes before the check and compared byte for byte, so that a committed
/// circuit that only names a "generation" (a `PickCol` on the ids without the gap check behind
/// it) is not reported as one — and the ids' tail is `generate`'s padding ([`check_padding`],
/// as `verify --model` requires); `Ok(None)`: not a generation circuit; `Err`: a generation
/// circuit whose tail is not the padding.
pub fn generation_of_circuit(
    circuit: &[u8],
    ids: &[i64],
) -> std::result::Result<Option<Generated>, String> {
    let Ok(d) = QGraph::from_description(circuit) else {
        return Ok(None);
    };
    let Some((first, n)) = greedy_check_of(&d, 0) else {
        return Ok(None);
    };
    // The check starts with a Gather of the output logits' rows and holds no other: only the
    // last such Gather can start it, so one rebuild decides (one per candidate would let a
    // description of many dangling Gathers cost the verifier quadratic time).
    let Some(start) = d
        .nodes
        .iter()
        .rposition(|node| matches!(node.op, QOp::Gather { x, .. } if x == d.output))
    else {
        return Ok(None);
    };
    let mut base = d;
    base.nodes.truncate(start);
    base.tensors.truncate(start + 1);
    let logits = base.output;
    if check_greedy(&mut base, logits, 0, first, n).is_err() || base.describe() != circuit {
        return Ok(None);
    }
    generated_of(ids, first, n).map(Some)
}
