//! A binary BLAKE3 Merkle tree over fixed-width leaves of base-field elements.
#![allow(clippy::indexing_slicing)] // prover-side construction; verify_path is checked below

use rayon::prelude::*;
use zkgrad_field::{PrimeField64, F};

use crate::Digest;

const LEAF_TAG: &[u8] = b"zkgrad/merkle/leaf";

/// BLAKE3 of the tag and the values' canonical little-endian bytes, handed to the hasher in
/// one piece (per-value updates cost more than the compression itself).
fn hash_leaf(values: &[F]) -> Digest {
    let mut bytes = Vec::with_capacity(LEAF_TAG.len() + 8 * values.len());
    bytes.extend_from_slice(LEAF_TAG);
    for v in values {
        bytes.extend_from_slice(&v.as_canonical_u64().to_le_bytes());
    }
    *blake3::hash(&bytes).as_bytes()
}

fn hash_node(l: &Digest, r: &Digest) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"zkgrad/merkle/node");
    h.update(l);
    h.update(r);
    *h.finalize().as_bytes()
}

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
    /// Recomputes the root from a leaf and its path.
    pub fn verify_path(root: &Digest, mut index: usize, leaf: &[F], path: &[Digest]) -> bool {
        let mut h = hash_leaf(leaf);
        for sib in path {
            h = if index & 1 == 0 {
                hash_node(&h, sib)
            } else {
                hash_node(sib, &h)
            };
            index >>= 1;
        }
        index == 0 && h == *root
    }
}
