//! Phase 3, write side: the limb recompositions of wide range checks.

use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::QGraph;
use zkgrad_model::Witness;
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::claims::{padded_in, Claims};

/// Limb decompositions: at a fresh point per decomposition, the prover sends the split value's
/// evaluation and every limb's; the verifier checks `a + offset = Σ_k 2^(L·k)·limb_k` there.
pub(crate) fn prove(g: &QGraph, w: &Witness, claims: &mut Claims, t: &mut ProverTranscript) {
    let decomps = g.decompositions();
    for (d, dec) in decomps.iter().enumerate() {
        if dec.defined_rem().is_some() {
            continue; // a remainder its limbs define (Decomposition::defined_rem)
        }
        let n_vars = g.operand_tensor_in(dec.a, &decomps).log_size();
        let r = t.challenge_vec(b"limbs/r", n_vars);
        let a = eval_mle_base(&padded_in(g, w, dec.a, &decomps), &r);
        t.write_e(b"limbs/a", a);
        for k in 0..dec.n_limbs() {
            let limb = eval_mle_base(&padded_in(g, w, Operand::Limb(d, k), &decomps), &r);
            t.write_e(b"limbs/limb", limb);
            claims.on_operand_valued(Operand::Limb(d, k), r.clone(), Some(limb));
        }
        claims.on_operand_valued(dec.a, r, Some(a));
    }
}
