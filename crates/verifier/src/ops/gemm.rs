//! Gemm, read side: `out[r, o] = Σ_i x[r, i]·W[o, i] + 2^k·b[o]`. A claim `õut(r_col ‖ r_row)`
//! becomes, after the prover sends `b̃(r_col)`, the masked degree-3 sumcheck
//! `Σ_i [i < in]·x̃(i ‖ r_row)·W̃(i ‖ r_col)` (Thaler, CRYPTO 2013, §3): the padded columns of
//! `x` and `W` are prover-chosen (committed), so the contraction is masked.

use zkgrad_field::E;
use zkgrad_poly::prefix_indicator_eval;
use zkgrad_transcript::VerifierTranscript;

use super::At;
use crate::claims::Claims;
use crate::error::VerifyError;
use crate::protocol::pow2;

pub(super) fn reduce(
    at: &At,
    x: usize,
    w: usize,
    bias: Option<usize>,
    bias_shift: u32,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let (ot, xt) = (at.out(), &at.g.tensors[x]);
    for (r, v) in pending {
        let (r_col, r_row) = r.split_at(ot.log_cols());
        let mut claim = v;
        if let Some(b) = bias {
            let bv = t.read_e(b"gemm/bias")?;
            claims.weights.push((b, r_col.to_vec(), bv));
            claim -= pow2(bias_shift) * bv * prefix_indicator_eval(ot.rows, r_row);
        }
        let sub = at.sumcheck(claim, xt.log_cols(), 3, t)?;
        let xv = t.read_e(b"gemm/x")?;
        let wv = t.read_e(b"gemm/w")?;
        if sub.value != prefix_indicator_eval(xt.cols, &sub.point) * xv * wv {
            return Err(at.err("matmul sumcheck does not close"));
        }
        let mut xp = sub.point.clone();
        xp.extend_from_slice(r_row);
        let mut wp = sub.point;
        wp.extend_from_slice(r_col);
        claims.on_tensor(x, xp, xv)?;
        claims.weights.push((w, wp, wv));
    }
    Ok(())
}
