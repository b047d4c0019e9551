//! Products of computed tensors, read side: `MatMul` (`out[m, n] = Σ_k a[m, k]·b[k, n]`, `b` a
//! tensor or a weight), a masked degree-3 sumcheck over the contracted index; `RowSum`
//! (`out[c] = Σ_r x[r, c]`), a masked degree-2 sumcheck over the rows.

use zkgrad_circuit::MatRhs;
use zkgrad_field::E;
use zkgrad_poly::{eq_eval, prefix_indicator_eval};
use zkgrad_transcript::VerifierTranscript;

use super::At;
use crate::claims::Claims;
use crate::error::VerifyError;

pub(super) fn reduce(
    at: &At,
    a: usize,
    b: MatRhs,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let at_ = &at.g.tensors[a];
    let ln = at.out().log_cols();
    for (r, v) in pending {
        let (r_n, r_m) = r.split_at(ln);
        let sub = at.sumcheck(v, at_.log_cols(), 3, t)?;
        let av = t.read_e(b"matmul/a")?;
        let bv = t.read_e(b"matmul/b")?;
        if sub.value != prefix_indicator_eval(at_.cols, &sub.point) * av * bv {
            return Err(at.err("matrix product sumcheck does not close"));
        }
        let mut ap = sub.point.clone();
        ap.extend_from_slice(r_m);
        let mut bp = r_n.to_vec();
        bp.extend_from_slice(&sub.point);
        claims.on_tensor(a, ap, av)?;
        match b {
            MatRhs::Tensor(tb) => claims.on_tensor(tb, bp, bv)?,
            MatRhs::Weight(wi) => claims.weights.push((wi, bp, bv)),
        }
    }
    Ok(())
}

pub(super) fn reduce_row_sum(
    at: &At,
    x: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let xt = &at.g.tensors[x];
    for (r, v) in pending {
        let sub = at.sumcheck(v, xt.log_rows(), 2, t)?;
        let xv = t.read_e(b"rowsum/x")?;
        if sub.value != prefix_indicator_eval(xt.rows, &sub.point) * xv {
            return Err(at.err("row sum sumcheck does not close"));
        }
        let mut p = r;
        p.extend_from_slice(&sub.point);
        claims.on_tensor(x, p, xv)?;
    }
    Ok(())
}

/// `batch` stacked products (`QOp::BatchMatMul`; `check_relations` has checked `M` and `K`
/// powers of two): `õut(r_n ‖ r_m ‖ r_b) = Σ_{k, h} eq(r_b, h)·ã(k ‖ r_m ‖ h)·b̃(r_n ‖ k ‖ h)`,
/// one degree-3 sumcheck over `k ‖ h` for all heads, closed with `eq(r_b, ρ_h)` computed here.
pub(super) fn reduce_batch(
    at: &At,
    a: usize,
    b: usize,
    batch: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let at_ = &at.g.tensors[a];
    let (lk, ln) = (at_.log_cols(), at.out().log_cols());
    let lm = zkgrad_poly::log2_ceil(at_.rows / batch.max(1));
    for (r, v) in pending {
        if r.len() < ln + lm {
            return Err(at.err("batched product claim of the wrong size"));
        }
        let (r_n, rows) = r.split_at(ln);
        let (r_m, r_b) = rows.split_at(lm);
        let sub = at.sumcheck(v, lk + r_b.len(), 3, t)?;
        let av = t.read_e(b"matmul/a")?;
        let bv = t.read_e(b"matmul/b")?;
        let (rho_k, rho_h) = sub.point.split_at(lk);
        if sub.value != eq_eval(r_b, rho_h) * av * bv {
            return Err(at.err("batched product sumcheck does not close"));
        }
        let mut ap = rho_k.to_vec();
        ap.extend_from_slice(r_m);
        ap.extend_from_slice(rho_h);
        let mut bp = r_n.to_vec();
        bp.extend_from_slice(&sub.point);
        claims.on_tensor(a, ap, av)?;
        claims.on_tensor(b, bp, bv)?;
    }
    Ok(())
}
