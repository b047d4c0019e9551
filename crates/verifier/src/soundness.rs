//! The soundness error of a proof of a circuit: the union bound over every opening, sumcheck,
//! GKR layer, lookup and random-point check the verifier runs (docs/SECURITY.md, "Soundness
//! budget"). Both sides refuse a circuit whose bound is above `2^-TARGET_BITS`.
//!
//! Every algebraic check is a Schwartz–Zippel evaluation of a nonzero polynomial at a point
//! drawn from `E` after the polynomial is fixed, so it errs with probability at most its
//! degree over `|E| > 2^127.99` ([`zkgrad_field::EXT_FIELD_BITS`]):
//! - a sumcheck of `n` rounds of degree `d`: `n·d`;
//! - an identity of multilinear extensions checked at one random point (a rounding, an update,
//!   a limb recomposition, the output's claim): the number of variables;
//! - a fractional-sum GKR over `2^L` leaves: `Σ_{k<L} (3k + 2)` (a degree-3 sumcheck of `k`
//!   rounds, a line point and the combination of the two claims per layer), for each tree of
//!   the lookups' forests;
//! - LogUp (Haböck 2022) over `N` looked-up values and a table side of `M` terms, with the
//!   folding challenges γ and δ and α: every denominator is a linear
//!   form in the challenges, so clearing the at most `N + M` distinct ones turns a false
//!   identity into a nonzero polynomial of total degree below `N + M`, and a false lookup
//!   survives with probability at most `(N + M)/|E|` (Schwartz–Zippel over all challenges
//!   jointly);
//! - the batching sumcheck of a batched opening over `2^n` values: `2n + 1`.
//!
//! Openings: a Ligero opening errs with `(1 − δ)^t + n_code/|E|`
//! (`PcsParams::ligero_opening_error`), a WHIR opening with the union of its error terms
//! (`WhirParams::opening_error_log2`), and a list-decoded one's out-of-domain binding with
//! `C(L, 2)·n/|E|` more (`WhirParams::binding_error_log2`; without a binding, every
//! algebraic check would be charged `L` times over: [`Budget::candidates_log2`]); a clear
//! opening errs only by a hash collision (`2^-128`).
//! Claims are counted by walking the circuit exactly as the verifier routes them: claims on
//! virtual tensors are reduced by the op that wrote them; committed and public ones stop.

use zkgrad_circuit::layout::{Lookup, Operand};
use zkgrad_circuit::{QGraph, QOp, TensorKind};
use zkgrad_pcs::{Layout, PcsParams};

/// The soundness a proof must reach, in bits.
pub const TARGET_BITS: f64 = 100.0;

/// The soundness error of a proof, by source (probabilities).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    /// Ligero openings (column queries and proximity tests).
    pub ligero: f64,
    /// WHIR openings (the union of each opening's error terms).
    pub whir: f64,
    /// Sumchecks, GKR layers, lookups and random-point checks.
    pub algebraic: f64,
    /// Clear commitments (hash collisions).
    pub hashes: f64,
    /// `log₂` of the product of the candidate sets that the proof's list-decoded WHIR
    /// commitments leave open until their openings (`WhirParams::candidates_log2`) where no
    /// out-of-domain claim binds them (`zkgrad_pcs::Binding`). A prover may pick such a
    /// candidate after the algebraic checks' challenges, so those checks err
    /// `2^candidates_log2` times as often (p3's `PrescribedOpeningSecurity::charge_reduction`),
    /// and [`Budget::error`] charges them so. Every list-decoded commitment of today's protocol
    /// is bound (its binding's error is in [`Budget::whir`]), so this is 0; it stays counted
    /// so that a commitment added unbound is charged rather than missed.
    pub candidates_log2: f64,
}

impl Budget {
    /// The union bound over every source, the algebraic checks charged over the candidate
    /// sets left open ([`Self::candidates_log2`]).
    pub fn error(&self) -> f64 {
        self.ligero + self.whir + self.algebraic * self.candidates_log2.exp2() + self.hashes
    }
    /// `−log₂` of [`Self::error`].
    pub fn bits(&self) -> f64 {
        -self.error().log2()
    }
}

/// The circuit's budget, or `Err(bits)` when its proofs would reach fewer than
/// [`TARGET_BITS`] (the prover refuses to prove it, the verifier to verify it).
pub fn check(g: &QGraph, params: &PcsParams) -> Result<Budget, f64> {
    let b = budget(g, params);
    if b.bits() < TARGET_BITS {
        return Err(b.bits());
    }
    Ok(b)
}

/// The soundness budget of a proof of `g` with `params` (both sides compute it from the
/// circuit alone).
pub fn budget(g: &QGraph, params: &PcsParams) -> Budget {
    let mut b = Budget::default();
    let mut open = |layout: Layout| {
        if layout.whir {
            if let Some(w) = &params.whir {
                b.whir += w.opening_error_log2(layout.log_n).exp2();
                if zkgrad_pcs::binds(&layout, params) {
                    // One candidate, but for the binding's collisions.
                    b.whir += w.binding_error_log2(layout.log_n).exp2();
                } else {
                    b.candidates_log2 += w.candidates_log2(layout.log_n);
                }
            }
        } else if layout.clear {
            b.hashes += (-128f64).exp2();
        } else {
            b.ligero += params.ligero_opening_error(&layout);
        }
    };
    let lookups = g.lookups();
    let committed = crate::protocol::committed_tables(g, &lookups, params);
    let wl = g.witness_layout_with(&committed);
    open(Layout::choose_batched(wl.log_n, wl.used(), params));
    match crate::protocol::weight_packing(g, params) {
        Some(l) => open(Layout::choose_batched(l.log_n, l.used(), params)),
        None => {
            for w in &g.weights {
                open(Layout::choose(w.as_tensor().log_size(), params));
            }
        }
    }
    for (ni, _) in g.updates() {
        if let Some(t) = g.tensors.get(ni + 1) {
            open(Layout::choose(t.log_size(), params));
        }
    }
    let degrees = algebraic_degrees(g, &lookups, &committed, params, wl.log_n);
    b.algebraic = degrees * (-zkgrad_field::EXT_FIELD_BITS).exp2();
    b
}

/// The sum of the degrees of every algebraic check of a proof of `g` (see the module
/// documentation), as a float (it only enters a probability).
fn algebraic_degrees(
    g: &QGraph,
    lookups: &[Lookup],
    committed: &[bool],
    params: &PcsParams,
    witness_log_n: usize,
) -> f64 {
    let n_tensors = g.tensors.len();
    let log_size = |t: usize| g.tensors.get(t).map_or(0, |t| t.log_size()) as f64;
    // Per layer k: a degree-3 sumcheck of k rounds, the line point, and the combination of the
    // p and q claims.
    let gkr = |leaves_log: usize| -> f64 { (0..leaves_log).map(|k| 3.0 * k as f64 + 2.0).sum() };
    let mut deg = 0.0;
    // Claims pending on virtual tensors, by tensor.
    let mut pending = vec![0.0f64; n_tensors];
    let route = |pending: &mut Vec<f64>, t: usize, c: f64| {
        if let (Some(p), Some(tensor)) = (pending.get_mut(t), g.tensors.get(t)) {
            if tensor.kind == TensorKind::Virtual {
                *p += c;
            }
        }
    };
    // Lookups: LogUp over all looked-up values and table terms, and the GKRs.
    let k = g.config.table_bits;
    let tables = g.used_tables();
    let decomps = g.decompositions();
    let shape = |op: Operand| g.operand_tensor_in(op, &decomps);
    let reads: f64 = lookups.iter().map(|l| shape(l.a).len() as f64).sum();
    let per_table = crate::protocol::reads_per_table(g, lookups, &decomps);
    let table_terms: f64 = tables
        .iter()
        .map(|(ti, t)| {
            let size = (t.log_size(k) as f64).exp2();
            let read = per_table.get(*ti).copied().unwrap_or(0) as f64;
            if committed.get(*ti).copied().unwrap_or(false) {
                size
            } else {
                size.min(read)
            }
        })
        .sum();
    deg += reads + table_terms;
    let (values, entries) = crate::protocol::lookup_layouts(g, lookups, committed);
    deg += values
        .iter()
        .chain(&entries)
        .map(|t| gkr(t.log_n))
        .sum::<f64>();
    for l in lookups {
        for op in std::iter::once(l.a).chain(l.b) {
            if let Operand::Tensor(t) = op {
                route(&mut pending, t, 1.0);
            }
        }
    }
    for dec in &decomps {
        deg += shape(dec.a).log_size() as f64;
        if let Operand::Tensor(t) = dec.a {
            route(&mut pending, t, 1.0);
        }
    }
    if g.output_needs_claim() {
        deg += log_size(g.output);
        if let Some(p) = pending.get_mut(g.output) {
            *p += 1.0;
        }
    }
    for (ni, node) in g.nodes.iter().enumerate().rev() {
        let o = ni + 1;
        let c = pending.get(o).copied().unwrap_or(0.0);
        let cols = |t: usize| g.tensors.get(t).map_or(0, |t| t.log_cols()) as f64;
        let rows = |t: usize| g.tensors.get(t).map_or(0, |t| t.log_rows()) as f64;
        match &node.op {
            QOp::Requant { x, .. } => {
                // A fresh point, or (an update's virtual rounding) the points its claims came
                // with, whose identity the update's point already prices.
                if g.tensors
                    .get(o)
                    .is_some_and(|t| t.kind == TensorKind::Virtual)
                {
                    route(&mut pending, *x, c);
                } else {
                    deg += log_size(o);
                    route(&mut pending, *x, 1.0);
                }
            }
            QOp::Update { u, .. } => {
                deg += log_size(o);
                route(&mut pending, *u, 1.0);
            }
            QOp::Gemm { x, .. } => {
                deg += c * 3.0 * cols(*x);
                route(&mut pending, *x, c);
            }
            QOp::MatMul { a, b } => {
                deg += c * 3.0 * cols(*a);
                route(&mut pending, *a, c);
                if let zkgrad_circuit::MatRhs::Tensor(t) = b {
                    route(&mut pending, *t, c);
                }
            }
            QOp::Mul { a, b } => {
                deg += c * 3.0 * log_size(o);
                route(&mut pending, *a, c);
                route(&mut pending, *b, c);
            }
            QOp::Add { a, b } | QOp::Sub { a, b } => {
                route(&mut pending, *a, c);
                route(&mut pending, *b, c);
            }
            QOp::RowSum { x } => {
                deg += c * 2.0 * rows(*x);
                route(&mut pending, *x, c);
            }
            QOp::Gather { x, map } => {
                // A bit selection moves its claims with no check of its own.
                let selects = match (g.tensors.get(*x), g.tensors.get(o)) {
                    (Some(xt), Some(ot)) => map
                        .bit_selection((xt.rows, xt.cols), (ot.rows, ot.cols))
                        .is_some(),
                    _ => false,
                };
                if !selects {
                    deg += c * 2.0 * log_size(*x);
                }
                route(&mut pending, *x, c);
            }
            QOp::Conv { x, geom, .. } => {
                let lj = zkgrad_poly::log2_ceil(geom.j_len()) as f64;
                deg += c * 2.0 * (lj + log_size(*x));
                route(&mut pending, *x, c);
            }
            QOp::Transpose { x }
            | QOp::Broadcast { x }
            | QOp::AddConst { x, .. }
            | QOp::Scale { x, .. } => route(&mut pending, *x, c),
            QOp::BatchMatMul { a, b, .. } => {
                // Over the contraction and the batch variables (at most the output's rows).
                deg += c * 3.0 * (cols(*a) + rows(o));
                route(&mut pending, *a, c);
                route(&mut pending, *b, c);
            }
            QOp::Embed { w, .. } => {
                let lv = g
                    .weights
                    .get(*w)
                    .map_or(0, |w| zkgrad_poly::log2_ceil(w.rows)) as f64;
                deg += c * 2.0 * lv;
            }
            QOp::PickCol { x, .. } => {
                deg += c * 2.0 * log_size(*x);
                route(&mut pending, *x, c);
            }
            QOp::Act { .. }
            | QOp::Input { .. }
            | QOp::LogSumExp { .. }
            | QOp::Const { .. }
            | QOp::PrefixMask { .. }
            | QOp::ArgMax { .. } => {}
        }
    }
    // The batched openings' batching sumchecks (the witness; the packed weights).
    deg += 2.0 * witness_log_n as f64 + 1.0;
    if let Some(l) = crate::protocol::weight_packing(g, params) {
        deg += 2.0 * l.log_n as f64 + 1.0;
    }
    deg
}
