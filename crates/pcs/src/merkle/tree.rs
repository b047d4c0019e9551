//! The tree the prover builds over its encoded columns, and the paths it sends.
#![allow(clippy::indexing_slicing)] // prover-side construction over its own layers

use rayon::prelude::*;
use zkgrad_field::F;

use super::{hash_leaf, hash_node};
use crate::Digest;

/// Layers from the leaf hashes (layer 0) to the root.
pub struct MerkleTree {
    layers: Vec<Vec<Digest>>,
}

impl MerkleTree {
    /// `leaves` holds `n` leaves of `width` values each, `n` a power of two.
    pub fn new(leaves: &[F], width: usize) -> Self {
        let first: Vec<Digest> = leaves.par_chunks(width).map(hash_leaf).collect();
        let mut layers = vec![first];
        while layers.last().map_or(0, |l| l.len()) > 1 {
            let prev = &layers[layers.len() - 1];
            let next: Vec<Digest> = prev
                .par_chunks(2)
                .map(|p| hash_node(&p[0], &p[1]))
                .collect();
            layers.push(next);
        }
        Self { layers }
    }
    pub fn root(&self) -> Digest {
        self.layers
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or([0; 32])
    }
    /// Sibling hashes from the leaf up.
    pub fn path(&self, mut index: usize) -> Vec<Digest> {
        let mut out = Vec::new();
        for layer in &self.layers[..self.layers.len() - 1] {
            out.push(layer[index ^ 1]);
            index >>= 1;
        }
        out
    }
    /// Recomputes the root from a leaf and its path (the verifier's `merkle::verify_path`).
    pub fn verify_path(root: &Digest, index: usize, leaf: &[F], path: &[Digest]) -> bool {
        super::verify_path(root, index, leaf, path)
    }
}
