//! Element-wise ops, write side. Add/Sub: the prover sends `ã(r)` (`b̃(r)` follows). AddConst
//! and Scale by `c ≠ 0`: the claim moves to `x` at the same point, nothing sent. Mul:
//! `õut(r) = Σ_x eq(r, x)·a(x)·b(x)`, a degree-3 sumcheck over all variables.

use zkgrad_circuit::layout::Operand;
use zkgrad_field::E;
use zkgrad_poly::{eq_table, eval_mle_base};
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::ProverTranscript;

use super::At;
use crate::claims::{padded, Claims};

pub(super) fn reduce_add(
    at: &At,
    a: usize,
    b: usize,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let apad = padded(at.g, at.w, Operand::Tensor(a));
    for r in pending {
        let va = eval_mle_base(&apad, &r);
        t.write_e(b"add/a", va);
        claims.on_tensor_valued(a, r.clone(), Some(va));
        claims.on_tensor(b, r);
    }
}

pub(super) fn reduce_add_const(x: usize, pending: Vec<Vec<E>>, claims: &mut Claims) {
    for r in pending {
        claims.on_tensor(x, r);
    }
}

pub(super) fn reduce_scale(x: usize, c: i64, pending: Vec<Vec<E>>, claims: &mut Claims) {
    if c != 0 {
        for r in pending {
            claims.on_tensor(x, r);
        }
    }
}

pub(super) fn reduce_mul(
    at: &At,
    a: usize,
    b: usize,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let ext = |x| -> Vec<E> {
        padded(at.g, at.w, Operand::Tensor(x))
            .into_iter()
            .map(E::from)
            .collect()
    };
    let (apad, bpad) = (ext(a), ext(b));
    for r in pending {
        let eq = eq_table(&r);
        let claim: E = eq
            .iter()
            .zip(&apad)
            .zip(&bpad)
            .map(|((e, x), y)| *e * *x * *y)
            .sum();
        let mut oracle =
            ProductOracle::new(vec![eq, apad.clone(), bpad.clone()], 3, |v: &[E]| {
                v[0] * v[1] * v[2]
            });
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        let f = oracle.final_values();
        t.write_e(b"mul/a", f[1]);
        t.write_e(b"mul/b", f[2]);
        claims.on_tensor_valued(a, rho.clone(), Some(f[1]));
        claims.on_tensor_valued(b, rho, Some(f[2]));
    }
}
