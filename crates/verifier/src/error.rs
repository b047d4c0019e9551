//! Why a proof was rejected.

use zkgrad_lookup::GkrError;
use zkgrad_pcs::PcsError;
use zkgrad_sumcheck::SumcheckError;
use zkgrad_transcript::TranscriptError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "the proof was made for another model, precision or public data (protocol id differs)"
    )]
    ProtocolMismatch,
    #[error("the proof's weight roots do not hash to the weight commitment")]
    WeightRoots,
    #[error("the proof's public input or output lies outside the circuit's value range")]
    PublicRange,
    #[error("the proof's circuit description is invalid: {0}")]
    Circuit(String),
    /// The proof's circuit description declares more than the verifier's limits allow
    /// (`zkgrad_circuit::describe::DescLimits`): refused before any of it is built.
    #[error("the proof's circuit description exceeds the verifier's limits: {0}")]
    OverLimits(String),
    #[error(
        "the circuit's proofs reach only {bits:.1} bits of soundness (at least {target} required)"
    )]
    Soundness { bits: f64, target: f64 },
    #[error("the proof's public {what} has {got} values, the model has {expected}")]
    PublicShape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("malformed proof: {0}")]
    Transcript(#[from] TranscriptError),
    #[error("lookups, {side} side: {source}")]
    LookupsGkr {
        side: &'static str,
        source: GkrError,
    },
    #[error("lookups: {0}")]
    Lookups(&'static str),
    #[error("lookup into table {table} ({name}): {why}")]
    Lookup {
        table: usize,
        name: String,
        why: &'static str,
    },
    #[error("node {node}: {source}")]
    NodeSumcheck { node: String, source: SumcheckError },
    #[error("node {node}: {why}")]
    Node { node: String, why: &'static str },
    #[error("public tensor {tensor} does not match the proof's claim about it")]
    PublicMismatch { tensor: String },
    #[error("opening of the {which} commitment: {source}")]
    Opening {
        which: &'static str,
        source: PcsError,
    },
}
