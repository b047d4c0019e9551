//! The verifier: checks the tree layer by layer from the root and returns the claim on its
//! leaves; never panics on proof bytes.

use zkgrad_field::E;
use zkgrad_poly::eq_eval;
use zkgrad_transcript::{Challenger, VerifierTranscript};

use crate::{GkrError, LeafClaim, VerifiedTree};

/// Verifies a tree of `2^n_vars` leaves; returns its root and the claim on its leaves.
pub fn verify(n_vars: usize, t: &mut VerifierTranscript) -> Result<VerifiedTree, GkrError> {
    let root = t
        .read_es(b"gkr/root", 2)
        .map_err(|source| GkrError::Transcript { layer: 0, source })?;
    let (root_p, root_q) = match root.as_slice() {
        [a, b] => (*a, *b),
        _ => return Err(GkrError::LayerMismatch { layer: 0 }),
    };
    let mut point: Vec<E> = Vec::new();
    let (mut cp, mut cq) = (root_p, root_q);
    for layer in 0..n_vars {
        let lambda = t.challenge_e(b"gkr/lambda");
        let sub = zkgrad_sumcheck::verify(cp + lambda * cq, layer, 3, t)
            .map_err(|source| GkrError::Sumcheck { layer, source })?;
        let vals = t
            .read_es(b"gkr/layer", 4)
            .map_err(|source| GkrError::Transcript { layer, source })?;
        let [p0, p1, q0, q1] = match vals.as_slice() {
            [a, b, c, d] => [*a, *b, *c, *d],
            _ => return Err(GkrError::LayerMismatch { layer }),
        };
        // The prover binds a layer's variables from the top: its challenges, reversed, are
        // the point in variable order.
        let mut rho = sub.point;
        rho.reverse();
        let expect = eq_eval(&point, &rho) * (p0 * q1 + p1 * q0 + lambda * q0 * q1);
        if expect != sub.value {
            return Err(GkrError::LayerMismatch { layer });
        }
        let mu = t.challenge_e(b"gkr/mu");
        cp = p0 + mu * (p1 - p0);
        cq = q0 + mu * (q1 - q0);
        point = rho;
        point.push(mu);
    }
    Ok(VerifiedTree {
        root_p,
        root_q,
        leaves: LeafClaim {
            point,
            p: cp,
            q: cq,
        },
    })
}
