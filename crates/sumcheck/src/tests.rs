#![allow(clippy::indexing_slicing)]
use super::*;
use zkgrad_field::{PrimeCharacteristicRing, F};
use zkgrad_poly::{eval_mle, eval_mle_base};
use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

fn table(n: usize, seed: u64) -> Vec<E> {
    (0..n as u64)
        .map(|i| E::from(F::from_u64(i * i * 31 + seed * 7 + 1)))
        .collect()
}

fn run(degree3: bool) -> (Vec<u8>, E, Vec<Vec<E>>) {
    let a = table(16, 1);
    let b = table(16, 2);
    let c = table(16, 3);
    let claim: E = if degree3 {
        (0..16).map(|i| a[i] * b[i] * c[i]).sum()
    } else {
        (0..16).map(|i| a[i] * b[i]).sum()
    };
    let mut t = ProverTranscript::new(&[0; 32]);
    let tables = if degree3 { vec![a, b, c] } else { vec![a, b] };
    let mut o = ProductOracle::new(tables.clone(), if degree3 { 3 } else { 2 }, |v: &[E]| {
        v.iter().copied().product()
    });
    prove(&mut o, claim, &mut t);
    (t.finish(), claim, tables)
}

#[test]
fn honest_sumcheck_verifies_and_subclaim_is_true() {
    for deg3 in [false, true] {
        let (proof, claim, tables) = run(deg3);
        let mut v = VerifierTranscript::new(&[0; 32], &proof);
        let sub = verify(claim, 4, if deg3 { 3 } else { 2 }, &mut v).unwrap();
        let expect: E = tables.iter().map(|t| eval_mle(t, &sub.point)).product();
        assert_eq!(sub.value, expect);
        v.finish().unwrap();
    }
}

#[test]
fn wrong_claim_is_rejected() {
    let (proof, claim, tables) = run(false);
    let mut v = VerifierTranscript::new(&[0; 32], &proof);
    let sub = verify(claim + E::ONE, 4, 2, &mut v).unwrap();
    let expect: E = tables.iter().map(|t| eval_mle(t, &sub.point)).product();
    assert_ne!(sub.value, expect);
}

#[test]
fn corrupted_middle_round_detected() {
    let (mut proof, claim, tables) = run(true);
    proof[16 * 3 * 2] ^= 1; // round 2, first coordinate
    let mut v = VerifierTranscript::new(&[0; 32], &proof);
    if let Ok(sub) = verify(claim, 4, 3, &mut v) {
        let expect: E = tables.iter().map(|t| eval_mle(t, &sub.point)).product();
        assert_ne!(sub.value, expect);
    }
}

#[test]
fn truncated_proof_is_an_error() {
    let (proof, claim, _) = run(false);
    let mut v = VerifierTranscript::new(&[0; 32], &proof[..proof.len() - 1]);
    assert!(verify(claim, 4, 2, &mut v).is_err());
}

#[test]
fn base_ext_product_binds_from_the_top_and_ends_at_the_reversed_challenges() {
    // Packed (2^10) and scalar (2^3) tables: the proof verifies, and its final claim is
    // a(ρ)·b(ρ) at the challenges in reverse (variable) order.
    for n in [3usize, 10] {
        let a: Vec<F> = (0..1u64 << n).map(|i| F::from_u64(i * 13 + 5)).collect();
        let b: Vec<E> = (0..1u64 << n)
            .map(|i| E::from(F::from_u64(i * i + 1)))
            .collect();
        let claim: E = a.iter().zip(&b).map(|(x, y)| *y * *x).sum();
        let mut t1 = ProverTranscript::new(&[0; 32]);
        let mut o = BaseExtProduct::new(a.clone(), b.clone());
        prove(&mut o, claim, &mut t1);
        let proof = t1.finish();
        let mut v = VerifierTranscript::new(&[0; 32], &proof);
        let sub = verify(claim, n, 2, &mut v).unwrap();
        let mut rho = sub.point.clone();
        rho.reverse();
        assert_eq!(
            o.final_values(),
            (eval_mle_base(&a, &rho), eval_mle(&b, &rho)),
            "n {n}"
        );
        assert_eq!(sub.value, o.final_values().0 * o.final_values().1);
        // A wrong claim is caught at the end.
        let mut v = VerifierTranscript::new(&[0; 32], &proof);
        let sub = verify(claim + E::ONE, n, 2, &mut v).unwrap();
        assert_ne!(sub.value, o.final_values().0 * o.final_values().1);
    }
}

#[test]
fn a_prefix_product_proves_like_the_zero_padded_one() {
    // Tables of 2^10 entries given by a prefix (odd, whole packed words, past the first
    // round's half), the rest zero: the same messages and final value of `a` as the padded
    // tables.
    for len in [37usize, 64, 1, 512, 600] {
        let mut a: Vec<F> = (0..1024u64).map(|i| F::from_u64(i * 13 + 5)).collect();
        let mut b: Vec<E> = (0..1024u64)
            .map(|i| E::from(F::from_u64(i * i + 1)))
            .collect();
        a[len..].fill(F::ZERO);
        b[len..].fill(E::ZERO);
        let claim: E = a.iter().zip(&b).map(|(x, y)| *y * *x).sum();
        let mut t1 = ProverTranscript::new(&[0; 32]);
        let mut full = BaseExtProduct::new(a.clone(), b.clone());
        prove(&mut full, claim, &mut t1);
        let mut t2 = ProverTranscript::new(&[0; 32]);
        let mut prefix = BaseExtProduct::new_prefix(a[..len].to_vec(), b[..len].to_vec(), 10);
        prove(&mut prefix, claim, &mut t2);
        assert_eq!(t1.finish(), t2.finish(), "len {len}");
        assert_eq!(full.final_values().0, prefix.final_values().0, "len {len}");
    }
}
