//! Per-op reductions, write side, in the verifier's order: nodes from last to first.
//!
//! - Requant (`x + 2^(s−1) = 2^s·y + rem`): at a fresh point `r` the prover sends `ỹ(r)` and
//!   `r̃em(r)`; the claim `x̃(r) = 2^s ỹ(r) + r̃em(r) − 2^(s−1)·[real](r)` moves to `x`.
//! - Gemm (`out[r,o] = Σ_i x[r,i] W[o,i] + 2^k b[o]`): a claim `õut(r_col ‖ r_row) = v` becomes,
//!   after the prover sends `b̃(r_col)`, the degree-2 sumcheck
//!   `v − 2^k b̃(r_col)·[row real](r_row) = Σ_i x̃(i ‖ r_row)·W̃(i ‖ r_col)` over the contracted
//!   index (Thaler, CRYPTO 2013, §3: matrix multiplication in linear prover time), ending in
//!   claims on `x` and on `W`.
//! - Add/Sub: the prover sends `ã(r)`; `b̃(r)` follows. Scale by `c`: `x̃(r) = v / c`.

use zkgrad_field::{E, F};
use zkgrad_model::layout::{CommitRef, Operand};
use zkgrad_model::quant::{QGraph, QOp, TensorKind, Witness};
use zkgrad_pcs::row_combination;
use zkgrad_poly::{eq_table, eval_mle_base};
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::{padded, Claims, CommittedModel};

pub(crate) fn prove_nodes(
    g: &QGraph,
    w: &Witness,
    model: &CommittedModel,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let out = g.output;
    if g.output_needs_claim() {
        let r = t.challenge_vec(b"output/r", g.tensors[out].log_size());
        claims.pending[out].push(r);
    }
    let weight_block = |wi: usize| -> &[F] { &model.tensors[wi].values };
    for (ni, node) in g.nodes.iter().enumerate().rev() {
        let o = ni + 1;
        let ot = &g.tensors[o];
        let pending = std::mem::take(&mut claims.pending[o]);
        match &node.op {
            QOp::Requant { x, shift } => {
                let r = t.challenge_vec(b"requant/r", ot.log_size());
                if ot.kind != TensorKind::Public {
                    let y = padded(g, w, Operand::Tensor(o));
                    t.write_e(b"requant/y", eval_mle_base(&y, &r));
                    claims.witness.push((CommitRef::Tensor(o), r.clone()));
                }
                if *shift > 0 {
                    let rem = padded(g, w, Operand::Rem(ni));
                    t.write_e(b"requant/rem", eval_mle_base(&rem, &r));
                    claims.witness.push((CommitRef::Rem(ni), r.clone()));
                }
                claims.on_tensor(*x, r);
            }
            QOp::Act { .. } => {}
            QOp::Gemm { x, w: wi, bias, .. } => {
                let xt = &g.tensors[*x];
                let xpad = padded(g, w, Operand::Tensor(*x));
                let wmat = weight_block(*wi);
                let in_p = 1usize << xt.log_cols();
                for r in pending {
                    let (r_col, r_row) = r.split_at(ot.log_cols());
                    if let Some(b) = bias {
                        t.write_e(b"gemm/bias", eval_mle_base(weight_block(*b), r_col));
                        claims.weights.push((*b, r_col.to_vec()));
                    }
                    let a = row_combination(&xpad, in_p, &eq_table(r_row));
                    let bvec = row_combination(wmat, in_p, &eq_table(r_col));
                    let claim: E = a.iter().zip(&bvec).map(|(x, y)| *x * *y).sum();
                    let mut oracle = ProductOracle::new(vec![a, bvec], 2, |v: &[E]| v[0] * v[1]);
                    let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    let f = oracle.final_values();
                    t.write_e(b"gemm/x", f[0]);
                    t.write_e(b"gemm/w", f[1]);
                    let mut xp = rho.clone();
                    xp.extend_from_slice(r_row);
                    let mut wp = rho;
                    wp.extend_from_slice(r_col);
                    claims.on_tensor(*x, xp);
                    claims.weights.push((*wi, wp));
                }
            }
            QOp::Add { a, b } | QOp::Sub { a, b } => {
                let apad = padded(g, w, Operand::Tensor(*a));
                for r in pending {
                    t.write_e(b"add/a", eval_mle_base(&apad, &r));
                    claims.on_tensor(*a, r.clone());
                    claims.on_tensor(*b, r);
                }
            }
            QOp::Mul { a, b } => {
                let apad: Vec<E> = padded(g, w, Operand::Tensor(*a))
                    .into_iter()
                    .map(E::from)
                    .collect();
                let bpad: Vec<E> = padded(g, w, Operand::Tensor(*b))
                    .into_iter()
                    .map(E::from)
                    .collect();
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
                    claims.on_tensor(*a, rho.clone());
                    claims.on_tensor(*b, rho);
                }
            }
            QOp::Scale { x, c } => {
                if *c != 0 {
                    for r in pending {
                        claims.on_tensor(*x, r);
                    }
                }
            }
        }
    }
}
