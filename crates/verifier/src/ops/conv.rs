//! Convolution, read side (`zkgrad_circuit::conv`): a degree-2 sumcheck over the im2col
//! columns `j` of `Σ_j A(p, j)·W(j, co)` ends in a claim on the im2col matrix `A` and on `W`;
//! a second sumcheck over `x` reduces the claim on `A` through the wiring
//! `Σ_(p, j, i) eq(r_p, p)·eq(ρ, j)·eq(σ, i)`, which the verifier streams over the `|P|·|J|`
//! im2col entries of its own geometry.

use zkgrad_circuit::conv::ConvGeom;
use zkgrad_field::{PrimeCharacteristicRing, E};
use zkgrad_poly::prefix_indicator_eval;
use zkgrad_transcript::VerifierTranscript;

use super::{At, SplitEq};
use crate::claims::Claims;
use crate::error::VerifyError;
use crate::protocol::pow2;

pub(super) fn reduce(
    at: &At,
    x: usize,
    wi: usize,
    bias: Option<usize>,
    bias_shift: u32,
    geom: &ConvGeom,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let (ot, xt) = (at.out(), &at.g.tensors[x]);
    let lj = zkgrad_poly::log2_ceil(geom.j_len());
    for (r, v) in pending {
        let (r_p, r_co) = r.split_at(ot.log_cols().min(r.len()));
        let mut claim = v;
        if let Some(b) = bias {
            let bv = t.read_e(b"conv/bias")?;
            claims.weights.push((b, r_co.to_vec(), bv));
            claim -= pow2(bias_shift) * bv * prefix_indicator_eval(ot.cols, r_p);
        }
        let sub = at.sumcheck(claim, lj, 2, t)?;
        let av = t.read_e(b"conv/x")?;
        let wv = t.read_e(b"conv/w")?;
        if sub.value != av * wv {
            return Err(at.err("convolution sumcheck does not close"));
        }
        let mut wp = sub.point.clone();
        wp.extend_from_slice(r_co);
        claims.weights.push((wi, wp, wv));
        let sub2 = at.sumcheck(av, xt.log_size(), 2, t)?;
        let xv = t.read_e(b"conv/in")?;
        // Split eq tables and a streamed geometry: memory O(√|P| + √|J| + √|x|).
        let (eq_p, eq_rho, eq_sigma) = (
            SplitEq::new(r_p),
            SplitEq::new(&sub.point),
            SplitEq::new(&sub2.point),
        );
        let mut wiring = E::ZERO;
        geom.for_each_entry(|p, j, i| {
            if let (Some(a), Some(b), Some(c)) =
                (eq_p.get(p), eq_rho.get(j), eq_sigma.get(xt.pad_index(i)))
            {
                wiring += a * b * c;
            }
        });
        if sub2.value != wiring * xv {
            return Err(at.err("convolution input sumcheck does not close"));
        }
        claims.on_tensor(x, sub2.point, xv)?;
    }
    Ok(())
}
