//! Computing the weight commitment from the weights: the PCS commitments of the weight tables
//! (the PCS's prover side), built with the `commit` feature. A verifier given the weight root
//! does not need it; one that recomputes the root from a model does.

use zkgrad_circuit::QGraph;
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, F};
use zkgrad_pcs::{Digest, PcsParams};

use super::{weight_packing, weight_parts, weight_values, weights_root, WeightLayout, WeightPart};

/// The packed table of [`weight_packing`]'s layout (its used prefix; the rest is zero): each
/// weight tensor's [`weight_parts`], row-major, read from its padded values (`2^log_cols` per
/// row).
#[allow(clippy::indexing_slicing)] // parts lie inside their tensor, blocks inside the prefix
fn packed_weight_values(
    g: &QGraph,
    layout: &WeightLayout,
    values: &dyn Fn(usize) -> Vec<F>,
) -> Vec<F> {
    // Zeroed by the allocator (pages first written below, not filled with zeros first), and
    // with room for the commitment's padding to `2^log_n`, which then extends it in place.
    let mut table = F::zero_vec(1 << layout.log_n);
    table.truncate(layout.used());
    let mut current: Option<(usize, Vec<F>, Vec<WeightPart>)> = None;
    for &((wi, pi), log, block) in &layout.blocks {
        if current.as_ref().is_none_or(|c| c.0 != wi) {
            let w = &g.weights[wi];
            current = Some((wi, values(wi), weight_parts(w.rows, w.cols)));
        }
        let Some((_, vals, parts)) = &current else {
            continue;
        };
        let (p, lc) = (parts[pi], zkgrad_poly::log2_ceil(g.weights[wi].cols.max(1)));
        let mut off = block << log;
        for r in p.row0..p.row0 + (1 << p.log_rows) {
            let from = (r << lc) + p.col0;
            let n = 1 << p.log_cols;
            if let Some(src) = vals.get(from..from + n) {
                table[off..off + n].copy_from_slice(src);
            }
            off += n;
        }
    }
    table
}

/// [`packed_weight_values`] of the honest weights, read from each tensor's unpadded rows
/// (`g.weights[wi].data`, `rows × cols` row-major) instead of a padded copy: the packed table
/// holds only real entries. GPT-2 124M's padded copies were 2 × 1.5 GB of the one-time
/// commitment's allocations (a padded `i64` table, then its field values).
#[allow(clippy::indexing_slicing)] // parts lie inside their tensor, blocks inside the prefix
fn packed_weight_values_direct(g: &QGraph, layout: &WeightLayout) -> Vec<F> {
    use rayon::prelude::*;
    // Zeroed by the allocator (pages first written below, not filled with zeros first), and
    // with room for the commitment's padding to `2^log_n`, which then extends it in place.
    let mut table = F::zero_vec(1 << layout.log_n);
    table.truncate(layout.used());
    // Each block's slice of the table, in table order, then filled in parallel: the table's
    // pages are first touched here (GPT-2 124M: 1 GB, faulted in on one core took 0.5–1.5 s).
    let mut blocks: Vec<(usize, usize, usize, usize)> = layout
        .blocks
        .iter()
        .map(|&((wi, pi), log, block)| (block << log, 1usize << log, wi, pi))
        .collect();
    blocks.sort_unstable_by_key(|b| b.0);
    let mut slices = Vec::with_capacity(blocks.len());
    let (mut rest, mut at) = (&mut table[..], 0);
    for (start, len, wi, pi) in blocks {
        let (_, from_start) = rest.split_at_mut(start - at);
        let (block, tail) = from_start.split_at_mut(len);
        slices.push((block, wi, pi));
        (rest, at) = (tail, start + len);
    }
    slices.into_par_iter().for_each(|(block, wi, pi)| {
        let w = &g.weights[wi];
        let p = weight_parts(w.rows, w.cols)[pi];
        let n = 1 << p.log_cols;
        for (r, out) in (p.row0..).zip(block.chunks_mut(n)) {
            let from = r * w.cols + p.col0;
            if let Some(src) = w.data.get(from..from + n) {
                for (o, &v) in out.iter_mut().zip(src) {
                    *o = f_from_i64(v);
                }
            }
        }
    });
    table
}

/// Commits `g`'s weights (the one-time, per-model work): one commitment per tensor, or one of
/// the packed table, whose layout comes back with it ([`weight_packing`]).
pub fn commit_weights(
    g: &QGraph,
    params: &PcsParams,
) -> (Vec<zkgrad_pcs::ProverData>, Option<WeightLayout>) {
    if let Some(layout) = weight_packing(g, params) {
        let table = packed_weight_values_direct(g, &layout);
        let pd = zkgrad_pcs::commit_batched(table, layout.log_n, layout.used(), params);
        return (vec![pd], Some(layout));
    }
    commit_weight_tables(g, params, &|wi| weight_values(g, wi).0)
}

/// [`commit_weights`] of the padded tables `values(wi)` (`2^log_size` values each). Committed
/// per tensor, the weights' padding is whatever the committer puts there, which the protocol
/// never reads (every contraction over a padded index is masked); packed, only the real
/// entries are committed ([`super::weight_parts`]) and the padding is zero. The soundness tests
/// commit planted padding with it.
pub fn commit_weight_tables(
    g: &QGraph,
    params: &PcsParams,
    values: &dyn Fn(usize) -> Vec<F>,
) -> (Vec<zkgrad_pcs::ProverData>, Option<WeightLayout>) {
    if let Some(layout) = weight_packing(g, params) {
        let table = packed_weight_values(g, &layout, values);
        let pd = zkgrad_pcs::commit_batched(table, layout.log_n, layout.used(), params);
        return (vec![pd], Some(layout));
    }
    let per_tensor = g
        .weights
        .iter()
        .enumerate()
        .map(|(wi, w)| zkgrad_pcs::commit(values(wi), w.as_tensor().log_size(), params))
        .collect();
    (per_tensor, None)
}

/// The weight root of `g`, computed from its weights.
pub fn commit_weights_root(g: &QGraph, params: &PcsParams) -> Digest {
    let roots: Vec<Digest> = commit_weights(g, params)
        .0
        .iter()
        .map(|pd| pd.root)
        .collect();
    weights_root(g, &roots, params)
}
