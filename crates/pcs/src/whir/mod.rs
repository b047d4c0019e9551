//! A polylogarithmic opening: WHIR (Arnon, Chiesa, Fenzi, Yogev, "WHIR: Reed–Solomon Proximity
//! Testing with Super-Fast Verification", EUROCRYPT 2025), through Plonky3's `p3-whir`.
//!
//! # Scheme
//! The table `v` of `2^n` base-field values is committed as one multilinear polynomial: its
//! Reed–Solomon encoding of rate `2^-log_inv_rate` is hashed into a BLAKE3 Merkle tree whose
//! root is the commitment (§5: the code's message is `v`'s coefficients, folded `k` variables
//! at a time). An opening at `z` proves `ṽ(z) = y` by WHIR's sumcheck-interleaved folding:
//! each round folds `k` variables with the verifier's challenges, commits the folded codeword,
//! answers out-of-domain samples and is checked at `t_i` shift queries (§5.1, Construction 5.1);
//! the last folded polynomial is sent in clear. Its size and verifier time are `O(log² n)`
//! rather than Ligero's `O(√n)`: at `n = 24` about 150 KB instead of 2 MB.
//!
//! Soundness is the library's, for the Johnson-bound list-decoding regime (proven, no
//! conjecture: mutual correlated agreement up to `1 − √ρ − η`; WHIR §4 and p3-security's
//! `JohnsonBound`), each error term at [`WhirParams::term_bits`] with
//! [`WhirParams::pow_bits`] of proof-of-work grinding, so that the union over an opening's
//! [`WhirParams::error_terms`] reaches [`WhirParams::security_bits`]. [`params_are_sound`]
//! checks the composed bound before any commitment is made with them.
//!
//! # Binding to zkgrad's transcript
//! `p3-whir` draws its challenges from its own challenger (BLAKE3 over the canonical bytes of
//! everything it observes). Before an opening, both sides squeeze a 256-bit seed from zkgrad's
//! transcript — after it has absorbed the commitment, the point and the claimed value — and
//! the challenger observes that seed, then the commitment. Every WHIR challenge therefore
//! depends on the whole proof so far; the serialized WHIR proof is then written into zkgrad's
//! transcript as one blob, so later challenges depend on it. A table opened in the Johnson
//! regime was bound to one of its list's candidates before that, right after the proof's roots
//! (`crate::Binding`): its opening proves the batched claim and that out-of-domain claim
//! together ([`open_points`], [`verify_points`]).
//!
//! # Variable order
//! zkgrad's points are little-endian (`z[0]` is index bit 0, `zkgrad-poly`); `p3-whir`'s
//! `Point` lists the most significant index bit first, so points are reversed on the way in
//! (tested by `whir_matches_the_multilinear_extension`).
//!
//! # Proof bytes
//! The WHIR proof is serialized with postcard (field elements as 8 fixed bytes, lengths as
//! varints). The verifier decodes it, re-encodes it and requires the same bytes: an encoding
//! is accepted only in its canonical form, and trailing bytes are refused. Every length inside
//! is checked by `p3-whir`'s verifier against the configuration before it is used.
//!
//! Verifier side: [`verify`] returns an error for any malformed or wrong opening.
//!
//! The parameters (`params`) and the p3 plumbing below are shared; the prover ([`commit`],
//! [`open`], in `prover`) is built with the `prover` feature, the verifier (`verifier`) always.

mod encoder;
mod params;
#[cfg(feature = "prover")]
mod prover;
mod verifier;

#[cfg(feature = "prover")]
pub use encoder::four_step;
pub use params::{
    estimated_bytes, params_are_sound, wide_first_round_bytes, WhirParams, UNIQUE_NEVER,
};
#[cfg(feature = "prover")]
pub use prover::{commit, open, open_points, WhirData};
pub use verifier::{verify, verify_points};

use p3_blake3::Blake3;
use p3_challenger::{
    ByteGrindingChallenger, CanObserve, CanSample, HashChallenger, SerializingChallenger64,
};
use p3_commit::MultilinearPcs;
use p3_field::BasedVectorSpace;
use p3_merkle_tree::MerkleTreeMmcs;
use p3_multilinear_util::point::Point;
use p3_sumcheck::layout::SuffixProver;
use p3_sumcheck::{OpeningBatch, OpeningProtocol, TableShape, TableSpec};
use p3_symmetric::{CompressionFunctionFromHasher, MerkleCap, SerializingHasher};
use p3_whir::pcs::proof::PcsProof;
use p3_whir::pcs::prover::WhirProver;
use zkgrad_field::{E, F};

use crate::Digest;

type Challenge = SerializingChallenger64<F, Bytes>;

/// The largest window [`Bytes::find_witness`] searches at once: a hit costs up to about a
/// window more to narrow to the smallest (windows of 2^20 made GPT-2 124M's generation proof
/// hash 106.2 M candidates for a smallest-witness total of 95.8 M, 1.31 s of grinding); a
/// window costs one parallel fork and join, ~128 of them for a 23-bit search.
const MAX_WINDOW: u64 = 1 << 16;

/// p3's BLAKE3 byte challenger, whose proof-of-work search returns the *smallest* passing
/// candidate however many threads search: proofs stay byte-identical run to run (the pinned
/// hashes of `proof_bytes_stable`, `zkgrad prove`'s determinism) while Plonky3 runs on rayon.
/// (p3's own parallel search returns whichever candidate a thread finds first.) Observing and
/// sampling are the inner challenger's, so the transcript is exactly p3's.
#[derive(Clone)]
struct Bytes(HashChallenger<u8, Blake3, 32>);

impl Bytes {
    fn new() -> Self {
        Self(HashChallenger::new(Vec::new(), Blake3 {}))
    }
}

impl CanObserve<u8> for Bytes {
    fn observe(&mut self, value: u8) {
        self.0.observe(value);
    }
    fn observe_slice(&mut self, values: &[u8]) {
        self.0.observe_slice(values);
    }
}

impl CanSample<u8> for Bytes {
    fn sample(&mut self) -> u8 {
        self.0.sample()
    }
}

impl ByteGrindingChallenger for Bytes {
    /// The smallest passing candidate: windows of growing size are searched in order, each by
    /// the inner (batched, parallel) search; a hit is narrowed to the window's smallest by
    /// searching below it again until nothing passes there.
    fn find_witness<const W: usize, const S: usize>(
        &self,
        num_candidates: u64,
        encode: impl Fn(u64) -> [u8; W] + Sync,
        accepts: impl Fn([u8; S]) -> bool + Sync,
    ) -> Option<u64> {
        let mut start = 0u64;
        let mut window = 1u64 << 12;
        while start < num_candidates {
            let n = window.min(num_candidates - start);
            let from = |offset: u64| {
                let encode = &encode;
                move |i: u64| encode(offset + i)
            };
            if let Some(mut best) = self.0.find_witness(n, from(start), &accepts) {
                while let Some(lower) = self.0.find_witness(best, from(start), &accepts) {
                    best = lower;
                }
                return Some(start + best);
            }
            start += n;
            window = (window * 2).min(MAX_WINDOW);
        }
        None
    }
}
type Mmcs = MerkleTreeMmcs<
    F,
    u8,
    SerializingHasher<Blake3>,
    CompressionFunctionFromHasher<Blake3, 2, 32>,
    2,
    32,
>;
type Dft = encoder::Encode;
type Lay = SuffixProver<F, E>;
type Whir = WhirProver<E, F, Dft, Mmcs, Challenge, Lay>;
pub(crate) type Proof = PcsProof<F, E, Mmcs>;

fn mmcs() -> Mmcs {
    Mmcs::new(
        SerializingHasher::new(Blake3 {}),
        CompressionFunctionFromHasher::new(Blake3 {}),
        0,
    )
}

/// One table, one column, opened at `points` points (one batch each).
fn opening_protocol(log_n: usize, points: usize) -> OpeningProtocol {
    OpeningProtocol::new(vec![TableSpec::new(
        TableShape::new(log_n, 1),
        (0..points)
            .map(|_| OpeningBatch::new(vec![0], Vec::new()))
            .collect(),
    )])
}

/// zkgrad's little-endian point as p3's most-significant-first one.
fn p3_point(point: &[E]) -> Point<E> {
    Point::new(point.iter().rev().copied().collect())
}

/// The challenger of one opening: seeded from zkgrad's transcript, then the commitment.
fn challenger(scheme: &Whir, seed: &[E], root: &Digest) -> Challenge {
    let mut ch = Challenge::new(Bytes::new());
    for e in seed {
        for c in BasedVectorSpace::<F>::as_basis_coefficients_slice(e) {
            ch.observe(*c);
        }
    }
    scheme.observe_commitment(&cap(root), &mut ch);
    ch
}

/// The commitment as p3's Merkle cap of height 0: the root alone.
fn cap(root: &Digest) -> MerkleCap<F, Digest> {
    MerkleCap::new(vec![*root])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_of_work_search_finds_the_smallest_witness_on_any_thread_count() {
        let mut ch = Bytes::new();
        ch.observe_slice(b"a transcript");
        let encode = |i: u64| i.to_le_bytes();
        for bits in [4u32, 9, 13] {
            let mask = (1u64 << bits) - 1;
            let accepts = |b: [u8; 8]| u64::from_le_bytes(b) & mask == 0;
            let serial = (0..1u64 << 20).find(|&i| {
                let mut c = ch.clone();
                c.observe_slice(&encode(i));
                accepts(c.sample_array())
            });
            for _ in 0..3 {
                assert_eq!(
                    ch.find_witness(1 << 20, encode, accepts),
                    serial,
                    "{bits} bits"
                );
            }
        }
    }
}
