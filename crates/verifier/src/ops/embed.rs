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
