use super::*;
use crate::ligero::encode_all;
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

/// [`bind`] then [`prove_batch`]: a batched opening with its table's binding (none for Ligero
/// and clear tables), as the proof's header and openings make them.
fn prove_bound(pd: &ProverData, claims: &[BlockClaim], p: &PcsParams, t: &mut ProverTranscript) {
    let b = bind(pd, p, t);
    prove_batch(pd, &b, claims, p, t);
}

/// [`prove_bound`] with `lazy` lazy rounds.
fn prove_bound_lazy(
    pd: &ProverData,
    claims: &[BlockClaim],
    p: &PcsParams,
    t: &mut ProverTranscript,
    lazy: usize,
) {
    let b = bind(pd, p, t);
    crate::batch::prove_batch_lazy(pd, &b, claims, p, t, lazy);
}

/// [`read_binding`] then [`verify_batch`].
fn verify_bound(
    root: &Digest,
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    p: &PcsParams,
    v: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    let b = read_binding(root, log_n, used, p, v)?;
    verify_batch(root, log_n, used, &b, claims, p, v)
}

fn table(log_n: usize) -> Vec<F> {
    (0..1i64 << log_n)
        .map(|i| f_from_i64(i * 7919 % 1000 - 500))
        .collect()
}

fn point(n: usize, seed: u64) -> Vec<E> {
    (0..n)
        .map(|i| E::from(F::from_u64(seed * 1000 + i as u64 * 17 + 3)))
        .collect()
}

#[test]
fn layouts_are_clear_for_small_tables_and_ligero_for_large() {
    let p = PcsParams::default();
    assert!(Layout::choose(8, &p).clear);
    let l = Layout::choose(16, &p);
    assert!(!l.clear);
    assert_eq!(l.log_rows + l.log_cols, 16);
    assert!(p.query_security_bits() >= 100.0);
}

#[test]
fn encoding_matches_the_dft() {
    // The verifier's encoding of a row equals the committed leaves (the prover's DFT), at every
    // position; and a Horner evaluation of the row polynomial at ω^j agrees.
    let p = PcsParams::default();
    let log_n = 14;
    let vals = table(log_n);
    let pd = commit(vals.clone(), log_n, &p);
    let (a, b) = (pd.layout.log_rows, pd.layout.log_cols);
    let row0: Vec<E> = vals[..1 << b].iter().map(|&x| E::from(x)).collect();
    let row1: Vec<E> = vals[1 << b..2 << b].iter().map(|&x| E::from(x)).collect();
    let enc = encode_all(&[&row0, &row1], b + 2);
    for j in 0..1usize << (b + 2) {
        assert_eq!(enc[0][j], E::from(pd.leaves[j << a]));
        assert_eq!(enc[1][j], E::from(pd.leaves[(j << a) + 1]));
    }
    use zkgrad_field::TwoAdicField;
    for j in [0usize, 1, 5, (1 << (b + 2)) - 1] {
        let x = F::two_adic_generator(b + 2).exp_u64(j as u64);
        let horner = row0.iter().rev().fold(E::ZERO, |acc, &c| acc * x + c);
        assert_eq!(enc[0][j], horner);
    }
}

/// A batch opening of a table whose first `used` values may be nonzero.
fn roundtrip(log_n: usize, used: usize) {
    let p = PcsParams::default();
    let mut vals = table(log_n);
    vals[used..].fill(F::ZERO);
    let pd = commit_used(vals.clone(), log_n, used, &p);
    let claims: Vec<BlockClaim> = (0..3)
        .map(|i| {
            let k = log_n - i;
            let pt = point(k, i as u64);
            let block_index = i % 2;
            let off = block_index << k;
            let value = eval_mle_base(&vals[off..off + (1 << k)], &pt);
            BlockClaim {
                block_index,
                point: pt,
                value,
            }
        })
        .collect();
    let mut t = ProverTranscript::new(&[1; 32]);
    prove_bound(&pd, &claims, &p, &mut t);
    let proof = t.finish();
    let mut v = VerifierTranscript::new(&[1; 32], &proof);
    verify_bound(&pd.root, log_n, used, &claims, &p, &mut v).unwrap();
    v.finish().unwrap();

    // a wrong claimed value is rejected
    let mut bad = claims.clone();
    bad[1].value += E::ONE;
    let mut v = VerifierTranscript::new(&[1; 32], &proof);
    assert!(verify_bound(&pd.root, log_n, used, &bad, &p, &mut v).is_err());

    // verified as a commitment with another used length: rejected
    let other = if used == 1 << log_n {
        used / 2 + 1
    } else {
        1 << log_n
    };
    if !Layout::choose_used(log_n, used, &p).clear {
        let mut v = VerifierTranscript::new(&[1; 32], &proof);
        let ok =
            verify_bound(&pd.root, log_n, other, &claims, &p, &mut v).is_ok() && v.finish().is_ok();
        assert!(!ok, "accepted with used = {other}");
    }

    // a flipped proof byte anywhere is rejected, never a panic
    for pos in (0..proof.len()).step_by(proof.len() / 97 + 1) {
        let mut b = proof.clone();
        b[pos] ^= 0x10;
        let mut v = VerifierTranscript::new(&[1; 32], &b);
        let ok =
            verify_bound(&pd.root, log_n, used, &claims, &p, &mut v).is_ok() && v.finish().is_ok();
        assert!(!ok, "flipped byte {pos} accepted");
    }
}

#[test]
fn clear_batch_opening_roundtrip_and_tamper() {
    roundtrip(6, 64);
    roundtrip(6, 40);
}

#[test]
fn ligero_batch_opening_roundtrip_and_tamper() {
    roundtrip(14, 1 << 14);
    // A used prefix: fewer committed rows, and a sumcheck over the prefix only.
    let used = (3 << 12) + 5;
    let l = Layout::choose_used(14, used, &PcsParams::default());
    assert!(!l.clear && l.rows < 1 << l.log_rows);
    assert_eq!(l.rows, used.div_ceil(1 << l.log_cols));
    roundtrip(14, used);
    roundtrip(14, 1);
}

#[test]
fn opening_against_another_commitment_is_rejected() {
    let p = PcsParams::default();
    let log_n = 14;
    let vals = table(log_n);
    let pd = commit(vals.clone(), log_n, &p);
    let mut other = vals.clone();
    other[100] += F::ONE;
    let pd2 = commit(other, log_n, &p);
    let pt = point(log_n, 9);
    let value = eval_mle_base(&vals, &pt);
    let claims = vec![BlockClaim {
        block_index: 0,
        point: pt,
        value,
    }];
    let mut t = ProverTranscript::new(&[1; 32]);
    prove_bound(&pd, &claims, &p, &mut t);
    let proof = t.finish();
    let mut v = VerifierTranscript::new(&[1; 32], &proof);
    assert!(verify_bound(&pd2.root, log_n, 1 << log_n, &claims, &p, &mut v).is_err());
}

#[test]
fn multi_point_opening_roundtrip_and_tamper() {
    let p = PcsParams::default();
    for log_n in [6, 14] {
        let vals = table(log_n);
        let pd = commit(vals.clone(), log_n, &p);
        let claims: Vec<(Vec<E>, E)> = (0..3)
            .map(|i| {
                let pt = point(log_n, 10 + i);
                let v = eval_mle_base(&vals, &pt);
                (pt, v)
            })
            .collect();
        let pts: Vec<Vec<E>> = claims.iter().map(|c| c.0.clone()).collect();
        let mut t = ProverTranscript::new(&[4; 32]);
        open_multi(&pd, &pts, &p, &mut t);
        let proof = t.finish();
        let mut v = VerifierTranscript::new(&[4; 32], &proof);
        verify_multi(&pd.root, log_n, &claims, &p, &mut v).unwrap();
        v.finish().unwrap();
        let mut bad = claims.clone();
        bad[2].1 += E::ONE;
        let mut v = VerifierTranscript::new(&[4; 32], &proof);
        assert!(verify_multi(&pd.root, log_n, &bad, &p, &mut v).is_err());
        for pos in (0..proof.len()).step_by(proof.len() / 61 + 1) {
            let mut b = proof.clone();
            b[pos] ^= 0x20;
            let mut v = VerifierTranscript::new(&[4; 32], &b);
            let ok =
                verify_multi(&pd.root, log_n, &claims, &p, &mut v).is_ok() && v.finish().is_ok();
            assert!(!ok, "flipped byte {pos} accepted");
        }
    }
}

mod whir_opening {
    use super::{point, table};
    use crate::whir::{self, WhirParams};
    use crate::PcsError;
    use zkgrad_field::{PrimeCharacteristicRing, E, F};
    use zkgrad_poly::eval_mle_base;
    use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

    const ID: [u8; 32] = [7; 32];

    /// Proof bytes of one opening of `table(log_n)` at `point(log_n, 5)`.
    fn prove(log_n: usize, p: &WhirParams) -> (whir::WhirData, Vec<E>, E, Vec<u8>) {
        let vals = table(log_n);
        let z = point(log_n, 5);
        let y = eval_mle_base(&vals, &z);
        let wd = whir::commit(vals, log_n, p);
        let mut t = ProverTranscript::new(&ID);
        t.write_e(b"value", y);
        whir::open(&wd, &z, p, &mut t);
        (wd, z, y, t.finish())
    }

    fn check(
        root: &[u8; 32],
        log_n: usize,
        z: &[E],
        y: E,
        p: &WhirParams,
        proof: &[u8],
    ) -> Result<(), PcsError> {
        let mut t = VerifierTranscript::new(&ID, proof);
        let got = t.read_e(b"value")?;
        if got != y {
            return Err(PcsError::WrongEvaluation);
        }
        whir::verify(root, log_n, z, y, p, &mut t)?;
        t.finish()?;
        Ok(())
    }

    #[test]
    fn whir_parameters_reach_their_target_up_to_2_to_the_30() {
        let p = WhirParams::default();
        for log_n in p.min_log_n()..=30 {
            assert!(whir::params_are_sound(&p, log_n), "2^{log_n}");
        }
    }

    /// A large table's first round folds more variables (its committed rows are wider): an
    /// opening verifies, and is refused under the other folding and with any byte flipped in
    /// a sample of its body.
    #[test]
    fn whir_wide_first_round_opens_and_binds_its_folding() {
        let wide = WhirParams {
            large_from_log_n: 14,
            ..WhirParams::default()
        };
        let log_n = 15;
        assert_eq!(wide.first_folding(log_n), 7);
        assert_eq!(wide.first_folding(13), wide.folding);
        assert!(whir::params_are_sound(&wide, log_n));
        let (wd, z, y, proof) = prove(log_n, &wide);
        check(&wd.root, log_n, &z, y, &wide, &proof).expect("honest opening");
        // (A wrong value under the same challenges, refused by WHIR itself, and many more
        // forgeries of the wide round: `tests/attack_wide_whir.rs`.)
        // The same table committed with the usual first round has another root; the proof is
        // not an opening of it, nor under its parameters.
        let narrow = WhirParams::default();
        let (wd5, ..) = prove(log_n, &narrow);
        assert_ne!(wd5.root, wd.root);
        assert!(check(&wd5.root, log_n, &z, y, &narrow, &proof).is_err());
        assert!(check(&wd.root, log_n, &z, y, &narrow, &proof).is_err());
        for at in (40..proof.len()).step_by(proof.len() / 40) {
            let mut bad = proof.clone();
            bad[at] ^= 1;
            assert!(
                check(&wd.root, log_n, &z, y, &wide, &bad).is_err(),
                "byte {at} flipped"
            );
        }
    }

    /// `whir-unique`'s parameters reach the same target at every size (its large tables with
    /// far less grinding: 18 bits where the Johnson bound needs 20 at 2^24 and 23 at 2^27).
    #[test]
    fn whir_unique_parameters_reach_their_target_up_to_2_to_the_30() {
        let p = crate::PcsParams::for_scheme(crate::Scheme::WhirUnique)
            .whir
            .expect("WHIR parameters");
        assert_eq!(p.unique_from_log_n, crate::UNIQUE_FROM_LOG_N);
        for log_n in p.min_log_n()..=30 {
            assert!(whir::params_are_sound(&p, log_n), "2^{log_n}");
            let regime = if log_n >= crate::UNIQUE_FROM_LOG_N {
                p3_whir::parameters::SecurityAssumption::UniqueDecoding
            } else {
                p3_whir::parameters::SecurityAssumption::JohnsonBound
            };
            assert_eq!(p.regime(log_n), regime, "2^{log_n}");
        }
        // Its id is another scheme's: a proof or weight root of one is never read as the other.
        assert_ne!(p.to_bytes(), WhirParams::default().to_bytes());
        for s in crate::Scheme::ALL {
            assert_eq!(crate::Scheme::from_code(s.code()), Some(s));
            assert_eq!(crate::PcsParams::for_scheme(s).scheme(), s);
        }
        assert_eq!(crate::Scheme::from_code(3), None);
    }

    /// An opening in the unique-decoding regime verifies only under it: read under the Johnson
    /// bound's parameters (other query counts and grinding, no out-of-domain samples) it is
    /// refused, and so is a Johnson-bound opening read under the unique regime's; so are a
    /// wrong value and flipped bytes.
    #[test]
    fn whir_unique_regime_opening_binds_its_regime() {
        let unique = WhirParams {
            unique_from_log_n: 12,
            ..WhirParams::default()
        };
        let johnson = WhirParams::default();
        let log_n = 13;
        assert!(whir::params_are_sound(&unique, log_n));
        let (wd, z, y, proof) = prove(log_n, &unique);
        check(&wd.root, log_n, &z, y, &unique, &proof).expect("honest opening");
        // The same codeword: the regime changes the opening, not the commitment.
        let (wdj, _, _, proof_j) = prove(log_n, &johnson);
        assert_eq!(wdj.root, wd.root);
        check(&wd.root, log_n, &z, y, &johnson, &proof_j).expect("honest opening");
        assert!(check(&wd.root, log_n, &z, y, &johnson, &proof).is_err());
        assert!(check(&wd.root, log_n, &z, y, &unique, &proof_j).is_err());
        assert!(check(&wd.root, log_n, &z, y + E::ONE, &unique, &proof).is_err());
        for at in (40..proof.len()).step_by(proof.len() / 40) {
            let mut bad = proof.clone();
            bad[at] ^= 1;
            assert!(
                check(&wd.root, log_n, &z, y, &unique, &bad).is_err(),
                "byte {at} flipped"
            );
        }
    }

    #[test]
    fn whir_matches_the_multilinear_extension() {
        let p = WhirParams::default();
        assert!(whir::params_are_sound(&p, 12));
        let (wd, z, y, proof) = prove(12, &p);
        check(&wd.root, 12, &z, y, &p, &proof).expect("honest opening");
        // The values the prover reads back are the committed table.
        assert_eq!(wd.values(), &table(12)[..]);
        // The variable order: the same point read most-significant-first is another point,
        // whose value differs, so an opening proved at `z` does not verify there.
        let mut rev = z.clone();
        rev.reverse();
        assert!(check(&wd.root, 12, &rev, y, &p, &proof).is_err());
    }

    #[test]
    fn whir_rejects_a_wrong_value_a_wrong_table_and_mutated_bytes() {
        let p = WhirParams::default();
        let log_n = 10;
        let (wd, z, y, proof) = prove(log_n, &p);
        // Off by one in the claimed value (written consistently into the transcript).
        let vals = table(log_n);
        let mut t = ProverTranscript::new(&ID);
        t.write_e(b"value", y + E::ONE);
        whir::open(&wd, &z, &p, &mut t);
        assert!(check(&wd.root, log_n, &z, y + E::ONE, &p, &t.finish()).is_err());
        // Another table's commitment.
        let mut other = vals.clone();
        other[3] += F::ONE;
        let wd2 = whir::commit(other, log_n, &p);
        assert!(check(&wd2.root, log_n, &z, y, &p, &proof).is_err());
        // Every mutated byte of the proof (a stride over all of them) and every truncation
        // point is an error, never a panic.
        for i in (16..proof.len()).step_by(proof.len() / 300 + 1) {
            let mut bad = proof.clone();
            bad[i] ^= 0x01;
            assert!(
                check(&wd.root, log_n, &z, y, &p, &bad).is_err(),
                "flipped byte {i}"
            );
        }
        for cut in (0..proof.len()).step_by(proof.len() / 50 + 1) {
            assert!(check(&wd.root, log_n, &z, y, &p, &proof[..cut]).is_err());
        }
        let mut longer = proof.clone();
        longer.push(0);
        assert!(check(&wd.root, log_n, &z, y, &p, &longer).is_err());
    }

    /// The WHIR proof decoded, changed in its structure (a length, a missing round, a missing
    /// opened row) and re-encoded canonically: p3-whir's verifier must return an error for each,
    /// never panic.
    #[test]
    fn whir_rejects_structurally_altered_proofs_without_panicking() {
        use crate::whir::Proof;
        use p3_whir::pcs::proof::QueryOpenings;
        let p = WhirParams::default();
        let log_n = 12;
        let (wd, z, y, proof) = prove(log_n, &p);
        // value (16 bytes) | LEB128 length | postcard blob
        let mut at = 16;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = proof[at];
            at += 1;
            len |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let honest: Proof = postcard::from_bytes(&proof[at..at + len]).unwrap();
        let rebuild = |pr: &Proof| {
            let blob = postcard::to_allocvec(pr).unwrap();
            let mut out = proof[..16].to_vec();
            let mut n = blob.len();
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                out.push(if n > 0 { b | 0x80 } else { b });
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(&blob);
            out
        };
        check(&wd.root, log_n, &z, y, &p, &rebuild(&honest)).expect("re-encoded honest proof");
        let rows = |o: &mut QueryOpenings<F, E, _>| -> usize {
            match o {
                QueryOpenings::Base(s) => {
                    s.rows.pop();
                    s.rows.len()
                }
                QueryOpenings::Extension(s) => {
                    if let Some(r) = s.rows.first_mut() {
                        r.pop();
                    }
                    s.rows.len()
                }
            }
        };
        let mut cases: Vec<Proof> = Vec::new();
        let mut c = honest.clone();
        c.whir.rounds.pop();
        cases.push(c);
        let mut c = honest.clone();
        c.whir.initial_ood_answers.pop();
        cases.push(c);
        let mut c = honest.clone();
        c.whir.initial_ood_answers.push(E::ONE);
        cases.push(c);
        let mut c = honest.clone();
        c.whir.final_poly = None;
        cases.push(c);
        let mut c = honest.clone();
        c.whir.initial_sumcheck.polynomial_evaluations.pop();
        cases.push(c);
        let mut c = honest.clone();
        c.whir.initial_sumcheck.pow_witnesses.clear();
        cases.push(c);
        let mut c = honest.clone();
        rows(&mut c.whir.final_openings);
        cases.push(c);
        for r in 0..honest.whir.rounds.len() {
            let mut c = honest.clone();
            rows(&mut c.whir.rounds[r].openings);
            cases.push(c);
            let mut c = honest.clone();
            c.whir.rounds[r].ood_answers.clear();
            cases.push(c);
            let mut c = honest.clone();
            c.whir.rounds[r].commitment = None;
            cases.push(c);
            let mut c = honest.clone();
            c.whir.rounds[r].sumcheck.polynomial_evaluations.clear();
            cases.push(c);
        }
        let mut c = honest.clone();
        c.evals.clear();
        cases.push(c);
        let same = rebuild(&honest);
        let mut altered = 0;
        for (i, c) in cases.iter().enumerate() {
            let bytes = rebuild(c);
            if bytes == same {
                continue; // nothing to remove there (e.g. no grinding in that sumcheck)
            }
            altered += 1;
            let r = std::panic::catch_unwind(|| check(&wd.root, log_n, &z, y, &p, &bytes));
            match r {
                Ok(res) => assert!(res.is_err(), "altered proof {i} accepted"),
                Err(_) => panic!("altered proof {i} made the verifier panic"),
            }
        }
        assert!(altered >= 10, "only {altered} alterations");
    }
}

/// The batching sumcheck with its weights lazy for its first rounds sends exactly the bytes of
/// the stored weights' sumcheck, for blocks of every size against the lazy rounds' chunks
/// (within a chunk, a chunk within a block, a block as large as the table), several claims on
/// one block, and a used prefix that is not a power of two — and verifies.
#[test]
fn lazy_batch_weights_send_the_same_bytes_as_stored_ones() {
    let p = PcsParams::default();
    let log_n = 17;
    // Blocks (log size, index), largest first, ending at `used`.
    let blocks = [
        (16usize, 0usize),
        (15, 2),
        (13, 12),
        (10, 104),
        (4, 6720),
        (4, 6720),
    ];
    let used = blocks.iter().map(|&(k, b)| (b + 1) << k).max().unwrap();
    assert!(used < 1 << log_n && !used.is_multiple_of(64));
    let mut vals = table(log_n);
    vals[used..].fill(F::ZERO);
    let whole = (0..1u64 << log_n)
        .map(|i| F::from_u64(i * 31 % 97))
        .collect::<Vec<_>>();
    for (vals, used, extra) in [(vals, used, false), (whole, 1 << log_n, true)] {
        let pd = commit_used(vals.clone(), log_n, used, &p);
        let mut claims: Vec<BlockClaim> = blocks
            .iter()
            .enumerate()
            .map(|(i, &(k, block_index))| {
                let pt = point(k, i as u64 + 5);
                let off = block_index << k;
                BlockClaim {
                    block_index,
                    value: eval_mle_base(&vals[off..off + (1 << k)], &pt),
                    point: pt,
                }
            })
            .collect();
        if extra {
            let pt = point(log_n, 99);
            claims.push(BlockClaim {
                block_index: 0,
                value: eval_mle_base(&vals, &pt),
                point: pt,
            });
        }
        let proofs: Vec<Vec<u8>> = [0, 1, 3]
            .iter()
            .map(|&lazy| {
                let mut t = ProverTranscript::new(&[4; 32]);
                prove_bound_lazy(&pd, &claims, &p, &mut t, lazy);
                t.finish()
            })
            .collect();
        assert_eq!(proofs[0], proofs[1], "one lazy round");
        assert_eq!(proofs[0], proofs[2], "three lazy rounds");
        let mut v = VerifierTranscript::new(&[4; 32], &proofs[2]);
        verify_bound(&pd.root, log_n, used, &claims, &p, &mut v).unwrap();
        v.finish().unwrap();
    }
}

/// The lazy weights against the stored ones on random claim sets (a helper's property test):
/// blocks of one entry to the whole table, duplicated claims, zero points, blocks ending at
/// a `used` that is not a power of two — the same bytes for 0 to 3 lazy rounds, and they verify.
#[test]
fn lazy_batch_weights_match_stored_on_random_claims() {
    let p = PcsParams::default();
    let mut s = 1u64;
    let mut rnd = |n: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as usize) % n
    };
    for log_n in [16usize, 17] {
        for trial in 0..4 {
            let used = if trial % 2 == 0 {
                1 << log_n
            } else {
                (1 << (log_n - 1)) + 1 + rnd((1 << (log_n - 1)) - 1)
            };
            let mut vals = table(log_n);
            vals[used..].fill(F::ZERO);
            let pd = commit_used(vals.clone(), log_n, used, &p);
            let mut claims = Vec::new();
            for j in 0..1 + rnd(10) {
                let k = [0, 1, 3, 5, 12, 13, log_n - 3, log_n - 1, log_n][rnd(9)];
                // Blocks ending by `used` (the lazy path's condition).
                let nb = used >> k;
                if nb == 0 {
                    continue;
                }
                let b = if rnd(2) == 0 { nb - 1 } else { rnd(nb) };
                let pt = if rnd(5) == 0 {
                    vec![E::ZERO; k]
                } else {
                    point(k, 100 * trial as u64 + j as u64)
                };
                let off = b << k;
                let c = BlockClaim {
                    block_index: b,
                    value: eval_mle_base(&vals[off..off + (1 << k)], &pt),
                    point: pt,
                };
                if rnd(4) == 0 {
                    claims.push(c.clone());
                }
                claims.push(c);
            }
            if claims.is_empty() {
                continue;
            }
            let bytes: Vec<Vec<u8>> = [0, 1, 2, 3]
                .iter()
                .map(|&l| {
                    let mut t = ProverTranscript::new(&[9; 32]);
                    prove_bound_lazy(&pd, &claims, &p, &mut t, l);
                    t.finish()
                })
                .collect();
            for l in 1..4 {
                assert_eq!(
                    bytes[0], bytes[l],
                    "2^{log_n} trial {trial}: {l} lazy rounds"
                );
            }
            let mut v = VerifierTranscript::new(&[9; 32], &bytes[3]);
            verify_bound(&pd.root, log_n, used, &claims, &p, &mut v).unwrap();
            v.finish().unwrap();
        }
    }
}

/// A batched opening made through the lazy rounds (the values table read unfolded, the
/// weights unwritten) does not carry a claim off by one, and altered in one byte it is
/// rejected. (A prover that states the false value itself stops at the sumcheck driver's
/// debug check of its own round sums; the verifier's side is what is tested.)
#[test]
fn lazy_batch_opening_of_a_false_claim_or_a_flipped_byte_rejected() {
    let p = PcsParams::default();
    let log_n = 17;
    let used = (1 << 16) + 4_097;
    let mut vals = table(log_n);
    vals[used..].fill(F::ZERO);
    let pd = commit_used(vals.clone(), log_n, used, &p);
    let claims: Vec<BlockClaim> = [(16usize, 0usize), (12, 16), (3, 8_192)]
        .iter()
        .enumerate()
        .map(|(i, &(k, block_index))| {
            let pt = point(k, i as u64 + 11);
            let off = block_index << k;
            BlockClaim {
                block_index,
                value: eval_mle_base(&vals[off..off + (1 << k)], &pt),
                point: pt,
            }
        })
        .collect();
    let prove = |lazy: usize| {
        let mut t = ProverTranscript::new(&[5; 32]);
        prove_bound_lazy(&pd, &claims, &p, &mut t, lazy);
        t.finish()
    };
    let verifies = |claims: &[BlockClaim], proof: &[u8]| {
        let mut v = VerifierTranscript::new(&[5; 32], proof);
        verify_bound(&pd.root, log_n, used, claims, &p, &mut v).is_ok() && v.finish().is_ok()
    };
    for lazy in [0, 3] {
        let honest = prove(lazy);
        assert!(verifies(&claims, &honest), "{lazy} lazy rounds");
        for i in 0..claims.len() {
            let mut forged = claims.clone();
            forged[i].value += E::ONE;
            assert!(
                !verifies(&forged, &honest),
                "{lazy} lazy rounds: claim {i} off by one verified"
            );
        }
        for at in [0, honest.len() / 3, honest.len() - 1] {
            let mut bad = honest.clone();
            bad[at] ^= 1;
            assert!(
                !verifies(&claims, &bad),
                "{lazy} lazy rounds: byte {at} flipped"
            );
        }
    }
}
