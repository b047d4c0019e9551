//! The tree the prover builds over its encoded columns, and the paths it sends.
#![allow(clippy::indexing_slicing)] // prover-side construction over its own layers

use rayon::prelude::*;
use zkgrad_field::F;

use zkgrad_field::PrimeField64;

use p3_blake3::Blake3;
use p3_symmetric::CryptographicHasher;

use super::{LEAF_TAG, NODE_TAG};

/// Leaves (or nodes) hashed per task and per `hash_many` call.
const BATCH: usize = 64;
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
        // Leaves in batches of equal-length messages (p3-blake3's `hash_many`, several
        // messages per vector instruction); the digests are `hash_leaf`'s.
        let len = LEAF_TAG.len() + 8 * width;
        first
            .par_chunks_mut(BATCH)
            .zip(leaves.par_chunks(BATCH * width.max(1)))
            .for_each(|(out, group)| {
                let mut bytes = vec![0u8; out.len() * len];
                for (dst, leaf) in bytes.chunks_exact_mut(len).zip(group.chunks_exact(width)) {
                    let (tag, vals) = dst.split_at_mut(LEAF_TAG.len());
                    tag.copy_from_slice(LEAF_TAG);
                    for (d, v) in vals.chunks_exact_mut(8).zip(leaf) {
                        d.copy_from_slice(&v.as_canonical_u64().to_le_bytes());
                    }
                }
                Blake3.hash_many(&bytes, out);
            });
        let mut layers = vec![first];
        while layers.last().map_or(0, |l| l.len()) > 1 {
            let prev = &layers[layers.len() - 1];
            let mut next = vec![[0u8; 32]; prev.len() / 2];
            let len = NODE_TAG.len() + 64;
            next.par_chunks_mut(BATCH)
                .zip(prev.par_chunks(2 * BATCH))
                .for_each(|(out, pairs)| {
                    let mut bytes = vec![0u8; out.len() * len];
                    for (dst, p) in bytes.chunks_exact_mut(len).zip(pairs.chunks_exact(2)) {
                        dst[..NODE_TAG.len()].copy_from_slice(NODE_TAG);
                        dst[NODE_TAG.len()..NODE_TAG.len() + 32].copy_from_slice(&p[0]);
                        dst[NODE_TAG.len() + 32..].copy_from_slice(&p[1]);
                    }
                    Blake3.hash_many(&bytes, out);
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

    use super::super::{hash_leaf, hash_node};
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
    fn batch_hashed_tree_is_the_plain_definition() {
        // Fewer leaves than a batch, exactly one, several; leaves of one block, one chunk,
        // several chunks; and every path verifies against the plain hashes.
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
