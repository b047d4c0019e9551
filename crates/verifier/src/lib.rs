//! The zkgrad verifier: `Proof` + public data → `Ok(())` or a [`VerifyError`] saying where.
//!
//! Crate map:
//! - [`proof`]: the proof file format (header with magic, version, precision settings, weight
//!   commitment and protocol id; the public input and output; the proof body) shared with the
//!   prover;
//! - [`protocol`]: the protocol id, and the evaluations both sides compute from public data;
//! - [`verify`]: the transcript schedule, read side. The prover (`zkgrad-prover`) writes the
//!   same schedule.
//!
//! Verifier side: builds without prover, ONNX, IO or HTTP code, and never panics on proof bytes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod error;
pub mod proof;
pub mod protocol;
mod verify;

pub use error::VerifyError;
pub use proof::{ProofFile, ProofFormatError, FORMAT_VERSION};
pub use protocol::{commit_weights_root, protocol_id, WEIGHTS_DOMAIN};
pub use verify::verify;
