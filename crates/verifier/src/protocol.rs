//! What both sides compute from public data: the protocol id, the weight commitment, and the
//! MLEs of public tensors and padding indicators. Computing the weight commitment from the
//! weights (`commit_weights`, `commit_weights_root`) takes the PCS's prover side: it is built
//! with the `commit` feature.

use zkgrad_circuit::index_map::BitSource;
use zkgrad_circuit::layout::{Decomposition, Lookup, PackedLayout};
use zkgrad_circuit::{QGraph, QTensor};
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_pcs::{Digest, Layout, PcsParams};
use zkgrad_poly::{eval_mle_base, prefix_indicator_eval};

#[cfg(feature = "commit")]
mod commit;
#[cfg(feature = "commit")]
pub use commit::{commit_weight_tables, commit_weights, commit_weights_root};

/// Domain tag of the weight commitment. Bump it whenever the weight commitment changes (layout,
/// PCS, hashing): it also keys the CLI's cache of weight roots.
pub const WEIGHTS_DOMAIN: &[u8] = b"zkgrad/weights/v5";

/// Weight tensor `wi`'s padded values as field elements, and its number of variables.
pub fn weight_values(g: &QGraph, wi: usize) -> (Vec<F>, usize) {
    match g.weights.get(wi) {
        Some(w) => {
            let t = w.as_tensor();
            (
                t.pad(&w.data).into_iter().map(f_from_i64).collect(),
                t.log_size(),
            )
        }
        None => (vec![F::ZERO], 0),
    }
}

/// Where each weight tensor's parts lie in a packed weight commitment: `((weight index, part),
/// log size, block index)` in aligned blocks, largest first; the parts are
/// [`weight_parts`].
pub type WeightLayout = PackedLayout<(usize, usize)>;

/// One power-of-two rectangle of a weight tensor's real entries: rows `row0..row0 + 2^log_rows`,
/// columns `col0..col0 + 2^log_cols` (`row0` a multiple of `2^log_rows`, `col0` of
/// `2^log_cols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightPart {
    pub row0: usize,
    pub log_rows: usize,
    pub col0: usize,
    pub log_cols: usize,
}

impl WeightPart {
    pub fn log_size(&self) -> usize {
        self.log_rows + self.log_cols
    }
}

/// The parts a packed weight commitment stores of an `rows × cols` tensor: its real entries
/// cut into power-of-two rectangles by the binary digits of `rows` and `cols`
/// (`768 = 512 + 256`), largest first. Only these are committed, so the tensor's padding —
/// up to 2^⌈log rows⌉ × 2^⌈log cols⌉ — is zero by construction and takes no room: GPT-2 124M's
/// weights fill 2^27 values instead of 2^28.
pub fn weight_parts(rows: usize, cols: usize) -> Vec<WeightPart> {
    let digits = |n: usize| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        for bit in (0..usize::BITS as usize).rev() {
            if (n >> bit) & 1 == 1 {
                out.push((start, bit));
                start += 1 << bit;
            }
        }
        out
    };
    let mut parts = Vec::new();
    for &(row0, log_rows) in &digits(rows.max(1)) {
        for &(col0, log_cols) in &digits(cols.max(1)) {
            parts.push(WeightPart {
                row0,
                log_rows,
                col0,
                log_cols,
            });
        }
    }
    parts
}

/// A claim `W̃(point) = Σ_parts coef_p · W̃_p(local_p)` on a `rows × cols` weight tensor's
/// padded MLE (`point` = column variables, then row variables), split over its
/// [`weight_parts`] with the padding zero: part `p` gets its own variables of `point`
/// (`local_p`: its low column then low row variables) and `coef_p = eq(high column variables,
/// col0 / 2^log_cols) · eq(high row variables, row0 / 2^log_rows)`. `None` when `point` has
/// not the tensor's number of variables.
#[allow(clippy::indexing_slicing)] // a part has at most the tensor's variables (weight_parts)
pub fn split_weight_claim(rows: usize, cols: usize, point: &[E]) -> Option<Vec<(Vec<E>, E)>> {
    let (lr, lc) = (
        zkgrad_poly::log2_ceil(rows.max(1)),
        zkgrad_poly::log2_ceil(cols.max(1)),
    );
    if point.len() != lr + lc {
        return None;
    }
    let (pc, pr) = point.split_at(lc);
    Some(
        weight_parts(rows, cols)
            .into_iter()
            .map(|p| {
                let mut local = pc[..p.log_cols].to_vec();
                local.extend_from_slice(&pr[..p.log_rows]);
                let coef = zkgrad_poly::eq_at_index(&pc[p.log_cols..], p.col0 >> p.log_cols)
                    * zkgrad_poly::eq_at_index(&pr[p.log_rows..], p.row0 >> p.log_rows);
                (local, coef)
            })
            .collect(),
    )
}

/// How `g`'s weights are committed: `Some(layout)` for one commitment of all of them packed in
/// aligned blocks (its claims batched into one opening), `None` for one commitment per tensor.
///
/// Packed when the circuit updates no weight (a training step's updated tensors replace their
/// own roots, so steps chain per tensor) and either more than [`MAX_SEPARATE_OPENINGS`]
/// tensors would be opened separately, or one opening of the packed table is at most half
/// the bytes of the per-tensor openings: Ligero's openings grow as √n per commitment, so a
/// model of many large tensors (a deep CNN) gains several times, while a few large matrices (a
/// dense net, ~1.5×) keep their separate openings, which are several times cheaper to prove
/// than the packed table's batched one. A deterministic function of `g`'s shapes and `params`.
pub fn weight_packing(g: &QGraph, params: &PcsParams) -> Option<WeightLayout> {
    if !g.updates().is_empty() || g.weights.is_empty() {
        return None;
    }
    if g.weights.len() < 2 && params.whir.is_none() {
        return None;
    }
    let logs: Vec<usize> = g.weights.iter().map(|w| w.as_tensor().log_size()).collect();
    let separate: usize = logs
        .iter()
        .map(|&log| Layout::choose(log, params).opening_bytes(params))
        .sum();
    // Each separate Ligero opening adds its error to the proof's soundness budget
    // (crate::soundness): beyond MAX_SEPARATE_OPENINGS of them, the weights are packed.
    let openings = logs
        .iter()
        .filter(|&&log| !Layout::choose(log, params).clear)
        .count();
    let items: Vec<((usize, usize), usize)> = g
        .weights
        .iter()
        .enumerate()
        .flat_map(|(wi, w)| {
            weight_parts(w.rows, w.cols)
                .into_iter()
                .enumerate()
                .map(move |(pi, p)| ((wi, pi), p.log_size()))
        })
        .collect();
    let layout = WeightLayout::pack(items);
    // One opening plus its batching sumcheck (degree 2: two extension elements a round).
    let packed = Layout::choose_batched(layout.log_n, layout.used(), params).opening_bytes(params)
        + 2 * 16 * layout.log_n;
    (2 * packed <= separate || openings > MAX_SEPARATE_OPENINGS).then_some(layout)
}

/// The most weight tensors a circuit that updates none opens separately (with Ligero's
/// default 160 queries, 32 openings cost 2^-103.5 of the soundness budget).
pub const MAX_SEPARATE_OPENINGS: usize = 32;

/// The weight commitment: the PCS roots (one per weight tensor, or the packed table's), hashed
/// together with the tensors' shapes and the scheme.
pub fn weights_root(g: &QGraph, roots: &[Digest], params: &PcsParams) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(WEIGHTS_DOMAIN);
    // The scheme whose roots these are: a root is only ever read as the scheme it was made by.
    h.update(&params.to_bytes());
    // Named by the layout itself (one packed tensor has one root too): each tensor's
    // power-of-two parts (`weight_parts`), without its padding, or one table per tensor.
    h.update(if weight_packing(g, params).is_some() {
        b"packed-parts".as_slice()
    } else {
        b"per-tensor".as_slice()
    });
    h.update(&(roots.len() as u64).to_le_bytes());
    h.update(&(g.weights.len() as u64).to_le_bytes());
    for w in &g.weights {
        h.update(&(w.rows as u64).to_le_bytes());
        h.update(&(w.cols as u64).to_le_bytes());
    }
    for r in roots {
        h.update(r);
    }
    *h.finalize().as_bytes()
}

/// The protocol id: a hash of every parameter that shapes the proof — field, PCS parameters,
/// the quantized circuit (graph, shapes, scales, tables), the weight commitment and the public
/// data's sizes. The public values themselves are absorbed first thing in the transcript.
pub fn protocol_id(g: &QGraph, params: &PcsParams, weight_root: &Digest) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"zkgrad/protocol/v2");
    h.update(b"field=goldilocks;ext=binomial2(x^2-7)");
    h.update(&params.to_bytes());
    {
        use zkgrad_circuit::layout as l;
        // The limb rule (the width itself is a function of the circuit, hashed below).
        h.update(
            &format!(
                "limbs={}|{} from 2^{} wide reads/{}",
                l::NARROW_LIMB_BITS,
                l::WIDE_LIMB_BITS,
                l::WIDE_LIMB_FROM_LOG,
                l::LIMB_MIN_LEN
            )
            .into_bytes(),
        );
    }
    h.update(&g.describe());
    h.update(WEIGHTS_DOMAIN);
    h.update(weight_root);
    *h.finalize().as_bytes()
}

/// Bytes of public integers as absorbed by the transcript.
pub fn public_bytes(vals: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * vals.len() + 8);
    out.extend_from_slice(&(vals.len() as u64).to_le_bytes());
    for v in vals {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// MLE of a public tensor's padded values at `point`.
pub fn eval_public(t: &QTensor, vals: &[i64], point: &[E]) -> E {
    let padded: Vec<F> = t.pad(vals).into_iter().map(f_from_i64).collect();
    eval_mle_base(&padded, point)
}

/// MLE of the indicator of a tensor's real (unpadded) entries.
pub fn real_indicator(t: &QTensor, point: &[E]) -> E {
    let (lo, hi) = point.split_at(t.log_cols().min(point.len()));
    prefix_indicator_eval(t.cols, lo) * prefix_indicator_eval(t.rows, hi)
}

/// The point `s(r)` of a bit selection ([`zkgrad_circuit::index_map::IndexMap::bit_selection`]):
/// each variable of `x̃` takes the output point's variable it routes, or its constant bit. A
/// variable beyond `r` (a point of the wrong length, which the verifier refuses before) reads 0.
pub fn selected_point(sel: &[BitSource], r: &[E]) -> Vec<E> {
    sel.iter()
        .map(|s| match *s {
            BitSource::Out(v) => r.get(v).copied().unwrap_or(E::ZERO),
            BitSource::Const(c) => E::from(F::from_bool(c)),
        })
        .collect()
}

/// `2^k` in the extension.
pub fn pow2(k: u32) -> E {
    E::from(F::from_u64(1u64 << k))
}

/// The two sides of the lookups, each a forest of fractional-sum GKR trees (both schemes;
/// Ligero proofs commit no multiplicities, so they have no table side).
///
/// LogUp with a table column (Haböck 2022, §2, a multi-column lookup): value `v` of a lookup
/// into table `T` reads the row `(T, v)`, folded as `v + δ·T` with `v = a + offset + γ·b`. All
/// values lie in their tables iff, at a random `α` (drawn with `γ` and `δ` after the witness
/// commitment, which holds every `a`, `b` and every committed multiplicity `m_T`),
///
/// `Σ_lookups Σ_i ind_i/(α − δT − v_i)  =  Σ_T Σ_j m_T[j]/(α − δT − t_T[j])`.
///
/// Each side's leaves pack the lookups (the tables) in aligned blocks, largest first, with no
/// padding ([`PackedLayout::pack_exact`]): one tree per bit of the side's total size, each
/// proved by its own GKR (`zkgrad-lookup`), whose root fractions add up to the side's sum. In a
/// tree of `2^L` leaves, block `k` of `2^s` leaves starts at `blk·2^s`; at the GKR's final
/// point `z = (z_lo ‖ z_hi)` with `|z_lo| = s`, a block's leaves contribute through its
/// selector `sel_k = eq(z_hi, bits(blk))` (`zkgrad_poly::eq_at_index`):
///
/// `p̃(z) = Σ_k sel_k·p̃_k(z_lo)`, `q̃(z) = Σ_k sel_k·q̃_k(z_lo) + (1 − Σ_k sel_k)`,
///
/// where for a lookup `p̃_k` is its shape's indicator ([`real_indicator`]) and
/// `q̃_k = α − δT − offset − ã(z_lo) − γ·b̃(z_lo)` (the constants' MLE over a whole block is
/// 1); for a table `p̃_k = m̃_T(z_lo)` and `q̃_k = α − δT − t̃_T(z_lo)`
/// (`TableKind::mle`). (The `1 − Σ sel` term stands for leaves outside every block, `p = 0`,
/// `q = 1`; an exact packing has none, and the term is then zero as a polynomial.) The prover
/// sends `ã, b̃, m̃` at their `z_lo`; they become claims on the witness. Value side, then
/// table side: `(lookup trees, committed-table trees)`. Tables whose multiplicities are sent
/// in clear ([`committed_tables`]) are summed by the verifier itself and have no leaves; with
/// none committed there is no table-side tree.
pub fn lookup_layouts(
    g: &QGraph,
    lookups: &[Lookup],
    committed: &[bool],
) -> (Vec<PackedLayout<usize>>, Vec<PackedLayout<usize>>) {
    let k = g.config.table_bits;
    let decomps = g.decompositions();
    let values = PackedLayout::pack_exact(
        lookups
            .iter()
            .enumerate()
            .map(|(li, l)| (li, g.operand_tensor_in(l.a, &decomps).log_size()))
            .collect(),
    );
    let tables = PackedLayout::pack_exact(
        g.used_tables()
            .iter()
            .filter(|(ti, _)| committed.get(*ti).copied().unwrap_or(false))
            .map(|(ti, t)| (*ti, t.log_size(k) as usize))
            .collect(),
    );
    (values, tables)
}

/// Which used tables have their multiplicities committed in the witness (proved by the
/// table-side GKR) rather than sent in clear: a table that could have `2^commit_mults_from`
/// entries or more read (`min(2^bits, reads)`; ~2 bytes each in clear, 2^12 by default) and
/// is at most `2^commit_mults_ratio` times its reads (4 by default: its committed block and
/// table-side leaves cost the prover at most that many times the values it serves — a wide
/// range table of a small tensor, up to 2^62 entries, stays clear). Never with Ligero. Indexed by used table; a deterministic
/// function of the circuit and `params`.
pub fn committed_tables(g: &QGraph, lookups: &[Lookup], params: &PcsParams) -> Vec<bool> {
    let tables = g.used_tables();
    let Some(w) = &params.whir else {
        return vec![false; tables.len()];
    };
    let k = g.config.table_bits;
    let reads = reads_per_table(g, lookups, &g.decompositions());
    tables
        .iter()
        .map(|(ti, table)| {
            let reads = reads.get(*ti).copied().unwrap_or(0);
            let size = 1u128 << table.log_size(k).min(100);
            size.min(reads as u128) >= 1u128 << w.commit_mults_from.min(100)
                && size <= (reads as u128) << w.commit_mults_ratio.min(60)
        })
        .collect()
}

/// How many values the lookups read from used table `ti`.
pub fn table_reads(g: &QGraph, lookups: &[Lookup], ti: usize) -> usize {
    reads_per_table(g, lookups, &g.decompositions())
        .get(ti)
        .copied()
        .unwrap_or(0)
}

/// [`table_reads`] of every used table, in one pass over the lookups (`decomps`: the
/// circuit's decompositions, which give the limbs' shapes).
pub fn reads_per_table(g: &QGraph, lookups: &[Lookup], decomps: &[Decomposition]) -> Vec<usize> {
    let mut reads = Vec::new();
    for l in lookups {
        if reads.len() <= l.table {
            reads.resize(l.table + 1, 0);
        }
        if let Some(r) = reads.get_mut(l.table) {
            *r += g.operand_tensor_in(l.a, decomps).len();
        }
    }
    reads
}

/// `Σ_T min(2^bits_T, reads_T)`: how many table entries the lookups could read, a bound on the
/// clear multiplicities' length.
fn readable_entries(g: &QGraph, lookups: &[Lookup]) -> usize {
    let k = g.config.table_bits;
    let reads = reads_per_table(g, lookups, &g.decompositions());
    g.used_tables()
        .iter()
        .map(|(ti, table)| {
            reads
                .get(*ti)
                .copied()
                .unwrap_or(0)
                .min(1usize << table.log_size(k).min(40))
        })
        .sum()
}

/// The table column's value for used table `ti`.
pub fn table_id(ti: usize) -> E {
    E::from(F::from_u64(ti as u64 + 1))
}

/// The proof size above which [`auto_scheme`] picks WHIR.
pub const AUTO_WHIR_ABOVE_BYTES: usize = 2 << 20;

/// The scheme `zkgrad prove` and `commit` use by default for `g`: Ligero (the fastest
/// prover) unless its proof is estimated above [`AUTO_WHIR_ABOVE_BYTES`]
/// ([`ligero_proof_bytes`]), then WHIR, whose openings and committed multiplicities keep a deep CNN's
/// proof near 400 KB for a few seconds more of proving. A deterministic function of `g`.
pub fn auto_scheme(g: &QGraph) -> zkgrad_pcs::Scheme {
    if ligero_proof_bytes(g) > AUTO_WHIR_ABOVE_BYTES {
        zkgrad_pcs::Scheme::Whir
    } else {
        zkgrad_pcs::Scheme::Ligero
    }
}

/// An estimate of the bytes of `g`'s proof with Ligero, from shapes alone: the witness and
/// weight openings exactly as their layouts size them, each table's clear multiplicities at
/// two bytes per entry that could be read (`min(2^bits, reads)`), each tree of the lookups'
/// forest at ~27·m² bytes for `2^m` values (measured: 6.8 KB at 2^16), and each lookup's
/// values at its tree's point.
pub fn ligero_proof_bytes(g: &QGraph) -> usize {
    let params = PcsParams::default();
    let wl = g.witness_layout();
    let witness = Layout::choose_used(wl.log_n, wl.used(), &params).opening_bytes(&params);
    let weights = match weight_packing(g, &params) {
        Some(l) => Layout::choose_batched(l.log_n, l.used(), &params).opening_bytes(&params),
        None => g
            .weights
            .iter()
            .map(|w| Layout::choose(w.as_tensor().log_size(), &params).opening_bytes(&params))
            .sum(),
    };
    let lookups = g.lookups();
    let mults = 2 * readable_entries(g, &lookups);
    let (trees, _) = lookup_layouts(g, &lookups, &[]);
    let gkrs: usize = trees.iter().map(|t| 27 * t.log_n * t.log_n).sum();
    // Each lookup's a (and b) at its tree's point: one extension element each.
    let values: usize = lookups
        .iter()
        .map(|l| 16 * (1 + usize::from(l.b.is_some())))
        .sum();
    witness + weights + mults + gkrs + values
}
