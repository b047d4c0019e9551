//! Phase 3, read side: the limb recompositions of wide range checks. A value range-checked
//! in limbs of `L` bits (16 or 20, the circuit's) satisfies `a + offset = Σ_k 2^(L·k)·limb_k`, checked at a fresh point per
//! decomposition (a remainder its limbs define is recomposed in its requantization instead:
//! `Decomposition::defined_rem`).

use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::QGraph;
use zkgrad_field::{e_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_transcript::{Challenger, VerifierTranscript};

use crate::claims::Claims;
use crate::error::VerifyError;
use crate::protocol::real_indicator;

pub(crate) fn verify(
    g: &QGraph,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    for (d, dec) in g.decompositions().iter().enumerate() {
        if dec.defined_rem().is_some() {
            continue; // a remainder its limbs define (Decomposition::defined_rem)
        }
        let shape = g.operand_tensor(dec.a).clone();
        let r = t.challenge_vec(b"limbs/r", shape.log_size());
        let a = t.read_e(b"limbs/a")?;
        let mut sum = E::ZERO;
        for k in 0..dec.n_limbs() {
            let limb = t.read_e(b"limbs/limb")?;
            sum += limb * E::from(F::from_u64(1u64 << dec.limb_shift(k)));
            claims.on_operand(Operand::Limb(d, k), r.clone(), limb)?;
        }
        if sum != a + e_from_i64(dec.offset) * real_indicator(&shape, &r) {
            return Err(VerifyError::Node {
                node: format!("range check {d}"),
                why: "limbs do not recompose the value",
            });
        }
        claims.on_operand(dec.a, r, a)?;
    }
    Ok(())
}
