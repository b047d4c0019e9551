//! Embedding lookups by public token ids, read side: `out[t, c] = W[ids[t], c]`. A claim
//! `õut(r_c ‖ r_t) = v` is `v = Σ_i s(i)·W̃(r_c ‖ i)` with `s(i) = Σ_{t : ids[t] = i} eq(r_t, t)`
//! (Thaler, CRYPTO 2013, §4: a wiring predicate, here given by the ids): a degree-2 sumcheck
//! over the table's rows ending at `ρ`, after which the verifier computes
//! `s̃(ρ) = Σ_t eq(r_t, t)·eq(ρ, ids[t])` from the public ids itself, in `O(T·log V)`. The
//! prover never states the wiring; an id outside the table is refused.

use zkgrad_field::{PrimeCharacteristicRing, E};
use zkgrad_poly::{eq_at_index, eq_table, log2_ceil};
use zkgrad_transcript::VerifierTranscript;

use super::At;
use crate::claims::Claims;
use crate::error::VerifyError;

pub(super) fn reduce(
    at: &At,
    ids: usize,
    wi: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let wt = &at.g.weights[wi];
    let (lc, lr) = (log2_ceil(wt.cols), log2_ceil(wt.rows));
    let ids: Vec<usize> = claims
        .public_values(ids)
        .iter()
        .map(|&id| {
            usize::try_from(id)
                .ok()
                .filter(|&i| i < wt.rows)
                .ok_or_else(|| at.err("a token id is outside the embedding table"))
        })
        .collect::<Result<_, _>>()?;
    for (r, v) in pending {
        if r.len() < lc {
            return Err(at.err("embedding claim of the wrong size"));
        }
        let (r_c, r_t) = r.split_at(lc);
        let sub = at.sumcheck(v, lr, 2, t)?;
        let wv = t.read_e(b"embed/w")?;
        let eq_t = eq_table(r_t);
        let mut s = E::ZERO;
        for (pos, &id) in ids.iter().enumerate() {
            let Some(e) = eq_t.get(pos) else {
                return Err(at.err("more ids than embedding rows"));
            };
            s += *e * eq_at_index(&sub.point, id);
        }
        if sub.value != s * wv {
            return Err(at.err("embedding sumcheck does not close"));
        }
        let mut p = r_c.to_vec();
        p.extend_from_slice(&sub.point);
        claims.weights.push((wi, p, wv));
    }
    Ok(())
}

/// `out[r, 0] = x[r, ids[offset + r]]` (`QOp::PickCol`): a claim `õut(r_r) = v` is
/// `v = Σ_j w(j)·x̃(j)` with `w(j) = Σ_r eq(r_r, r)·[j = (r, ids[offset + r])]`, a degree-2
/// sumcheck over `x`'s variables; the verifier evaluates
/// `w̃(ρ) = Σ_r eq(r_r, r)·eq(ρ, (r, ids[offset + r]))` from the ids it holds, refusing an id
/// outside `x`'s columns.
pub(super) fn reduce_pick_col(
    at: &At,
    x: usize,
    ids: usize,
    offset: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let xt = &at.g.tensors[x];
    let picks: Vec<usize> = claims
        .public_values(ids)
        .iter()
        .skip(offset)
        .take(xt.rows)
        .enumerate()
        .map(|(r, &id)| {
            usize::try_from(id)
                .ok()
                .filter(|&c| c < xt.cols)
                .map(|c| xt.pad_index(r * xt.cols + c))
                .ok_or_else(|| at.err("a picked column is outside the tensor"))
        })
        .collect::<Result<_, _>>()?;
    if picks.len() != xt.rows {
        return Err(at.err("fewer ids than rows to pick from"));
    }
    for (r, v) in pending {
        let sub = at.sumcheck(v, xt.log_size(), 2, t)?;
        let xv = t.read_e(b"pick/x")?;
        let eq_r = eq_table(&r);
        let mut w = E::ZERO;
        for (row, &j) in picks.iter().enumerate() {
            let Some(e) = eq_r.get(row) else {
                return Err(at.err("pick claim of the wrong size"));
            };
            w += *e * eq_at_index(&sub.point, j);
        }
        if sub.value != w * xv {
            return Err(at.err("pick sumcheck does not close"));
        }
        claims.on_tensor(x, sub.point, xv)?;
    }
    Ok(())
}
