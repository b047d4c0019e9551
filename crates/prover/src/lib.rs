//! The zkgrad prover: runs the quantized model on integers, commits to the witness and writes
//! the transcript schedule of `zkgrad-verifier` (write side).
//!
//! Crate map, mirroring the verifier's: [`prove`] is the entry point; `schedule` runs the
//! five phases of `phases/` (commitments, lookups, limb recompositions, layers, openings);
//! `ops/` holds each op family's reduction (requant, gemm, matmul, elementwise, layout, conv,
//! update), beside the verifier's module of the same name; `claims` the claims the phases
//! accumulate; [`CommittedModel`] the weight commitments, computed once per model.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod claims;
mod committed_model;
mod ops;
mod phases;
mod schedule;

use std::time::{Duration, Instant};

use zkgrad_circuit::QGraph;
use zkgrad_model::{ForwardError, Witness};
use zkgrad_pcs::PcsParams;
use zkgrad_verifier::ProofFile;

pub use committed_model::CommittedModel;

/// Why a proof could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProveError {
    #[error(transparent)]
    Forward(#[from] ForwardError),
    #[error("lookup into table {table}: value {value} at entry {index} is outside the table")]
    LookupRange {
        table: usize,
        index: usize,
        value: i64,
    },
    #[error(
        "proofs of this circuit would reach only {bits:.1} bits of soundness (at least {target} \
         required): too many separate commitments or lookups for these parameters"
    )]
    Soundness { bits: f64, target: f64 },
}

/// Wall-clock time of each phase of a proof.
#[derive(Clone, Debug, Default)]
pub struct ProveTimings {
    pub forward: Duration,
    pub commit: Duration,
    pub lookups: Duration,
    pub layers: Duration,
    pub openings: Duration,
    /// Proof body bytes written by each phase: commitments, lookups, layers, the witness
    /// opening, the weight openings.
    pub bytes: [usize; 5],
}

/// A proof, the witness it was made from, and where the time went.
pub struct ProveOutput {
    pub proof: ProofFile,
    pub witness: Witness,
    pub timings: ProveTimings,
    /// The weight commitment after the step: each updated tensor's new root in place of its
    /// old one (equal to the model's root when nothing is updated).
    pub weight_root_after: [u8; 32],
    /// The proof's soundness in bits: `−log₂` of the union bound over every check the
    /// verifier makes (`zkgrad_verifier::soundness::budget`): at least `TARGET_BITS` for a
    /// proof of [`prove`], which refuses a circuit below it; [`prove_witness`] (a test's
    /// cheating prover) reports the budget unchecked.
    pub soundness_bits: f64,
}

/// The phases of a proof, in the order the prover runs them (the verifier's schedule, with the
/// forward pass first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The quantized forward pass and the lookups' multiplicities.
    Forward,
    /// The witness commitment (and the multiplicities in the transcript).
    Commitments,
    /// The lookups' GKRs and the limb recompositions.
    Lookups,
    /// The layers, output to input.
    Layers,
    /// The witness and weight openings.
    Openings,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Forward,
        Phase::Commitments,
        Phase::Lookups,
        Phase::Layers,
        Phase::Openings,
    ];

    /// The phase's name in progress reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Forward => "forward",
            Phase::Commitments => "commitments",
            Phase::Lookups => "lookups",
            Phase::Layers => "layers",
            Phase::Openings => "openings",
        }
    }
}

/// Told when each phase of a proof starts (progress reports; it cannot change the proof).
pub type OnPhase<'a> = &'a (dyn Fn(Phase) + Sync);

/// Proves that `g`, committed in `model`, maps `input` to its output.
pub fn prove(
    g: &QGraph,
    model: &CommittedModel,
    input: &[i64],
    params: &PcsParams,
) -> Result<ProveOutput, ProveError> {
    prove_observed(g, model, input, params, &|_| {})
}

/// [`prove`], telling `on_phase` when each phase starts.
pub fn prove_observed(
    g: &QGraph,
    model: &CommittedModel,
    input: &[i64],
    params: &PcsParams,
    on_phase: OnPhase,
) -> Result<ProveOutput, ProveError> {
    let forwarded = forward(g, input, params, on_phase)?;
    Ok(prove_forwarded(g, model, forwarded, params, on_phase))
}

/// The forward pass of a proof ([`forward`]): the witness and the lookups' multiplicities,
/// checked, and how long they took.
pub struct Forwarded {
    witness: Witness,
    mults: Vec<Vec<(usize, u64)>>,
    time: Duration,
    soundness_bits: f64,
}

/// The first phase of [`prove_observed`]: the circuit's soundness check, the quantized forward
/// pass on `input` and its lookups' multiplicities, strictly (a value outside its table is an
/// error here, before anything is committed). After it the proof reads no weight value from
/// `g` — only the committed tables — so a caller that owns `g` may free its weights
/// (`QGraph::drop_weight_values`) before [`prove_forwarded`].
pub fn forward(
    g: &QGraph,
    input: &[i64],
    params: &PcsParams,
    on_phase: OnPhase,
) -> Result<Forwarded, ProveError> {
    let budget =
        zkgrad_verifier::soundness::check(g, params).map_err(|bits| ProveError::Soundness {
            bits,
            target: zkgrad_verifier::soundness::TARGET_BITS,
        })?;
    // On a worker of the thread pool: every parallel loop below then starts from a worker
    // (a local queue) instead of being injected from outside the pool and waited for, which
    // cost each of a small proof's thousands of short loops tens of microseconds.
    rayon::scope(|_| {
        let t0 = Instant::now();
        on_phase(Phase::Forward);
        let witness = zkgrad_model::forward(g, input)?;
        let mults = phases::lookups::multiplicities(g, &witness, &g.lookups(), true)?;
        Ok(Forwarded {
            witness,
            mults,
            time: t0.elapsed(),
            soundness_bits: budget.bits(),
        })
    })
}

/// The rest of [`prove_observed`] after its [`forward`] pass on `g` (whose weight values it
/// does not read: the committed tables in `model` hold them).
pub fn prove_forwarded(
    g: &QGraph,
    model: &CommittedModel,
    f: Forwarded,
    params: &PcsParams,
    on_phase: OnPhase,
) -> ProveOutput {
    rayon::scope(|_| {
        let mut out = schedule::prove_with(g, model, f.witness, f.mults, params, on_phase);
        out.timings.forward = f.time;
        out.soundness_bits = f.soundness_bits;
        out
    })
}

/// Proves with a given witness, as it stands. An honest caller uses [`prove`]; a witness that
/// is not the forward pass of `witness.values[0]` yields a proof that fails verification, which
/// is how the soundness tests model a cheating prover.
pub fn prove_witness(
    g: &QGraph,
    model: &CommittedModel,
    w: Witness,
    params: &PcsParams,
) -> ProveOutput {
    // Lenient: a value outside its table is skipped, and the proof then fails.
    let mults = phases::lookups::multiplicities(g, &w, &g.lookups(), false).unwrap_or_default();
    let mut out = schedule::prove_with(g, model, w, mults, params, &|_| {});
    out.soundness_bits = zkgrad_verifier::soundness::budget(g, params).bits();
    out
}
