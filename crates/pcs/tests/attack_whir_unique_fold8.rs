//! Adversarial tests of `whir-unique`'s 8-variable first round
//! (`UNIQUE_LARGE_FIRST_FOLDING`: a table of `2^27` values or more, opened in the
//! unique-decoding regime, folds 8 variables in its first WHIR round, then 5 a round).
//!
//! - The soundness accounting of that schedule at 2^27..2^30, recomputed from the regime's
//!   theorems with every rate, codeword length and schedule derived here rather than read
//!   from p3-whir: one binary proximity gap (`n/|E|`) and one sumcheck term per folded
//!   variable (p3 draws one challenge, with its own grind, per variable: checked on a proof),
//!   the first round's queries at the rate of the code the 8-fold lands in, the combinations,
//!   the final phase.
//! - Cross-schedule confusion, on small tables with the same schedule (`large_from_log_n`
//!   lowered): a folding-7 opening (v10's `whir-unique`), a `whir` (Johnson, folding 7)
//!   opening, a folding-8 Johnson opening and a folding-5 one are refused under folding 8 and
//!   vice versa; commitments with one row width opened under the other; tables below the
//!   large threshold unchanged but for the id.
//! - Wrong values and points; the proof restructured (first-round rows 128 or 512 wide, the
//!   first sumcheck of 7 or 9 rounds, its grinding dropped, parts grafted from a folding-7
//!   proof); flipped, truncated and extended bytes: refused, never a panic.
//! - The batched path with the folding-8 schedule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;

use std::sync::OnceLock;

use p3_sumcheck::OpeningBatch;
use p3_whir::parameters::SecurityAssumption;
use p3_whir::pcs::proof::QueryOpenings;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_pcs::whir::{self, params_are_sound, WhirParams, UNIQUE_NEVER};
use zkgrad_pcs::{
    commit_batched, Layout, PcsParams, Scheme, UNIQUE_FROM_LOG_N, UNIQUE_LARGE_FIRST_FOLDING,
};

// ---------------------------------------------------------------------------------------
// Parameters.

/// `whir-unique`'s own parameters.
fn real() -> WhirParams {
    PcsParams::for_scheme(Scheme::WhirUnique).whir.unwrap()
}

/// `whir`'s own parameters (Johnson bound, first folding 7).
fn real_whir() -> WhirParams {
    PcsParams::for_scheme(Scheme::Whir).whir.unwrap()
}

/// `whir-unique` with its thresholds lowered: unique and 8-wide from `2^from` values.
fn u8_from(from: usize) -> WhirParams {
    WhirParams {
        unique_from_log_n: from,
        large_from_log_n: from,
        ..real()
    }
}

/// The same with v10's first folding 7.
fn u7_from(from: usize) -> WhirParams {
    WhirParams {
        large_first_folding: 7,
        ..u8_from(from)
    }
}

/// `whir` (Johnson) with its large threshold lowered (first folding 7).
fn j7_from(from: usize) -> WhirParams {
    WhirParams {
        large_from_log_n: from,
        ..real_whir()
    }
}

/// Johnson with first folding 8.
fn j8_from(from: usize) -> WhirParams {
    WhirParams {
        unique_from_log_n: UNIQUE_NEVER,
        ..u8_from(from)
    }
}

/// `u8_from(15)` at 110 target bits: its first fold at 2^15 must grind (a site the real
/// schedule grinds from 2^27 on: 9 bits there, 12 at 2^30).
fn u8_ground() -> WhirParams {
    WhirParams {
        security_bits: 110,
        ..u8_from(15)
    }
}

fn open(log_n: usize, p: &WhirParams) -> Opening {
    open_with(table(log_n, 11), log_n, p, p)
}

/// Cached honest openings of 2^15 values (8 + 5 variables folded, 2 sent): folding 8 and
/// folding 7 in the unique regime, `whir`'s (Johnson, 7) and Johnson with 8.
fn u8_15() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open(15, &u8_from(15)))
}
fn u7_15() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open(15, &u7_from(15)))
}
fn j7_15() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open(15, &j7_from(15)))
}
fn ground_15() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open(15, &u8_ground()))
}

// ---------------------------------------------------------------------------------------
// Soundness accounting of the 8-wide first round, recomputed.

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    FirstProx,
    FirstSumcheck,
    Queries,
    Combination,
    RoundProx,
    RoundSumcheck,
    FinalQueries,
    FinalSumcheck,
}

struct Term {
    kind: Kind,
    what: String,
    bits: f64,
}

/// `((1 + ρ)/2)^t` in bits, `ρ = 2^-log_inv_rate` (δ = (1 − ρ)/2), with `pow` bits of grinding.
fn query_bits(t: usize, log_inv_rate: usize, pow: usize) -> f64 {
    let rho = (-(log_inv_rate as f64)).exp2();
    -(t as f64) * ((1.0 + rho) / 2.0).log2() + pow as f64
}

/// Every error term of a unique-decoding opening of `2^log_n` values under `p`, with the
/// schedule, rates and codeword lengths derived here from the parameters (and checked against
/// the configuration p3 builds); only the query counts and grinding are read from it.
///
/// - Folding `k` variables is `k` sumcheck rounds, each with its own challenge and grind
///   (p3-sumcheck's `verify_rounds`: one challenge per round, one witness per round): each is
///   a binary fold of a code of length at most the round's `n`, so its proximity gap is that
///   of a line in the unique-decoding radius, `n/|E|` (BCIKS20 Thm 1.2; mutual correlated
///   agreement follows from correlated agreement there, WHIR §4), plus the degree-2 round
///   polynomial's `2/|E|`. (A k-wise fold under ONE challenge would need the curve bound
///   `(2^k − 1)·n/|E|`: 8 bits less for `k = 8`; printed, not the protocol.)
/// - Round `r`'s queries test the fold of codeword `r` over `L_r^(2^k)`, a code of the same
///   rate as codeword `r`: `((1 + ρ_r)/2)^t`.
/// - Their combination with the OOD claims (none here): `2(t + o)/|E|`.
/// - The final queries at the last codeword's rate, the final sumcheck's rounds `2/|E|`.
fn terms(p: &WhirParams, log_n: usize, c: &Config) -> Vec<Term> {
    let fb = field_bits();
    // The schedule, derived: the first folding, then `folding` while more than 6 remain.
    let first = p.first_folding(log_n);
    let mut sched = vec![first];
    let mut rem = log_n - first;
    while rem > 6 {
        let f = p.folding.min(rem);
        sched.push(f);
        rem -= f;
    }
    assert_eq!(c.folding_schedule(), &sched[..], "2^{log_n}: schedule");
    assert_eq!(c.final_sumcheck_rounds(), rem, "2^{log_n}: final variables");
    let rounds = sched.len() - 1;
    assert_eq!(c.n_rounds(), rounds);
    // Per codeword r: its variables and its rate (codeword 0 is the commitment).
    let mut vars = vec![log_n];
    let mut rates = vec![p.log_inv_rate];
    for r in 0..rounds {
        vars.push(vars[r] - sched[r]);
        rates.push(rates[r] + (sched[r] - 1).min(p.rate_step));
    }
    assert_eq!(c.params().starting_log_inv_rate, rates[0]);
    for (r, rc) in c.round_parameters().iter().enumerate() {
        assert_eq!(rc.folding_factor, sched[r], "round {r}: folding");
        assert_eq!(rc.num_variables, vars[r + 1], "round {r}: variables");
        assert_eq!(rc.log_inv_rate, rates[r + 1], "round {r}: rate");
        // The codeword the round queries: `2^(vars_r + rate_r)` long, read in rows of
        // `2^sched[r]` (the verifier's Merkle dimensions).
        assert_eq!(
            rc.domain_size,
            1 << (vars[r] + rates[r]),
            "round {r}: domain"
        );
        assert_eq!(rc.log_folded_domain_size, vars[r] + rates[r] - sched[r]);
        assert_eq!(rc.ood_samples, 0, "round {r}: no OOD in the unique regime");
    }
    let fin = c.final_round_config();
    assert_eq!(fin.folding_factor, sched[rounds]);
    assert_eq!(fin.domain_size, 1 << (vars[rounds] + rates[rounds]));
    assert_eq!(fin.log_inv_rate, rates[rounds]);

    let mut out = Vec::new();
    let folds = |out: &mut Vec<Term>, at: &str, r: usize, first: bool, pow: usize| {
        let log_len = vars[r] + rates[r];
        for j in 0..sched[r] {
            out.push(Term {
                kind: if first {
                    Kind::FirstProx
                } else {
                    Kind::RoundProx
                },
                what: format!("{at} fold {j}: proximity gap, codeword 2^{log_len}"),
                bits: fb - log_len as f64 + pow as f64,
            });
            out.push(Term {
                kind: if first {
                    Kind::FirstSumcheck
                } else {
                    Kind::RoundSumcheck
                },
                what: format!("{at} fold {j}: sumcheck"),
                bits: fb - 1.0 + pow as f64,
            });
        }
    };
    folds(
        &mut out,
        "first round",
        0,
        true,
        c.starting_folding_pow_bits(),
    );
    for (r, rc) in c.round_parameters().iter().enumerate() {
        out.push(Term {
            kind: Kind::Queries,
            what: format!(
                "round {r}: {} queries at rate 2^-{}",
                rc.num_queries, rates[r]
            ),
            bits: query_bits(rc.num_queries, rates[r], rc.pow_bits),
        });
        out.push(Term {
            kind: Kind::Combination,
            what: format!("round {r}: combination of {} claims", rc.num_queries),
            bits: fb - ((rc.num_queries + rc.ood_samples) as f64).log2() - 1.0 + rc.pow_bits as f64,
        });
        folds(
            &mut out,
            &format!("round {r}"),
            r + 1,
            false,
            rc.folding_pow_bits,
        );
    }
    let t = c.terminal();
    out.push(Term {
        kind: Kind::FinalQueries,
        what: format!(
            "final {} queries at rate 2^-{}",
            t.num_queries, rates[rounds]
        ),
        bits: query_bits(t.num_queries, rates[rounds], t.pow_bits),
    });
    for j in 0..c.final_sumcheck_rounds() {
        out.push(Term {
            kind: Kind::FinalSumcheck,
            what: format!("final sumcheck round {j}"),
            bits: fb - 1.0 + c.final_folding_pow_bits() as f64,
        });
    }
    out
}

/// Checks `p` at `2^log_n` in the unique regime term by term; returns (smallest term, union).
fn check_terms(p: &WhirParams, log_n: usize) -> (f64, f64) {
    assert!(params_are_sound(p, log_n), "2^{log_n}: not sound");
    assert_eq!(p.regime(log_n), SecurityAssumption::UniqueDecoding);
    let c = rebuilt(p, log_n).unwrap();
    assert_eq!(
        c.params().soundness_type,
        SecurityAssumption::UniqueDecoding
    );
    assert_eq!(c.commitment_ood_samples(), 0);
    assert!(c.validate_initial_claims(1).is_ok());
    let ts = terms(p, log_n, &c);
    let target = p.term_bits(log_n) as f64;
    let (mut min, mut union) = (f64::INFINITY, 0.0f64);
    for t in &ts {
        assert!(
            t.bits >= target,
            "2^{log_n}: {} at {:.2} bits, below {target}",
            t.what,
            t.bits
        );
        min = min.min(t.bits);
        union += (-t.bits).exp2();
    }
    let union = -union.log2();
    assert!(
        union >= p.security_bits as f64,
        "2^{log_n}: union {union:.2}"
    );
    assert!(p.opening_error_log2(log_n) >= -union);
    // The count `error_terms` prices every term at: the same schedule.
    assert_eq!(
        p.error_terms(log_n),
        3 + log_n + 3 * c.n_rounds(),
        "2^{log_n}: error_terms follows another schedule"
    );
    (min, union)
}

fn min_of(ts: &[Term], k: Kind) -> Option<f64> {
    ts.iter()
        .filter(|t| t.kind == k)
        .map(|t| t.bits)
        .fold(None, |a, b| Some(a.map_or(b, |a: f64| a.min(b))))
}

/// A prover hoping that the 8-wide first round is under-accounted: at every size
/// `whir-unique` folds 8 (2^27..2^30), each term — eight proximity gaps and sumchecks of the
/// first round, the first queries at rate 1/2, every later round, the final phase — reaches
/// `term_bits` (108), and the union `security_bits`. Numbers printed for the record, with
/// v10's folding 7 alongside.
#[test]
fn fold8_first_round_terms_cannot_be_under_accounted_from_2_27_to_2_30() {
    let p = real();
    assert_eq!(p.large_first_folding, UNIQUE_LARGE_FIRST_FOLDING);
    assert_eq!(UNIQUE_LARGE_FIRST_FOLDING, 8);
    assert_eq!(p.large_from_log_n, 27);
    assert!(
        p.large_from_log_n >= UNIQUE_FROM_LOG_N,
        "8-wide only in the unique regime"
    );
    let fb = field_bits();
    for log_n in 27..=30 {
        assert_eq!(p.first_folding(log_n), 8);
        assert_eq!(p.term_bits(log_n), 108, "2^{log_n}");
        let (min, union) = check_terms(&p, log_n);
        let c = rebuilt(&p, log_n).unwrap();
        let ts = terms(&p, log_n, &c);
        // The first round: exactly 8 folds, its proximity gaps against the 2^(log_n + 1)
        // commitment, ground to the target.
        assert_eq!(ts.iter().filter(|t| t.kind == Kind::FirstProx).count(), 8);
        let first_pow = c.starting_folding_pow_bits();
        let gap = fb - (log_n + 1) as f64;
        assert!(gap + first_pow as f64 >= 108.0);
        // What a single-challenge 8-wide fold would have needed (not this protocol).
        let curve = fb - (log_n + 1) as f64 - 255f64.log2() + first_pow as f64;
        let q: Vec<usize> = c
            .round_parameters()
            .iter()
            .map(|r| r.num_queries)
            .chain([c.terminal().num_queries])
            .collect();
        let qpow: Vec<usize> = c
            .round_parameters()
            .iter()
            .map(|r| r.pow_bits)
            .chain([c.terminal().pow_bits])
            .collect();
        let fpow: Vec<usize> = c
            .round_parameters()
            .iter()
            .map(|r| r.folding_pow_bits)
            .collect();
        let rates: Vec<usize> = c
            .round_parameters()
            .iter()
            .map(|r| r.log_inv_rate)
            .collect();
        let first_q = query_bits(q[0], 1, qpow[0]);
        let qbits: Vec<String> = ts
            .iter()
            .filter(|t| matches!(t.kind, Kind::Queries | Kind::FinalQueries))
            .map(|t| format!("{:.2}", t.bits))
            .collect();
        eprintln!(
            "2^{log_n} folding 8: schedule {:?}+{} final, rates 1 then {rates:?}, {} terms \
             priced at {}; first fold: 8 gaps at {:.2} bits (gap {gap:.2} + grind {first_pow}), \
             sumchecks {:.2}; first queries {} at rate 1/2: {first_q:.2}; queries {q:?} \
             (grind {qpow:?}) at {qbits:?} bits; round folds grind {fpow:?}, gaps >= {:.2}; combinations >= {:.2}; \
             final queries {:.2}; final sumcheck {:?}; smallest {min:.2}, union {union:.2}; \
             [a one-challenge 8-wide fold would give {curve:.2}]",
            c.folding_schedule(),
            c.final_sumcheck_rounds(),
            p.error_terms(log_n),
            p.term_bits(log_n),
            min_of(&ts, Kind::FirstProx).unwrap(),
            min_of(&ts, Kind::FirstSumcheck).unwrap(),
            q[0],
            min_of(&ts, Kind::RoundProx).unwrap(),
            min_of(&ts, Kind::Combination).unwrap(),
            min_of(&ts, Kind::FinalQueries).unwrap(),
            min_of(&ts, Kind::FinalSumcheck),
        );
        // v10's folding 7 at the same size, for comparison: the same target, met too.
        let p7 = WhirParams {
            large_first_folding: 7,
            ..p
        };
        let (min7, union7) = check_terms(&p7, log_n);
        let c7 = rebuilt(&p7, log_n).unwrap();
        eprintln!(
            "2^{log_n} folding 7: schedule {:?}, first-fold grind {}, queries {:?}, smallest \
             {min7:.2}, union {union7:.2}",
            c7.folding_schedule(),
            c7.starting_folding_pow_bits(),
            c7.round_parameters()
                .iter()
                .map(|r| r.num_queries)
                .chain([c7.terminal().num_queries])
                .collect::<Vec<_>>()
        );
        // The table is committed with this schedule, not silently moved to Ligero.
        let pp = PcsParams::for_scheme(Scheme::WhirUnique);
        assert!(
            Layout::choose_batched(log_n, 1 << log_n, &pp).whir,
            "2^{log_n}"
        );
    }
    // Below 2^27 the schedule is folding 5's: folding 8 changes nothing there but the id.
    for log_n in p.min_log_n()..27 {
        assert_eq!(p.first_folding(log_n), p.folding);
        let old = WhirParams {
            large_first_folding: 7,
            ..p
        };
        assert_eq!(p.error_terms(log_n), old.error_terms(log_n));
        assert_eq!(params_are_sound(&p, log_n), params_are_sound(&old, log_n));
        assert!(params_are_sound(&p, log_n), "2^{log_n}");
        if log_n >= UNIQUE_FROM_LOG_N {
            check_terms(&p, log_n);
        }
    }
}

/// The small-table stand-ins used below have the real schedule's shape: an 8-wide first
/// round in the unique regime, then folding 5, rates 1, 3 (the first round's codeword at
/// rate 1/2, its successor at 1/8), no OOD; their terms reach their own target. And p3
/// does play the 8 folds as 8 sumcheck rounds, each its own challenge (and grind where the
/// site grinds): checked on the proofs.
#[test]
fn small_fold8_stand_ins_have_the_real_schedule_and_eight_fold_rounds() {
    for (p, log_n) in [(u8_from(15), 15usize), (u8_from(15), 20), (u8_ground(), 15)] {
        assert_eq!(p.first_folding(log_n), 8);
        check_terms(&p, log_n);
        let c = rebuilt(&p, log_n).unwrap();
        assert_eq!(c.folding_schedule()[0], 8);
        assert!(c.folding_schedule()[1..].iter().all(|&f| f == 5));
    }
    let c = rebuilt(&u8_ground(), 15).unwrap();
    assert!(
        c.starting_folding_pow_bits() > 0,
        "the stand-in grinds its first fold"
    );
    for (o, p) in [(u8_15(), u8_from(15)), (ground_15(), u8_ground())] {
        let c = rebuilt(&p, 15).unwrap();
        let pr = decode(&o.proof);
        assert!(pr.whir.initial_ood_answers.is_empty());
        assert_eq!(pr.whir.initial_sumcheck.polynomial_evaluations.len(), 8);
        assert_eq!(
            pr.whir.initial_sumcheck.pow_witnesses.len(),
            if c.starting_folding_pow_bits() > 0 {
                8
            } else {
                0
            }
        );
        assert_eq!(pr.whir.rounds.len(), 1);
        match &pr.whir.rounds[0].openings {
            QueryOpenings::Base(op) => assert!(op.rows.iter().all(|r| r.len() == 256)),
            QueryOpenings::Extension(_) => panic!("the first round opens base rows"),
        }
        check_o(o, &p, &o.proof).expect("honest folding-8 opening");
    }
}

// ---------------------------------------------------------------------------------------
// Cross-schedule confusion.

/// An opening made with one first folding (or regime) verifies under no other: folding 8
/// against v10's folding 7, `whir`'s Johnson folding 7, Johnson folding 8, folding 5 (the
/// schedule below the large threshold) and folding 9.
#[test]
fn opening_under_another_first_folding_or_regime_refused_both_ways() {
    let (u8o, u7o, j7o) = (u8_15(), u7_15(), j7_15());
    let (p8, p7, pj7, pj8) = (u8_from(15), u7_from(15), j7_from(15), j8_from(15));
    // Thresholds at 16: 2^15 under the Johnson bound and folding 5 (`whir`'s schedule there).
    let p5 = u8_from(16);
    // Unique from 2^15 but folding 5 (`whir-unique`'s schedule at 2^24..2^26).
    let p5u = WhirParams {
        large_from_log_n: 16,
        ..u8_from(15)
    };
    let p9 = WhirParams {
        large_first_folding: 9,
        ..u8_from(15)
    };
    check_o(u8o, &p8, &u8o.proof).expect("honest 8");
    check_o(u7o, &p7, &u7o.proof).expect("honest 7");
    check_o(j7o, &pj7, &j7o.proof).expect("honest Johnson 7");
    // Roots: 256-wide rows against 128-wide ones.
    assert_ne!(u8o.root, u7o.root);
    assert_eq!(
        u7o.root, j7o.root,
        "the regime changes the opening, not the commitment"
    );
    for (name, p) in [
        ("unique 7", p7),
        ("Johnson 7", pj7),
        ("Johnson 8", pj8),
        ("Johnson 5", p5),
        ("unique 5", p5u),
        ("unique 9", p9),
    ] {
        assert!(
            params_are_sound(&p, 15),
            "{name}: a schedule the verifier would refuse"
        );
        // Own root and the other schedule's root.
        assert!(
            check_o(u8o, &p, &u8o.proof).is_err(),
            "8 accepted as {name}"
        );
        assert!(
            check(&u7o.root, 15, &u8o.z, u8o.y, &p, &u8o.proof).is_err(),
            "8 accepted as {name} on the 7 root"
        );
    }
    for o in [u7o, j7o] {
        assert!(check_o(o, &p8, &o.proof).is_err(), "7 accepted as 8");
        assert!(check(&u8o.root, 15, &o.z, o.y, &p8, &o.proof).is_err());
    }
    // A Johnson-8 opening and a unique-5 opening are refused under unique 8 too.
    for q in [pj8, p5u] {
        assert!(params_are_sound(&q, 15));
        let o = open(15, &q);
        check_o(&o, &q, &o.proof).expect("honest");
        assert!(check_o(&o, &p8, &o.proof).is_err(), "{q:?} accepted as 8");
        assert!(check(&u8o.root, 15, &o.z, o.y, &p8, &o.proof).is_err());
    }
    // Folding 8 at another threshold that still puts 2^15 in the same schedule: the same
    // WHIR proof (the threshold reaches the proof through the caller's id, below).
    check_o(u8o, &u8_from(12), &u8o.proof).expect("same schedule");
    assert_ne!(u8_from(12).to_bytes(), u8_from(15).to_bytes());
}

/// A table committed with one row width (folding 7, v10's weight root) and opened under the
/// other: whatever the prover makes verifies under neither.
#[test]
fn commitment_with_one_row_width_opened_under_the_other_refused() {
    let log_n = 15;
    let (p8, p7) = (u8_from(15), u7_from(15));
    for (cp, op) in [(p7, p8), (p8, p7), (j7_from(15), p8)] {
        let made = mixed_opening_refused(log_n, 11, &cp, &op);
        eprintln!(
            "commit folding {} ({:?}), open folding {} ({:?}): {}",
            cp.first_folding(log_n),
            cp.regime(log_n),
            op.first_folding(log_n),
            op.regime(log_n),
            if made {
                "the prover made a proof"
            } else {
                "the prover refused (panic)"
            }
        );
    }
}

/// Below the large threshold (`2^24..2^26` for the real scheme) folding 8 changes nothing in
/// the opening — same root, byte-identical proof — so v10 and v11 are told apart only by
/// the id (the weight root's hash, the protocol id, the format version), which differs.
#[test]
fn below_the_large_threshold_only_the_id_tells_v10_from_v11() {
    let log_n = 14;
    let (p8, p7) = (u8_from(15), u7_from(15));
    let (p8, p7) = (
        WhirParams {
            unique_from_log_n: 13,
            ..p8
        },
        WhirParams {
            unique_from_log_n: 13,
            ..p7
        },
    );
    assert_eq!(p8.first_folding(log_n), 5);
    let (a, b) = (open(log_n, &p8), open(log_n, &p7));
    assert_eq!(a.root, b.root);
    assert_eq!(a.proof, b.proof);
    check_o(&a, &p7, &a.proof).expect("the same opening");
    assert_ne!(p8.to_bytes(), p7.to_bytes());
    // The real schemes: v11's whir-unique has another id than v10's (folding 7), than
    // `whir`'s, and than any threshold's.
    let v10 = WhirParams {
        large_first_folding: 7,
        ..real()
    };
    let ids = [
        real().to_bytes(),
        v10.to_bytes(),
        real_whir().to_bytes(),
        WhirParams {
            unique_from_log_n: UNIQUE_NEVER,
            ..real()
        }
        .to_bytes(),
    ];
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            assert_ne!(ids[i], ids[j], "ids {i} and {j}");
        }
    }
    assert_ne!(
        PcsParams::for_scheme(Scheme::WhirUnique).to_bytes(),
        PcsParams {
            whir: Some(v10),
            ..PcsParams::default()
        }
        .to_bytes()
    );
}

// ---------------------------------------------------------------------------------------
// Wrong statements and malformed proofs.

#[test]
fn fold8_opening_of_a_wrong_value_or_point_refused() {
    for (o, p) in [(u8_15(), u8_from(15)), (ground_15(), u8_ground())] {
        wrong_values_refused(o, &p);
        let mut q = decode(&o.proof);
        let y = o.y + E::ONE;
        q.evals = vec![OpeningBatch::new(vec![y], Vec::new())];
        assert!(check(&o.root, o.log_n, &o.z, y, &p, &encode(&q)).is_err());
        for i in [0, 3, 7, 8, 12, o.log_n - 1] {
            let mut z = o.z.clone();
            z[i] += E::ONE;
            assert!(
                check(&o.root, o.log_n, &z, o.y, &p, &o.proof).is_err(),
                "z[{i}]"
            );
        }
        let rev: Vec<E> = o.z.iter().rev().copied().collect();
        assert!(check(&o.root, o.log_n, &rev, o.y, &p, &o.proof).is_err());
        let mut root = o.root;
        root[31] ^= 0x80;
        assert!(check(&root, o.log_n, &o.z, o.y, &p, &o.proof).is_err());
    }
}

/// The proof decoded, restructured and re-encoded canonically: the 8-wide rows narrowed to 7's
/// width or widened to 9's, the first sumcheck cut to 7 rounds or grown to 9, its grinding
/// dropped or given where none is due, parts of a folding-7 proof grafted in, OOD answers
/// added. Refused under folding 8 and under folding 7, never a panic.
#[test]
fn fold8_proof_restructured_or_grafted_refused_without_panic() {
    for (o, p) in [(u8_15(), u8_from(15)), (ground_15(), u8_ground())] {
        let honest = decode(&o.proof);
        assert_eq!(encode(&honest), o.proof, "canonical");
        let donor = decode(&u7_15().proof);
        let c = rebuilt(&p, 15).unwrap();
        let ground = c.starting_folding_pow_bits() > 0;
        let rows = |f: &dyn Fn(&mut Vec<Vec<F>>)| {
            let mut q = honest.clone();
            match &mut q.whir.rounds[0].openings {
                QueryOpenings::Base(op) => f(&mut op.rows),
                QueryOpenings::Extension(_) => panic!("base rows"),
            }
            q
        };
        let mut attempts: Vec<(&str, Proof)> = vec![
            (
                "rows narrowed to 128",
                rows(&|r| r.iter_mut().for_each(|r| r.truncate(128))),
            ),
            (
                "rows widened to 512",
                rows(&|r| r.iter_mut().for_each(|r| r.resize(512, F::ZERO))),
            ),
            ("a row value changed", rows(&|r| r[1][200] += F::ONE)),
            ("rows swapped", rows(&|r| r.swap(0, 1))),
        ];
        let mut q = honest.clone();
        q.whir.initial_sumcheck.polynomial_evaluations.truncate(7);
        q.whir.initial_sumcheck.pow_witnesses.truncate(7);
        attempts.push(("first sumcheck of 7 rounds", q));
        let mut q = honest.clone();
        let e = q.whir.initial_sumcheck.polynomial_evaluations[7];
        q.whir.initial_sumcheck.polynomial_evaluations.push(e);
        if ground {
            let w = q.whir.initial_sumcheck.pow_witnesses[7];
            q.whir.initial_sumcheck.pow_witnesses.push(w);
        }
        attempts.push(("first sumcheck of 9 rounds", q));
        let mut q = honest.clone();
        q.whir.initial_sumcheck.polynomial_evaluations[7][1] += E::ONE;
        attempts.push(("first sumcheck's 8th round changed", q));
        let mut q = honest.clone();
        if ground {
            q.whir.initial_sumcheck.pow_witnesses.clear();
            attempts.push(("first fold's grinding dropped", q));
            let mut q = honest.clone();
            q.whir.initial_sumcheck.pow_witnesses[7] += F::ONE;
            attempts.push(("first fold's 8th witness changed", q));
        } else {
            q.whir.initial_sumcheck.pow_witnesses = vec![F::ZERO; 8];
            attempts.push(("witnesses where none is due", q));
        }
        let mut q = honest.clone();
        q.whir.initial_sumcheck = donor.whir.initial_sumcheck.clone();
        attempts.push(("folding 7's first sumcheck", q));
        let mut q = honest.clone();
        q.whir.rounds[0] = donor.whir.rounds[0].clone();
        attempts.push(("folding 7's first round", q));
        let mut q = honest.clone();
        q.whir.final_poly = donor.whir.final_poly.clone();
        attempts.push(("folding 7's final polynomial", q));
        let mut q = honest.clone();
        q.whir.initial_ood_answers = vec![E::ONE];
        attempts.push(("an OOD answer added", q));
        let mut q = honest.clone();
        q.whir.rounds.clear();
        attempts.push(("no STIR round", q));
        let mut q = honest.clone();
        q.whir.rounds.push(q.whir.rounds[0].clone());
        attempts.push(("a STIR round duplicated", q));
        // Folding 7's whole proof with folding 8's evaluation claim.
        let mut q = donor.clone();
        q.evals = honest.evals.clone();
        attempts.push(("folding 7's proof", q));
        for (what, q) in &attempts {
            let b = encode(q);
            assert!(check_o(o, &p, &b).is_err(), "accepted under 8: {what}");
            let p7 = WhirParams {
                large_first_folding: 7,
                ..p
            };
            assert!(check_o(o, &p7, &b).is_err(), "accepted under 7: {what}");
        }
    }
}

#[test]
fn fold8_proof_flipped_truncated_extended_refused_without_panic() {
    for (o, p, seed) in [
        (u8_15(), u8_from(15), 808u64),
        (ground_15(), u8_ground(), 809),
    ] {
        let n = refuses_altered_bytes(o, &p, 400, 400, seed);
        eprintln!("{n} bytes of {} altered, each refused", o.proof.len());
        refuses_cut_and_extended(o, &p, 24, 397, 613);
    }
}

/// The real parameters at the sizes that fold 8 (2^27..2^30): the verifier on junk, on a
/// small folding-8 proof and on the empty proof returns an error, never panics.
#[test]
fn real_fold8_verifier_refuses_junk_and_foreign_proofs_without_panic() {
    let p = real();
    let o = u8_15();
    for log_n in [26usize, 27, 28, 29, 30] {
        let z = point(log_n, 3);
        for junk in [&[][..], &[0], &[3, 0, 0, 0], &[0xff; 40]] {
            assert!(check(&o.root, log_n, &z, o.y, &p, junk).is_err());
        }
        assert!(check(&o.root, log_n, &z, o.y, &p, &o.proof).is_err());
        assert!(check(&o.root, log_n, &z, o.y, &p, &u7_15().proof).is_err());
        // A point of the small table's dimension against a large table's parameters.
        assert!(check(&o.root, log_n, &o.z, o.y, &p, &o.proof).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// The batched path.

fn batch(p: WhirParams) -> PcsParams {
    PcsParams {
        whir: Some(WhirParams {
            from_log_n: 12,
            ..p
        }),
        ..PcsParams::default()
    }
}

#[test]
fn batched_fold8_unique_opening_binds_its_claims_and_its_schedule() {
    let (log_n, used) = (15usize, 23_456usize);
    let mut vals = table(log_n, 9);
    vals[used..].fill(F::ZERO);
    let (p8, p7) = (batch(u8_from(15)), batch(u7_from(15)));
    assert!(Layout::choose_batched(log_n, used, &p8).whir);
    assert!(Layout::choose_batched(log_n, used, &p7).whir);
    let claims = block_claims(
        &vals,
        &[(15usize, 0usize), (11, 5), (8, 60), (0, 23_455)],
        90,
    );
    let mut made = Vec::new();
    for p in [&p8, &p7] {
        let pd = commit_batched(vals.clone(), log_n, used, p);
        let mut t = zkgrad_transcript::ProverTranscript::new(&ID);
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
        made.push((pd.root, proof));
    }
    assert_ne!(made[0].0, made[1].0, "256- and 128-wide rows, two roots");
    for root in [made[0].0, made[1].0] {
        assert!(verify_b(&root, log_n, used, &claims, &p8, &made[1].1).is_err());
        assert!(verify_b(&root, log_n, used, &claims, &p7, &made[0].1).is_err());
    }
    let mut rng = Rng(88);
    for _ in 0..60 {
        let mut b = made[0].1.clone();
        let i = rng.below(b.len());
        b[i] ^= 1 << rng.below(8);
        assert!(
            verify_b(&made[0].0, log_n, used, &claims, &p8, &b).is_err(),
            "byte {i}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The prover's encoder at the 8-wide rows (completeness at 2^27: its 2^20 × 256 codeword
// is four-step transformed).

#[test]
fn four_step_encoder_is_the_dft_at_256_wide_rows() {
    use p3_commit::Encoder;
    use p3_dft::Radix2DFTSmallBatch;
    use p3_matrix::dense::RowMajorMatrixView;
    let dft = Radix2DFTSmallBatch::<F>::default();
    for (log_m, rate) in [(0usize, 1usize), (3, 1), (8, 1), (9, 1), (10, 2)] {
        let w = 256;
        let h_m = 1usize << log_m;
        let values: Vec<F> = (0..h_m * w)
            .map(|i| F::from_u64((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 9))
            .collect();
        let view = RowMajorMatrixView::new(&values, w);
        let expected = Encoder::encode_batch_borrowed(&dft, view, rate);
        let got = whir::four_step(&dft, view, rate);
        assert_eq!(got.width, expected.width);
        assert!(
            got.values == expected.values,
            "2^{log_m} × 256, rate 2^-{rate}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The real thing, once (ignored: a 1 GB table, a 2 GB codeword).

/// A `whir-unique` opening of 2^27 values with the real parameters (8-wide first round):
/// complete; a wrong value, v10's folding 7 and `whir`'s parameters refuse it.
/// `cargo test --release -p zkgrad-pcs --test attack_whir_unique_fold8 -- --ignored`
#[test]
#[ignore = "2^27 values: ~1 GB table, ~2 GB codeword"]
fn real_2_27_fold8_opening_verifies_and_binds_its_schedule() {
    let log_n = 27;
    let p = real();
    let t0 = std::time::Instant::now();
    let o = open(log_n, &p);
    eprintln!(
        "2^27 committed and opened in {:.1} s, {} proof bytes",
        t0.elapsed().as_secs_f64(),
        o.proof.len()
    );
    let pr = decode(&o.proof);
    assert_eq!(pr.whir.initial_sumcheck.polynomial_evaluations.len(), 8);
    assert_eq!(
        pr.whir.initial_sumcheck.pow_witnesses.len(),
        8,
        "9 bits ground per fold"
    );
    match &pr.whir.rounds[0].openings {
        QueryOpenings::Base(op) => {
            assert!(op.rows.iter().all(|r| r.len() == 256));
            assert_eq!(op.rows.len(), 217);
        }
        QueryOpenings::Extension(_) => panic!("base rows"),
    }
    let t0 = std::time::Instant::now();
    check_o(&o, &p, &o.proof).expect("honest 2^27 opening");
    eprintln!("verified in {:.3} s", t0.elapsed().as_secs_f64());
    assert!(check(&o.root, log_n, &o.z, o.y + E::ONE, &p, &o.proof).is_err());
    let v10 = WhirParams {
        large_first_folding: 7,
        ..p
    };
    assert!(check_o(&o, &v10, &o.proof).is_err());
    assert!(check_o(&o, &real_whir(), &o.proof).is_err());
    let mut bad = o.proof.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 4;
    assert!(check_o(&o, &p, &bad).is_err());
}
