//! Many claims on blocks of one committed table, opened together: folded with random weights
//! into one sumcheck, which ends in one claim on the table that its Ligero or WHIR opening
//! discharges ([`crate::Layout::choose_batched`] chooses which).
//!
//! The prover side ([`commit_batched`], [`prove_batch`]) is in `prover`, built with the
//! `prover` feature; the verifier side ([`verify_batch`]) in `verifier`.

#[cfg(feature = "prover")]
mod prover;
mod verifier;

#[cfg(all(test, feature = "prover"))]
pub(crate) use prover::prove_batch_lazy;
#[cfg(feature = "prover")]
pub use prover::{commit_batched, prove_batch};
pub use verifier::verify_batch;

use zkgrad_field::{PrimeCharacteristicRing, E};

/// A claim `T̃(point) = value` about one aligned block of a committed table: the block holds
/// `2^point.len()` values starting at `block_index · 2^point.len()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockClaim {
    pub block_index: usize,
    pub point: Vec<E>,
    pub value: E,
}

impl BlockClaim {
    /// The claim's point on the whole table: `(point ‖ bits of block_index)`.
    pub fn full_point(&self, log_n: usize) -> Vec<E> {
        let k = self.point.len();
        let mut p = self.point.clone();
        for i in 0..log_n.saturating_sub(k) {
            p.push(if (self.block_index >> i) & 1 == 1 {
                E::ONE
            } else {
                E::ZERO
            });
        }
        p
    }
}
