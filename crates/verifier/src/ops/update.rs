//! A weight update, read side: `W' = W − u` at a fresh point. The prover sends `W̃(r)` (a
//! claim on the model's weights) and `ũ(r)`; the claim `W̃'(r) = W̃(r) − ũ(r)` goes to the
//! commitment of the updated weights.

use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::At;
use crate::claims::Claims;
use crate::error::VerifyError;

pub(super) fn reduce(
    at: &At,
    wi: usize,
    u: usize,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let o = at.ni + 1;
    let r = t.challenge_vec(b"update/r", at.out().log_size());
    let wv = t.read_e(b"update/w")?;
    let uv = t.read_e(b"update/u")?;
    claims.weights.push((wi, r.clone(), wv));
    claims.on_tensor(u, r.clone(), uv)?;
    claims.on_tensor(o, r, wv - uv)
}
