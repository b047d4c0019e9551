//! The tree the prover builds over its encoded columns, and the paths it sends.
#![allow(clippy::indexing_slicing)] // prover-side construction over its own layers

use rayon::prelude::*;
use zkgrad_field::F;

use zkgrad_field::PrimeField64;

use super::lanes::{hash_lanes, LANES};
use super::{hash_leaf, hash_node, LEAF_TAG, NODE_TAG};
use crate::Digest;

/// Layers from the leaf hashes (layer 0) to the root.
pub struct MerkleTree {
    layers: Vec<Vec<Digest>>,
}

impl MerkleTree {
    /// `leaves` holds `n` leaves of `width` values each, `n` a power of two.
    pub fn new(leaves: &[F], width: usize) -> Self {
        let n = leaves.len() / width.max(1);
        let mut first = vec![[0u8; 32]; n];
        // LANES leaves side by side (`lanes`), the rest one by one.
        first
            .par_chunks_mut(LANES)
            .zip(leaves.par_chunks(LANES * width.max(1)))
            .for_each(|(out, group)| {
                if out.len() == LANES && width > 0 {
                    let len = LEAF_TAG.len() + 8 * width;
                    let mut bytes = Vec::with_capacity(LANES * len);
                    for leaf in group.chunks_exact(width) {
                        bytes.extend_from_slice(LEAF_TAG);
                        for v in leaf {
                            bytes.extend_from_slice(&v.as_canonical_u64().to_le_bytes());
                        }
                    }
                    out.copy_from_slice(&hash_lanes(&bytes, len));
                } else {
                    for (o, leaf) in out.iter_mut().zip(group.chunks(width.max(1))) {
                        *o = hash_leaf(leaf);
                    }
                }
            });
        let mut layers = vec![first];
        while layers.last().map_or(0, |l| l.len()) > 1 {
            let prev = &layers[layers.len() - 1];
            let mut next = vec![[0u8; 32]; prev.len() / 2];
            next.par_chunks_mut(LANES)
                .zip(prev.par_chunks(2 * LANES))
                .for_each(|(out, pairs)| {
                    if out.len() == LANES {
                        let len = NODE_TAG.len() + 64;
                        let mut bytes = Vec::with_capacity(LANES * len);
                        for p in pairs.chunks_exact(2) {
                            bytes.extend_from_slice(NODE_TAG);
                            bytes.extend_from_slice(&p[0]);
                            bytes.extend_from_slice(&p[1]);
                        }
                        out.copy_from_slice(&hash_lanes(&bytes, len));
                    } else {
                        for (o, p) in out.iter_mut().zip(pairs.chunks_exact(2)) {
                            *o = hash_node(&p[0], &p[1]);
                        }
                    }
                });
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

#[cfg(test)]
mod tests {
    use zkgrad_field::PrimeCharacteristicRing;

    use super::*;

    /// The tree by its definition: every leaf and node hashed one by one.
    fn plain_root(leaves: &[F], width: usize) -> Digest {
        let mut layer: Vec<Digest> = leaves.chunks(width).map(hash_leaf).collect();
        while layer.len() > 1 {
            layer = layer.chunks(2).map(|p| hash_node(&p[0], &p[1])).collect();
        }
        layer[0]
    }

    #[test]
    fn lane_hashed_tree_is_the_plain_definition() {
        // Fewer leaves than lanes, exactly one group, several; leaves of one block, one
        // chunk, several chunks; and every path verifies against the plain hashes.
        for (n, width) in [(1, 3), (8, 1), (16, 88), (64, 5), (32, 130), (256, 88)] {
            let leaves: Vec<F> = (0..n * width as u64)
                .map(|i| F::from_u64(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                .collect();
            let tree = MerkleTree::new(&leaves, width);
            assert_eq!(
                tree.root(),
                plain_root(&leaves, width),
                "{n} leaves of {width}"
            );
            for i in [0, n as usize / 2, n as usize - 1] {
                let leaf = &leaves[i * width..(i + 1) * width];
                assert!(MerkleTree::verify_path(
                    &tree.root(),
                    i,
                    leaf,
                    &tree.path(i)
                ));
            }
        }
    }
}
