//! Layout ops, read side: no arithmetic, only a change of point. Broadcast (a row repeated
//! over the columns): `x̃(r_b) = v / [real](r_c)`. Transpose: the row and column variables
//! swap. Gather by an index map `π` (reshapes, slices, pads, concatenations; `index_map.rs`):
//! `v = Σ_i w_r(i)·x̃(i)` with `w̃_r(ρ) = Σ_j eq(r, j)·eq(ρ, π(j))`, a degree-2 sumcheck over
//! `x` whose wiring sum the verifier computes itself from its own map.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_field::{Field, PrimeCharacteristicRing, E};
use zkgrad_poly::prefix_indicator_eval;
use zkgrad_transcript::VerifierTranscript;

use super::{At, SplitEq};
use crate::claims::Claims;
use crate::error::VerifyError;

pub(super) fn reduce_broadcast(
    at: &At,
    x: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
) -> Result<(), VerifyError> {
    let ot = at.out();
    for (r, v) in pending {
        let (r_c, r_b) = r.split_at(ot.log_cols().min(r.len()));
        let Some(inv) = prefix_indicator_eval(ot.cols, r_c).try_inverse() else {
            return Err(at.err("degenerate broadcast point"));
        };
        claims.on_tensor(x, r_b.to_vec(), v * inv)?;
    }
    Ok(())
}

pub(super) fn reduce_transpose(
    at: &At,
    x: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
) -> Result<(), VerifyError> {
    let lr = at.g.tensors[x].log_rows();
    for (r, v) in pending {
        let (lo, hi) = r.split_at(lr.min(r.len()));
        let mut p = hi.to_vec();
        p.extend_from_slice(lo);
        claims.on_tensor(x, p, v)?;
    }
    Ok(())
}

pub(super) fn reduce_gather(
    at: &At,
    x: usize,
    map: &IndexMap,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let (ot, xt) = (at.out(), &at.g.tensors[x]);
    for (r, v) in pending {
        let sub = at.sumcheck(v, xt.log_size(), 2, t)?;
        let xv = t.read_e(b"gather/x")?;
        // The map is streamed, never expanded, and the eq tables are split: memory
        // O(√|out| + √|x|) for O(|out|) work.
        let reads = map.out_len();
        let (eq_r, eq_rho) = (
            SplitEq::for_reads(&r, reads),
            SplitEq::for_reads(&sub.point, reads),
        );
        let (pad_out, pad_x) = (ot.padder(), xt.padder());
        let mut wv = E::ZERO;
        map.for_each_source(|j, i| {
            if let (Some(a), Some(b)) = (eq_r.get(pad_out.at(j)), eq_rho.get(pad_x.at(i))) {
                wv += a * b;
            }
        });
        if sub.value != wv * xv {
            return Err(at.err("index map sumcheck does not close"));
        }
        claims.on_tensor(x, sub.point, xv)?;
    }
    Ok(())
}
