//! A binary BLAKE3 Merkle tree over fixed-width leaves of base-field elements: the hashing and
//! the path check, shared; the tree itself (`tree`) is built by the prover only.

#[cfg(feature = "prover")]
mod tree;

#[cfg(feature = "prover")]
pub use tree::MerkleTree;

use zkgrad_field::{PrimeField64, F};

use crate::Digest;

const LEAF_TAG: &[u8] = b"zkgrad/merkle/leaf";
const NODE_TAG: &[u8] = b"zkgrad/merkle/node";

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
    h.update(NODE_TAG);
    h.update(l);
    h.update(r);
    *h.finalize().as_bytes()
}

/// Recomputes the root from a leaf and its path.
pub(crate) fn verify_path(root: &Digest, mut index: usize, leaf: &[F], path: &[Digest]) -> bool {
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
