//! Gemm, write side (`out[r,o] = Σ_i x[r,i] W[o,i] + 2^k b[o]`): a claim `õut(r_col ‖ r_row)`
//! becomes, after the prover sends `b̃(r_col)`, the degree-3 sumcheck
//! `v − 2^k b̃(r_col)·[row real](r_row) = Σ_i [i real]·x̃(i ‖ r_row)·W̃(i ‖ r_col)` over the
//! contracted index (Thaler, CRYPTO 2013, §3: matrix multiplication in linear prover time),
//! ending in claims on `x` and on `W`. The mask keeps the padded columns — committed, so
//! prover-chosen in `x`, and in a weight the prover committed (an updated `W'`, a model
//! published by commitment) — out of the sum.

use zkgrad_circuit::layout::Operand;
use zkgrad_field::E;
use zkgrad_pcs::row_combination;
use zkgrad_poly::{eq_table, eval_mle_base};
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::ProverTranscript;

use super::{real_prefix, At};
use crate::claims::{padded, Claims};

pub(super) fn reduce(
    at: &At,
    x: usize,
    wi: usize,
    bias: Option<usize>,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let (g, w, ot) = (at.g, at.w, at.out());
    let xt = &g.tensors[x];
    let xpad = padded(g, w, Operand::Tensor(x));
    let in_p = 1usize << xt.log_cols();
    let ind = real_prefix(xt.cols, in_p);
    for r in pending {
        let (r_col, r_row) = r.split_at(ot.log_cols());
        if let Some(b) = bias {
            t.write_e(b"gemm/bias", eval_mle_base(&at.weight(b), r_col));
            claims.weights.push((b, r_col.to_vec()));
        }
        // Masked to the real columns: x's and W's padding are prover-chosen.
        let a = row_combination(&xpad, in_p, &eq_table(r_row));
        let bvec = at.weight_rows(wi, &eq_table(r_col));
        let claim: E = a
            .iter()
            .zip(&bvec)
            .take(xt.cols)
            .map(|(x, y)| *x * *y)
            .sum();
        let mut oracle =
            ProductOracle::new(vec![ind.clone(), a, bvec], 3, |v: &[E]| v[0] * v[1] * v[2]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        let f = oracle.final_values();
        t.write_e(b"gemm/x", f[1]);
        t.write_e(b"gemm/w", f[2]);
        let mut xp = rho.clone();
        xp.extend_from_slice(r_row);
        let mut wp = rho;
        wp.extend_from_slice(r_col);
        claims.on_tensor_valued(x, xp, Some(f[1]));
        claims.weights.push((wi, wp));
    }
}
