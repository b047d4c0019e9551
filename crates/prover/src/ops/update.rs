//! A weight update, write side: `W_after = W − u`, checked at a fresh point. The prover sends
//! `W̃(r)` and `ũ(r)`; the claim `W̃_after(r) = W̃(r) − ũ(r)` goes to the after-commitment.

use zkgrad_circuit::layout::Operand;
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{Challenger, ProverTranscript};

use super::At;
use crate::claims::{padded, Claims};

pub(super) fn reduce(at: &At, wi: usize, u: usize, claims: &mut Claims, t: &mut ProverTranscript) {
    let o = at.ni + 1;
    let r = t.challenge_vec(b"update/r", at.out().log_size());
    t.write_e(b"update/w", eval_mle_base(&at.weight(wi), &r));
    let upad = padded(at.g, at.w, Operand::Tensor(u));
    t.write_e(b"update/u", eval_mle_base(&upad, &r));
    claims.weights.push((wi, r.clone()));
    claims.on_tensor(u, r.clone());
    claims.on_tensor(o, r);
}
