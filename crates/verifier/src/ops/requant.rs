//! Requantization, read side: `x + 2^(s−1) = 2^s·y + rem` with `0 ≤ rem < 2^s`, checked as
//! `x̃(r) + 2^(s−1)·[real](r) = 2^s·ỹ(r) + r̃em(r)` (unique mod p: `zkgrad_circuit::bounds`).
//! A committed or public output is checked at a fresh point; a virtual one (an update's
//! `u = W − W'`, defined by the update) at each point a claim on it came with. A remainder
//! split into limbs is read limb by limb.

use zkgrad_circuit::layout::{CommitRef, Decomposition};
use zkgrad_circuit::TensorKind;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::At;
use crate::claims::Claims;
use crate::error::VerifyError;
use crate::protocol::{eval_public, pow2, real_indicator};

pub(super) fn reduce(
    at: &At,
    x: usize,
    shift: u32,
    pending: Vec<(Vec<E>, E)>,
    rem_limbs: &[Option<(usize, &Decomposition)>],
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let (o, ot, ni) = (at.ni + 1, at.out(), at.ni);
    let points = match ot.kind {
        TensorKind::Public => {
            let r = t.challenge_vec(b"requant/r", ot.log_size());
            let y = eval_public(ot, claims.output, &r);
            vec![(r, y)]
        }
        TensorKind::Committed => {
            let r = t.challenge_vec(b"requant/r", ot.log_size());
            let y = t.read_e(b"requant/y")?;
            claims.witness.push((CommitRef::Tensor(o), r.clone(), y));
            vec![(r, y)]
        }
        TensorKind::Virtual => pending,
        TensorKind::After => return Err(at.err("a rounding's output cannot be an updated weight")),
    };
    for (r, y) in points {
        let xv = if shift > 0 {
            let rem = match rem_limbs.get(ni).copied().flatten() {
                Some((d, dec)) => {
                    let mut rem = E::ZERO;
                    for k in 0..dec.n_limbs() {
                        let limb = t.read_e(b"requant/limb")?;
                        rem += limb * E::from(F::from_u64(1u64 << dec.limb_shift(k)));
                        claims
                            .witness
                            .push((CommitRef::Limb(d, k), r.clone(), limb));
                    }
                    rem
                }
                None => {
                    let rem = t.read_e(b"requant/rem")?;
                    claims.witness.push((CommitRef::Rem(ni), r.clone(), rem));
                    rem
                }
            };
            pow2(shift) * y + rem - pow2(shift - 1) * real_indicator(ot, &r)
        } else {
            y
        };
        claims.on_tensor(x, r, xv)?;
    }
    Ok(())
}
