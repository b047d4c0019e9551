//! The transcript schedule, read side.
//!
//! Order (the prover in `zkgrad-prover` writes exactly this):
//! 1. observe the public input and output;
//! 2. read the witness commitment root; per used table, read its multiplicities as a sparse
//!    list (strictly increasing entries `j < 2^K` as gaps, counts `m_j ≥ 1` less one, all in
//!    canonical LEB128); draw `γ`, `α`;
//! 3. per used table: one value-side fractional-sum GKR per lookup into it (leaves
//!    `[i real] / (α − v_i)`), and check that their fractions add up to the table side
//!    `Σ_j m_j / (α − t_j)`, which the verifier computes itself from the sparse list;
//! 4. nodes in reverse order: each requantization is checked at a fresh random point, and every
//!    claim on a virtual tensor is reduced through the op that produced it (a sumcheck for a
//!    Gemm, linear algebra for Add/Sub/Scale);
//! 5. one batched opening of the witness commitment, one of the weight commitment;
//! 6. no bytes may remain.
//!
//! This module indexes only the verifier's own circuit description (built from the model, not
//! from the proof); no value read from the proof is ever used as an index.
#![allow(clippy::indexing_slicing)]

use zkgrad_circuit::layout::{rem_limbs, CommitRef, Lookup, Operand, PackedLayout, LIMB_BITS};
use zkgrad_circuit::{MatRhs, QGraph, QOp, TensorKind};
use zkgrad_field::{e_from_i64, Field, PrimeCharacteristicRing, E, F};
use zkgrad_pcs::{BlockClaim, Digest, PcsParams};
use zkgrad_poly::{eq_at_index, eq_table, prefix_indicator_eval};
use zkgrad_transcript::{Challenger, VerifierTranscript};

use crate::error::VerifyError;
use crate::protocol::{eval_public, lookup_layouts, pow2, public_bytes, real_indicator, table_id};

/// Claims collected during verification, discharged by the two openings at the end.
struct Claims<'a> {
    g: &'a QGraph,
    input: &'a [i64],
    output: &'a [i64],
    witness: Vec<(CommitRef, Vec<E>, E)>,
    weights: Vec<(usize, Vec<E>, E)>,
    after: Vec<(usize, Vec<E>, E)>,
    pending: Vec<Vec<(Vec<E>, E)>>,
}

impl Claims<'_> {
    fn public_values(&self, t: usize) -> &[i64] {
        if t == self.g.output {
            return self.output;
        }
        let off = self.g.public_offset(t).unwrap_or(0);
        let len = self.g.tensors[t].len();
        self.input.get(off..off + len).unwrap_or(&[])
    }

    /// Routes a claim `T̃_t(point) = value` by who knows `T_t`.
    fn on_tensor(&mut self, t: usize, point: Vec<E>, value: E) -> Result<(), VerifyError> {
        let tensor = &self.g.tensors[t];
        match tensor.kind {
            TensorKind::Public => {
                if eval_public(tensor, self.public_values(t), &point) != value {
                    return Err(VerifyError::PublicMismatch {
                        tensor: tensor.name.clone(),
                    });
                }
            }
            TensorKind::Committed => self.witness.push((CommitRef::Tensor(t), point, value)),
            TensorKind::Virtual => self.pending[t].push((point, value)),
            TensorKind::After => self.after.push((t, point, value)),
        }
        Ok(())
    }

    fn on_operand(&mut self, op: Operand, point: Vec<E>, value: E) -> Result<(), VerifyError> {
        match op {
            Operand::Tensor(t) => self.on_tensor(t, point, value),
            Operand::Rem(n) => {
                self.witness.push((CommitRef::Rem(n), point, value));
                Ok(())
            }
            Operand::Limb(d, k) => {
                self.witness.push((CommitRef::Limb(d, k), point, value));
                Ok(())
            }
        }
    }
}

/// What a valid proof establishes beyond its public input and output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The weight commitment after the step (the model's own root when nothing is updated).
    pub weight_root_after: [u8; 32],
}

/// Verifies a proof `body` that `g` (committed as `weight_root`) maps `input` to `output`.
pub fn verify(
    g: &QGraph,
    weight_root: &Digest,
    input: &[i64],
    output: &[i64],
    body: &[u8],
    params: &PcsParams,
) -> Result<Verified, VerifyError> {
    // Public values are bounded like committed ones: otherwise a field element far from any
    // small integer could satisfy a relation by wrapping around p (e.g. the last rounding).
    if input.iter().chain(output).any(|&v| !g.public_in_range(v)) {
        return Err(VerifyError::PublicRange);
    }
    if input.len() != g.public_input_len() {
        return Err(VerifyError::PublicShape {
            what: "input",
            expected: g.public_input_len(),
            got: input.len(),
        });
    }
    if output.len() != g.output_tensor().len() {
        return Err(VerifyError::PublicShape {
            what: "output",
            expected: g.output_tensor().len(),
            got: output.len(),
        });
    }
    crate::soundness::check(g, params).map_err(|bits| VerifyError::Soundness {
        bits,
        target: crate::soundness::TARGET_BITS,
    })?;
    // An output that is itself an input tensor (a model of reshapes only) is never reached by
    // a claim: compare the values.
    if let Some(off) = g.public_offset(g.output) {
        if input.get(off..off + output.len()) != Some(output) {
            return Err(VerifyError::PublicMismatch {
                tensor: g.output_tensor().name.clone(),
            });
        }
    }
    let id = crate::protocol::protocol_id(g, params, weight_root);
    let mut t = VerifierTranscript::new(&id, body);
    t.observe(b"public/input", &public_bytes(input));
    t.observe(b"public/output", &public_bytes(output));

    let packing = crate::protocol::weight_packing(g, params);
    let n_roots = if packing.is_some() {
        1
    } else {
        g.weights.len()
    };
    let mut roots = Vec::with_capacity(n_roots);
    for _ in 0..n_roots {
        roots.push(t.read_digest(b"weights/root")?);
    }
    if crate::protocol::weights_root(g, &roots, params) != *weight_root {
        return Err(VerifyError::WeightRoots);
    }
    let witness_root = t.read_digest(b"witness/root")?;
    let updates = g.updates();
    let mut after_roots = Vec::with_capacity(updates.len());
    for _ in &updates {
        after_roots.push(t.read_digest(b"after/root")?);
    }
    let mut roots_after = roots.clone();
    for (&(_, wi), root) in updates.iter().zip(&after_roots) {
        if let Some(slot) = roots_after.get_mut(wi) {
            *slot = *root;
        }
    }
    let weight_root_after = crate::protocol::weights_root(g, &roots_after, params);
    let lookups = g.lookups();
    // Succinct lookups (with WHIR) may commit some tables' multiplicities in the witness; the
    // others' come in clear (an empty list stands for a committed table's).
    let succinct = params.whir.is_some();
    let committed = crate::protocol::committed_tables(g, &lookups, params);
    let mut mults = Vec::new();
    for (ti, table) in g.used_tables() {
        if committed.get(ti).copied().unwrap_or(false) {
            mults.push(Vec::new());
            continue;
        }
        let bad = |why| VerifyError::Lookup {
            table: ti,
            name: table.describe(),
            why,
        };
        let n_lookups = crate::protocol::table_reads(g, &lookups, ti);
        let nnz = t.read_varints(b"lookup/nnz", 1)?;
        let nnz = nnz.first().copied().unwrap_or(u64::MAX);
        let bits = table.log_size(g.config.table_bits);
        if nnz > n_lookups as u64 || bits > 62 {
            return Err(bad("more table entries than lookups"));
        }
        let msg = t.read_varints(b"lookup/mult", 2 * nnz as usize)?;
        let (gaps, cnt) = msg.split_at(nnz as usize);
        let mut next: u64 = 0;
        let mut total: u64 = 0;
        let mut entries = Vec::with_capacity(nnz as usize);
        for (gap, m) in gaps.iter().zip(cnt) {
            // Entries strictly increasing below 2^bits; counts ≥ 1.
            let j = next.saturating_add(*gap);
            if j >= 1u64 << bits || *m >= n_lookups as u64 {
                return Err(bad("malformed multiplicities"));
            }
            total = total.saturating_add(m + 1);
            next = j + 1;
            entries.push((j as usize, m + 1));
        }
        if total != n_lookups as u64 {
            return Err(bad("multiplicities do not count every lookup"));
        }
        mults.push(entries);
    }
    let gamma = t.challenge_e(b"lookup/gamma");
    let delta = if succinct {
        t.challenge_e(b"lookup/delta")
    } else {
        E::ZERO
    };
    let alpha = t.challenge_e(b"lookup/alpha");
    let bits = g.config.table_bits;
    let mut claims = Claims {
        g,
        input,
        output,
        witness: Vec::new(),
        weights: Vec::new(),
        after: Vec::new(),
        pending: vec![Vec::new(); g.tensors.len()],
    };

    // 3. Lookups.
    if succinct {
        succinct_lookups(
            g,
            &lookups,
            &committed,
            &mults,
            [gamma, delta, alpha],
            &mut claims,
            &mut t,
        )?;
    }
    // Ligero: one GKR per lookup, checked table by table against the clear multiplicities.
    let per_lookup = if succinct { &[][..] } else { &mults[..] };
    for ((ti, table), entries) in g.used_tables().into_iter().zip(per_lookup) {
        let name = table.describe();
        let gkr_err = |source| VerifyError::LookupGkr {
            table: ti,
            name: name.clone(),
            source,
        };
        // The table side, Σ_j m_j / (α − t_j), from the sparse multiplicities.
        let Some(table_side) = fraction_sum(
            entries
                .iter()
                .map(|&(j, m)| (alpha - table.entry(j, bits, gamma), m)),
        ) else {
            return Err(VerifyError::Lookup {
                table: ti,
                name,
                why: "zero denominator",
            });
        };
        let mut sum = E::ZERO;
        for l in lookups.iter().filter(|l| l.table == ti) {
            let shape = g.operand_tensor(l.a).clone();
            let vt = zkgrad_lookup::verify(shape.log_size(), &mut t).map_err(gkr_err)?;
            let a = t.read_e(b"lookup/a")?;
            let b = match l.b {
                Some(_) => t.read_e(b"lookup/b")?,
                None => E::ZERO,
            };
            let leaf = &vt.leaves;
            let value = a + e_from_i64(l.offset) + gamma * b;
            if leaf.p != real_indicator(&shape, &leaf.point) || leaf.q != alpha - value {
                return Err(VerifyError::Lookup {
                    table: ti,
                    name,
                    why: "value leaves do not match the committed values",
                });
            }
            claims.on_operand(l.a, leaf.point.clone(), a)?;
            if let Some(bo) = l.b {
                claims.on_operand(bo, leaf.point.clone(), b)?;
            }
            let Some(inv) = vt.root_q.try_inverse() else {
                return Err(VerifyError::Lookup {
                    table: ti,
                    name,
                    why: "zero denominator",
                });
            };
            sum += vt.root_p * inv;
        }
        if sum != table_side {
            return Err(VerifyError::Lookup {
                table: ti,
                name,
                why: "looked-up values are not all in the table",
            });
        }
    }

    // Limb decompositions: a + offset = Σ_k 2^(16k)·limb_k at a fresh point each.
    for (d, dec) in g.decompositions().iter().enumerate() {
        if dec.defined_rem().is_some() {
            continue; // a remainder its limbs define (Decomposition::defined_rem)
        }
        let shape = g.operand_tensor(dec.a).clone();
        let r = t.challenge_vec(b"limbs/r", shape.log_size());
        let a = t.read_e(b"limbs/a")?;
        let mut sum = E::ZERO;
        for k in 0..dec.n_limbs() {
            let limb = t.read_e(b"limbs/limb")?;
            sum += limb * E::from(F::from_u64(1u64 << (LIMB_BITS * k)));
            claims.on_operand(Operand::Limb(d, k), r.clone(), limb)?;
        }
        if sum != a + e_from_i64(dec.offset) * real_indicator(&shape, &r) {
            return Err(VerifyError::Node {
                node: format!("range check {d}"),
                why: "limbs do not recompose the value",
            });
        }
        claims.on_operand(dec.a, r, a)?;
    }

    // 4. Nodes, outputs first.
    let decomps = g.decompositions();
    let out = g.output;
    if g.output_needs_claim() {
        let tensor = &g.tensors[out];
        let r = t.challenge_vec(b"output/r", tensor.log_size());
        let v = eval_public(tensor, output, &r);
        claims.pending[out].push((r, v));
    }
    for (ni, node) in g.nodes.iter().enumerate().rev() {
        let o = ni + 1;
        let ot = &g.tensors[o];
        let node_err = |why| VerifyError::Node {
            node: node.name.clone(),
            why,
        };
        let pending = std::mem::take(&mut claims.pending[o]);
        match &node.op {
            QOp::Requant { x, shift } => {
                // x̃(r) + 2^(s−1)·[real](r) = 2^s·ỹ(r) + r̃em(r) (crate::bounds: unique mod p):
                // at a fresh point for a committed or public output; at each point a claim
                // came with for a virtual one (an update's u = W − W', defined by the update).
                let points = match ot.kind {
                    TensorKind::Public => {
                        let r = t.challenge_vec(b"requant/r", ot.log_size());
                        let y = eval_public(ot, output, &r);
                        vec![(r, y)]
                    }
                    TensorKind::Committed => {
                        let r = t.challenge_vec(b"requant/r", ot.log_size());
                        let y = t.read_e(b"requant/y")?;
                        claims.witness.push((CommitRef::Tensor(o), r.clone(), y));
                        vec![(r, y)]
                    }
                    TensorKind::Virtual => pending,
                    TensorKind::After => {
                        return Err(node_err("a rounding's output cannot be an updated weight"))
                    }
                };
                for (r, y) in points {
                    let xv = if *shift > 0 {
                        let rem = match rem_limbs(&decomps, ni) {
                            Some((d, n_limbs)) => {
                                let mut rem = E::ZERO;
                                for k in 0..n_limbs {
                                    let limb = t.read_e(b"requant/limb")?;
                                    rem += limb * E::from(F::from_u64(1u64 << (LIMB_BITS * k)));
                                    claims
                                        .witness
                                        .push((CommitRef::Limb(d, k), r.clone(), limb));
                                }
                                rem
                            }
                            None => {
                                let rem = t.read_e(b"requant/rem")?;
                                claims.witness.push((CommitRef::Rem(ni), r.clone(), rem));
                                rem
                            }
                        };
                        pow2(*shift) * y + rem - pow2(shift - 1) * real_indicator(ot, &r)
                    } else {
                        y
                    };
                    claims.on_tensor(*x, r, xv)?;
                }
            }
            QOp::Act { .. } => {}
            QOp::Gemm {
                x,
                w,
                bias,
                bias_shift,
            } => {
                let xt = &g.tensors[*x];
                for (r, v) in pending {
                    let (r_col, r_row) = r.split_at(ot.log_cols());
                    let mut claim = v;
                    if let Some(b) = bias {
                        let bv = t.read_e(b"gemm/bias")?;
                        claims.weights.push((*b, r_col.to_vec(), bv));
                        claim -= pow2(*bias_shift) * bv * prefix_indicator_eval(ot.rows, r_row);
                    }
                    // Σ_i [i < in]·x̃(i ‖ r_row)·W̃(i ‖ r_col): the padded columns of x and W
                    // are prover-chosen (committed), so the contraction is masked.
                    let sub = zkgrad_sumcheck::verify(claim, xt.log_cols(), 3, &mut t).map_err(
                        |source| VerifyError::NodeSumcheck {
                            node: node.name.clone(),
                            source,
                        },
                    )?;
                    let xv = t.read_e(b"gemm/x")?;
                    let wv = t.read_e(b"gemm/w")?;
                    if sub.value != prefix_indicator_eval(xt.cols, &sub.point) * xv * wv {
                        return Err(node_err("matmul sumcheck does not close"));
                    }
                    let mut xp = sub.point.clone();
                    xp.extend_from_slice(r_row);
                    let mut wp = sub.point;
                    wp.extend_from_slice(r_col);
                    claims.on_tensor(*x, xp, xv)?;
                    claims.weights.push((*w, wp, wv));
                }
            }
            QOp::Add { a, b } | QOp::Sub { a, b } => {
                let is_add = matches!(node.op, QOp::Add { .. });
                for (r, v) in pending {
                    let av = t.read_e(b"add/a")?;
                    let bv = if is_add { v - av } else { av - v };
                    claims.on_tensor(*a, r.clone(), av)?;
                    claims.on_tensor(*b, r, bv)?;
                }
            }
            QOp::Input { .. } | QOp::LogSumExp { .. } => {}
            QOp::Broadcast { x } => {
                for (r, v) in pending {
                    let (r_c, r_b) = r.split_at(ot.log_cols().min(r.len()));
                    let Some(inv) = prefix_indicator_eval(ot.cols, r_c).try_inverse() else {
                        return Err(node_err("degenerate broadcast point"));
                    };
                    claims.on_tensor(*x, r_b.to_vec(), v * inv)?;
                }
            }
            QOp::AddConst { x, c } => {
                for (r, v) in pending {
                    let xv = v - e_from_i64(*c) * real_indicator(ot, &r);
                    claims.on_tensor(*x, r, xv)?;
                }
            }
            QOp::Update { w: wi, u, .. } => {
                let r = t.challenge_vec(b"update/r", ot.log_size());
                let wv = t.read_e(b"update/w")?;
                let uv = t.read_e(b"update/u")?;
                claims.weights.push((*wi, r.clone(), wv));
                claims.on_tensor(*u, r.clone(), uv)?;
                claims.on_tensor(o, r, wv - uv)?;
            }
            QOp::MatMul { a, b } => {
                let at = &g.tensors[*a];
                let ln = ot.log_cols();
                for (r, v) in pending {
                    let (r_n, r_m) = r.split_at(ln);
                    let sub =
                        zkgrad_sumcheck::verify(v, at.log_cols(), 3, &mut t).map_err(|source| {
                            VerifyError::NodeSumcheck {
                                node: node.name.clone(),
                                source,
                            }
                        })?;
                    let av = t.read_e(b"matmul/a")?;
                    let bv = t.read_e(b"matmul/b")?;
                    if sub.value != prefix_indicator_eval(at.cols, &sub.point) * av * bv {
                        return Err(node_err("matrix product sumcheck does not close"));
                    }
                    let mut ap = sub.point.clone();
                    ap.extend_from_slice(r_m);
                    let mut bp = r_n.to_vec();
                    bp.extend_from_slice(&sub.point);
                    claims.on_tensor(*a, ap, av)?;
                    match b {
                        MatRhs::Tensor(tb) => claims.on_tensor(*tb, bp, bv)?,
                        MatRhs::Weight(wi) => claims.weights.push((*wi, bp, bv)),
                    }
                }
            }
            QOp::Transpose { x } => {
                let lr = g.tensors[*x].log_rows();
                for (r, v) in pending {
                    let (lo, hi) = r.split_at(lr.min(r.len()));
                    let mut p = hi.to_vec();
                    p.extend_from_slice(lo);
                    claims.on_tensor(*x, p, v)?;
                }
            }
            QOp::RowSum { x } => {
                let xt = &g.tensors[*x];
                for (r, v) in pending {
                    let sub =
                        zkgrad_sumcheck::verify(v, xt.log_rows(), 2, &mut t).map_err(|source| {
                            VerifyError::NodeSumcheck {
                                node: node.name.clone(),
                                source,
                            }
                        })?;
                    let xv = t.read_e(b"rowsum/x")?;
                    if sub.value != prefix_indicator_eval(xt.rows, &sub.point) * xv {
                        return Err(node_err("row sum sumcheck does not close"));
                    }
                    let mut p = r;
                    p.extend_from_slice(&sub.point);
                    claims.on_tensor(*x, p, xv)?;
                }
            }
            QOp::Mul { a, b } => {
                // õut(r) = Σ_x eq(r, x)·a(x)·b(x): a degree-3 sumcheck over all variables.
                for (r, v) in pending {
                    let sub =
                        zkgrad_sumcheck::verify(v, ot.log_size(), 3, &mut t).map_err(|source| {
                            VerifyError::NodeSumcheck {
                                node: node.name.clone(),
                                source,
                            }
                        })?;
                    let av = t.read_e(b"mul/a")?;
                    let bv = t.read_e(b"mul/b")?;
                    if sub.value != zkgrad_poly::eq_eval(&r, &sub.point) * av * bv {
                        return Err(node_err("product sumcheck does not close"));
                    }
                    claims.on_tensor(*a, sub.point.clone(), av)?;
                    claims.on_tensor(*b, sub.point, bv)?;
                }
            }
            QOp::Conv {
                x,
                w: wi,
                bias,
                bias_shift,
                geom,
            } => {
                // conv.rs: a sumcheck over the im2col columns, then an index-map sumcheck over x
                // whose wiring sum the verifier streams over the |P|·|J| im2col entries.
                let xt = &g.tensors[*x];
                let lj = zkgrad_poly::log2_ceil(geom.j_len());
                let sumcheck_err = |source| VerifyError::NodeSumcheck {
                    node: node.name.clone(),
                    source,
                };
                for (r, v) in pending {
                    let (r_p, r_co) = r.split_at(ot.log_cols().min(r.len()));
                    let mut claim = v;
                    if let Some(b) = bias {
                        let bv = t.read_e(b"conv/bias")?;
                        claims.weights.push((*b, r_co.to_vec(), bv));
                        claim -= pow2(*bias_shift) * bv * prefix_indicator_eval(ot.cols, r_p);
                    }
                    let sub =
                        zkgrad_sumcheck::verify(claim, lj, 2, &mut t).map_err(sumcheck_err)?;
                    let av = t.read_e(b"conv/x")?;
                    let wv = t.read_e(b"conv/w")?;
                    if sub.value != av * wv {
                        return Err(node_err("convolution sumcheck does not close"));
                    }
                    let mut wp = sub.point.clone();
                    wp.extend_from_slice(r_co);
                    claims.weights.push((*wi, wp, wv));
                    let sub2 = zkgrad_sumcheck::verify(av, xt.log_size(), 2, &mut t)
                        .map_err(sumcheck_err)?;
                    let xv = t.read_e(b"conv/in")?;
                    let (eq_p, eq_rho, eq_sigma) =
                        (eq_table(r_p), eq_table(&sub.point), eq_table(&sub2.point));
                    let mut wiring = E::ZERO;
                    geom.for_each_entry(|p, j, i| {
                        if let (Some(a), Some(b), Some(c)) =
                            (eq_p.get(p), eq_rho.get(j), eq_sigma.get(xt.pad_index(i)))
                        {
                            wiring += *a * *b * *c;
                        }
                    });
                    if sub2.value != wiring * xv {
                        return Err(node_err("convolution input sumcheck does not close"));
                    }
                    claims.on_tensor(*x, sub2.point, xv)?;
                }
            }
            QOp::Gather { x, map } => {
                // v = Σ_i w_r(i)·x̃(i), w̃_r(ρ) = Σ_j eq(r, j)·eq(ρ, π(j)) (index_map.rs).
                let xt = &g.tensors[*x];
                let src = map.sources();
                for (r, v) in pending {
                    let sub =
                        zkgrad_sumcheck::verify(v, xt.log_size(), 2, &mut t).map_err(|source| {
                            VerifyError::NodeSumcheck {
                                node: node.name.clone(),
                                source,
                            }
                        })?;
                    let xv = t.read_e(b"gather/x")?;
                    let (eq_r, eq_rho) = (eq_table(&r), eq_table(&sub.point));
                    let wv: E = src
                        .iter()
                        .enumerate()
                        .filter_map(|(j, s)| {
                            let i = (*s)?;
                            Some(*eq_r.get(ot.pad_index(j))? * *eq_rho.get(xt.pad_index(i))?)
                        })
                        .sum();
                    if sub.value != wv * xv {
                        return Err(node_err("index map sumcheck does not close"));
                    }
                    claims.on_tensor(*x, sub.point, xv)?;
                }
            }
            QOp::Scale { x, c } => {
                for (r, v) in pending {
                    match e_from_i64(*c).try_inverse() {
                        Some(inv) => claims.on_tensor(*x, r, v * inv)?,
                        None if v == E::ZERO => {}
                        None => return Err(node_err("scaling by zero must give zero")),
                    }
                }
            }
        }
    }

    // 5. Openings.
    let wl = g.witness_layout_with(&committed);
    let block_claims = packed_claims(&wl, claims.witness, |what| format!("{what:?}"))?;
    zkgrad_pcs::verify_batch(
        &witness_root,
        wl.log_n,
        wl.used(),
        &block_claims,
        params,
        &mut t,
    )
    .map_err(|source| VerifyError::Opening {
        which: "witness",
        source,
    })?;
    match (&packing, roots.first()) {
        // One batched opening of the packed weights, as for the witness.
        (Some(layout), Some(root)) => {
            let block_claims =
                packed_claims(layout, claims.weights.clone(), |wi| format!("weight {wi}"))?;
            zkgrad_pcs::verify_batch(
                root,
                layout.log_n,
                layout.used(),
                &block_claims,
                params,
                &mut t,
            )
            .map_err(|source| VerifyError::Opening {
                which: "weight",
                source,
            })?;
        }
        _ => {
            for (wi, (w, root)) in g.weights.iter().zip(&roots).enumerate() {
                let mine: Vec<(Vec<E>, E)> = claims
                    .weights
                    .iter()
                    .filter(|c| c.0 == wi)
                    .map(|c| (c.1.clone(), c.2))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                zkgrad_pcs::verify_multi(root, w.as_tensor().log_size(), &mine, params, &mut t)
                    .map_err(|source| VerifyError::Opening {
                        which: "weight",
                        source,
                    })?;
            }
        }
    }
    for (&(ni, _), root) in updates.iter().zip(&after_roots) {
        let tensor = &g.tensors[ni + 1];
        let mine: Vec<(Vec<E>, E)> = claims
            .after
            .iter()
            .filter(|c| c.0 == ni + 1)
            .map(|c| (c.1.clone(), c.2))
            .collect();
        if mine.is_empty() {
            continue;
        }
        zkgrad_pcs::verify_multi(root, tensor.log_size(), &mine, params, &mut t).map_err(
            |source| VerifyError::Opening {
                which: "updated weight",
                source,
            },
        )?;
    }
    t.finish()?;
    Ok(Verified { weight_root_after })
}

/// Claims on the blocks of a packed commitment (the witness, or the packed weights), each
/// checked to name a block of the layout and to have that block's number of variables.
fn packed_claims<K: Copy + PartialEq>(
    layout: &PackedLayout<K>,
    claims: Vec<(K, Vec<E>, E)>,
    name: impl Fn(K) -> String,
) -> Result<Vec<BlockClaim>, VerifyError> {
    claims
        .into_iter()
        .map(|(what, point, value)| {
            let Some((log, block_index)) = layout.find(what) else {
                return Err(VerifyError::Node {
                    node: name(what),
                    why: "not in the commitment's layout",
                });
            };
            if point.len() != log {
                return Err(VerifyError::Node {
                    node: name(what),
                    why: "claim of the wrong size",
                });
            }
            Ok(BlockClaim {
                block_index,
                point,
                value,
            })
        })
        .collect()
}

/// Succinct lookups, read side: the value-side and table-side GKRs of
/// [`crate::protocol::lookup_layouts`], their leaves checked against the values the prover
/// sends (which become claims on the witness), and the two root fractions compared.
fn succinct_lookups(
    g: &QGraph,
    lookups: &[Lookup],
    committed: &[bool],
    clear_mults: &[Vec<(usize, u64)>],
    [gamma, delta, alpha]: [E; 3],
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    if lookups.is_empty() {
        return Ok(());
    }
    let bits = g.config.table_bits;
    let tables = g.used_tables();
    let (values, entries) = lookup_layouts(g, lookups, committed);

    let vt = zkgrad_lookup::verify(values.log_n, t).map_err(|source| VerifyError::LookupsGkr {
        side: "value",
        source,
    })?;
    let z = &vt.leaves.point;
    let (mut p, mut q, mut covered) = (E::ZERO, E::ZERO, E::ZERO);
    for &(li, log, block) in &values.blocks {
        let (Some(l), Some((lo, hi))) = (lookups.get(li), z.split_at_checked(log)) else {
            return Err(VerifyError::Lookups("lookup layout out of range"));
        };
        let sel = eq_at_index(hi, block);
        let a = t.read_e(b"lookup/a")?;
        let b = match l.b {
            Some(_) => t.read_e(b"lookup/b")?,
            None => E::ZERO,
        };
        p += sel * real_indicator(g.operand_tensor(l.a), lo);
        q += sel * (alpha - delta * table_id(l.table) - e_from_i64(l.offset) - a - gamma * b);
        covered += sel;
        claims.on_operand(l.a, lo.to_vec(), a)?;
        if let Some(bo) = l.b {
            claims.on_operand(bo, lo.to_vec(), b)?;
        }
    }
    if vt.leaves.p != p || vt.leaves.q != q + (E::ONE - covered) {
        return Err(VerifyError::Lookups(
            "value leaves do not match the committed values",
        ));
    }

    if vt.root_q == E::ZERO {
        return Err(VerifyError::Lookups("zero denominator"));
    }
    // The clear tables' side: Σ_T Σ_j m_T[j]/(α − δT − t_T[j]) (committed tables' lists are
    // empty).
    let terms = tables
        .iter()
        .zip(clear_mults)
        .flat_map(|((ti, table), entries)| {
            let c = alpha - delta * table_id(*ti);
            entries
                .iter()
                .map(move |&(j, m)| (c - table.entry(j, bits, gamma), m))
        });
    let Some(clear_side) = fraction_sum(terms) else {
        return Err(VerifyError::Lookups("zero denominator"));
    };
    if entries.blocks.is_empty() {
        if vt.root_p != clear_side * vt.root_q {
            return Err(VerifyError::Lookups(
                "looked-up values are not all in their tables",
            ));
        }
        return Ok(());
    }
    let tt = zkgrad_lookup::verify(entries.log_n, t).map_err(|source| VerifyError::LookupsGkr {
        side: "table",
        source,
    })?;
    let z = &tt.leaves.point;
    let (mut p, mut q, mut covered) = (E::ZERO, E::ZERO, E::ZERO);
    for &(ti, log, block) in &entries.blocks {
        let (Some((_, table)), Some((lo, hi))) = (tables.get(ti), z.split_at_checked(log)) else {
            return Err(VerifyError::Lookups("table layout out of range"));
        };
        let sel = eq_at_index(hi, block);
        let m = t.read_e(b"lookup/m")?;
        p += sel * m;
        q += sel * (alpha - delta * table_id(ti) - table.mle(lo, bits, gamma));
        covered += sel;
        claims.witness.push((CommitRef::Mult(ti), lo.to_vec(), m));
    }
    if tt.leaves.p != p || tt.leaves.q != q + (E::ONE - covered) {
        return Err(VerifyError::Lookups(
            "table leaves do not match the committed multiplicities",
        ));
    }
    // Σ values = Σ table entries: P_v/Q_v = P_t/Q_t, both denominators nonzero (Q_v checked
    // above).
    if tt.root_q == E::ZERO {
        return Err(VerifyError::Lookups("zero denominator"));
    }
    // P_v/Q_v = P_t/Q_t + clear: P_v·Q_t = (P_t + clear·Q_t)·Q_v.
    if vt.root_p * tt.root_q != (tt.root_p + clear_side * tt.root_q) * vt.root_q {
        return Err(VerifyError::Lookups(
            "looked-up values are not all in their tables",
        ));
    }
    Ok(())
}

/// `Σ m/d` over `(d, m)` pairs by one batch inversion; `None` if some `d` is zero (batch
/// inversion would panic on it, so it is checked first).
fn fraction_sum(terms: impl Iterator<Item = (E, u64)>) -> Option<E> {
    let (dens, counts): (Vec<E>, Vec<u64>) = terms.unzip();
    if dens.contains(&E::ZERO) {
        return None;
    }
    Some(
        p3_field::batch_multiplicative_inverse(&dens)
            .iter()
            .zip(&counts)
            .map(|(inv, m)| *inv * E::from(F::from_u64(*m)))
            .sum(),
    )
}
