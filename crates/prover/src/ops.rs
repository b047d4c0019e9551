//! Per-op reductions, write side, in the verifier's order: nodes from last to first.
//!
//! - Requant (`x + 2^(s−1) = 2^s·y + rem`): at a fresh point `r` the prover sends `ỹ(r)` and
//!   `r̃em(r)`; the claim `x̃(r) = 2^s ỹ(r) + r̃em(r) − 2^(s−1)·[real](r)` moves to `x`.
//! - Gemm (`out[r,o] = Σ_i x[r,i] W[o,i] + 2^k b[o]`): a claim `õut(r_col ‖ r_row) = v` becomes,
//!   after the prover sends `b̃(r_col)`, the degree-3 sumcheck
//!   `v − 2^k b̃(r_col)·[row real](r_row) = Σ_i [i real]·x̃(i ‖ r_row)·W̃(i ‖ r_col)` over the
//!   contracted index (Thaler, CRYPTO 2013, §3: matrix multiplication in linear prover time),
//!   ending in claims on `x` and on `W`. The mask keeps the padded columns — committed, so
//!   prover-chosen in `x`, and in a weight the prover committed (an updated `W'`, a model
//!   published by commitment) — out of the sum.
//! - Add/Sub: the prover sends `ã(r)`; `b̃(r)` follows. Scale by `c`: `x̃(r) = v / c`.

use zkgrad_circuit::layout::{rem_limbs, CommitRef, Operand};
use zkgrad_circuit::MatRhs;
use zkgrad_circuit::{QGraph, QOp, TensorKind};
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::Witness;
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
    let decomps = g.decompositions();
    let out = g.output;
    if g.output_needs_claim() {
        let r = t.challenge_vec(b"output/r", g.tensors[out].log_size());
        claims.pending[out].push(r);
    }
    let weight_block = |wi: usize| -> &[F] { model.weight_values(wi) };
    for (ni, node) in g.nodes.iter().enumerate().rev() {
        let o = ni + 1;
        let ot = &g.tensors[o];
        let pending = std::mem::take(&mut claims.pending[o]);
        match &node.op {
            QOp::Requant { x, shift } => {
                // A committed or public output is checked at a fresh point; a virtual one (an
                // update's u = W − W', crate::bounds) at each point a claim on it came with.
                let points = if ot.kind == TensorKind::Virtual {
                    pending
                } else {
                    let r = t.challenge_vec(b"requant/r", ot.log_size());
                    if ot.kind != TensorKind::Public {
                        let y = padded(g, w, Operand::Tensor(o));
                        t.write_e(b"requant/y", eval_mle_base(&y, &r));
                        claims.witness.push((CommitRef::Tensor(o), r.clone()));
                    }
                    vec![r]
                };
                for r in points {
                    if *shift > 0 {
                        match rem_limbs(&decomps, ni) {
                            // rem = Σ_k 2^(16k)·limb_k: the limbs' values at r stand for it.
                            Some((d, n_limbs)) => {
                                for k in 0..n_limbs {
                                    let limb = padded(g, w, Operand::Limb(d, k));
                                    t.write_e(b"requant/limb", eval_mle_base(&limb, &r));
                                    claims.witness.push((CommitRef::Limb(d, k), r.clone()));
                                }
                            }
                            None => {
                                let rem = padded(g, w, Operand::Rem(ni));
                                t.write_e(b"requant/rem", eval_mle_base(&rem, &r));
                                claims.witness.push((CommitRef::Rem(ni), r.clone()));
                            }
                        }
                    }
                    claims.on_tensor(*x, r);
                }
            }
            QOp::Act { .. } => {}
            QOp::Gemm { x, w: wi, bias, .. } => {
                let xt = &g.tensors[*x];
                let xpad = padded(g, w, Operand::Tensor(*x));
                let wmat = weight_block(*wi);
                let in_p = 1usize << xt.log_cols();
                let ind = real_prefix(xt.cols, in_p);
                for r in pending {
                    let (r_col, r_row) = r.split_at(ot.log_cols());
                    if let Some(b) = bias {
                        t.write_e(b"gemm/bias", eval_mle_base(weight_block(*b), r_col));
                        claims.weights.push((*b, r_col.to_vec()));
                    }
                    // Masked to the real columns: x's and W's padding are prover-chosen.
                    let a = row_combination(&xpad, in_p, &eq_table(r_row));
                    let bvec = row_combination(wmat, in_p, &eq_table(r_col));
                    let claim: E = a
                        .iter()
                        .zip(&bvec)
                        .take(xt.cols)
                        .map(|(x, y)| *x * *y)
                        .sum();
                    let mut oracle =
                        ProductOracle::new(vec![ind.clone(), a, bvec], 3, |v: &[E]| {
                            v[0] * v[1] * v[2]
                        });
                    let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    let f = oracle.final_values();
                    t.write_e(b"gemm/x", f[1]);
                    t.write_e(b"gemm/w", f[2]);
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
            QOp::Input { .. } | QOp::LogSumExp { .. } => {}
            QOp::Broadcast { x } => {
                // õut(r_c ‖ r_b) = [c real](r_c)·x̃(r_b): the claim moves to x at r_b.
                for r in pending {
                    claims.on_tensor(*x, r[ot.log_cols()..].to_vec());
                }
            }
            QOp::AddConst { x, .. } => {
                for r in pending {
                    claims.on_tensor(*x, r);
                }
            }
            QOp::Update { w: wi, u, .. } => {
                // W_after = W − u, checked at a fresh point: the prover sends W̃(r) and ũ(r);
                // the claim W̃_after(r) = W̃(r) − ũ(r) goes to the after-commitment.
                let r = t.challenge_vec(b"update/r", ot.log_size());
                t.write_e(b"update/w", eval_mle_base(weight_block(*wi), &r));
                let upad = padded(g, w, Operand::Tensor(*u));
                t.write_e(b"update/u", eval_mle_base(&upad, &r));
                claims.weights.push((*wi, r.clone()));
                claims.on_tensor(*u, r.clone());
                claims.on_tensor(o, r);
            }
            QOp::MatMul { a, b } => {
                // õut(r_n ‖ r_m) = Σ_k [k real]·ã(k ‖ r_m)·b̃(r_n ‖ k): degree 3 over k.
                let at = &g.tensors[*a];
                let (lk, ln) = (at.log_cols(), ot.log_cols());
                let apad = padded(g, w, Operand::Tensor(*a));
                let bpad_t;
                let bpad: &[F] = match b {
                    MatRhs::Tensor(t) => {
                        bpad_t = padded(g, w, Operand::Tensor(*t));
                        &bpad_t
                    }
                    MatRhs::Weight(wi) => weight_block(*wi),
                };
                let ind = real_prefix(at.cols, 1 << lk);
                for r in pending {
                    let (r_n, r_m) = r.split_at(ln);
                    let av = row_combination(&apad, 1 << lk, &eq_table(r_m));
                    let bv = col_combination(bpad, 1 << ln, &eq_table(r_n));
                    let claim: E = ind
                        .iter()
                        .zip(&av)
                        .zip(&bv)
                        .map(|((i, x), y)| *i * *x * *y)
                        .sum();
                    let mut oracle =
                        ProductOracle::new(vec![ind.clone(), av, bv], 3, |v: &[E]| {
                            v[0] * v[1] * v[2]
                        });
                    let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    let f = oracle.final_values();
                    t.write_e(b"matmul/a", f[1]);
                    t.write_e(b"matmul/b", f[2]);
                    let mut ap = rho.clone();
                    ap.extend_from_slice(r_m);
                    let mut bp = r_n.to_vec();
                    bp.extend_from_slice(&rho);
                    claims.on_tensor(*a, ap);
                    match b {
                        MatRhs::Tensor(t) => claims.on_tensor(*t, bp),
                        MatRhs::Weight(wi) => claims.weights.push((*wi, bp)),
                    }
                }
            }
            QOp::Transpose { x } => {
                // out = xᵀ: õut(p_lo ‖ p_hi) = x̃(p_hi ‖ p_lo), |p_lo| = log(rows of x).
                let lr = g.tensors[*x].log_rows();
                for r in pending {
                    let (lo, hi) = r.split_at(lr);
                    let mut p = hi.to_vec();
                    p.extend_from_slice(lo);
                    claims.on_tensor(*x, p);
                }
            }
            QOp::RowSum { x } => {
                // õut(r_c) = Σ_row [row real]·x̃(r_c ‖ row): degree 2 over the row bits.
                let xt = &g.tensors[*x];
                let xpad = padded(g, w, Operand::Tensor(*x));
                let ind = real_prefix(xt.rows, 1 << xt.log_rows());
                for r in pending {
                    let xv = col_combination(&xpad, 1 << xt.log_cols(), &eq_table(&r));
                    let claim: E = ind.iter().zip(&xv).map(|(i, x)| *i * *x).sum();
                    let mut oracle =
                        ProductOracle::new(vec![ind.clone(), xv], 2, |v: &[E]| v[0] * v[1]);
                    let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    t.write_e(b"rowsum/x", oracle.final_values()[1]);
                    let mut p = r.clone();
                    p.extend_from_slice(&rho);
                    claims.on_tensor(*x, p);
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
            QOp::Conv {
                x,
                w: wi,
                bias,
                geom,
                ..
            } => {
                // õut(r_p ‖ r_co) − 2^k b̃(r_co)·[p real] = Σ_j A(j)·B(j) (conv.rs), then the
                // im2col claim X̃(ρ ‖ r_p) = Σ_i w(i)·x̃(i), w(i) = Σ_{π(p,j)=i} eq(r_p,p)·eq(ρ,j).
                let xt = &g.tensors[*x];
                let xv: Vec<F> = w.values[*x].iter().map(|&v| f_from_i64(v)).collect();
                let xpad: Vec<E> = padded(g, w, Operand::Tensor(*x))
                    .into_iter()
                    .map(E::from)
                    .collect();
                let lj = zkgrad_poly::log2_ceil(geom.j_len());
                for r in pending {
                    let (r_p, r_co) = r.split_at(ot.log_cols());
                    if let Some(b) = bias {
                        t.write_e(b"conv/bias", eval_mle_base(weight_block(*b), r_co));
                        claims.weights.push((*b, r_co.to_vec()));
                    }
                    let eq_p = eq_table(r_p);
                    let mut a = vec![E::ZERO; 1 << lj];
                    geom.for_each_entry(|p, j, i| a[j] += eq_p[p] * xv[i]);
                    let bvec = row_combination(weight_block(*wi), 1 << lj, &eq_table(r_co));
                    let claim: E = a.iter().zip(&bvec).map(|(x, y)| *x * *y).sum();
                    let mut oracle = ProductOracle::new(vec![a, bvec], 2, |v: &[E]| v[0] * v[1]);
                    let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    let f = oracle.final_values();
                    t.write_e(b"conv/x", f[0]);
                    t.write_e(b"conv/w", f[1]);
                    let mut wp = rho.clone();
                    wp.extend_from_slice(r_co);
                    claims.weights.push((*wi, wp));
                    let eq_rho = eq_table(&rho);
                    let mut wt = vec![E::ZERO; xpad.len()];
                    geom.for_each_entry(|p, j, i| wt[xt.pad_index(i)] += eq_p[p] * eq_rho[j]);
                    let claim: E = wt.iter().zip(&xpad).map(|(a, b)| *a * *b).sum();
                    let mut oracle =
                        ProductOracle::new(vec![wt, xpad.clone()], 2, |v: &[E]| v[0] * v[1]);
                    let sigma = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    t.write_e(b"conv/in", oracle.final_values()[1]);
                    claims.on_tensor(*x, sigma);
                }
            }
            QOp::Gather { x, map } => {
                // õut(r) = Σ_i w_r(i)·x̃(i) with w_r(i) = Σ_{π(j) = i} eq(r, j): degree 2 over
                // x's variables; the verifier evaluates w̃_r at the end point itself.
                let xt = &g.tensors[*x];
                let src = map.sources();
                let xpad: Vec<E> = padded(g, w, Operand::Tensor(*x))
                    .into_iter()
                    .map(E::from)
                    .collect();
                for r in pending {
                    let eq = eq_table(&r);
                    let mut wt = vec![E::ZERO; xpad.len()];
                    for (j, s) in src.iter().enumerate() {
                        if let Some(i) = s {
                            wt[xt.pad_index(*i)] += eq[ot.pad_index(j)];
                        }
                    }
                    let claim: E = wt.iter().zip(&xpad).map(|(a, b)| *a * *b).sum();
                    let mut oracle =
                        ProductOracle::new(vec![wt, xpad.clone()], 2, |v: &[E]| v[0] * v[1]);
                    let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
                    t.write_e(b"gather/x", oracle.final_values()[1]);
                    claims.on_tensor(*x, rho);
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

/// The indicator of the first `real` of `len` indices (a contraction's real entries).
fn real_prefix(real: usize, len: usize) -> Vec<E> {
    (0..len)
        .map(|k| if k < real { E::ONE } else { E::ZERO })
        .collect()
}

/// `out[row] = Σ_c weights[c] · M[row, c]` for a row-major matrix `M` with `cols` columns.
fn col_combination(m: &[F], cols: usize, weights: &[E]) -> Vec<E> {
    use rayon::prelude::*;
    m.par_chunks(cols)
        .map(|row| row.iter().zip(weights).map(|(v, w)| *w * *v).sum())
        .collect()
}
