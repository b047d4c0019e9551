//! The verifier half: never panics on proof bytes.

use zkgrad_field::{PrimeCharacteristicRing, E};
use zkgrad_poly::interpolate_at;
use zkgrad_transcript::{Challenger, VerifierTranscript};

use crate::{SubClaim, SumcheckError};

/// Runs the verifier for `n_vars` rounds of degree `degree`; the caller checks the returned
/// [`SubClaim`] against its own evaluation of `f`.
pub fn verify(
    claim: E,
    n_vars: usize,
    degree: usize,
    t: &mut VerifierTranscript,
) -> Result<SubClaim, SumcheckError> {
    let mut point = Vec::with_capacity(n_vars);
    let mut claim = claim;
    for round in 0..n_vars {
        let msg = t
            .read_es(b"sumcheck/round", degree)
            .map_err(|source| SumcheckError::Transcript { round, source })?;
        let g0 = msg.first().copied().unwrap_or(E::ZERO);
        let mut evals = Vec::with_capacity(degree + 1);
        evals.push(g0);
        evals.push(claim - g0);
        evals.extend(msg.iter().skip(1).copied());
        let r = t.challenge_e(b"sumcheck/r");
        claim = interpolate_at(&evals, r);
        point.push(r);
    }
    Ok(SubClaim {
        point,
        value: claim,
    })
}
