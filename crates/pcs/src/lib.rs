//! The multilinear polynomial commitment: a Ligero-style tensor code over Plonky3's radix-2 DFT
//! with BLAKE3 Merkle trees, and a batched multi-point opening.
//!
//! - `params`: [`PcsParams`], [`Scheme`] and each table's [`Layout`], which both sides choose
//!   alike;
//! - [`ligero`]: the Ligero commitment of one table and its multi-point opening (the scheme's
//!   maths are in its docs), and the clear layout of small tables;
//! - [`batch`]: many claims on blocks of one table folded by a sumcheck into one opening;
//! - [`whir`]: the polylogarithmic opening of the large batched tables;
//! - `merkle`: the BLAKE3 Merkle tree (the prover builds it, the verifier checks paths).
//!
//! The WHIR scheme ([`whir`], [`Scheme::Whir`]) opens the large batched tables with WHIR
//! instead of Ligero: [`commit_batched`] and [`verify_batch`] choose by
//! [`Layout::choose_batched`].
//!
//! # Features
//! `prover` (default) builds the prover side: commitments and openings, and `rayon`. Without
//! it the crate holds what a verifier needs (the parameters, the layouts and the `verify*`
//! functions): `ligero`, `batch`, `whir` and `merkle` each keep their prover in a module of its
//! own that the feature gates.
//!
//! Verifier side: `verify*` never panics on proof bytes.
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

pub mod batch;
pub mod ligero;
mod merkle;
mod params;
pub mod whir;

#[cfg(feature = "prover")]
pub use batch::{bind, commit_batched, prove_batch};
pub use batch::{binds, read_binding, verify_batch, Binding, BlockClaim};
#[cfg(feature = "prover")]
pub use ligero::{
    commit, commit_used, open, open_multi, row_combination, row_combinations, ProverData,
};
pub use ligero::{verify, verify_multi, verify_multi_used};
#[cfg(feature = "prover")]
pub use merkle::MerkleTree;
pub use params::{Layout, PcsParams, Scheme, UNIQUE_FROM_LOG_N, UNIQUE_LARGE_FIRST_FOLDING};

use zkgrad_sumcheck::SumcheckError;
use zkgrad_transcript::TranscriptError;

/// A 32-byte digest.
pub type Digest = [u8; 32];

/// Errors of an opening.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcsError {
    #[error("malformed opening: {0}")]
    Transcript(#[from] TranscriptError),
    #[error("the opened values do not hash to the commitment")]
    ClearMismatch,
    #[error("query {query}: Merkle path does not reach the commitment")]
    MerklePath { query: usize },
    #[error("query {query}: column is not consistent with the {which} combination")]
    Proximity { query: usize, which: &'static str },
    #[error("opened value does not match the claimed evaluation")]
    WrongEvaluation,
    #[error("batched opening: {0}")]
    Sumcheck(#[from] SumcheckError),
    #[error("WHIR opening: {0}")]
    Whir(String),
    #[error("claim {index} does not fit the committed table ({why})")]
    ClaimShape { index: usize, why: &'static str },
}

#[cfg(all(test, feature = "prover"))]
#[allow(clippy::indexing_slicing)]
mod tests;
