//! The model's committed weights: one commitment per weight tensor (or one of them all
//! packed), computed once per model and reused by every proof.

use zkgrad_circuit::QGraph;
use zkgrad_field::F;
use zkgrad_pcs::{PcsParams, ProverData};
use zkgrad_verifier::protocol::{commit_weights, weights_root, WeightLayout};

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
    /// Weight tensor `wi`'s padded values.
    #[allow(clippy::indexing_slicing)] // Prover side: the layout's blocks lie in the table
    pub fn weight_values(&self, wi: usize) -> &[F] {
        match (&self.packing, self.tensors.first()) {
            (Some(layout), Some(pd)) => match layout.find(wi) {
                Some((log, block)) => &pd.values()[block << log..(block + 1) << log],
                None => &[],
            },
            _ => self.tensors.get(wi).map_or(&[], |pd| pd.values()),
        }
    }
}
