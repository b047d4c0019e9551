//! Element-wise ops, read side. Add/Sub: the prover sends `ã(r)`; `b̃(r)` follows from the
//! claim. AddConst: `x̃(r) = v − c·[real](r)`. Scale by `c`: `x̃(r) = v / c`. Mul:
//! `õut(r) = Σ_x eq(r, x)·a(x)·b(x)`, a degree-3 sumcheck over all variables.

use zkgrad_field::{e_from_i64, Field, PrimeCharacteristicRing, E};
use zkgrad_transcript::VerifierTranscript;

use super::At;
use crate::claims::Claims;
use crate::error::VerifyError;
use crate::protocol::real_indicator;

pub(super) fn reduce_add(
    a: usize,
    b: usize,
    is_add: bool,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    for (r, v) in pending {
        let av = t.read_e(b"add/a")?;
        let bv = if is_add { v - av } else { av - v };
        claims.on_tensor(a, r.clone(), av)?;
        claims.on_tensor(b, r, bv)?;
    }
    Ok(())
}

pub(super) fn reduce_add_const(
    at: &At,
    x: usize,
    c: i64,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
) -> Result<(), VerifyError> {
    for (r, v) in pending {
        let xv = v - e_from_i64(c) * real_indicator(at.out(), &r);
        claims.on_tensor(x, r, xv)?;
    }
    Ok(())
}

pub(super) fn reduce_scale(
    at: &At,
    x: usize,
    c: i64,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
) -> Result<(), VerifyError> {
    for (r, v) in pending {
        match e_from_i64(c).try_inverse() {
            Some(inv) => claims.on_tensor(x, r, v * inv)?,
            None if v == E::ZERO => {}
            None => return Err(at.err("scaling by zero must give zero")),
        }
    }
    Ok(())
}

pub(super) fn reduce_mul(
    at: &At,
    a: usize,
    b: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    for (r, v) in pending {
        let sub = at.sumcheck(v, at.out().log_size(), 3, t)?;
        let av = t.read_e(b"mul/a")?;
        let bv = t.read_e(b"mul/b")?;
        if sub.value != zkgrad_poly::eq_eval(&r, &sub.point) * av * bv {
            return Err(at.err("product sumcheck does not close"));
        }
        claims.on_tensor(a, sub.point.clone(), av)?;
        claims.on_tensor(b, sub.point, bv)?;
    }
    Ok(())
}
