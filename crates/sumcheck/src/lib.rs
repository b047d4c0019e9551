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
//! Prover side: any [`SumcheckOracle`]; [`ProductOracle`] covers every sum of products of
//! multilinear tables the protocol needs (matmul, eq-weighted GKR layers, batched openings).
//!
//! The verifier half ([`verify`]) is verifier-side code: it never panics on proof bytes.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod prover;
mod verifier;

pub use prover::{prove, BaseExtProduct, ProductOracle};
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

/// The prover's view of a sumcheck polynomial (stwo's `MultivariatePolyOracle`).
pub trait SumcheckOracle {
    fn n_variables(&self) -> usize;
    fn degree(&self) -> usize;
    /// `g(t)` for `t = 0..=degree`, where `g(t) = Σ_{x'} f(t, x')`.
    fn round_evals(&self) -> Vec<E>;
    /// `g(t)` for `t = 0, 2, 3, …, degree`: what the prover sends. `g(1)` follows from the claim,
    /// so an oracle may skip computing it.
    fn round_evals_except_one(&self) -> Vec<E> {
        let mut v = self.round_evals();
        let _ = v.remove(1);
        v
    }
    /// What the prover sends in a round whose claim is `claim = g(0) + g(1)`: by default
    /// [`Self::round_evals_except_one`]; an oracle that uses the claim to skip a point (as the
    /// GKR layers do, after Gruen's factoring of `eq`) overrides this.
    fn round_message(&self, claim: E) -> Vec<E> {
        let _ = claim;
        self.round_evals_except_one()
    }
    /// Binds the first variable to `r`.
    fn fix_first_variable(&mut self, r: E);
}

#[cfg(test)]
mod tests;
