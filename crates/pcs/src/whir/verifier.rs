//! The WHIR verifier: decodes an opening (canonical bytes only) and checks it with p3-whir's
//! verifier; never panics on proof bytes.

use p3_sumcheck::PrescribedPointPcs;
use zkgrad_field::E;
use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::{cap, challenger, opening_protocol, p3_point, Proof, WhirParams};
use crate::{Digest, PcsError};

/// The largest serialized WHIR proof a verifier reads (far above any honest proof's ~200 KB).
const MAX_PROOF_BYTES: usize = 1 << 24;

/// Verifies an [`open`](super::open) of the table committed as `root` (`2^log_n` values) at
/// `point`.
pub fn verify(
    root: &Digest,
    log_n: usize,
    point: &[E],
    value: E,
    params: &WhirParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    verify_points(root, log_n, &[(point, value)], params, t)
}

/// Verifies an [`open_points`](super::open_points) of the table committed as `root`
/// (`2^log_n` values) at the claims' points, each with its claimed value.
pub fn verify_points(
    root: &Digest,
    log_n: usize,
    claims: &[(&[E], E)],
    params: &WhirParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    if claims.is_empty() {
        return Err(PcsError::ClaimShape {
            index: 0,
            why: "an opening at no point",
        });
    }
    if log_n < params.min_log_n() {
        return Err(PcsError::ClaimShape {
            index: 0,
            why: "table too small for WHIR",
        });
    }
    for (index, (point, _)) in claims.iter().enumerate() {
        if point.len() != log_n {
            return Err(PcsError::ClaimShape {
                index,
                why: "point does not fit the committed table",
            });
        }
    }
    let scheme = params.scheme(log_n)?;
    let seed = t.challenge_vec(b"pcs/whir/seed", 2);
    let bytes = t.read_blob(b"pcs/whir/proof", MAX_PROOF_BYTES)?;
    let proof: Proof = postcard::from_bytes(bytes)
        .map_err(|e| PcsError::Whir(format!("undecodable WHIR proof: {e}")))?;
    match postcard::to_allocvec(&proof) {
        Ok(again) if again == bytes => {}
        _ => return Err(PcsError::Whir("non-canonical WHIR proof encoding".into())),
    }
    let mut ch = challenger(&scheme, &seed, root);
    let points: Vec<_> = claims.iter().map(|(z, _)| p3_point(z)).collect();
    let evals = scheme
        .verify_at(
            &cap(root),
            &proof,
            &opening_protocol(log_n, claims.len()),
            &points,
            &mut ch,
        )
        .map_err(|e| PcsError::Whir(format!("{e}")))?;
    if evals.len() != claims.len() {
        return Err(PcsError::WrongEvaluation);
    }
    for (batch, (_, value)) in evals.iter().zip(claims) {
        if batch.current() != [*value] || !batch.next().is_empty() {
            return Err(PcsError::WrongEvaluation);
        }
    }
    Ok(())
}
