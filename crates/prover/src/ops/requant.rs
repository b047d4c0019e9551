//! Requantization, write side (`x + 2^(s−1) = 2^s·y + rem`): at a fresh point `r` the prover
//! sends `ỹ(r)` (for a committed output) and `r̃em(r)` — or each limb's value when the
//! remainder is split into limbs; the claim `x̃(r) = 2^s ỹ(r) + r̃em(r) − 2^(s−1)·[real](r)`
//! moves to `x`. A virtual output (an update's `u = W − W'`, `zkgrad_circuit::bounds`) is
//! checked at each point a claim on it came with.

use zkgrad_circuit::layout::{rem_limbs, CommitRef, Decomposition, Operand};
use zkgrad_circuit::TensorKind;
use zkgrad_field::E;
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{Challenger, ProverTranscript};

use super::At;
use crate::claims::{padded, Claims};

pub(super) fn reduce(
    at: &At,
    x: usize,
    shift: u32,
    pending: Vec<Vec<E>>,
    decomps: &[Decomposition],
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let (g, w, ni, o, ot) = (at.g, at.w, at.ni, at.ni + 1, at.out());
    let points = if ot.kind == TensorKind::Virtual {
        pending
    } else {
        let r = t.challenge_vec(b"requant/r", ot.log_size());
        if ot.kind != TensorKind::Public {
            let y = padded(g, w, Operand::Tensor(o));
            t.write_e(b"requant/y", eval_mle_base(&y, &r));
            claims.witness.push((CommitRef::Tensor(o), r.clone()));
        }
        vec![r]
    };
    for r in points {
        if shift > 0 {
            match rem_limbs(decomps, ni) {
                // rem = Σ_k 2^(16k)·limb_k: the limbs' values at r stand for it.
                Some((d, n_limbs)) => {
                    for k in 0..n_limbs {
                        let limb = padded(g, w, Operand::Limb(d, k));
                        t.write_e(b"requant/limb", eval_mle_base(&limb, &r));
                        claims.witness.push((CommitRef::Limb(d, k), r.clone()));
                    }
                }
                None => {
                    let rem = padded(g, w, Operand::Rem(ni));
                    t.write_e(b"requant/rem", eval_mle_base(&rem, &r));
                    claims.witness.push((CommitRef::Rem(ni), r.clone()));
                }
            }
        }
        claims.on_tensor(x, r);
    }
}
