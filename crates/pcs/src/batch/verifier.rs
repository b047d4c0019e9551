//! The batched opening's verifier: the batching sumcheck, the claims' weights evaluated at its
//! point, and the opening of the table there; never panics on proof bytes.

use zkgrad_field::E;
use zkgrad_poly::{eq_product_prefix_eval, eval_mle_base};
use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::BlockClaim;
use crate::ligero::clear_root;
use crate::{verify_multi_used, whir, Digest, Layout, PcsError, PcsParams};

/// Verifies a [`crate::prove_batch`] opening of `claims` against `root`, a
/// [`crate::commit_used`] commitment with this `used`.
pub fn verify_batch(
    root: &Digest,
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    for (index, c) in claims.iter().enumerate() {
        if c.point.len() > log_n {
            return Err(PcsError::ClaimShape {
                index,
                why: "block larger than the table",
            });
        }
        if c.block_index >= 1usize << (log_n - c.point.len()) {
            return Err(PcsError::ClaimShape {
                index,
                why: "block outside the table",
            });
        }
    }
    let layout = Layout::choose_batched(log_n, used, params);
    if layout.clear {
        let values = t.read_fs(b"pcs/clear", 1 << log_n)?;
        if clear_root(log_n, &values) != *root {
            return Err(PcsError::ClearMismatch);
        }
        for c in claims {
            let k = c.point.len();
            let off = c.block_index << k;
            let block = values
                .get(off..off + (1 << k))
                .ok_or(PcsError::ClaimShape {
                    index: 0,
                    why: "block outside the table",
                })?;
            if eval_mle_base(block, &c.point) != c.value {
                return Err(PcsError::WrongEvaluation);
            }
        }
        return Ok(());
    }
    let betas = t.challenge_vec(b"pcs/batch/beta", claims.len());
    let claim: E = claims.iter().zip(&betas).map(|(c, b)| *b * c.value).sum();
    let sub = zkgrad_sumcheck::verify(claim, log_n, 2, t)?;
    // The prover binds the top variable first: the challenges, reversed, are the point.
    let mut rho = sub.point;
    rho.reverse();
    let at_rho = t.read_e(b"pcs/batch/value")?;
    let g_at_rho: E = claims
        .iter()
        .zip(&betas)
        .map(|(c, b)| *b * eq_product_prefix_eval(&c.full_point(log_n), &rho, used))
        .sum();
    if sub.value != at_rho * g_at_rho {
        return Err(PcsError::WrongEvaluation);
    }
    match (&params.whir, layout.whir) {
        (Some(wp), true) => whir::verify(root, log_n, &rho, at_rho, wp, t),
        _ => verify_multi_used(root, log_n, used, &[(rho, at_rho)], params, t),
    }
}
