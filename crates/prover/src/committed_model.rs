//! The model's committed weights: one commitment per weight tensor (or one of them all
//! packed), computed once per model and reused by every proof.

use std::borrow::Cow;

use rayon::prelude::*;
use zkgrad_circuit::QGraph;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_pcs::{row_combination, PcsParams, ProverData};
use zkgrad_poly::log2_ceil;
use zkgrad_verifier::protocol::{
    commit_weights, weight_parts, weights_root, WeightLayout, WeightPart,
};

use crate::ops::col_combination;

/// The model's committed weights (one commitment per weight tensor), computed once per model
/// and reused by every proof.
pub struct CommittedModel {
    /// One commitment per weight tensor, or one of them all packed (`packing`).
    pub tensors: Vec<ProverData>,
    pub(crate) packing: Option<WeightLayout>,
    root: [u8; 32],
}

impl CommittedModel {
    pub fn new(g: &QGraph, params: &PcsParams) -> Self {
        // On a pool worker, like `prove`: the parallel loops start from a local queue.
        rayon::scope(|_| Self::from_parts(g, params, commit_weights(g, params)))
    }

    /// Commits `g`'s weights from their padded tables, `padded(wi)` (`2^log_size` values of
    /// weight `wi`): an honest committer pads with zeros ([`Self::new`]); the soundness tests
    /// model one who plants values in the padding.
    pub fn from_padded(g: &QGraph, params: &PcsParams, padded: &dyn Fn(usize) -> Vec<F>) -> Self {
        Self::from_parts(
            g,
            params,
            zkgrad_verifier::protocol::commit_weight_tables(g, params, padded),
        )
    }

    fn from_parts(
        g: &QGraph,
        params: &PcsParams,
        (tensors, packing): (Vec<ProverData>, Option<WeightLayout>),
    ) -> Self {
        let roots: Vec<[u8; 32]> = tensors.iter().map(|pd| pd.root).collect();
        Self {
            root: weights_root(g, &roots, params),
            packing,
            tensors,
        }
    }
    /// The weight commitment (a hash of the PCS roots and the tensors' shapes).
    pub fn root(&self) -> [u8; 32] {
        self.root
    }
    /// Weight tensor `wi`'s padded values: its own commitment's table, or — packed — its
    /// parts (`weight_parts`) gathered from the packed table into a padded copy (`rows × cols`
    /// the tensor's shape).
    #[allow(clippy::indexing_slicing)] // parts lie inside the padded shape
    pub fn weight_values(&self, wi: usize, rows: usize, cols: usize) -> Cow<'_, [F]> {
        let Some(parts) = self.parts(wi, rows, cols) else {
            return Cow::Borrowed(self.tensors.get(wi).map_or(&[], |pd| pd.values()));
        };
        let (lr, lc) = (log2_ceil(rows.max(1)), log2_ceil(cols.max(1)));
        let mut out = vec![F::ZERO; 1 << (lr + lc)];
        for (p, part) in parts {
            for (k, row) in part.chunks(1 << p.log_cols).enumerate() {
                let at = ((p.row0 + k) << lc) + p.col0;
                out[at..at + row.len()].copy_from_slice(row);
            }
        }
        Cow::Owned(out)
    }

    /// Weight tensor `wi`'s committed parts with their tables (`None` when it has its own
    /// commitment, not packed).
    #[allow(clippy::indexing_slicing)] // Prover side: the layout's blocks lie in the table
    fn parts(&self, wi: usize, rows: usize, cols: usize) -> Option<Vec<(WeightPart, &[F])>> {
        let (layout, pd) = (self.packing.as_ref()?, self.tensors.first()?);
        let parts = weight_parts(rows, cols)
            .into_iter()
            .enumerate()
            .filter_map(|(pi, p)| {
                let (log, block) = layout.find((wi, pi))?;
                Some((p, &pd.values()[block << log..(block + 1) << log]))
            })
            .collect();
        Some(parts)
    }

    /// `Σ_r weights[r] · W[r, ·]` over weight `wi`'s padded `rows × cols` values
    /// (`zkgrad_pcs::row_combination` of [`Self::weight_values`]), read from the committed parts
    /// in place: the padding is zero, so each part adds its rows into its columns. Packed,
    /// GPT-2 124M's layers gathered 2.2 GB of padded copies per proof instead.
    #[allow(clippy::indexing_slicing)] // parts lie inside the padded shape
    pub fn weight_row_combination(
        &self,
        wi: usize,
        rows: usize,
        cols: usize,
        weights: &[E],
    ) -> Vec<E> {
        let width = 1usize << log2_ceil(cols.max(1));
        let Some(parts) = self.parts(wi, rows, cols) else {
            return row_combination(&self.weight_values(wi, rows, cols), width, weights);
        };
        // Bands of rows of every part, in parallel, each task summing into an accumulator of
        // the output's width (the accumulators are added at the end).
        let band = |p: &WeightPart| (ROW_BAND >> p.log_cols).max(1);
        let jobs: Vec<(&WeightPart, &[F], usize)> = parts
            .iter()
            .flat_map(|(p, vals)| {
                (0..1usize << p.log_rows)
                    .step_by(band(p))
                    .map(move |k0| (p, *vals, k0))
            })
            .collect();
        jobs.par_iter()
            .fold(
                || vec![E::ZERO; width],
                |mut acc, &(p, vals, k0)| {
                    let w = 1usize << p.log_cols;
                    let k1 = (k0 + band(p)).min(1 << p.log_rows);
                    for k in k0..k1 {
                        let Some(&c) = weights.get(p.row0 + k) else {
                            continue;
                        };
                        if c == E::ZERO {
                            continue;
                        }
                        let out = &mut acc[p.col0..p.col0 + w];
                        for (o, &v) in out.iter_mut().zip(&vals[k * w..(k + 1) * w]) {
                            *o += c * v;
                        }
                    }
                    acc
                },
            )
            .reduce(
                || vec![E::ZERO; width],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            )
    }

    /// `out[r] = Σ_c weights[c] · W[r, c]` over weight `wi`'s padded `rows × cols` values
    /// (`2^⌈log rows⌉` entries), read from the committed parts in place like
    /// [`Self::weight_row_combination`].
    #[allow(clippy::indexing_slicing)] // parts lie inside the padded shape
    pub fn weight_col_combination(
        &self,
        wi: usize,
        rows: usize,
        cols: usize,
        weights: &[E],
    ) -> Vec<E> {
        let width = 1usize << log2_ceil(cols.max(1));
        let Some(parts) = self.parts(wi, rows, cols) else {
            return col_combination(&self.weight_values(wi, rows, cols), width, weights);
        };
        let mut out = vec![E::ZERO; 1 << log2_ceil(rows.max(1))];
        for (p, vals) in &parts {
            let w = weights.get(p.col0..).unwrap_or_default();
            let part = col_combination(vals, 1 << p.log_cols, w);
            for (o, v) in out[p.row0..].iter_mut().zip(part) {
                *o += v;
            }
        }
        out
    }
}

/// Entries per parallel job of [`CommittedModel::weight_row_combination`].
const ROW_BAND: usize = 1 << 16;
