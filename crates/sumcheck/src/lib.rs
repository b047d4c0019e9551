//! One sumcheck, written once.
//!
//! Proves `claim = Σ_{x ∈ {0,1}^n} f(x)` for a polynomial `f` of individual degree `d`, binding
//! variable `x_0` first (the little-endian order of `zkgrad-poly`). Round `j` sends the round
//! polynomial `g_j(t) = Σ_{x_{j+1..}} f(r_0..r_{j-1}, t, x_{j+1..})` as its values at
//! `t = 0, 2, 3, …, d` (`g_j(1)` follows from `g_j(0) + g_j(1) = claim_j`); the verifier draws
//! `r_j` and sets `claim_{j+1} = g_j(r_j)`. After `n` rounds the verifier holds the
//! [`SubClaim`] `f(r) = claim_n`, which the caller discharges (Lund–Fortnow–Karloff–Nisan;
//! Thaler, "Proofs, Arguments, and Zero-Knowledge", §4.1).
//!
//! Prover side (`prover`, built with the `prover` feature, on by default): any
//! [`SumcheckOracle`]; [`ProductOracle`] covers every sum of products of multilinear tables the
//! protocol needs (matmul, eq-weighted GKR layers, batched openings).
//!
//! The verifier half ([`verify`]) is verifier-side code: it never panics on proof bytes.
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
pub use prover::{
    prove, store_packed, BaseExtProduct, LazyBaseExtProduct, LazyTable, ProductOracle,
    SumcheckOracle,
};
pub use verifier::verify;

use zkgrad_field::E;
use zkgrad_transcript::TranscriptError;

/// The verifier's residual claim `f(point) = value` after all rounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubClaim {
    pub point: Vec<E>,
    pub value: E,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumcheckError {
    #[error("round {round}: {source}")]
    Transcript {
        round: usize,
        source: TranscriptError,
    },
}

#[cfg(all(test, feature = "prover"))]
mod tests;
