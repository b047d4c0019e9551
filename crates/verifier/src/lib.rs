//! The zkgrad verifier: `Proof` + public data → `Ok(())` or a [`VerifyError`] saying where.
//!
//! Crate map:
//! - [`proof`]: the proof file format (header with magic, version, precision settings, weight
//!   commitment and protocol id; the public input and output; the proof body) shared with the
//!   prover;
//! - [`protocol`]: the protocol id, and the evaluations both sides compute from public data;
//! - [`soundness`]: the union bound of a proof's soundness error, which both sides require to
//!   be below `2^-100`;
//! - [`schedule`]: the transcript schedule, read side, as a sequence of named [`phases`]
//!   (statement and header, lookups, limb recompositions, layers, openings); the layers
//!   phase reduces each node through its op family's module in `ops/`. The prover
//!   (`zkgrad-prover`) writes the same schedule, module for module;
//! - `claims`: the claims a verification collects and routes until the openings.
//!
//! Verifier side: builds without prover, ONNX, IO or HTTP code (it depends on the PCS, lookup
//! and sumcheck crates without their `prover` feature), and never panics on proof bytes. The
//! `commit` feature adds computing a weight commitment from the weights
//! (`protocol::commit_weights`), which takes the PCS's prover side.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod claims;
pub mod error;
mod ops;
mod phases;
pub mod proof;
pub mod protocol;
mod schedule;
pub mod soundness;

pub use error::VerifyError;
pub use proof::{ProofFile, ProofFormatError, FORMAT_VERSION};
#[cfg(feature = "commit")]
pub use protocol::commit_weights_root;
pub use protocol::{protocol_id, WEIGHTS_DOMAIN};
pub use schedule::{verify, Verified};

use zkgrad_circuit::describe::{DescError, DescLimits};
use zkgrad_circuit::QGraph;
use zkgrad_pcs::{Digest, PcsParams};

/// The model commitment users publish: a hash of the circuit description (graph, shapes,
/// precision) and the root of the weight commitment. `zkgrad commit` prints it.
pub fn model_commitment(circuit: &[u8], weight_root: &Digest) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"zkgrad/model/v1");
    h.update(&(circuit.len() as u64).to_le_bytes());
    h.update(circuit);
    h.update(weight_root);
    *h.finalize().as_bytes()
}

/// The header's copies of the precision and protocol id must be what the verifier recomputes:
/// every byte of a proof file is checked, none is informational.
fn check_header(proof: &ProofFile, g: &QGraph, params: &PcsParams) -> Result<(), VerifyError> {
    if proof.config != g.config
        || proof.pcs != params.scheme()
        || proof.protocol_id != protocol_id(g, params, &proof.weight_root)
    {
        return Err(VerifyError::ProtocolMismatch);
    }
    Ok(())
}

/// Verifies a proof file against a model the verifier built itself (from the ONNX file, at the
/// proof's precision) and that model's weight root.
pub fn verify_with_model(
    proof: &ProofFile,
    g: &QGraph,
    weight_root: &Digest,
    params: &PcsParams,
) -> Result<Verified, VerifyError> {
    if g.describe() != proof.circuit || *weight_root != proof.weight_root {
        return Err(VerifyError::ProtocolMismatch);
    }
    check_header(proof, g, params)?;
    verify(
        g,
        weight_root,
        &proof.input,
        &proof.output,
        &proof.body,
        params,
    )
}

/// Verifies a proof file against a published model commitment alone: the circuit comes from
/// the proof and must hash, with the proof's weight root, to `commitment`. The description
/// must keep within the default [`DescLimits`] (docs/SECURITY.md, "Limits on what a proof may
/// describe").
pub fn verify_with_commitment(
    proof: &ProofFile,
    commitment: &[u8; 32],
    params: &PcsParams,
) -> Result<(QGraph, Verified), VerifyError> {
    verify_with_commitment_limits(proof, commitment, params, &DescLimits::default())
}

/// [`verify_with_commitment`] within the caller's `limits` on the circuit the proof describes
/// (a service verifying its clients' proofs sets them to the models it serves).
///
/// Work and memory before the first rejection: the commitment check hashes the description;
/// decoding it is linear in its bytes and allocates O(its bytes); validation and every
/// verification set-up pass (lookups, layouts, soundness budget) are O(n log n) in the number
/// of nodes; the phases then read the body, each read checked against the bytes left, and do
/// work bounded by `limits.max_total_elements` in all (the wiring sums stream over the
/// declared sizes with O(√max_tensor_elements) memory).
pub fn verify_with_commitment_limits(
    proof: &ProofFile,
    commitment: &[u8; 32],
    params: &PcsParams,
    limits: &DescLimits,
) -> Result<(QGraph, Verified), VerifyError> {
    if model_commitment(&proof.circuit, &proof.weight_root) != *commitment {
        return Err(VerifyError::ProtocolMismatch);
    }
    let g = QGraph::from_description_with_limits(&proof.circuit, limits).map_err(|e| match e {
        DescError::OverLimit(why) => VerifyError::OverLimits(why),
        e => VerifyError::Circuit(e.to_string()),
    })?;
    check_header(proof, &g, params)?;
    let v = verify(
        &g,
        &proof.weight_root,
        &proof.input,
        &proof.output,
        &proof.body,
        params,
    )?;
    Ok((g, v))
}
