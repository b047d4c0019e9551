//! WHIR's parameters and the configuration they give for a table of `2^log_n` values, which
//! both sides derive alike.

use p3_whir::parameters::{FoldingFactor, ProtocolParameters, SecurityAssumption, WhirConfig};
use zkgrad_field::{E, F};

use super::{mmcs, Challenge, Dft, Whir};
use crate::PcsError;

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
    /// Variables folded per round…
    pub folding: usize,
    /// … but the first round of a table of at least `2^large_from_log_n` values, which folds
    /// `large_first_folding` (the committed table's rows are this wide). The first round's
    /// folded codeword is the opening's largest: folding 7 makes it a quarter of folding 5's,
    /// for wider first-round query rows (`examples/whir_sizes.rs` at 2^27: open 7.7 → 3.5 s,
    /// commit 5.3 → 4.1 s, 264 → 382 KB; folding 6: 5.7 s, 292 KB). Only GPT-2-size weight
    /// tables reach 2^27, where the opening is most of a proof's time.
    pub large_first_folding: usize,
    pub large_from_log_n: usize,
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
    /// Tables of at least `2^unique_from_log_n` values are opened in the unique-decoding regime
    /// instead of the Johnson bound's (both proven; [`UNIQUE_NEVER`]: none is).
    pub unique_from_log_n: usize,
}

/// [`WhirParams::unique_from_log_n`] of parameters that open every table under the Johnson bound.
pub const UNIQUE_NEVER: usize = 64;

impl Default for WhirParams {
    /// 102 bits per opening under the Johnson bound (each error term at 102 + ⌈log₂ terms⌉,
    /// 106–108 bits for 2^10–2^30 values), 18 bits of grinding, folding 5 (7 in the first
    /// round of a table of 2^27 values or more), rate 1/2. Folding 5
    /// rather than 4 (`whir_sizes`): a 2^26 opening 9.0 s → 5.0 s and its commitment 4.6 s →
    /// 3.8 s, for 13% more bytes (217 → 244 KB); folding 6 saves little more (2^24: 1.40 →
    /// 1.31 s) for 30% more bytes.
    fn default() -> Self {
        Self {
            security_bits: 102,
            pow_bits: 18,
            folding: 5,
            large_first_folding: 7,
            large_from_log_n: 27,
            log_inv_rate: 1,
            rate_step: 2,
            from_log_n: 20,
            commit_mults_from: 12,
            commit_mults_ratio: 2,
            unique_from_log_n: UNIQUE_NEVER,
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
            self.large_first_folding,
            self.large_from_log_n,
            self.log_inv_rate,
            self.rate_step,
            self.from_log_n,
            self.commit_mults_from,
            self.commit_mults_ratio,
        ] {
            // Whole words: no two parameter sets share an id.
            b.extend_from_slice(&(v as u64).to_le_bytes());
        }
        // Added after the others, and only where it differs from the Johnson bound throughout:
        // the parameters before it keep their ids (and their weight roots).
        if self.unique_from_log_n != UNIQUE_NEVER {
            b.extend_from_slice(b"/unique-from");
            b.extend_from_slice(&(self.unique_from_log_n as u64).to_le_bytes());
        }
        b
    }

    /// The smallest table WHIR opens with these parameters (smaller ones are Ligero's).
    pub fn min_log_n(&self) -> usize {
        2 * self.folding
    }

    /// The variables the first round of a table of `2^log_n` values folds: the width of its
    /// committed rows.
    pub fn first_folding(&self, log_n: usize) -> usize {
        if log_n >= self.large_from_log_n {
            self.large_first_folding
        } else {
            self.folding
        }
    }

    /// The variables folded by each round.
    pub(super) fn folding_factor(&self, log_n: usize) -> FoldingFactor {
        match self.first_folding(log_n) {
            f if f == self.folding => FoldingFactor::Constant(f),
            f => FoldingFactor::ConstantFromSecondRound(f, self.folding),
        }
    }

    /// How many error terms an opening of `2^log_n` values has (WHIR §5, round-by-round):
    /// the commitment's out-of-domain samples and the initial claim's combination; one per
    /// folding sumcheck round (`log_n` in all, the final direct sumcheck included); per STIR
    /// round its queries, out-of-domain samples and their combination; the final queries.
    pub fn error_terms(&self, log_n: usize) -> usize {
        let rounds = self
            .folding_factor(log_n)
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

    /// Whether an opening of `2^log_n` values is analysed in the Johnson bound's list-decoding
    /// regime, where its commitment binds the prover only to a list of candidates until an
    /// out-of-domain claim singles one out (`crate::batch::bind`).
    pub fn list_decoding(&self, log_n: usize) -> bool {
        matches!(self.regime(log_n), SecurityAssumption::JohnsonBound)
    }

    /// The soundness regime of an opening of `2^log_n` values.
    pub fn regime(&self, log_n: usize) -> SecurityAssumption {
        if log_n >= self.unique_from_log_n {
            SecurityAssumption::UniqueDecoding
        } else {
            SecurityAssumption::JohnsonBound
        }
    }

    /// `log₂` of the candidate polynomials a commitment of `2^log_n` values leaves open until
    /// an out-of-domain claim singles one out: the Johnson bound's list size (p3-security's
    /// `list_size_bits`, `2^4.32` at rate 1/2), none (0) in the unique-decoding regime.
    pub fn candidates_log2(&self, log_n: usize) -> f64 {
        self.regime(log_n)
            .list_size_bits(log_n, self.log_inv_rate)
            .max(0.0)
    }

    /// `log₂` of the probability that the out-of-domain claim binding a list-decoded commitment
    /// of `2^log_n` values (`crate::batch::bind`) fails to single out one candidate: two of
    /// the at most `L` candidates, distinct multilinear polynomials in `log_n` variables, agree
    /// at a uniform point of `E^log_n` with probability at most `log_n/|E|` (Schwartz–Zippel),
    /// so some pair does with at most `C(L, 2)·log_n/|E| ≤ L²/2 · log_n/|E|`.
    pub fn binding_error_log2(&self, log_n: usize) -> f64 {
        2.0 * self.candidates_log2(log_n) - 1.0 + (log_n.max(1) as f64).log2()
            - zkgrad_field::EXT_FIELD_BITS
    }

    fn protocol(&self, log_n: usize) -> ProtocolParameters {
        let folding = self.folding_factor(log_n);
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
            soundness_type: self.regime(log_n),
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
    pub(super) fn scheme(&self, log_n: usize) -> Result<Whir, PcsError> {
        let config = self.config(log_n)?;
        Ok(Whir::new(config, Dft::default(), mmcs()))
    }
}

/// The opening bytes WHIR is expected to take for `2^log_n` values with the default
/// parameters and `folding`, a line through measurements (`examples/whir_sizes.rs`; folding 5:
/// 116 KB at 2^16, 173 KB at 2^20, 212 KB at 2^22, 228 KB at 2^24, 244 KB at 2^26; folding 4:
/// 88 KB at 2^16, 135 KB at 2^20, 155 KB at 2^22, 184 KB at 2^24, 195 KB at 2^25); only used
/// to choose how to commit.
pub fn estimated_bytes(log_n: usize, folding: usize) -> usize {
    if folding <= 4 {
        (11_900 * log_n).saturating_sub(102_000)
    } else {
        (14_000 * log_n).saturating_sub(108_000)
    }
}

/// The bytes a first round folding `first` variables adds to an opening folding `folding`
/// throughout: its ~150 query rows are `2^first` values wide. At 2^27 this gives +38 KB for
/// folding 6 and +115 KB for 7, where `whir_sizes` measured +28 KB and +118 KB; only used to
/// choose how to commit.
pub fn wide_first_round_bytes(folding: usize, first: usize) -> usize {
    8 * 150 * ((1usize << first.min(20)).saturating_sub(1 << folding.min(20)))
}

/// Whether `params` reach their target for a table of `2^log_n` values (p3-whir's
/// per-round grinding check, with the grinding derived as described on [`WhirParams`]).
///
/// And that an opening's initial claims — its batched claim, the out-of-domain binding of a
/// list-decoded table (`crate::batch::bind`), and the commitment's own out-of-domain samples —
/// combine within the target (p3's `validate_initial_claims`, which the opening checks again
/// and would otherwise fail on: the attacker review of the binding found 60 settings, none of
/// them zkgrad's, that passed the grinding check but not this one). A table whose parameters
/// fail is opened with Ligero instead ([`crate::Layout::choose_batched`]).
pub fn params_are_sound(params: &WhirParams, log_n: usize) -> bool {
    let points = if params.list_decoding(log_n) { 2 } else { 1 };
    params
        .config(log_n)
        .map(|c| {
            c.check_pow_bits()
                && c.validate_initial_claims(points + c.commitment_ood_samples())
                    .is_ok()
        })
        .unwrap_or(false)
}
