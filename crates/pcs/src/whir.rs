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
//! transcript as one blob, so later challenges depend on it.
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

use p3_blake3::Blake3;
use p3_challenger::{CanObserve, HashChallenger, SerializingChallenger64};
use p3_commit::MultilinearPcs;
use p3_dft::Radix2DFTSmallBatch;
use p3_field::BasedVectorSpace;
use p3_matrix::dense::RowMajorMatrix;
use p3_merkle_tree::MerkleTreeMmcs;
use p3_multilinear_util::point::Point;
use p3_sumcheck::layout::{Layout as _, SuffixProver, Table};
use p3_sumcheck::{OpeningBatch, OpeningProtocol, PrescribedPointPcs, TableShape, TableSpec};
use p3_symmetric::{CompressionFunctionFromHasher, MerkleCap, SerializingHasher};
use p3_whir::parameters::{FoldingFactor, ProtocolParameters, SecurityAssumption, WhirConfig};
use p3_whir::pcs::proof::PcsProof;
use p3_whir::pcs::prover::WhirProver;
use p3_whir::pcs::WhirProverData;
use zkgrad_field::{E, F};
use zkgrad_transcript::{Challenger, ProverTranscript, VerifierTranscript};

use crate::{Digest, PcsError};

type Challenge = SerializingChallenger64<F, HashChallenger<u8, Blake3, 32>>;
type Mmcs = MerkleTreeMmcs<
    F,
    u8,
    SerializingHasher<Blake3>,
    CompressionFunctionFromHasher<Blake3, 2, 32>,
    2,
    32,
>;
type Dft = Radix2DFTSmallBatch<F>;
type Lay = SuffixProver<F, E>;
type Whir = WhirProver<E, F, Dft, Mmcs, Challenge, Lay>;
pub(crate) type Proof = PcsProof<F, E, Mmcs>;

/// The largest serialized WHIR proof a verifier reads (far above any honest proof's ~200 KB).
const MAX_PROOF_BYTES: usize = 1 << 24;

/// The most grinding bits [`WhirParams::config`] adds to `pow_bits` for a large table (2^26
/// values need 22 bits in all, 2^30 need 26: about 2^26 hashes per ground round).
const MAX_EXTRA_POW: usize = 8;

/// Parameters of a WHIR opening; part of every protocol id that uses one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhirParams {
    /// Target bits of one opening: each of its error terms (OOD samples, query phases,
    /// combinations, every folding sumcheck round; [`WhirParams::error_terms`]) is priced at
    /// `security_bits + ⌈log₂(terms)⌉` (p3-whir's per-term target), so that their union
    /// reaches `security_bits`.
    pub security_bits: usize,
    /// Proof-of-work bits ground per round to reach `security_bits` with fewer queries; raised
    /// by whole bits (at most 8) for a table whose rounds need more (2^25: 21, 2^30: 26).
    pub pow_bits: usize,
    /// Variables folded per round.
    pub folding: usize,
    /// `log2(1/ρ)` of the first codeword.
    pub log_inv_rate: usize,
    /// Each round lowers the rate by `min(folding − 1, rate_step)` bits. WHIR's own schedule
    /// (`folding − 1`: the codeword halves each round) commits a first folded codeword as long
    /// as the table's, in the extension field; a step of 2 halves the prover's encoding work
    /// for ~12% more bytes (examples/whir_sizes.rs at 2^25: open 4.2 → 2.3 s, 174 → 195 KB),
    /// the rounds' query counts rising to keep `security_bits`.
    pub rate_step: usize,
    /// Batched tables of at least `2^from_log_n` values are opened with WHIR, smaller ones
    /// with Ligero (or sent in clear): below ~2^20 values Ligero's opening is the smaller
    /// (examples/whir_sizes.rs and pcs_sizes.rs: 125 KB against 141 KB at 2^20, 83 KB against
    /// 35 KB at 2^16) and several times faster to prove.
    pub from_log_n: usize,
    /// Succinct lookups commit a table's multiplicities when the clear ones could hold
    /// `2^commit_mults_from` entries or more (`zkgrad_verifier::protocol::committed_tables`)…
    pub commit_mults_from: usize,
    /// … and the table has at most `2^commit_mults_ratio` times as many entries as reads (its
    /// committed block and table-side leaves grow with the table, not with the reads).
    pub commit_mults_ratio: usize,
}

impl Default for WhirParams {
    /// 102 bits per opening under the Johnson bound (each error term at 102 + ⌈log₂ terms⌉,
    /// 106–108 bits for 2^8–2^30 values), 18 bits of grinding, folding 4, rate 1/2.
    fn default() -> Self {
        Self {
            security_bits: 102,
            pow_bits: 18,
            folding: 4,
            log_inv_rate: 1,
            rate_step: 2,
            from_log_n: 20,
            commit_mults_from: 12,
            commit_mults_ratio: 2,
        }
    }
}

impl WhirParams {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = b"p3-whir-0.9.0-rc.2/goldilocks2/blake3/johnson".to_vec();
        for v in [
            self.security_bits,
            self.pow_bits,
            self.folding,
            self.log_inv_rate,
            self.rate_step,
            self.from_log_n,
            self.commit_mults_from,
            self.commit_mults_ratio,
        ] {
            b.extend_from_slice(&(v as u32).to_le_bytes());
        }
        b
    }

    /// The smallest table WHIR opens with these parameters (smaller ones are Ligero's).
    pub fn min_log_n(&self) -> usize {
        2 * self.folding
    }

    /// How many error terms an opening of `2^log_n` values has (WHIR §5, round-by-round):
    /// the commitment's out-of-domain samples and the initial claim's combination; one per
    /// folding sumcheck round (`log_n` in all, the final direct sumcheck included); per STIR
    /// round its queries, out-of-domain samples and their combination; the final queries.
    pub fn error_terms(&self, log_n: usize) -> usize {
        let rounds = FoldingFactor::Constant(self.folding)
            .compute_number_of_rounds(log_n)
            .map_or(log_n, |(rounds, _)| rounds);
        3 + log_n + 3 * rounds
    }

    /// The bits each error term of an opening of `2^log_n` values is priced at.
    pub fn term_bits(&self, log_n: usize) -> usize {
        self.security_bits + self.error_terms(log_n).next_power_of_two().trailing_zeros() as usize
    }

    /// `log₂` of the soundness error of one opening of `2^log_n` values: the union of its
    /// error terms, `terms · 2^-term_bits` (at most `2^-security_bits`).
    pub fn opening_error_log2(&self, log_n: usize) -> f64 {
        (self.error_terms(log_n) as f64).log2() - self.term_bits(log_n) as f64
    }

    fn protocol(&self, log_n: usize) -> ProtocolParameters {
        let folding = FoldingFactor::Constant(self.folding);
        let mut rates = Vec::new();
        let mut rate = self.log_inv_rate;
        if let Ok((rounds, _)) = folding.compute_number_of_rounds(log_n) {
            for round in 0..rounds {
                rate += (folding.at_round(round) - 1).min(self.rate_step);
                rates.push(rate);
            }
        }
        ProtocolParameters {
            security_level: self.term_bits(log_n),
            pow_bits: self.pow_bits,
            folding_factor: folding,
            soundness_type: SecurityAssumption::JohnsonBound,
            starting_log_inv_rate: self.log_inv_rate,
            round_log_inv_rates: rates,
        }
    }

    /// The configuration for `2^log_n` values: the grinding is raised from `pow_bits` by
    /// whole bits (at most [`MAX_EXTRA_POW`]) until every round reaches `security_bits` — a
    /// deterministic function of the parameters and `log_n`, both in the protocol id.
    fn config(&self, log_n: usize) -> Result<WhirConfig<E, F, Challenge>, PcsError> {
        let mut last = None;
        for extra in 0..=MAX_EXTRA_POW {
            let mut proto = self.protocol(log_n);
            proto.pow_bits += extra;
            match WhirConfig::new(log_n, proto) {
                Ok(c) if c.check_pow_bits() => return Ok(c),
                Ok(_) => {}
                Err(e) => last = Some(format!("{e}")),
            }
        }
        Err(PcsError::Whir(last.unwrap_or_else(|| {
            format!(
                "no grinding up to {} bits reaches {} bits for 2^{log_n} values",
                self.pow_bits + MAX_EXTRA_POW,
                self.security_bits
            )
        })))
    }

    /// The scheme for `2^log_n` values. Its DFT precomputes no twiddles: the verifier never
    /// transforms, and the prover's transforms compute their own (precomputing them for the
    /// largest domain cost the verifier tens of ms at 2^25 and saved the prover nothing).
    fn scheme(&self, log_n: usize) -> Result<Whir, PcsError> {
        let config = self.config(log_n)?;
        Ok(Whir::new(config, Dft::default(), mmcs()))
    }
}

/// The opening bytes WHIR is expected to take for `2^log_n` values with the default
/// parameters, a line through measurements (`examples/whir_sizes.rs`: 88 KB at 2^16, 135 KB at
/// 2^20, 155 KB at 2^22, 184 KB at 2^24, 195 KB at 2^25); only used to choose how to commit.
pub fn estimated_bytes(log_n: usize) -> usize {
    (11_900 * log_n).saturating_sub(102_000)
}

/// Whether `params` reach their target for a table of `2^log_n` values (p3-whir's
/// per-round grinding check, with the grinding derived as described on [`WhirParams`]).
pub fn params_are_sound(params: &WhirParams, log_n: usize) -> bool {
    params
        .config(log_n)
        .map(|c| c.check_pow_bits())
        .unwrap_or(false)
}

fn mmcs() -> Mmcs {
    Mmcs::new(
        SerializingHasher::new(Blake3 {}),
        CompressionFunctionFromHasher::new(Blake3 {}),
        0,
    )
}

/// One table, one column, one opening point.
fn opening_protocol(log_n: usize) -> OpeningProtocol {
    OpeningProtocol::new(vec![TableSpec::new(
        TableShape::new(log_n, 1),
        vec![OpeningBatch::new(vec![0], Vec::new())],
    )])
}

/// zkgrad's little-endian point as p3's most-significant-first one.
fn p3_point(point: &[E]) -> Point<E> {
    Point::new(point.iter().rev().copied().collect())
}

/// The challenger of one opening: seeded from zkgrad's transcript, then the commitment.
fn challenger(scheme: &Whir, seed: &[E], root: &Digest) -> Challenge {
    let mut ch = Challenge::new(HashChallenger::new(Vec::new(), Blake3 {}));
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

/// Everything the prover keeps between commit and open.
#[derive(Clone)]
pub struct WhirData {
    pub log_n: usize,
    pub root: Digest,
    data: WhirProverData<F, E, Mmcs, Lay>,
}

impl WhirData {
    /// The committed values (`2^log_n`), as the WHIR table holds them.
    pub fn values(&self) -> &[F] {
        self.data.table(0).iter_polys().next().unwrap_or_default()
    }
}

/// Commits to `values` (padded with zeros to `2^log_n`); `log_n ≥ params.min_log_n()`.
#[allow(clippy::panic)] // Prover side: parameters the caller checked (Layout::choose_batched)
pub fn commit(mut values: Vec<F>, log_n: usize, params: &WhirParams) -> WhirData {
    assert!(values.len() <= 1 << log_n, "table larger than 2^log_n");
    assert!(log_n >= params.min_log_n(), "table too small for WHIR");
    values.resize(1 << log_n, F::default());
    let scheme = params
        .scheme(log_n)
        .unwrap_or_else(|e| panic!("WHIR parameters for 2^{log_n}: {e}"));
    let table = Table::new(RowMajorMatrix::new(values, 1 << log_n));
    let witness = Lay::new_witness(vec![table], params.folding);
    // The commit only observes its root; the opening's challenger observes it again after the
    // transcript seed, so this one is thrown away.
    let mut throwaway = Challenge::new(HashChallenger::new(Vec::new(), Blake3 {}));
    let (root, data) = scheme
        .commit(witness, &mut throwaway)
        .unwrap_or_else(|e| panic!("WHIR commit: {e}"));
    let root = *root
        .roots()
        .first()
        .unwrap_or_else(|| panic!("WHIR commitment without a root"));
    WhirData { log_n, root, data }
}

/// Proves `ṽ(point) = value` for the committed table (the caller has written or observed the
/// value in `t` before).
#[allow(clippy::panic)] // Prover side: its own commitment, at a point of the right dimension
pub fn open(wd: &WhirData, point: &[E], params: &WhirParams, t: &mut ProverTranscript) {
    assert_eq!(point.len(), wd.log_n, "point of the wrong dimension");
    let scheme = params
        .scheme(wd.log_n)
        .unwrap_or_else(|e| panic!("WHIR parameters for 2^{}: {e}", wd.log_n));
    let seed = t.challenge_vec(b"pcs/whir/seed", 2);
    let mut ch = challenger(&scheme, &seed, &wd.root);
    let proof = scheme
        .open_at(
            wd.data.clone(),
            &opening_protocol(wd.log_n),
            &[p3_point(point)],
            &mut ch,
        )
        .unwrap_or_else(|e| panic!("WHIR opening: {e}"));
    let bytes = postcard::to_allocvec(&proof).unwrap_or_else(|e| panic!("WHIR proof bytes: {e}"));
    t.write_blob(b"pcs/whir/proof", &bytes);
}

/// Verifies an [`open`] of the table committed as `root` (`2^log_n` values) at `point`.
pub fn verify(
    root: &Digest,
    log_n: usize,
    point: &[E],
    value: E,
    params: &WhirParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    if point.len() != log_n || log_n < params.min_log_n() {
        return Err(PcsError::ClaimShape {
            index: 0,
            why: "point does not fit the committed table",
        });
    }
    let scheme = params.scheme(log_n)?;
    let seed = t.challenge_vec(b"pcs/whir/seed", 2);
    let bytes = t.read_blob(b"pcs/whir/proof", MAX_PROOF_BYTES)?;
    let proof: Proof = postcard::from_bytes(bytes)
        .map_err(|e| PcsError::Whir(format!("undecodable WHIR proof: {e}")))?;
    match postcard::to_allocvec(&proof) {
        Ok(again) if again == bytes => {}
        _ => return Err(PcsError::Whir("non-canonical WHIR proof encoding".into())),
    }
    let mut ch = challenger(&scheme, &seed, root);
    let evals = scheme
        .verify_at(
            &cap(root),
            &proof,
            &opening_protocol(log_n),
            &[p3_point(point)],
            &mut ch,
        )
        .map_err(|e| PcsError::Whir(format!("{e}")))?;
    match evals.as_slice() {
        [batch] if batch.current() == [value] && batch.next().is_empty() => Ok(()),
        _ => Err(PcsError::WrongEvaluation),
    }
}
