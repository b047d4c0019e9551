//! Adversarial tests of WHIR's wide first round (`WhirParams::large_first_folding`,
//! `large_from_log_n`) and of the batched opening that ends in it: openings moved between
//! schedules, malformed points and sizes, mutated proof bytes (flipped, truncated, extended,
//! and re-encoded with a changed structure), edge parameters, and random batched claim sets.
//! The verifier must refuse all of them with an error and never panic.
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
use p3_whir::pcs::proof::QueryOpenings;
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_pcs::whir::{params_are_sound, WhirParams};
use zkgrad_pcs::{commit_batched, BlockClaim, Layout, PcsParams, ProverData};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::ProverTranscript;

/// The wide first round from `from` variables up (folding 7 there, 5 after).
fn wide(from: usize) -> WhirParams {
    WhirParams {
        large_from_log_n: from,
        ..WhirParams::default()
    }
}

fn narrow() -> WhirParams {
    WhirParams::default()
}

fn open_wide(log_n: usize, p: &WhirParams) -> Opening {
    open_with(table(log_n, 1), log_n, p, p)
}

/// The cached honest opening of 2^14 values with the wide first round (rounds: 7, then 5,
/// then 2 final variables).
fn wide14() -> &'static Opening {
    static O: OnceLock<Opening> = OnceLock::new();
    O.get_or_init(|| open_wide(14, &wide(12)))
}

#[test]
fn wide_first_round_opening_is_complete_and_proves_the_tables_mle() {
    // 2^12: the wide first round leaves 5 variables, sent directly (no STIR round);
    // 2^13, 2^14: one STIR round after it; 2^18: 7 + 5 + 6 final variables.
    for log_n in [12usize, 13, 14, 18] {
        let p = wide(12);
        assert_eq!(p.first_folding(log_n), 7);
        assert!(params_are_sound(&p, log_n), "2^{log_n}");
        let o = if log_n == 14 {
            wide14()
        } else {
            &open_wide(log_n, &p)
        };
        check_o(o, &p, &o.proof).unwrap_or_else(|e| panic!("2^{log_n}: {e}"));
    }
}

/// The claimed value is what the WHIR proof's evaluation check compares against: the same
/// transcript (same challenges) with any other value is refused by WHIR itself, not by a
/// transcript comparison.
#[test]
fn wrong_value_with_the_same_challenges_rejected_under_wide() {
    let o = wide14();
    let p = wide(12);
    wrong_values_refused(o, &p);
    // Also zero value and zero point (a proof for another statement).
    assert!(check(&o.root, o.log_n, &o.z, E::ZERO, &p, &o.proof).is_err());
    let zeros = vec![E::ZERO; o.log_n];
    assert!(check(&o.root, o.log_n, &zeros, o.y, &p, &o.proof).is_err());
}

#[test]
fn opening_under_narrow_first_round_rejected_under_wide_and_vice_versa() {
    let log_n = 14;
    let w = wide(12);
    let n = narrow();
    let ow = wide14();
    let on = open_wide(log_n, &n);
    assert_ne!(ow.root, on.root, "the row width is bound by the root");
    check_o(&on, &n, &on.proof).unwrap();
    // Narrow proof, wide verifier: own root, the wide table's root.
    assert!(check_o(&on, &w, &on.proof).is_err());
    assert!(check(&ow.root, log_n, &on.z, on.y, &w, &on.proof).is_err());
    // Wide proof, narrow verifier: own root, the narrow table's root.
    assert!(check_o(ow, &n, &ow.proof).is_err());
    assert!(check(&on.root, log_n, &ow.z, ow.y, &n, &ow.proof).is_err());
    // Folding 6 and 8 in the first round: neither accepts the folding-7 proof.
    for f in [6usize, 8] {
        let other = WhirParams {
            large_first_folding: f,
            ..w
        };
        if params_are_sound(&other, log_n) {
            assert!(check_o(ow, &other, &ow.proof).is_err(), "first folding {f}");
        }
    }
    // Same folding 7 but another threshold that still covers 2^14: a different protocol
    // id only matters to the caller's transcript; the WHIR proof itself is the same schedule.
    let same_schedule = wide(14);
    assert_eq!(same_schedule.first_folding(log_n), 7);
    check_o(ow, &same_schedule, &ow.proof).expect("same schedule, same proof");
}

/// A commitment made under one first-round folding opened under the other: the prover may
/// refuse (panic, prover side), but any proof it makes verifies under neither schedule.
#[test]
fn commitment_under_one_folding_opened_under_the_other_rejected() {
    let log_n = 14;
    let (w, n) = (wide(12), narrow());
    for (cp, op) in [(n, w), (w, n)] {
        let made = mixed_opening_refused(log_n, 1, &cp, &op);
        eprintln!(
            "commit first folding {}, open first folding {}: {}",
            cp.first_folding(log_n),
            op.first_folding(log_n),
            if made {
                "the prover made a proof"
            } else {
                "the prover refused (panic)"
            }
        );
    }
}

#[test]
fn wide_opening_with_wrong_points_lengths_and_sizes_rejected_without_panic() {
    let o = wide14();
    let p = wide(12);
    // Each coordinate perturbed.
    for i in 0..o.log_n {
        let mut z = o.z.clone();
        z[i] += E::ONE;
        assert!(
            check(&o.root, o.log_n, &z, o.y, &p, &o.proof).is_err(),
            "coordinate {i}"
        );
    }
    // Reversed point (the variable order).
    let rev: Vec<E> = o.z.iter().rev().copied().collect();
    assert!(check(&o.root, o.log_n, &rev, o.y, &p, &o.proof).is_err());
    // Points of the wrong length, with the right log_n.
    for len in [0usize, 1, 7, 12, 13, 15, 16, 64] {
        let z = point(len, 9);
        assert!(
            check(&o.root, o.log_n, &z, o.y, &p, &o.proof).is_err(),
            "length {len}"
        );
    }
    // Other log_n (point of that length): below the minimum, across the wide threshold,
    // larger than the table, past any configuration.
    for log_n in [
        0usize, 1, 9, 10, 11, 12, 13, 15, 16, 20, 27, 30, 40, 62, 63, 64, 100,
    ] {
        let mut z = o.z.clone();
        z.resize(log_n, E::ONE);
        assert!(
            check(&o.root, log_n, &z, o.y, &p, &o.proof).is_err(),
            "log_n {log_n}"
        );
    }
    // Empty and tiny proofs at every size the wide schedule covers.
    for log_n in [10usize, 12, 14, 20, 27, 30] {
        let z = point(log_n, 3);
        for proof in [vec![], vec![0u8], vec![1, 0], vec![0xff; 9]] {
            assert!(check(&o.root, log_n, &z, o.y, &p, &proof).is_err());
            assert!(check(&o.root, log_n, &z, o.y, &WhirParams::default(), &proof).is_err());
        }
    }
}

#[test]
fn wide_proof_with_flipped_bytes_rejected_without_panic() {
    let o = wide14();
    let p = wide(12);
    // Every byte of the first and last 1.5 KB (lengths, OOD answers, the first sumcheck,
    // the start of the first openings, the final polynomial and openings), and a dense
    // sample of the rest; each byte flipped in one bit and replaced whole.
    let n = refuses_altered_bytes(o, &p, 1536, 1500, 77);
    eprintln!("flipped {n} of {} bytes", o.proof.len());
}

#[test]
fn wide_proof_truncated_or_extended_rejected_without_panic() {
    let o = wide14();
    let p = wide(12);
    let len = o.proof.len();
    let mut cuts: Vec<usize> = (0..64).chain(len - 64..len).collect();
    cuts.extend((0..len).step_by(97));
    for n in cuts {
        assert!(check_o(o, &p, &o.proof[..n]).is_err(), "truncated to {n}");
    }
    // Trailing bytes inside the transcript, and inside the blob (length fixed up).
    for extra in [&[0u8][..], &[1], &[0; 16], &[0xff; 3]] {
        let mut long = o.proof.clone();
        long.extend_from_slice(extra);
        assert!(check_o(o, &p, &long).is_err());
        let mut b = blob(&o.proof).to_vec();
        b.extend_from_slice(extra);
        assert!(check_o(o, &p, &with_blob(&b)).is_err());
    }
    // The blob truncated, with its length fixed up (a proof that ends early).
    let b = blob(&o.proof);
    for n in (0..b.len()).step_by(211).chain(b.len() - 40..b.len()) {
        assert!(
            check_o(o, &p, &with_blob(&b[..n])).is_err(),
            "blob truncated to {n}"
        );
    }
}

/// The proof decoded and re-encoded canonically with its structure changed: the first
/// round's rows narrowed to folding 5's width or widened, rows swapped, the first sumcheck
/// shortened to 5 rounds or lengthened, rounds dropped or duplicated, the final polynomial
/// removed, and the claimed evaluation changed — each canonical, so only the verifier's own
/// checks can refuse it.
#[test]
fn wide_proof_restructured_rejected_without_panic() {
    let o = wide14();
    let p = wide(12);
    let honest = decode(&o.proof);
    assert_eq!(encode(&honest), o.proof, "re-encoding is canonical");
    assert_eq!(honest.whir.initial_sumcheck.polynomial_evaluations.len(), 7);
    assert_eq!(honest.whir.rounds.len(), 1);
    let mut attempts: Vec<(&str, Proof)> = Vec::new();
    let first_rows = |f: &dyn Fn(&mut Vec<Vec<F>>)| {
        let mut q = honest.clone();
        match &mut q.whir.rounds[0].openings {
            QueryOpenings::Base(op) => f(&mut op.rows),
            QueryOpenings::Extension(_) => panic!("the first round opens base rows"),
        }
        q
    };
    match &honest.whir.rounds[0].openings {
        QueryOpenings::Base(op) => assert!(op.rows.iter().all(|r| r.len() == 128)),
        QueryOpenings::Extension(_) => panic!("the first round opens base rows"),
    }
    attempts.push((
        "rows narrowed to 32",
        first_rows(&|rows| rows.iter_mut().for_each(|r| r.truncate(32))),
    ));
    attempts.push((
        "rows widened to 256",
        first_rows(&|rows| rows.iter_mut().for_each(|r| r.resize(256, F::ZERO))),
    ));
    attempts.push((
        "one row short",
        first_rows(&|rows| {
            rows[0].pop();
        }),
    ));
    attempts.push(("one row long", first_rows(&|rows| rows[0].push(F::ONE))));
    attempts.push(("rows swapped", first_rows(&|rows| rows.swap(0, 1))));
    attempts.push((
        "row dropped",
        first_rows(&|rows| {
            rows.pop();
        }),
    ));
    attempts.push((
        "row duplicated",
        first_rows(&|rows| {
            let r = rows[0].clone();
            rows.push(r);
        }),
    ));
    attempts.push(("no rows", first_rows(&|rows| rows.clear())));
    attempts.push((
        "row value changed",
        first_rows(&|rows| rows[3][100] += F::ONE),
    ));
    let mut q = honest.clone();
    q.whir.initial_sumcheck.polynomial_evaluations.truncate(5);
    q.whir.initial_sumcheck.pow_witnesses.truncate(5);
    attempts.push(("first sumcheck of 5 rounds", q));
    let mut q = honest.clone();
    let extra = q.whir.initial_sumcheck.polynomial_evaluations[0];
    q.whir
        .initial_sumcheck
        .polynomial_evaluations
        .extend([extra, extra]);
    let w = q
        .whir
        .initial_sumcheck
        .pow_witnesses
        .first()
        .copied()
        .unwrap_or(F::ZERO);
    if !q.whir.initial_sumcheck.pow_witnesses.is_empty() {
        q.whir.initial_sumcheck.pow_witnesses.extend([w, w]);
    }
    attempts.push(("first sumcheck of 9 rounds", q));
    let mut q = honest.clone();
    q.whir.initial_sumcheck.polynomial_evaluations[6][0] += E::ONE;
    attempts.push(("first sumcheck's last round changed", q));
    let mut q = honest.clone();
    q.whir.initial_ood_answers.clear();
    attempts.push(("no OOD answers", q));
    let mut q = honest.clone();
    q.whir.rounds.clear();
    attempts.push(("no STIR round", q));
    let mut q = honest.clone();
    let r = q.whir.rounds[0].clone();
    q.whir.rounds.push(r);
    attempts.push(("STIR round duplicated", q));
    let mut q = honest.clone();
    q.whir.final_poly = None;
    attempts.push(("no final polynomial", q));
    let mut q = honest.clone();
    q.whir.final_sumcheck = None;
    attempts.push(("no final sumcheck", q));
    let mut q = honest.clone();
    q.evals = vec![OpeningBatch::new(vec![o.y + E::ONE], Vec::new())];
    attempts.push(("evaluation changed", q));
    let mut q = honest.clone();
    q.evals = vec![OpeningBatch::new(vec![o.y], vec![o.y])];
    attempts.push(("a successor evaluation added", q));
    let mut q = honest.clone();
    q.evals = vec![OpeningBatch::new(vec![o.y, o.y], Vec::new())];
    attempts.push(("two evaluations", q));
    let mut q = honest.clone();
    q.evals.clear();
    attempts.push(("no evaluation", q));
    let mut q = honest.clone();
    q.evals.push(q.evals[0].clone());
    attempts.push(("two batches", q));
    for (what, q) in &attempts {
        let bytes = encode(q);
        assert!(check_o(o, &p, &bytes).is_err(), "accepted: {what}");
        // … nor under the narrow schedule.
        assert!(
            check_o(o, &narrow(), &bytes).is_err(),
            "accepted under narrow: {what}"
        );
    }
    // The evaluation changed together with the claimed value (a false statement whose
    // challenges follow from it): refused.
    let mut q = honest.clone();
    let y = o.y + E::ONE;
    q.evals = vec![OpeningBatch::new(vec![y], Vec::new())];
    assert!(check(&o.root, o.log_n, &o.z, y, &p, &encode(&q)).is_err());
}

/// `params_are_sound` and the verifier on edge schedules, at 2^10..2^30 (and past): never a
/// panic; a configuration it accepts states at least `security_bits` per opening; one it
/// refuses is refused by the verifier too.
#[test]
fn edge_first_folding_parameters_refused_or_sound_never_panic() {
    let firsts = [
        0usize,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        10,
        13,
        16,
        20,
        26,
        27,
        28,
        29,
        30,
        31,
        63,
        64,
        1 << 20,
        usize::MAX,
    ];
    let froms = [0usize, 10, 27, 31, usize::MAX];
    let mut sound = 0;
    for &large_first_folding in &firsts {
        for &large_from_log_n in &froms {
            let p = WhirParams {
                large_first_folding,
                large_from_log_n,
                ..WhirParams::default()
            };
            for log_n in (0..=31).chain([40, 62, 63, 64, 70]) {
                let ok = catch_unwind(AssertUnwindSafe(|| params_are_sound(&p, log_n)))
                    .unwrap_or_else(|_| panic!("params_are_sound panicked: first {large_first_folding}, from {large_from_log_n}, 2^{log_n}"));
                let err = catch_unwind(AssertUnwindSafe(|| {
                    (
                        p.error_terms(log_n),
                        p.term_bits(log_n),
                        p.opening_error_log2(log_n),
                        p.to_bytes(),
                    )
                }))
                .unwrap_or_else(|_| {
                    panic!("params accessors panicked: first {large_first_folding}, 2^{log_n}")
                });
                if ok {
                    sound += 1;
                    assert!(
                        err.2 <= -(p.security_bits as f64),
                        "first {large_first_folding}, 2^{log_n}: error 2^{}",
                        err.2
                    );
                    assert!(p.first_folding(log_n) >= 1 && p.first_folding(log_n) <= log_n);
                }
                // The verifier with these parameters: an Err on a junk proof, never a panic.
                if log_n <= 40 {
                    let z = vec![E::ONE; log_n];
                    assert!(check(&[0; 32], log_n, &z, E::ZERO, &p, &[3, 0, 0, 0]).is_err());
                }
                // The batched layout decides from the same check, without panicking.
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
                    .unwrap_or_else(|_| {
                        panic!("choose_batched panicked: first {large_first_folding}, 2^{log_n}")
                    });
                    if l.whir {
                        assert!(params_are_sound(
                            &WhirParams {
                                from_log_n: 10,
                                ..p
                            },
                            log_n
                        ));
                    }
                }
            }
        }
    }
    assert!(sound > 0);
    // The defaults: sound at every WHIR size, wide from 2^27 on.
    let d = WhirParams::default();
    for log_n in d.min_log_n()..=30 {
        assert!(params_are_sound(&d, log_n), "2^{log_n}");
        assert_eq!(d.first_folding(log_n), if log_n >= 27 { 7 } else { 5 });
        assert!(d.opening_error_log2(log_n) <= -(d.security_bits as f64));
    }
    // The schedule is in the protocol id.
    assert_ne!(
        d.to_bytes(),
        WhirParams {
            large_first_folding: 6,
            ..d
        }
        .to_bytes()
    );
    assert_ne!(
        d.to_bytes(),
        WhirParams {
            large_from_log_n: 26,
            ..d
        }
        .to_bytes()
    );
}

/// Edge first foldings that `params_are_sound` accepts on a small table open and verify
/// (completeness), and their proofs verify under no other first folding.
#[test]
fn edge_first_foldings_that_are_sound_are_complete_and_bind_their_folding() {
    let log_n = 12;
    let mut made = Vec::new();
    for f in [1usize, 2, 3, 4, 6, 8, 10, 12] {
        let p = WhirParams {
            large_first_folding: f,
            large_from_log_n: 10,
            ..WhirParams::default()
        };
        if !params_are_sound(&p, log_n) {
            eprintln!("first folding {f}: refused at 2^{log_n}");
            continue;
        }
        let o = catch_unwind(AssertUnwindSafe(|| open_wide(log_n, &p)))
            .unwrap_or_else(|_| panic!("prover panicked with sound first folding {f}"));
        check_o(&o, &p, &o.proof).unwrap_or_else(|e| panic!("first folding {f}: {e}"));
        eprintln!(
            "first folding {f}: sound at 2^{log_n}, {} proof bytes",
            o.proof.len()
        );
        made.push((f, p, o));
    }
    for (f, _, o) in &made {
        for (g, q, _) in &made {
            if f != g {
                assert!(
                    check_o(o, q, &o.proof).is_err(),
                    "folding-{f} proof accepted under {g}"
                );
            }
        }
        assert!(check_o(o, &narrow(), &o.proof).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// Batched openings ending in the wide first round.

fn batch_params(large_from: usize) -> PcsParams {
    PcsParams {
        whir: Some(WhirParams {
            from_log_n: 12,
            large_from_log_n: large_from,
            ..WhirParams::default()
        }),
        ..PcsParams::default()
    }
}

/// Random claims on blocks of the used prefix: blocks of one entry to the whole table,
/// several on one block, blocks ending exactly at `used` or straddling it, zero points.
fn random_claims(rng: &mut Rng, vals: &[F], log_n: usize, used: usize) -> Vec<BlockClaim> {
    let mut claims = Vec::new();
    let n = 1 + rng.below(8);
    for j in 0..n {
        let k = match rng.below(5) {
            0 => log_n,
            1 => 0,
            2 => rng.below(6),
            _ => rng.below(log_n + 1),
        };
        let blocks = 1usize << (log_n - k);
        // Prefer blocks that touch the used prefix's end.
        let block_index = match rng.below(3) {
            0 => (used.saturating_sub(1) >> k).min(blocks - 1),
            _ => rng.below(blocks),
        };
        let pt = if rng.below(6) == 0 {
            vec![E::ZERO; k]
        } else {
            point(k, rng.next())
        };
        let off = block_index << k;
        let value = eval_mle_base(&vals[off..off + (1 << k)], &pt);
        claims.push(BlockClaim {
            block_index,
            point: pt.clone(),
            value,
        });
        if j == 0 && rng.below(2) == 0 {
            // Another claim on the same block, and a duplicate.
            let pt2 = point(k, rng.next());
            claims.push(BlockClaim {
                block_index,
                value: eval_mle_base(&vals[off..off + (1 << k)], &pt2),
                point: pt2,
            });
            claims.push(BlockClaim {
                block_index,
                point: pt,
                value,
            });
        }
    }
    claims
}

/// Proves a batch, requires it to verify, and each claim's value changed in turn to be
/// refused; returns the proof.
fn prove_honest_batch(
    pd: &ProverData,
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    p: &PcsParams,
    what: &str,
) -> Vec<u8> {
    let mut t = ProverTranscript::new(&ID);
    prove_bound(pd, claims, p, &mut t);
    let proof = t.finish();
    verify_b(&pd.root, log_n, used, claims, p, &proof)
        .unwrap_or_else(|e| panic!("{what}: honest batch refused: {e}"));
    for i in 0..claims.len() {
        let mut bad = claims.to_vec();
        bad[i].value += E::ONE;
        assert!(
            verify_b(&pd.root, log_n, used, &bad, p, &proof).is_err(),
            "{what}: value {i}"
        );
    }
    proof
}

#[test]
fn batched_wide_openings_of_random_claims_verify_and_wrong_claims_are_rejected() {
    let mut rng = Rng(2024);
    // (log_n, used): whole table, a prefix not a multiple of 64, a prefix of one word and a
    // bit; the wide round from 2^12 on, and a narrow reference (from 2^16).
    let cases = [
        (14usize, 1usize << 14, 12usize),
        (14, 9_999, 12),
        (14, 65, 12),
        (15, 20_000, 12),
        (16, 40_001, 12),
        (14, 5_000, 16),
    ];
    for (case, &(log_n, used, large_from)) in cases.iter().enumerate() {
        let p = batch_params(large_from);
        let mut vals = table(log_n, case as i64);
        vals[used..].fill(F::ZERO);
        let pd = commit_batched(vals.clone(), log_n, used, &p);
        assert!(
            Layout::choose_batched(log_n, used, &p).whir,
            "case {case} is WHIR"
        );
        for round in 0..2 {
            let claims = random_claims(&mut rng, &vals, log_n, used);
            // Honest, and each claim's value wrong in turn.
            let what = format!("case {case}/{round}");
            let proof = prove_honest_batch(&pd, log_n, used, &claims, &p, &what);
            // A claim moved to another block, its point changed.
            let mut bad = claims.clone();
            let k = bad[0].point.len();
            if k < log_n {
                bad[0].block_index ^= 1;
                let off = bad[0].block_index << k;
                let truth = eval_mle_base(&vals[off..off + (1 << k)], &bad[0].point);
                let r = verify_b(&pd.root, log_n, used, &bad, &p, &proof);
                // Moved to a block where the claim happens to hold (both past `used`, say), it
                // is a true statement about the table, and the same proof may prove it.
                assert!(
                    r.is_err() || truth == bad[0].value,
                    "case {case}/{round}: FORGERY, a claim moved to block {} (k {k}, used {used})",
                    bad[0].block_index
                );
            }
            if k > 0 {
                let mut bad = claims.clone();
                bad[0].point[0] += E::ONE;
                let off = bad[0].block_index << k;
                let truth = eval_mle_base(&vals[off..off + (1 << k)], &bad[0].point);
                let r = verify_b(&pd.root, log_n, used, &bad, &p, &proof);
                // (A block past `used` is zero: its claims hold at every point.)
                assert!(
                    r.is_err() || truth == bad[0].value,
                    "case {case}/{round}: FORGERY, a claim's point moved (k {k}, used {used})"
                );
            }
            // A claim dropped or added.
            if claims.len() > 1 {
                assert!(verify_b(&pd.root, log_n, used, &claims[1..], &p, &proof).is_err());
            }
            // Under another schedule or used prefix.
            let other = batch_params(if large_from == 12 { 30 } else { 12 });
            assert!(verify_b(&pd.root, log_n, used, &claims, &other, &proof).is_err());
            // (Another `used` changes the weights only where a claim's block covers `used`.)
            let covers = claims.iter().any(|c| {
                let off = c.block_index << c.point.len();
                off <= used && used < off + (1 << c.point.len())
            });
            if used < 1 << log_n && covers {
                assert!(verify_b(&pd.root, log_n, used + 1, &claims, &p, &proof).is_err());
            }
            // Bytes flipped across the batch proof (the sumcheck and the WHIR blob).
            for _ in 0..40 {
                let mut b = proof.clone();
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
                assert!(
                    verify_b(&pd.root, log_n, used, &claims, &p, &b).is_err(),
                    "byte {i}"
                );
            }
        }
    }
}

/// A batch whose claims lie past `used` (where the table is zero but the prover's weights
/// are truncated): the honest prover's proof still verifies, a false value there does not.
#[test]
fn batched_wide_claims_past_used_are_bound() {
    let (log_n, used) = (14usize, 3_000usize);
    let p = batch_params(12);
    let mut vals = table(log_n, 9);
    vals[used..].fill(F::ZERO);
    let pd = commit_batched(vals.clone(), log_n, used, &p);
    // Block of 2^10 at index 2 straddles used (2048..3072); index 5 lies past it.
    let claims = block_claims(&vals, &[(10usize, 2usize), (10, 5), (12, 0), (14, 0)], 40);
    let mut t = ProverTranscript::new(&ID);
    prove_bound(&pd, &claims, &p, &mut t);
    let proof = t.finish();
    verify_b(&pd.root, log_n, used, &claims, &p, &proof).unwrap();
    // A nonzero value claimed for the block past used: refused whatever the prover does
    // with it (it proves the honest weights; the claim sum no longer matches).
    let mut bad = claims.clone();
    bad[1].value = E::ONE;
    let mut t = ProverTranscript::new(&ID);
    let _ = catch_unwind(AssertUnwindSafe(|| prove_bound(&pd, &bad, &p, &mut t)));
    let proof2 = t.finish();
    assert!(verify_b(&pd.root, log_n, used, &bad, &p, &proof2).is_err());
}

// ---------------------------------------------------------------------------------------
// The lazy batching weights (prover side, tables of 2^26 values or more).

/// One batch on a table of 2^26 values (the lazy weights' size) whose used prefix is
/// `used`: the claims (log size, block index, point seed; seed 0 = the zero point) verify,
/// and each wrong value is refused. Ligero keeps the commitment's cost to the used prefix.
fn lazy_batch(used: usize, blocks: &[(usize, usize, u64)]) {
    let log_n = 26;
    let p = PcsParams::default();
    let vals: Vec<F> = (0..used as i64)
        .map(|i| f_from_i64((i * 7919) % 1000 - 500))
        .collect();
    let pd = zkgrad_pcs::commit_used(vals.clone(), log_n, used, &p);
    let at = |off: usize, k: usize| -> Vec<F> {
        (off..off + (1 << k))
            .map(|i| vals.get(i).copied().unwrap_or(F::ZERO))
            .collect()
    };
    let claims: Vec<BlockClaim> = blocks
        .iter()
        .map(|&(k, block_index, seed)| {
            let pt = if seed == 0 {
                vec![E::ZERO; k]
            } else {
                point(k, seed)
            };
            BlockClaim {
                block_index,
                value: eval_mle_base(&at(block_index << k, k), &pt),
                point: pt,
            }
        })
        .collect();
    prove_honest_batch(
        &pd,
        log_n,
        used,
        &claims,
        &p,
        &format!("lazy batch (used {used})"),
    );
}

/// The lazy weights on a small used prefix (all claims in the lower half): blocks of one
/// entry to 2^16, within a chunk, a chunk within a block, several claims on one block, a
/// duplicate claim, zero points, a block ending exactly at `used` (not a multiple of 64),
/// blocks smaller than a packed word.
#[test]
fn lazy_batch_weights_small_prefix_verify_and_bind() {
    let used = 70_037; // odd: only a one-entry block ends there
    lazy_batch(
        used,
        &[
            (16, 0, 1),
            (16, 0, 2),
            (16, 0, 2),
            (15, 1, 0),
            (13, 7, 3),
            (12, 16, 4),
            (12, 16, 0),
            (10, 67, 5),
            (4, 4375, 6),
            (2, 17_508, 7),
            (1, 35_017, 8),
            (0, used - 1, 9),
            (0, 0, 0),
            (3, 8754, 10),
        ],
    );
    // Blocks ending exactly at a used prefix that is a multiple of 2^15.
    let used = 3 << 15;
    lazy_batch(
        used,
        &[
            (15, 2, 11),
            (16, 0, 12),
            (14, 5, 13),
            (5, (used >> 5) - 1, 14),
        ],
    );
}

/// The lazy weights across both halves of the first lazy round (used just past 2^25): claims
/// in the upper half (their first binding scales by `r`), one on the whole lower half, and
/// blocks in the upper half's first chunks.
#[test]
fn lazy_batch_weights_across_the_top_half_verify_and_bind() {
    let half = 1usize << 25;
    let used = half + (1 << 14) + 4_321;
    lazy_batch(
        used,
        &[
            (25, 0, 1),
            (14, half >> 14, 2),
            (14, half >> 14, 0),
            (12, (half >> 12) + 4, 3),
            (12, (half >> 12) + 1, 4),
            (6, (half >> 6) + 300, 5),
            (0, used - 1, 6),
            (2, (half >> 2) + 1, 7),
            (13, (half >> 13) - 1, 8),
            (20, 31, 9),
        ],
    );
}
