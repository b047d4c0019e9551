//! Products of computed tensors, write side. MatMul:
//! `õut(r_n ‖ r_m) = Σ_k [k real]·ã(k ‖ r_m)·b̃(r_n ‖ k)`, degree 3 over `k` (`b` a tensor or a
//! weight). RowSum: `õut(r_c) = Σ_row [row real]·x̃(r_c ‖ row)`, degree 2 over the row bits.

use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::MatRhs;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
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
    // A weight is combined in place from its committed parts (no padded copy).
    let bpad: Option<Vec<F>> = match b {
        MatRhs::Tensor(tb) => Some(padded(g, w, Operand::Tensor(tb))),
        MatRhs::Weight(_) => None,
    };
    let ind = real_prefix(a_t.cols, 1 << lk);
    for r in pending {
        let (r_n, r_m) = r.split_at(ln);
        let av = row_combination(&apad, 1 << lk, &eq_table(r_m));
        let bv = match (&bpad, b) {
            (Some(bpad), _) => col_combination(bpad, 1 << ln, &eq_table(r_n)),
            (None, MatRhs::Weight(wi)) => at.weight_cols(wi, &eq_table(r_n)),
            (None, MatRhs::Tensor(_)) => Vec::new(),
        };
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
        claims.on_tensor_valued(a, ap, Some(f[1]));
        match b {
            MatRhs::Tensor(tb) => claims.on_tensor_valued(tb, bp, Some(f[2])),
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
        let vx = oracle.final_values()[1];
        t.write_e(b"rowsum/x", vx);
        let mut p = r.clone();
        p.extend_from_slice(&rho);
        claims.on_tensor_valued(x, p, Some(vx));
    }
}

/// `batch` stacked products (`QOp::BatchMatMul`, `M` and `K` powers of two, so the batch
/// index `h` is the high row variables of all three tensors). With the output's point
/// `r_n ‖ r_m ‖ r_b`:
/// `õut(r_n ‖ r_m ‖ r_b) = Σ_{k, h} eq(r_b, h)·ã(k ‖ r_m ‖ h)·b̃(r_n ‖ k ‖ h)`,
/// one degree-3 sumcheck over `k` and `h` together for every head (never a copy per head);
/// it ends at `ρ_k ‖ ρ_h` with claims on `a` and `b` there and `eq(r_b, ρ_h)` for the verifier.
pub(super) fn reduce_batch(
    at: &At,
    a: usize,
    b: usize,
    batch: usize,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let (g, w) = (at.g, at.w);
    let a_t = &g.tensors[a];
    let (lk, ln) = (a_t.log_cols(), at.out().log_cols());
    let lm = zkgrad_poly::log2_ceil(a_t.rows / batch);
    let apad = padded(g, w, Operand::Tensor(a));
    let bpad = padded(g, w, Operand::Tensor(b));
    let (kk, mm) = (1usize << lk, 1usize << lm);
    for r in pending {
        let (r_n, rows) = r.split_at(ln);
        let (r_m, r_b) = rows.split_at(lm);
        let lb = r_b.len();
        // A[h·K + k] = Σ_i eq(r_m, i)·a[(h·M + i)·K + k]; B[h·K + k] = Σ_j eq(r_n, j)·b[h·K + k, j].
        let eq_m = eq_table(r_m);
        let mut av = vec![E::ZERO; kk << lb];
        for (h, block) in apad.chunks(mm * kk).enumerate().take(1 << lb) {
            let row = row_combination(block, kk, &eq_m);
            av[h * kk..(h + 1) * kk].copy_from_slice(&row);
        }
        let bv = col_combination(&bpad, 1 << ln, &eq_table(r_n));
        let eq_b = eq_table(r_b);
        let ev: Vec<E> = (0..kk << lb).map(|i| eq_b[i >> lk]).collect();
        let claim: E = ev
            .iter()
            .zip(&av)
            .zip(&bv)
            .map(|((e, x), y)| *e * *x * *y)
            .sum();
        let mut oracle = ProductOracle::new(vec![ev, av, bv], 3, |v: &[E]| v[0] * v[1] * v[2]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        let f = oracle.final_values();
        t.write_e(b"matmul/a", f[1]);
        t.write_e(b"matmul/b", f[2]);
        let (rho_k, rho_h) = rho.split_at(lk);
        let mut ap = rho_k.to_vec();
        ap.extend_from_slice(r_m);
        ap.extend_from_slice(rho_h);
        let mut bp = r_n.to_vec();
        bp.extend_from_slice(&rho);
        claims.on_tensor_valued(a, ap, Some(f[1]));
        claims.on_tensor_valued(b, bp, Some(f[2]));
    }
}
