//! Embedding lookups by public token ids, write side: `out[t, c] = W[ids[t], c]`, so
//! `õut(r_c ‖ r_t) = Σ_i s(i)·W̃(r_c ‖ i)` with `s(i) = Σ_{t : ids[t] = i} eq(r_t, t)`, a
//! degree-2 sumcheck over the table's row variables (the wiring-predicate reduction of Thaler,
//! CRYPTO 2013, §4, with the wiring given by the public ids). The verifier evaluates `s̃` at
//! the end point from the ids it holds, and the claim moves to the committed table.

use zkgrad_field::{PrimeCharacteristicRing, E};
use zkgrad_poly::{eq_table, log2_ceil};
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::ProverTranscript;

use super::At;
use crate::claims::Claims;

pub(super) fn reduce(
    at: &At,
    ids: usize,
    wi: usize,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let wt = &at.g.weights[wi];
    let (lc, lr) = (log2_ceil(wt.cols), log2_ceil(wt.rows));
    let ids = &at.w.values[ids];
    for r in pending {
        let (r_c, r_t) = r.split_at(lc);
        let wv = at.weight_cols(wi, &eq_table(r_c));
        let eq_t = eq_table(r_t);
        let mut s = vec![E::ZERO; 1 << lr];
        for (pos, &id) in ids.iter().enumerate() {
            // The forward pass refuses ids outside the table; a cheating witness's are skipped.
            if let (Ok(i), Some(e)) = (usize::try_from(id), eq_t.get(pos)) {
                if let Some(slot) = s.get_mut(i) {
                    *slot += *e;
                }
            }
        }
        let claim: E = s.iter().zip(&wv).map(|(a, b)| *a * *b).sum();
        let mut oracle = ProductOracle::new(vec![s, wv], 2, |v: &[E]| v[0] * v[1]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        t.write_e(b"embed/w", oracle.final_values()[1]);
        let mut p = r_c.to_vec();
        p.extend_from_slice(&rho);
        claims.weights.push((wi, p));
    }
}

/// `out[r, 0] = x[r, ids[offset + r]]` (`QOp::PickCol`): `õut(r_r) = Σ_j w(j)·x̃(j)` with
/// `w(j) = Σ_r eq(r_r, r)·[j = (r, ids[offset + r])]`, degree 2 over `x`'s variables.
pub(super) fn reduce_pick_col(
    at: &At,
    x: usize,
    ids: usize,
    offset: usize,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let xt = &at.g.tensors[x];
    let xpad: Vec<E> =
        crate::claims::padded(at.g, at.w, zkgrad_circuit::layout::Operand::Tensor(x))
            .into_iter()
            .map(E::from)
            .collect();
    let ids = &at.w.values[ids];
    for r in pending {
        let eq_r = eq_table(&r);
        let mut w = vec![E::ZERO; xpad.len()];
        for row in 0..xt.rows {
            let id = ids.get(offset + row).copied().unwrap_or(-1);
            if let (Ok(c), Some(e)) = (usize::try_from(id), eq_r.get(row)) {
                if c < xt.cols {
                    w[xt.pad_index(row * xt.cols + c)] += *e;
                }
            }
        }
        let claim: E = w.iter().zip(&xpad).map(|(a, b)| *a * *b).sum();
        let mut oracle = ProductOracle::new(vec![w, xpad.clone()], 2, |v: &[E]| v[0] * v[1]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        t.write_e(b"pick/x", oracle.final_values()[1]);
        claims.on_tensor(x, rho);
    }
}
