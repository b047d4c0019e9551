//! Phase 3, write side: the limb recompositions of wide range checks.

use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::QGraph;
use zkgrad_model::Witness;
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::claims::{padded, Claims};

/// Limb decompositions: at a fresh point per decomposition, the prover sends the split value's
/// evaluation and every limb's; the verifier checks `a + offset = Σ_k 2^(16k)·limb_k` there.
pub(crate) fn prove(g: &QGraph, w: &Witness, claims: &mut Claims, t: &mut ProverTranscript) {
    for (d, dec) in g.decompositions().iter().enumerate() {
        if dec.defined_rem().is_some() {
            continue; // a remainder its limbs define (Decomposition::defined_rem)
        }
        let n_vars = g.operand_tensor(dec.a).log_size();
        let r = t.challenge_vec(b"limbs/r", n_vars);
        t.write_e(b"limbs/a", eval_mle_base(&padded(g, w, dec.a), &r));
        for k in 0..dec.n_limbs() {
            t.write_e(
                b"limbs/limb",
                eval_mle_base(&padded(g, w, Operand::Limb(d, k)), &r),
            );
            claims.on_operand(Operand::Limb(d, k), r.clone());
        }
        claims.on_operand(dec.a, r);
    }
}
