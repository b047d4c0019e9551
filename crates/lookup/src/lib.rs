//! LogUp lookups proven by a fractional-sum GKR.
//!
//! # LogUp (Haböck, "Multivariate lookups based on logarithmic derivatives", 2022, §2)
//! Values `v_1..v_N` all lie in a table `t_1..t_T` iff there are multiplicities `m_j` with
//! `Σ_i 1/(α − v_i) = Σ_j m_j/(α − t_j)` as rational functions of `α`; checked at a random `α`
//! drawn after the values and multiplicities are committed (error ≤ (N + T)/|E| when the field
//! characteristic exceeds N). Multi-column lookups fold columns with a random `γ` first.
//!
//! # Fractional-sum GKR (Papini and Haböck, "Improving logarithmic derivative lookups using
//! GKR", 2023, §3)
//! Leaves `(p_i, q_i)`, `i < 2^n`, form layer `n`; layer `k` has `2^k` nodes and node `x` of
//! layer `k` combines its children `x` and `x + 2^k` of layer `k+1` (the new child bit is the
//! *top* variable, `x_k`, in the little-endian order of `zkgrad-poly`):
//! `p_k(x) = p_{k+1}(x,0)·q_{k+1}(x,1) + p_{k+1}(x,1)·q_{k+1}(x,0)`,
//! `q_k(x) = q_{k+1}(x,0)·q_{k+1}(x,1)`, so the root `(P, Q)` has `P/Q = Σ_i p_i/q_i`.
//! A claim on `(p̃_k, q̃_k)(ρ)` is reduced, with a random `λ`, by the degree-3 sumcheck
//! `p̃_k(ρ) + λ q̃_k(ρ) = Σ_x eq(ρ,x)·[p_0 q_1 + p_1 q_0 + λ q_0 q_1](x)` to the four values
//! `p̃_{k+1}(ρ',b), q̃_{k+1}(ρ',b)` for `b ∈ {0,1}`, and a random `μ` turns them into one claim
//! at `(ρ' ‖ μ)` by the line through `b = 0` and `b = 1`. After `n` layers the caller holds a
//! claim on the leaves' MLEs and discharges it against the committed data.
//!
//! Verifier side: [`verify`] never panics on proof bytes.
//!
//! The prover ([`prove`], in `prover`) is built with the `prover` feature (on by default); the
//! verifier ([`verify`], in `verifier`) always.
// Shared and verifier-side docs link to the prover side, which is not built without `prover`.
#![cfg_attr(not(feature = "prover"), allow(rustdoc::broken_intra_doc_links))]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "prover")]
mod prover;
mod verifier;

#[cfg(feature = "prover")]
pub use prover::{prove, prove_packed};
pub use verifier::verify;

use zkgrad_field::E;
use zkgrad_sumcheck::SumcheckError;
use zkgrad_transcript::TranscriptError;

/// The claim on the leaves left after the GKR: `p̃(point) = p`, `q̃(point) = q`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafClaim {
    pub point: Vec<E>,
    pub p: E,
    pub q: E,
}

/// A verified tree: its root fraction and the claim on its leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTree {
    pub root_p: E,
    pub root_q: E,
    pub leaves: LeafClaim,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GkrError {
    #[error("layer {layer}: {source}")]
    Transcript {
        layer: usize,
        source: TranscriptError,
    },
    #[error("layer {layer}: {source}")]
    Sumcheck { layer: usize, source: SumcheckError },
    #[error("layer {layer}: the layer's values do not satisfy the sumcheck's final claim")]
    LayerMismatch { layer: usize },
}

#[cfg(all(test, feature = "prover"))]
#[allow(clippy::indexing_slicing)]
mod tests;
