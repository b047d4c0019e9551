//! Adversarial tests of `whir-unique` (`Scheme::WhirUnique`, `WhirParams::unique_from_log_n`):
//! tables of at least `2^unique_from_log_n` values opened in p3-whir's unique-decoding regime.
//!
//! - The soundness accounting, recomputed here from the regime's theorems rather than read
//!   from p3-whir's own derivation: every error term of a unique-decoding opening of 2^24..2^30
//!   values (the sizes `whir-unique` opens so) reaches `term_bits`, and their union, counting
//!   each folding round's proximity gap and sumcheck as separate terms, `security_bits`.
//! - Regime binding: an opening made in one regime (or at another threshold that changes the
//!   regime at this size) is refused in the other, in single and batched openings.
//! - Canonical shape: what the Johnson regime carries and the unique one does not (OOD answers,
//!   folding grinds) grafted into a unique-decoding proof, and vice versa, is refused.
//! - A wrong value, a moved point, flipped, truncated and junk bytes are refused, and the
//!   verifier never panics (also on edge thresholds).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use p3_sumcheck::OpeningBatch;
use p3_whir::parameters::SecurityAssumption;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_pcs::whir::{self, params_are_sound, WhirParams, UNIQUE_NEVER};
use zkgrad_pcs::{
    commit_batched, Layout, PcsParams, Scheme, UNIQUE_FROM_LOG_N, UNIQUE_LARGE_FIRST_FOLDING,
};
use zkgrad_transcript::ProverTranscript;

fn unique(from: usize) -> WhirParams {
    WhirParams {
        unique_from_log_n: from,
        ..WhirParams::default()
    }
}

fn johnson() -> WhirParams {
    WhirParams::default()
}

fn open(log_n: usize, p: &WhirParams) -> Opening {
    open_with(table(log_n, 3), log_n, p, p)
}

/// Cached honest openings of 2^13 values: in the unique regime (threshold 12) and under the
/// Johnson bound, of the same table.
fn u13() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open(13, &unique(12)))
}
fn j13() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open(13, &johnson()))
}

// ---------------------------------------------------------------------------------------
// Soundness accounting, recomputed.

/// One error term: what it is and its bits, grinding included.
struct Term {
    what: String,
    bits: f64,
}

/// Every error term of a unique-decoding opening, from the regime's theorems:
/// - a folding sumcheck round on a codeword of length `n`: the proximity gap of a line in the
///   unique-decoding radius, `n/|E|` (BCIKS20 Thm 1.2; WHIR's mutual correlated agreement in
///   the unique-decoding regime), and the round polynomial's degree 2, `2/|E|` — each with
///   that round's grinding;
/// - a query phase of `t` queries against a codeword of rate `ρ` (δ = (1 − ρ)/2):
///   `((1 + ρ)/2)^t`, with its grinding;
/// - the combination of the `t` query claims and `o` OOD claims by powers of one challenge:
///   `(t + o)/|E|` (taken `2(t + o)/|E|`, p3's extra bit), with the same grinding;
/// - the final direct sumcheck's rounds, `2/|E|` each;
/// - no OOD term (none are drawn) and no initial combination (one claim).
fn unique_terms(c: &Config) -> Vec<Term> {
    let fb = field_bits();
    let mut terms = Vec::new();
    let rate0 = c.params().starting_log_inv_rate;
    let schedule = c.folding_schedule().to_vec();
    let folds = |terms: &mut Vec<Term>, at: &str, log_len: usize, k: usize, pow: usize| {
        for j in 0..k {
            terms.push(Term {
                what: format!("{at} fold {j}: proximity gap, codeword 2^{log_len}"),
                bits: fb - log_len as f64 + pow as f64,
            });
            terms.push(Term {
                what: format!("{at} fold {j}: sumcheck"),
                bits: fb - 1.0 + pow as f64,
            });
        }
    };
    let queries = |t: usize, log_inv_rate: usize, pow: usize| {
        let rho = (-(log_inv_rate as f64)).exp2();
        -(t as f64) * ((1.0 + rho) / 2.0).log2() + pow as f64
    };
    folds(
        &mut terms,
        "first round",
        c.num_variables() + rate0,
        schedule[0],
        c.starting_folding_pow_bits(),
    );
    let mut old_rate = rate0;
    for (i, r) in c.round_parameters().iter().enumerate() {
        terms.push(Term {
            what: format!("round {i}: {} queries at rate 2^-{old_rate}", r.num_queries),
            bits: queries(r.num_queries, old_rate, r.pow_bits),
        });
        terms.push(Term {
            what: format!("round {i}: combination of {} claims", r.num_queries),
            bits: fb - ((r.num_queries + r.ood_samples) as f64).log2() - 1.0 + r.pow_bits as f64,
        });
        folds(
            &mut terms,
            &format!("round {i}"),
            r.num_variables + r.log_inv_rate,
            schedule[i + 1],
            r.folding_pow_bits,
        );
        old_rate = r.log_inv_rate;
    }
    let term = c.terminal();
    terms.push(Term {
        what: format!("final {} queries at rate 2^-{old_rate}", term.num_queries),
        bits: queries(term.num_queries, old_rate, term.pow_bits),
    });
    for j in 0..c.final_sumcheck_rounds() {
        terms.push(Term {
            what: format!("final sumcheck round {j}"),
            bits: fb - 1.0 + c.final_folding_pow_bits() as f64,
        });
    }
    terms
}

/// Checks a unique-decoding configuration: no OOD sample anywhere, one opening claim (no
/// initial combination term; p3's own bound infinite), every term at `term_bits`, the union
/// at `security_bits`. Returns (smallest term bits, union bits, the largest grinding).
fn check_unique_accounting(p: &WhirParams, log_n: usize) -> (f64, f64, usize) {
    assert!(params_are_sound(p, log_n), "2^{log_n}: not sound");
    let c = rebuilt(p, log_n).unwrap_or_else(|| panic!("2^{log_n}: no configuration"));
    assert_eq!(
        c.params().soundness_type,
        SecurityAssumption::UniqueDecoding
    );
    assert_eq!(c.commitment_ood_samples(), 0, "2^{log_n}");
    assert!(c.round_parameters().iter().all(|r| r.ood_samples == 0));
    // One claim, no OOD claim: p3's initial-combination check passes with no error term.
    assert!(c.validate_initial_claims(1).is_ok());
    assert_eq!(c.initial_claims_error(1), f64::INFINITY);
    // The schedule `error_terms` counts: the same rounds, every variable folded once.
    let folded: usize = c.folding_schedule().iter().sum();
    assert_eq!(folded + c.final_sumcheck_rounds(), log_n);
    assert_eq!(
        p.error_terms(log_n),
        3 + log_n + 3 * c.n_rounds(),
        "2^{log_n}: error_terms follows another schedule"
    );
    let target = p.term_bits(log_n) as f64;
    let terms = unique_terms(&c);
    let mut min = f64::INFINITY;
    let mut union = 0.0f64;
    for t in &terms {
        assert!(
            t.bits >= target,
            "2^{log_n}: {} reaches {:.2} bits, below the {target}-bit term target",
            t.what,
            t.bits
        );
        min = min.min(t.bits);
        union += (-t.bits).exp2();
    }
    let union_bits = -union.log2();
    assert!(
        union_bits >= p.security_bits as f64,
        "2^{log_n}: the union of {} terms is 2^-{union_bits:.2}",
        terms.len()
    );
    // zkgrad's own budget entry (`opening_error_log2`, what `soundness::budget` adds) is an
    // upper bound on this union.
    assert!(
        p.opening_error_log2(log_n) >= -union_bits,
        "2^{log_n}: the budget counts 2^{:.2}, the terms sum to 2^-{union_bits:.2}",
        p.opening_error_log2(log_n)
    );
    (min, union_bits, c.max_pow_bits())
}

/// The sizes `whir-unique` opens in the unique regime (2^24 up to 2^30, the largest WHIR
/// table) reach the target term by term, recomputed; printed for the record.
#[test]
fn unique_regime_terms_reach_term_bits_from_the_threshold_to_2_to_the_30() {
    let p = PcsParams::for_scheme(Scheme::WhirUnique).whir.unwrap();
    assert_eq!(p.unique_from_log_n, UNIQUE_FROM_LOG_N);
    assert_eq!(UNIQUE_FROM_LOG_N, 24);
    for log_n in UNIQUE_FROM_LOG_N..=30 {
        let (min, union, pow) = check_unique_accounting(&p, log_n);
        let c = rebuilt(&p, log_n).unwrap();
        let q: Vec<usize> = c
            .round_parameters()
            .iter()
            .map(|r| r.num_queries)
            .chain([c.terminal().num_queries])
            .collect();
        eprintln!(
            "2^{log_n}: term target {} ({} terms counted), smallest term {min:.2} bits, union \
             {union:.2} bits, grinding <= {pow}, first-fold grinding {}, queries {q:?}",
            p.term_bits(log_n),
            p.error_terms(log_n),
            c.starting_folding_pow_bits()
        );
    }
    // Below the threshold the scheme is WHIR's, Johnson bound and all.
    for log_n in p.min_log_n()..UNIQUE_FROM_LOG_N {
        assert_eq!(p.regime(log_n), SecurityAssumption::JohnsonBound);
        assert!(params_are_sound(&p, log_n));
    }
}

/// The unique regime at every WHIR size (threshold 0) and at the test threshold: whatever
/// `params_are_sound` accepts reaches the target term by term. (A threshold puts no table in
/// a regime `params_are_sound` did not check.)
#[test]
fn unique_regime_terms_reach_term_bits_at_every_size() {
    for from in [0usize, 12] {
        let p = unique(from);
        for log_n in p.min_log_n().max(from)..=30 {
            check_unique_accounting(&p, log_n);
        }
    }
    // Also with the other schedules the parameters allow: folding 4, a 7-wide first round
    // everywhere, rate 1/4.
    for p in [
        WhirParams {
            folding: 4,
            ..unique(0)
        },
        WhirParams {
            large_from_log_n: 0,
            ..unique(0)
        },
        WhirParams {
            log_inv_rate: 2,
            ..unique(0)
        },
    ] {
        for log_n in p.min_log_n()..=30 {
            if params_are_sound(&p, log_n) {
                check_unique_accounting(&p, log_n);
            }
        }
    }
}

/// The rebuilt configuration is the one the prover and verifier use: a unique-regime proof
/// has its shape (no OOD answer, the rounds, the grinding sites).
#[test]
fn rebuilt_configuration_matches_the_proofs_shape() {
    for (o, p) in [(u13(), unique(12)), (&open(14, &unique(13)), unique(13))] {
        let c = rebuilt(&p, o.log_n).unwrap();
        let pr = decode(&o.proof);
        assert!(pr.whir.initial_ood_answers.is_empty());
        assert_eq!(pr.whir.rounds.len(), c.n_rounds());
        assert_eq!(
            pr.whir.initial_sumcheck.polynomial_evaluations.len(),
            c.folding_schedule()[0]
        );
        assert_eq!(
            pr.whir.initial_sumcheck.pow_witnesses.len(),
            if c.starting_folding_pow_bits() > 0 {
                c.folding_schedule()[0]
            } else {
                0
            }
        );
        for (r, rc) in pr.whir.rounds.iter().zip(c.round_parameters()) {
            assert!(r.ood_answers.is_empty());
            if rc.pow_bits == 0 {
                assert_eq!(r.pow_witness, F::ZERO);
            }
        }
    }
    // The Johnson proof of the same size does carry OOD answers.
    assert!(!decode(&j13().proof).whir.initial_ood_answers.is_empty());
}

// ---------------------------------------------------------------------------------------
// Regime binding.

#[test]
fn unique_opening_refused_under_johnson_and_johnson_opening_under_unique() {
    let (u, j) = (u13(), j13());
    assert_eq!(
        u.root, j.root,
        "the regime changes the opening, not the commitment"
    );
    check_o(u, &unique(12), &u.proof).expect("honest unique opening");
    check_o(j, &johnson(), &j.proof).expect("honest Johnson opening");
    // Thresholds that leave 2^13 under the Johnson bound (14, 26, never) refuse the unique
    // proof; thresholds that put it in the unique regime refuse the Johnson proof.
    for from in [14usize, 26, 30, UNIQUE_NEVER, usize::MAX] {
        assert!(check_o(u, &unique(from), &u.proof).is_err(), "from {from}");
        check_o(j, &unique(from), &j.proof).expect("same regime, same opening");
    }
    for from in [0usize, 1, 10, 12, 13] {
        assert!(check_o(j, &unique(from), &j.proof).is_err(), "from {from}");
        // Only the regime reaches the opening: the threshold itself is bound by the caller's
        // protocol id (`to_bytes`), checked below.
        check_o(u, &unique(from), &u.proof).expect("same regime, same opening");
    }
    let ids: Vec<Vec<u8>> = [0usize, 12, 13, 26, UNIQUE_NEVER]
        .iter()
        .map(|&f| unique(f).to_bytes())
        .collect();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b, "two thresholds share an id");
        }
    }
    // The wide first round in the unique regime: bound to both its folding and its regime.
    let wide_u = WhirParams {
        large_from_log_n: 14,
        ..unique(14)
    };
    let w = open(14, &wide_u);
    check_o(&w, &wide_u, &w.proof).expect("honest wide unique opening");
    for other in [
        WhirParams {
            large_from_log_n: 14,
            ..johnson()
        },
        unique(14),
        WhirParams {
            large_first_folding: 6,
            ..wide_u
        },
    ] {
        if params_are_sound(&other, 14) {
            assert!(check_o(&w, &other, &w.proof).is_err(), "{other:?}");
        }
    }
}

/// What distinguishes the regimes' proofs, grafted from one into the other and re-encoded
/// canonically: the Johnson proof's OOD answers into the unique one, grinding witnesses where
/// the unique regime grinds none, the unique proof's parts into the Johnson one.
#[test]
fn regime_parts_grafted_across_regimes_refused() {
    let (u, j) = (u13(), j13());
    let (pu, pj) = (decode(&u.proof), decode(&j.proof));
    assert_eq!(encode(&pu), u.proof, "canonical");
    let cu = rebuilt(&unique(12), 13).unwrap();
    let mut attempts: Vec<(&str, Proof)> = Vec::new();
    let mut q = pu.clone();
    q.whir.initial_ood_answers = pj.whir.initial_ood_answers.clone();
    attempts.push(("Johnson OOD answers added", q));
    let mut q = pu.clone();
    q.whir.initial_ood_answers = vec![E::ZERO];
    attempts.push(("one zero OOD answer", q));
    if !pu.whir.rounds.is_empty() {
        let mut q = pu.clone();
        q.whir.rounds[0].ood_answers = vec![E::ONE; 2];
        attempts.push(("round OOD answers added", q));
        let mut q = pu.clone();
        q.whir.rounds[0].pow_witness += F::ONE;
        attempts.push(("round grinding witness changed", q));
        let mut q = pu.clone();
        let k = q.whir.rounds[0].sumcheck.polynomial_evaluations.len();
        q.whir.rounds[0].sumcheck.pow_witnesses = vec![F::ZERO; k];
        if cu.round_parameters()[0].folding_pow_bits == 0 {
            attempts.push(("zero-difficulty fold given witnesses", q));
        }
    }
    let mut q = pu.clone();
    let k = q.whir.initial_sumcheck.polynomial_evaluations.len();
    if cu.starting_folding_pow_bits() == 0 {
        q.whir.initial_sumcheck.pow_witnesses = vec![F::ZERO; k];
        attempts.push(("zero-difficulty first fold given witnesses", q));
    } else {
        q.whir.initial_sumcheck.pow_witnesses.clear();
        attempts.push(("first fold's witnesses dropped", q));
    }
    let mut q = pu.clone();
    q.whir.initial_sumcheck = pj.whir.initial_sumcheck.clone();
    attempts.push(("Johnson first sumcheck", q));
    let mut q = pu.clone();
    q.whir.final_pow_witness += F::ONE;
    attempts.push(("final grinding witness changed", q));
    let mut q = pu.clone();
    q.whir.final_poly = pj.whir.final_poly.clone();
    attempts.push(("Johnson final polynomial", q));
    for (what, q) in &attempts {
        let b = encode(q);
        assert!(
            check_o(u, &unique(12), &b).is_err(),
            "unique accepted: {what}"
        );
        assert!(
            check_o(u, &johnson(), &b).is_err(),
            "Johnson accepted: {what}"
        );
    }
    // The Johnson proof without its OOD answers (a unique-looking commitment phase) is
    // refused in both regimes.
    let mut q = pj.clone();
    q.whir.initial_ood_answers.clear();
    for (name, p) in [("unique", unique(12)), ("Johnson", johnson())] {
        assert!(check_o(j, &p, &encode(&q)).is_err(), "{name}");
    }
    // Rounds of one proof spliced into the other.
    if !pu.whir.rounds.is_empty() && pu.whir.rounds.len() == pj.whir.rounds.len() {
        let mut q = pu.clone();
        q.whir.rounds[0] = pj.whir.rounds[0].clone();
        assert!(check_o(u, &unique(12), &encode(&q)).is_err());
        let mut q = pj.clone();
        q.whir.rounds[0] = pu.whir.rounds[0].clone();
        assert!(check_o(j, &johnson(), &encode(&q)).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// Wrong statements.

#[test]
fn unique_opening_of_a_wrong_value_or_point_refused() {
    for (o, p) in [(u13(), unique(12)), (&open(15, &unique(12)), unique(12))] {
        check_o(o, &p, &o.proof).expect("honest");
        wrong_values_refused(o, &p);
        // The evaluation changed with the value (a false statement, its challenges following).
        let mut q = decode(&o.proof);
        let y = o.y + E::ONE;
        q.evals = vec![OpeningBatch::new(vec![y], Vec::new())];
        assert!(check(&o.root, o.log_n, &o.z, y, &p, &encode(&q)).is_err());
        for i in [0, o.log_n / 2, o.log_n - 1] {
            let mut z = o.z.clone();
            z[i] += E::ONE;
            assert!(check(&o.root, o.log_n, &z, o.y, &p, &o.proof).is_err());
        }
        let rev: Vec<E> = o.z.iter().rev().copied().collect();
        assert!(check(&o.root, o.log_n, &rev, o.y, &p, &o.proof).is_err());
        // Another table's root.
        let mut root = o.root;
        root[0] ^= 1;
        assert!(check(&root, o.log_n, &o.z, o.y, &p, &o.proof).is_err());
    }
}

/// A table committed, and opened, by a prover using the Johnson schedule, then claimed in the
/// unique regime with a wrong value: nothing the prover controls makes it pass. (The prover
/// runs its own regime; the verifier's decides.)
#[test]
fn prover_cannot_pick_the_regime() {
    let u = u13();
    // A Johnson prover's opening of a wrong value (the prover's transcript observes it).
    let vals = table(13, 3);
    let wd = whir::commit(vals, 13, &johnson());
    let y = u.y + E::ONE;
    for p in [johnson(), unique(12)] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut t = ProverTranscript::new(&ID);
            t.observe(b"value", &bytes_of(y));
            whir::open(&wd, &u.z, &p, &mut t);
            t.finish()
        }));
        if let Ok(proof) = r {
            for v in [johnson(), unique(12)] {
                assert!(check(&u.root, 13, &u.z, y, &v, &proof).is_err());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Malformed proofs.

#[test]
fn unique_proof_flipped_truncated_extended_refused_without_panic() {
    let o = u13();
    let p = unique(12);
    refuses_altered_bytes(o, &p, 512, 500, 91);
    refuses_cut_and_extended(o, &p, 32, 331, 509);
}

/// Edge thresholds: `params_are_sound`, the accessors and the verifier on junk never panic;
/// a size they accept states at least `security_bits`; the batched layout agrees.
#[test]
fn edge_thresholds_never_panic_and_junk_is_refused() {
    let froms = [
        0usize,
        1,
        9,
        10,
        12,
        25,
        26,
        27,
        30,
        31,
        63,
        64,
        65,
        1 << 20,
        usize::MAX,
    ];
    for &from in &froms {
        let p = unique(from);
        for log_n in (0..=31).chain([40, 63, 64, 70]) {
            let ok = catch_unwind(AssertUnwindSafe(|| params_are_sound(&p, log_n)))
                .unwrap_or_else(|_| panic!("params_are_sound panicked: from {from}, 2^{log_n}"));
            let err = catch_unwind(AssertUnwindSafe(|| {
                (p.regime(log_n), p.opening_error_log2(log_n), p.to_bytes())
            }))
            .unwrap_or_else(|_| panic!("accessors panicked: from {from}, 2^{log_n}"));
            if ok {
                assert!(err.1 <= -(p.security_bits as f64));
            }
            if log_n <= 40 {
                let z = vec![E::ONE; log_n];
                for junk in [&[][..], &[0], &[3, 0, 0, 0], &[0xff; 12]] {
                    assert!(check(&[0; 32], log_n, &z, E::ZERO, &p, junk).is_err());
                }
            }
            if log_n <= 30 {
                let pp = PcsParams {
                    whir: Some(WhirParams {
                        from_log_n: 10,
                        ..p
                    }),
                    ..PcsParams::default()
                };
                let l = catch_unwind(AssertUnwindSafe(|| {
                    Layout::choose_batched(log_n, 1 << log_n, &pp)
                }))
                .unwrap_or_else(|_| panic!("choose_batched panicked: from {from}, 2^{log_n}"));
                if l.whir {
                    assert!(params_are_sound(&pp.whir.unwrap(), log_n));
                }
            }
        }
    }
    // Junk proofs shaped like a unique proof of other sizes (the real opening's bytes).
    let o = u13();
    for log_n in [13usize, 14, 20, 26, 27, 30] {
        let z = point(log_n, 1);
        let p = PcsParams::for_scheme(Scheme::WhirUnique).whir.unwrap();
        assert!(check(&o.root, log_n, &z, o.y, &p, &o.proof).is_err());
        assert!(check(&o.root, log_n, &z, o.y, &unique(12), &o.proof).is_err());
    }
}

/// The scheme codes and ids: three schemes, each its own id; `whir`'s id is the one it had
/// (no threshold bytes); `whir-unique`'s carries its threshold.
#[test]
fn scheme_codes_and_ids_bind_the_regime() {
    let ids: Vec<Vec<u8>> = Scheme::ALL
        .iter()
        .map(|&s| PcsParams::for_scheme(s).to_bytes())
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    assert_ne!(ids[1], ids[2]);
    assert_eq!(
        PcsParams::for_scheme(Scheme::Whir).whir.unwrap().to_bytes(),
        WhirParams::default().to_bytes()
    );
    for code in 0..=255u8 {
        match Scheme::from_code(code) {
            Some(s) => {
                assert!(code <= 2);
                assert_eq!(s.code(), code);
                assert_eq!(PcsParams::for_scheme(s).scheme(), s);
            }
            None => assert!(code > 2),
        }
    }
    // `whir-unique` is `whir` but for its threshold and its first folding at 2^27 and up.
    let u = PcsParams::for_scheme(Scheme::WhirUnique).whir.unwrap();
    assert_eq!(u.unique_from_log_n, UNIQUE_FROM_LOG_N);
    assert_eq!(u.large_first_folding, UNIQUE_LARGE_FIRST_FOLDING);
    assert_eq!(
        WhirParams {
            unique_from_log_n: UNIQUE_NEVER,
            large_first_folding: WhirParams::default().large_first_folding,
            ..u
        },
        WhirParams::default()
    );
    // Each of the two is in the id: a proof made under one does not verify under the other.
    for other in [
        WhirParams {
            large_first_folding: WhirParams::default().large_first_folding,
            ..u
        },
        WhirParams {
            unique_from_log_n: UNIQUE_NEVER,
            ..u
        },
    ] {
        assert_ne!(other.to_bytes(), u.to_bytes());
    }
}

// ---------------------------------------------------------------------------------------
// Batched openings (the path the protocol takes).

#[test]
fn batched_unique_opening_binds_its_regime_and_its_claims() {
    let (log_n, used) = (14usize, 12_345usize);
    let mut vals = table(log_n, 5);
    vals[used..].fill(F::ZERO);
    let (pu, pj) = (unique_batch_params(13), unique_batch_params(UNIQUE_NEVER));
    assert!(Layout::choose_batched(log_n, used, &pu).whir);
    let claims = block_claims(&vals, &[(14usize, 0usize), (10, 3), (6, 100), (0, 7)], 70);
    let mut proofs = Vec::new();
    for p in [&pu, &pj] {
        let pd = commit_batched(vals.clone(), log_n, used, p);
        let mut t = ProverTranscript::new(&ID);
        prove_bound(&pd, &claims, p, &mut t);
        let proof = t.finish();
        verify_b(&pd.root, log_n, used, &claims, p, &proof).expect("honest batch");
        for i in 0..claims.len() {
            let mut bad = claims.clone();
            bad[i].value += E::ONE;
            assert!(
                verify_b(&pd.root, log_n, used, &bad, p, &proof).is_err(),
                "claim {i}"
            );
        }
        proofs.push((pd.root, proof));
    }
    assert_eq!(proofs[0].0, proofs[1].0, "one commitment, two regimes");
    let root = proofs[0].0;
    assert!(verify_b(&root, log_n, used, &claims, &pj, &proofs[0].1).is_err());
    assert!(verify_b(&root, log_n, used, &claims, &pu, &proofs[1].1).is_err());
    let mut rng = Rng(5);
    for _ in 0..40 {
        let mut b = proofs[0].1.clone();
        let i = rng.below(b.len());
        b[i] ^= 1 << rng.below(8);
        assert!(
            verify_b(&root, log_n, used, &claims, &pu, &b).is_err(),
            "byte {i}"
        );
    }
}
