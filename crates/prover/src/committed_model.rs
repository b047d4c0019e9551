//! The model's committed weights: one commitment per weight tensor (or one of them all
//! packed), computed once per model and reused by every proof.

use std::borrow::Cow;

use zkgrad_circuit::QGraph;
use zkgrad_field::{PrimeCharacteristicRing, F};
use zkgrad_pcs::{PcsParams, ProverData};
use zkgrad_poly::log2_ceil;
use zkgrad_verifier::protocol::{commit_weights, weight_parts, weights_root, WeightLayout};

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
        Self::from_parts(g, params, commit_weights(g, params))
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
    #[allow(clippy::indexing_slicing)] // Prover side: the layout's blocks lie in the table
    pub fn weight_values(&self, wi: usize, rows: usize, cols: usize) -> Cow<'_, [F]> {
        match (&self.packing, self.tensors.first()) {
            (Some(layout), Some(pd)) => {
                let (lr, lc) = (log2_ceil(rows.max(1)), log2_ceil(cols.max(1)));
                let mut out = vec![F::ZERO; 1 << (lr + lc)];
                for (pi, p) in weight_parts(rows, cols).iter().enumerate() {
                    let Some((log, block)) = layout.find((wi, pi)) else {
                        continue;
                    };
                    let part = &pd.values()[block << log..(block + 1) << log];
                    for (k, row) in part.chunks(1 << p.log_cols).enumerate() {
                        let at = ((p.row0 + k) << lc) + p.col0;
                        out[at..at + row.len()].copy_from_slice(row);
                    }
                }
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(self.tensors.get(wi).map_or(&[], |pd| pd.values())),
        }
    }
}
