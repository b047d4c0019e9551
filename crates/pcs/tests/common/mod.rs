//! What the WHIR attack tests share: a seeded generator, tables and points, an honest opening
//! of a table, its check (a verifier panic fails the test), and the WHIR blob inside a
//! transcript, decoded and re-encoded for grafting.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use p3_blake3::Blake3;
use p3_challenger::{HashChallenger, SerializingChallenger64};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_symmetric::{CompressionFunctionFromHasher, SerializingHasher};
use p3_whir::parameters::{FoldingFactor, ProtocolParameters, SecurityAssumption, WhirConfig};
use p3_whir::pcs::proof::PcsProof;
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_pcs::whir::{self, WhirParams};
use zkgrad_pcs::{BlockClaim, PcsParams, ProverData};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

pub type Mmcs = MerkleTreeMmcs<
    F,
    u8,
    SerializingHasher<Blake3>,
    CompressionFunctionFromHasher<Blake3, 2, 32>,
    2,
    32,
>;
pub type Proof = PcsProof<F, E, Mmcs>;

pub const ID: [u8; 32] = [0xA7; 32];

/// SplitMix64.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn e(&mut self) -> E {
        E::from(F::from_u64(self.next())) * E::from(F::from_u64(self.next()))
            + E::from(F::from_u64(self.next()))
    }
}

pub fn table(log_n: usize, seed: i64) -> Vec<F> {
    (0..1i64 << log_n)
        .map(|i| f_from_i64((i * 7919 + seed * 104_729) % 1000 - 500))
        .collect()
}

pub fn point(n: usize, seed: u64) -> Vec<E> {
    let mut r = Rng(seed);
    (0..n).map(|_| r.e()).collect()
}

/// The claimed value as the transcript observes it.
pub fn bytes_of(y: E) -> Vec<u8> {
    format!("{y:?}").into_bytes()
}

/// An honest WHIR opening: the table's data, the point, the value, and the proof bytes
/// (the transcript holds only the WHIR blob; the value is observed, not written).
pub struct Opening {
    pub log_n: usize,
    pub root: [u8; 32],
    pub z: Vec<E>,
    pub y: E,
    pub proof: Vec<u8>,
}

/// `vals` committed under `commit_p` and opened under `open_p` at a point seeded by `log_n`.
pub fn open_with(
    vals: Vec<F>,
    log_n: usize,
    commit_p: &WhirParams,
    open_p: &WhirParams,
) -> Opening {
    let z = point(log_n, 5 + log_n as u64);
    let y = eval_mle_base(&vals, &z);
    let wd = whir::commit(vals, log_n, commit_p);
    let mut t = ProverTranscript::new(&ID);
    t.observe(b"value", &bytes_of(y));
    whir::open(&wd, &z, open_p, &mut t);
    Opening {
        log_n,
        root: wd.root,
        z,
        y,
        proof: t.finish(),
    }
}

/// Verifies `proof` as an opening of `root` at `z` to `y`; a panic fails the test.
pub fn check(
    root: &[u8; 32],
    log_n: usize,
    z: &[E],
    y: E,
    p: &WhirParams,
    proof: &[u8],
) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut t = VerifierTranscript::new(&ID, proof);
        t.observe(b"value", &bytes_of(y));
        whir::verify(root, log_n, z, y, p, &mut t).map_err(|e| format!("{e}"))?;
        t.finish().map_err(|e| format!("{e}"))
    }))
    .unwrap_or_else(|_| panic!("the verifier panicked (log_n {log_n})"))
}

pub fn check_o(o: &Opening, p: &WhirParams, proof: &[u8]) -> Result<(), String> {
    check(&o.root, o.log_n, &o.z, o.y, p, proof)
}

/// The WHIR blob inside a transcript (a LEB128 length, then the bytes).
pub fn blob(proof: &[u8]) -> &[u8] {
    let (mut n, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = proof[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    assert_eq!(proof.len(), i + n);
    &proof[i..]
}

/// `bytes` as a transcript's blob.
pub fn with_blob(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = bytes.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(bytes);
    out
}

pub fn decode(proof: &[u8]) -> Proof {
    postcard::from_bytes(blob(proof)).expect("an honest proof decodes")
}

pub fn encode(p: &Proof) -> Vec<u8> {
    with_blob(&postcard::to_allocvec(p).unwrap())
}

/// Every byte of the first and last `edge` bytes of `o`'s proof and `sampled` more drawn with
/// `seed`, each flipped in one bit and replaced whole: each altered proof is refused under `p`
/// (never a panic). Returns how many bytes were altered.
pub fn refuses_altered_bytes(
    o: &Opening,
    p: &WhirParams,
    edge: usize,
    sampled: usize,
    seed: u64,
) -> usize {
    let len = o.proof.len();
    let mut at: Vec<usize> = (0..len.min(edge)).collect();
    at.extend(len.saturating_sub(edge)..len);
    let mut rng = Rng(seed);
    for _ in 0..sampled {
        at.push(rng.below(len));
    }
    at.sort_unstable();
    at.dedup();
    let mut bad = o.proof.clone();
    for &i in &at {
        let orig = bad[i];
        for v in [
            orig ^ (1 << rng.below(8)),
            orig.wrapping_add(1 + rng.below(255) as u8),
        ] {
            bad[i] = v;
            assert!(
                check_o(o, p, &bad).is_err(),
                "byte {i} of {len}: {orig:#x} -> {v:#x}"
            );
        }
        bad[i] = orig;
    }
    at.len()
}

/// A batched opening with its table's out-of-domain binding first, as a proof's header and
/// openings make them (`bind` right after the commitment, `prove_batch` at the end).
pub fn prove_bound(
    pd: &ProverData,
    claims: &[BlockClaim],
    p: &PcsParams,
    t: &mut ProverTranscript,
) {
    let b = zkgrad_pcs::bind(pd, p, t);
    zkgrad_pcs::prove_batch(pd, &b, claims, p, t);
}

/// The verifier's side of [`prove_bound`].
pub fn verify_bound(
    root: &[u8; 32],
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    p: &PcsParams,
    v: &mut VerifierTranscript,
) -> Result<(), zkgrad_pcs::PcsError> {
    let b = zkgrad_pcs::read_binding(root, log_n, used, p, v)?;
    zkgrad_pcs::verify_batch(root, log_n, used, &b, claims, p, v)
}

/// [`verify_bound`] on a whole proof, then the transcript's end; a verifier panic fails the
/// test.
pub fn verify_b(
    root: &[u8; 32],
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    p: &PcsParams,
    proof: &[u8],
) -> Result<(), String> {
    verify_pre(root, log_n, used, claims, p, proof, &|_| {})
}

/// `read_binding` then `verify_batch` on `proof`, after `pre` (what a caller absorbed first),
/// then the transcript's end.
pub fn verify_pre(
    root: &[u8; 32],
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    p: &PcsParams,
    proof: &[u8],
    pre: &dyn Fn(&mut VerifierTranscript),
) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut v = VerifierTranscript::new(&ID, proof);
        pre(&mut v);
        verify_bound(root, log_n, used, claims, p, &mut v).map_err(|e| format!("{e}"))?;
        v.finish().map_err(|e| format!("{e}"))
    }))
    .unwrap_or_else(|_| panic!("the verifier panicked"))
}

/// Batched tables of 2^12 values or more opened with WHIR, in the unique-decoding regime from
/// `2^unique_from` values (`UNIQUE_NEVER`: under the Johnson bound throughout).
pub fn unique_batch_params(unique_from: usize) -> PcsParams {
    PcsParams {
        whir: Some(WhirParams {
            from_log_n: 12,
            unique_from_log_n: unique_from,
            ..WhirParams::default()
        }),
        ..PcsParams::default()
    }
}

/// Any challenger: a configuration depends on it only by type.
pub type Ch = SerializingChallenger64<F, HashChallenger<u8, Blake3, 32>>;
pub type Config = WhirConfig<E, F, Ch>;

/// The configuration `WhirParams` derives for `2^log_n` values, rebuilt from the parameters
/// as `whir/params.rs` builds it (the schedule, the per-round rates, the regime, the per-term
/// target, and the grinding raised by whole bits up to 8 until p3-whir's check passes).
pub fn rebuilt(p: &WhirParams, log_n: usize) -> Option<Config> {
    let first = p.first_folding(log_n);
    let folding = if first == p.folding {
        FoldingFactor::Constant(first)
    } else {
        FoldingFactor::ConstantFromSecondRound(first, p.folding)
    };
    let mut rates = Vec::new();
    let mut rate = p.log_inv_rate;
    if let Ok((rounds, _)) = folding.compute_number_of_rounds(log_n) {
        for round in 0..rounds {
            rate += (folding.at_round(round) - 1).min(p.rate_step);
            rates.push(rate);
        }
    }
    let regime = if log_n >= p.unique_from_log_n {
        SecurityAssumption::UniqueDecoding
    } else {
        SecurityAssumption::JohnsonBound
    };
    assert_eq!(p.regime(log_n), regime);
    for extra in 0..=8 {
        let proto = ProtocolParameters {
            security_level: p.term_bits(log_n),
            pow_bits: p.pow_bits + extra,
            folding_factor: folding.clone(),
            soundness_type: regime,
            starting_log_inv_rate: p.log_inv_rate,
            round_log_inv_rates: rates.clone(),
        };
        if let Ok(c) = Config::new(log_n, proto) {
            if c.check_pow_bits() {
                return Some(c);
            }
        }
    }
    None
}

/// `log2 |E|` for `E = F_p[x]/(x² − 7)`, `p = 2^64 − 2^32 + 1`, less a margin: computed here,
/// not read from the library, for the attack files that recompute error terms.
pub fn field_bits() -> f64 {
    let p = 18_446_744_069_414_584_321f64;
    2.0 * p.log2() - 1e-6
}

/// Cut and lengthened copies of `o`'s proof are refused under `p` (never a panic): the proof
/// cut to each of its first and last `edge` lengths and every `step`-th, extended by a few
/// bytes; its WHIR blob likewise, cut every `blob_step`-th length and in its last 16.
pub fn refuses_cut_and_extended(
    o: &Opening,
    p: &WhirParams,
    edge: usize,
    step: usize,
    blob_step: usize,
) {
    let len = o.proof.len();
    let mut cuts: Vec<usize> = (0..edge).chain(len - edge..len).collect();
    cuts.extend((0..len).step_by(step));
    for n in cuts {
        assert!(check_o(o, p, &o.proof[..n]).is_err(), "truncated to {n}");
    }
    for extra in [&[0u8][..], &[1], &[0; 16]] {
        let mut long = o.proof.clone();
        long.extend_from_slice(extra);
        assert!(check_o(o, p, &long).is_err(), "extended by {extra:?}");
        let mut b = blob(&o.proof).to_vec();
        b.extend_from_slice(extra);
        assert!(
            check_o(o, p, &with_blob(&b)).is_err(),
            "blob extended by {extra:?}"
        );
    }
    let b = blob(&o.proof);
    for n in (0..b.len()).step_by(blob_step).chain(b.len() - 16..b.len()) {
        assert!(
            check_o(o, p, &with_blob(&b[..n])).is_err(),
            "blob cut to {n}"
        );
    }
}

/// A table of `2^log_n` values (seed `seed`) committed under `commit_p` and opened under
/// `open_p`: the prover may refuse (a panic, prover side only); whatever it makes is refused
/// under both parameter sets. Returns whether it made a proof.
pub fn mixed_opening_refused(
    log_n: usize,
    seed: i64,
    commit_p: &WhirParams,
    open_p: &WhirParams,
) -> bool {
    let made = catch_unwind(AssertUnwindSafe(|| {
        open_with(table(log_n, seed), log_n, commit_p, open_p)
    }));
    if let Ok(o) = &made {
        assert!(
            check_o(o, open_p, &o.proof).is_err(),
            "mixed opening accepted under the opening's parameters"
        );
        assert!(
            check_o(o, commit_p, &o.proof).is_err(),
            "mixed opening accepted under the commitment's parameters"
        );
    }
    made.is_ok()
}

/// Honest claims on blocks of `vals`: for the `i`-th `(k, b)`, the block of `2^k` values at
/// index `b`, evaluated at the point of `k` coordinates seeded `seed + i`.
pub fn block_claims(vals: &[F], blocks: &[(usize, usize)], seed: u64) -> Vec<BlockClaim> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, &(k, b))| {
            let pt = point(k, seed + i as u64);
            let off = b << k;
            BlockClaim {
                block_index: b,
                value: eval_mle_base(&vals[off..off + (1 << k)], &pt),
                point: pt,
            }
        })
        .collect()
}

/// `o`'s proof checked under `p` against other values (`y + 1`, `y − 1`, `y + 2^40`, `2y`):
/// refused by WHIR's own evaluation check on the same challenges (the transcript observes the
/// honest value), and by a whole check of the wrong statement; never a panic.
pub fn wrong_values_refused(o: &Opening, p: &WhirParams) {
    for delta in [E::ONE, -E::ONE, E::from(F::from_u64(1 << 40)), o.y] {
        let y = o.y + delta;
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut t = VerifierTranscript::new(&ID, &o.proof);
            t.observe(b"value", &bytes_of(o.y));
            whir::verify(&o.root, o.log_n, &o.z, y, p, &mut t)
        }))
        .expect("no panic");
        assert!(r.is_err(), "2^{}: a wrong value accepted", o.log_n);
        assert!(check(&o.root, o.log_n, &o.z, y, p, &o.proof).is_err());
    }
}
