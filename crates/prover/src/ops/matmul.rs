//! Products of computed tensors, write side. MatMul:
//! `õut(r_n ‖ r_m) = Σ_k [k real]·ã(k ‖ r_m)·b̃(r_n ‖ k)`, degree 3 over `k` (`b` a tensor or a
//! weight). RowSum: `õut(r_c) = Σ_row [row real]·x̃(r_c ‖ row)`, degree 2 over the row bits.

use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::MatRhs;
use zkgrad_field::{E, F};
use zkgrad_pcs::row_combination;
use zkgrad_poly::eq_table;
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::ProverTranscript;

use super::{col_combination, real_prefix, At};
use crate::claims::{padded, Claims};

pub(super) fn reduce(
    at: &At,
    a: usize,
    b: MatRhs,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let (g, w) = (at.g, at.w);
    let a_t = &g.tensors[a];
    let (lk, ln) = (a_t.log_cols(), at.out().log_cols());
    let apad = padded(g, w, Operand::Tensor(a));
    let bpad_t;
    let bpad: &[F] = match b {
        MatRhs::Tensor(tb) => {
            bpad_t = padded(g, w, Operand::Tensor(tb));
            &bpad_t
        }
        MatRhs::Weight(wi) => at.weight(wi),
    };
    let ind = real_prefix(a_t.cols, 1 << lk);
    for r in pending {
        let (r_n, r_m) = r.split_at(ln);
        let av = row_combination(&apad, 1 << lk, &eq_table(r_m));
        let bv = col_combination(bpad, 1 << ln, &eq_table(r_n));
        let claim: E = ind
            .iter()
            .zip(&av)
            .zip(&bv)
            .map(|((i, x), y)| *i * *x * *y)
            .sum();
        let mut oracle =
            ProductOracle::new(vec![ind.clone(), av, bv], 3, |v: &[E]| v[0] * v[1] * v[2]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        let f = oracle.final_values();
        t.write_e(b"matmul/a", f[1]);
        t.write_e(b"matmul/b", f[2]);
        let mut ap = rho.clone();
        ap.extend_from_slice(r_m);
        let mut bp = r_n.to_vec();
        bp.extend_from_slice(&rho);
        claims.on_tensor(a, ap);
        match b {
            MatRhs::Tensor(tb) => claims.on_tensor(tb, bp),
            MatRhs::Weight(wi) => claims.weights.push((wi, bp)),
        }
    }
}

pub(super) fn reduce_row_sum(
    at: &At,
    x: usize,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let xt = &at.g.tensors[x];
    let xpad = padded(at.g, at.w, Operand::Tensor(x));
    let ind = real_prefix(xt.rows, 1 << xt.log_rows());
    for r in pending {
        let xv = col_combination(&xpad, 1 << xt.log_cols(), &eq_table(&r));
        let claim: E = ind.iter().zip(&xv).map(|(i, x)| *i * *x).sum();
        let mut oracle = ProductOracle::new(vec![ind.clone(), xv], 2, |v: &[E]| v[0] * v[1]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        t.write_e(b"rowsum/x", oracle.final_values()[1]);
        let mut p = r.clone();
        p.extend_from_slice(&rho);
        claims.on_tensor(x, p);
    }
}
