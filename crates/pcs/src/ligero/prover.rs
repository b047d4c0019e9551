//! The Ligero prover: the commitment (rows encoded by a DFT, columns hashed into a Merkle tree)
//! and the opening at one or more points.

use p3_dft::{Radix2DFTSmallBatch, TwoAdicSubgroupDft};
use p3_matrix::dense::RowMajorMatrix;
use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::eq_table;
use zkgrad_transcript::{Challenger, ProverTranscript};

use super::clear_root;
use crate::{whir, Digest, Layout, MerkleTree, PcsParams};

/// Everything the prover keeps between commit and open.
pub struct ProverData {
    pub layout: Layout,
    /// The committed values, unless WHIR holds them ([`ProverData::values`]).
    pub(crate) values: Vec<F>,
    /// Encoded matrix, one leaf (a column of `2^log_rows` values) per row of this matrix.
    pub(crate) leaves: Vec<F>,
    pub(crate) tree: Option<MerkleTree>,
    pub(crate) whir: Option<whir::WhirData>,
    pub root: Digest,
}

impl ProverData {
    /// The committed values, `2^log_n` of them.
    pub fn values(&self) -> &[F] {
        match &self.whir {
            Some(wd) => wd.values(),
            None => &self.values,
        }
    }
}

/// Commits to `values` (padded with zeros to `2^log_n`).
pub fn commit(values: Vec<F>, log_n: usize, params: &PcsParams) -> ProverData {
    commit_used(values, log_n, 1 << log_n, params)
}

/// Commits to `values` (padded with zeros to `2^log_n`), of which only the first `used` may be
/// nonzero ([`Layout::choose_used`]); the verifier must be given the same `used`.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn commit_used(
    mut values: Vec<F>,
    log_n: usize,
    used: usize,
    params: &PcsParams,
) -> ProverData {
    assert!(values.len() <= 1 << log_n, "table larger than 2^log_n");
    values.resize(1 << log_n, F::ZERO);
    let layout = Layout::choose_used(log_n, used, params);
    debug_assert!(
        values[layout.used..].iter().all(|v| *v == F::ZERO),
        "values past the used prefix"
    );
    if layout.clear {
        let root = clear_root(log_n, &values);
        return ProverData {
            layout,
            values,
            leaves: Vec::new(),
            tree: None,
            whir: None,
            root,
        };
    }
    let b = layout.log_cols;
    let width = layout.rows;
    let height = 1usize << (b + params.log_inv_rate);
    // Column-major DFT input: entry [i][row] = M[row][i] for the committed rows; zero rows
    // above 2^b. Zeroed by both threads (the fresh pages' faults are much of the cost).
    let mut mat: Vec<F> = (0..height * width)
        .into_par_iter()
        .with_min_len(1 << 16)
        .map(|_| F::ZERO)
        .collect();
    // Transposed in blocks of `TILE` columns, so that each row's values are read in runs.
    const TILE: usize = 64;
    let tile = TILE.min(1 << b);
    mat.par_chunks_mut(width * tile)
        .take((1 << b) / tile)
        .enumerate()
        .for_each(|(blk, out)| {
            let i0 = blk * tile;
            for row in 0..width {
                let src = &values[(row << b) + i0..(row << b) + i0 + tile];
                for (ii, v) in src.iter().enumerate() {
                    out[ii * width + row] = *v;
                }
            }
        });
    let dft = Radix2DFTSmallBatch::<F>::default();
    let leaves = dft.dft_batch(RowMajorMatrix::new(mat, width)).values;
    let tree = MerkleTree::new(&leaves, width);
    let root = tree.root();
    ProverData {
        layout,
        values,
        leaves,
        tree: Some(tree),
        whir: None,
        root,
    }
}

/// `Σ_row weights[row] · M[row, ·]` for a row-major matrix `M` with `cols` columns, walking `M`
/// in memory order (each thread owns a band of columns).
pub fn row_combination(m: &[F], cols: usize, weights: &[E]) -> Vec<E> {
    let chunk = 512.min(cols).max(1);
    let mut out = vec![E::ZERO; cols];
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(ci, band)| {
            let c0 = ci * chunk;
            for (row, &w) in weights.iter().enumerate() {
                if w == E::ZERO {
                    continue;
                }
                let Some(src) = m.get(row * cols + c0..row * cols + c0 + band.len()) else {
                    continue;
                };
                for (o, &v) in band.iter_mut().zip(src) {
                    *o += w * v;
                }
            }
        });
    out
}

/// [`row_combination`] for several weight vectors in one pass over `M` (each value is read
/// once for all of them): `out[k] = Σ_row weights[k][row] · M[row, ·]`.
pub fn row_combinations(m: &[F], cols: usize, weights: &[&[E]]) -> Vec<Vec<E>> {
    let chunk = 512.min(cols).max(1);
    let n_rows = weights.iter().map(|w| w.len()).max().unwrap_or(0);
    let bands: Vec<Vec<Vec<E>>> = (0..cols.div_ceil(chunk))
        .into_par_iter()
        .map(|ci| {
            let c0 = ci * chunk;
            let len = chunk.min(cols - c0);
            let mut acc = vec![vec![E::ZERO; len]; weights.len()];
            for row in 0..n_rows {
                let Some(src) = m.get(row * cols + c0..row * cols + c0 + len) else {
                    continue;
                };
                for (w, out) in weights.iter().zip(acc.iter_mut()) {
                    let Some(&w) = w.get(row) else { continue };
                    if w == E::ZERO {
                        continue;
                    }
                    for (o, &v) in out.iter_mut().zip(src) {
                        *o += w * v;
                    }
                }
            }
            acc
        })
        .collect();
    let mut out: Vec<Vec<E>> = vec![Vec::with_capacity(cols); weights.len()];
    for band in bands {
        for (o, b) in out.iter_mut().zip(band) {
            o.extend(b);
        }
    }
    out
}

/// Opens the committed table at `point` (the value itself is the caller's claim).
pub fn open(pd: &ProverData, point: &[E], params: &PcsParams, t: &mut ProverTranscript) {
    open_multi(pd, &[point.to_vec()], params, t)
}

/// Opens the committed table at several points with one set of column queries: one random
/// combination `u_r`, one `u_z` per point, every queried column checked against all of them.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn open_multi(
    pd: &ProverData,
    points: &[Vec<E>],
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    let layout = pd.layout;
    assert!(!layout.whir, "a WHIR commitment is opened by prove_batch");
    if layout.clear {
        t.write_fs(b"pcs/clear", &pd.values);
        return;
    }
    let b = layout.log_cols;
    let rows = layout.rows;
    let cols = 1usize << b;
    let r = t.challenge_vec(b"pcs/r", rows);
    // u_r and every u_z in one pass over the table.
    let eq_his: Vec<Vec<E>> = points
        .iter()
        .map(|point| {
            let mut eq_hi = eq_table(&point[b..]);
            eq_hi.truncate(rows);
            eq_hi
        })
        .collect();
    let mut weights: Vec<&[E]> = vec![&r];
    weights.extend(eq_his.iter().map(|e| e.as_slice()));
    let combos = row_combinations(&pd.values, cols, &weights);
    t.write_es(b"pcs/u_r", &combos[0]);
    for u_z in &combos[1..] {
        t.write_es(b"pcs/u_z", u_z);
    }
    let n_leaves = 1usize << (b + params.log_inv_rate);
    let Some(tree) = pd.tree.as_ref() else {
        unreachable!("Ligero layout always has a tree")
    };
    for _ in 0..params.n_queries {
        let j = t.challenge_index(b"pcs/query", n_leaves);
        t.write_fs(b"pcs/column", &pd.leaves[j * rows..(j + 1) * rows]);
        for d in tree.path(j) {
            t.write_digest(b"pcs/path", &d);
        }
    }
}
