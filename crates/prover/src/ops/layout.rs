//! Layout ops, write side. Broadcast: `õut(r_c ‖ r_b) = [c real](r_c)·x̃(r_b)`, the claim moves
//! to `x` at `r_b`. Transpose: `õut(p_lo ‖ p_hi) = x̃(p_hi ‖ p_lo)`, `|p_lo| = log(rows of x)`.
//! Gather by an index map `π`: `õut(r) = Σ_i w_r(i)·x̃(i)` with `w_r(i) = Σ_{π(j) = i} eq(r, j)`,
//! degree 2 over `x`'s variables; the verifier evaluates `w̃_r` at the end point itself. A map
//! that only routes index bits (`IndexMap::bit_selection`) moves the claim to `x̃(s(r))`.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::layout::Operand;
use zkgrad_field::{PrimeCharacteristicRing, E};
use zkgrad_poly::eq_table;
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::ProverTranscript;
use zkgrad_verifier::protocol::selected_point;

use super::At;
use crate::claims::{padded, Claims};

pub(super) fn reduce_broadcast(at: &At, x: usize, pending: Vec<Vec<E>>, claims: &mut Claims) {
    for r in pending {
        claims.on_tensor(x, r[at.out().log_cols()..].to_vec());
    }
}

pub(super) fn reduce_transpose(at: &At, x: usize, pending: Vec<Vec<E>>, claims: &mut Claims) {
    let lr = at.g.tensors[x].log_rows();
    for r in pending {
        let (lo, hi) = r.split_at(lr);
        let mut p = hi.to_vec();
        p.extend_from_slice(lo);
        claims.on_tensor(x, p);
    }
}

pub(super) fn reduce_gather(
    at: &At,
    x: usize,
    map: &IndexMap,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let (ot, xt) = (at.out(), &at.g.tensors[x]);
    // A map that only routes index bits moves the claim, with no sumcheck
    // (`IndexMap::bit_selection`).
    if let Some(sel) = map.bit_selection((xt.rows, xt.cols), (ot.rows, ot.cols)) {
        for r in pending {
            claims.on_tensor(x, selected_point(&sel, &r));
        }
        return;
    }
    let src = map.sources();
    let xpad: Vec<E> = padded(at.g, at.w, Operand::Tensor(x))
        .into_iter()
        .map(E::from)
        .collect();
    for r in pending {
        let eq = eq_table(&r);
        let mut wt = vec![E::ZERO; xpad.len()];
        for (j, s) in src.iter().enumerate() {
            if let Some(i) = s {
                wt[xt.pad_index(*i)] += eq[ot.pad_index(j)];
            }
        }
        let claim: E = wt.iter().zip(&xpad).map(|(a, b)| *a * *b).sum();
        let mut oracle = ProductOracle::new(vec![wt, xpad.clone()], 2, |v: &[E]| v[0] * v[1]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        let vx = oracle.final_values()[1];
        t.write_e(b"gather/x", vx);
        claims.on_tensor_valued(x, rho, Some(vx));
    }
}
