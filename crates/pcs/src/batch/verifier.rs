//! The batched opening's verifier: the batching sumcheck, the claims' weights evaluated at its
//! point, and the opening of the table there; never panics on proof bytes.

use zkgrad_field::E;
use zkgrad_poly::{eq_product_prefix_eval, eval_mle_base};
use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::{binds, Binding, BlockClaim};
use crate::ligero::clear_root;
use crate::{verify_multi_used, whir, Digest, Layout, PcsError, PcsParams};

/// Reads the out-of-domain claim of the batched commitment `root` of `2^log_n` values (`used`
/// of them) where it [`binds`] ([`Binding`]; `crate::bind` writes it): the root absorbed, the
/// point drawn, the value read. Called where the prover called `bind`: before any other
/// challenge of the proof.
pub fn read_binding(
    root: &Digest,
    log_n: usize,
    used: usize,
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<Binding, PcsError> {
    if !binds(&Layout::choose_batched(log_n, used, params), params) {
        return Ok(Binding::default());
    }
    t.observe(b"pcs/whir/bind-root", root);
    let point = t.challenge_vec(b"pcs/whir/bind", log_n);
    let value = t.read_e(b"pcs/whir/bound")?;
    Ok(Binding {
        claim: Some((point, value)),
    })
}

/// Verifies a [`crate::prove_batch`] opening of `claims` against `root`, a
/// [`crate::commit_used`] commitment with this `used`, bound by `binding` ([`read_binding`]'s
/// for it: a bound table's WHIR opening must prove its out-of-domain claim too).
pub fn verify_batch(
    root: &Digest,
    log_n: usize,
    used: usize,
    binding: &Binding,
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
    match &binding.claim {
        Some((z, _)) if binds(&layout, params) && z.len() == log_n => {}
        None if !binds(&layout, params) => {}
        _ => {
            return Err(PcsError::ClaimShape {
                index: claims.len(),
                why: "the table's out-of-domain binding does not fit it",
            })
        }
    }
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
        (Some(wp), true) => match &binding.claim {
            Some((z, y)) => whir::verify_points(root, log_n, &[(&rho, at_rho), (z, *y)], wp, t),
            None => whir::verify(root, log_n, &rho, at_rho, wp, t),
        },
        _ => verify_multi_used(root, log_n, used, &[(rho, at_rho)], params, t),
    }
}
