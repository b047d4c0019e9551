use super::*;
use zkgrad_field::{Field, PrimeCharacteristicRing, F};
use zkgrad_poly::eval_mle;
use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

fn leaves(n: usize) -> (Vec<E>, Vec<E>) {
    let p = (0..1u64 << n)
        .map(|i| E::from(F::from_u64(i % 3)))
        .collect();
    let q = (0..1u64 << n)
        .map(|i| E::from(F::from_u64(1000 + i * i)))
        .collect();
    (p, q)
}

#[test]
fn root_is_the_fraction_sum_and_leaf_claim_is_true() {
    for n in 0..6 {
        let (p, q) = leaves(n);
        assert_round_trip(n, &p, &q);
    }
}

#[test]
fn packed_layers_and_all_ones_leaves_give_the_same_tree() {
    // 2^10 leaves: packed layers and in-place folds; p all ones (its tables dropped) and
    // an indicator with zeros past 1000 (a padded tensor).
    let n = 10;
    let q: Vec<E> = (0..1u64 << n)
        .map(|i| E::from(F::from_u64(1 << 40)) - E::from(F::from_u64(i * 7 % 1000)))
        .collect();
    for p in [
        vec![E::ONE; 1 << n],
        (0..1u64 << n)
            .map(|i| if i < 1000 { E::ONE } else { E::ZERO })
            .collect(),
    ] {
        assert_round_trip(n, &p, &q);
    }
}

#[test]
fn packed_leaves_give_the_proof_of_unpacked_ones() {
    use zkgrad_poly::packed::pack;
    for n in [4, 10] {
        let (p, q) = leaves(n);
        for p in [p, vec![E::ONE; 1 << n]] {
            let mut plain = ProverTranscript::new(&[5; 32]);
            let a = prove(p.clone(), q.clone(), &mut plain);
            let mut packed = ProverTranscript::new(&[5; 32]);
            let b = prove_packed(pack(&p), pack(&q), &mut packed);
            assert_eq!(a, b);
            assert_eq!(plain.finish(), packed.finish(), "2^{n} leaves");
        }
    }
}

/// A tree of `2^n` leaves proves and verifies: its root fraction is `Σ p/q` and its leaf
/// claim is the leaves' MLEs at the claimed point.
fn assert_round_trip(n: usize, p: &[E], q: &[E]) {
    let mut t = ProverTranscript::new(&[3; 32]);
    let claim = prove(p.to_vec(), q.to_vec(), &mut t);
    let proof = t.finish();
    let mut v = VerifierTranscript::new(&[3; 32], &proof);
    let tree = verify(n, &mut v).unwrap();
    v.finish().unwrap();
    let sum: E = p.iter().zip(q).map(|(a, b)| *a * b.inverse()).sum();
    assert_eq!(tree.root_p * tree.root_q.inverse(), sum);
    assert_eq!(tree.leaves, claim);
    assert_eq!(eval_mle(p, &claim.point), claim.p);
    assert_eq!(eval_mle(q, &claim.point), claim.q);
}

#[test]
fn every_flipped_byte_is_rejected_or_breaks_the_leaf_claim() {
    let n = 3;
    let (p, q) = leaves(n);
    let mut t = ProverTranscript::new(&[3; 32]);
    prove(p.clone(), q.clone(), &mut t);
    let proof = t.finish();
    for pos in 0..proof.len() {
        let mut b = proof.clone();
        b[pos] ^= 4;
        let mut v = VerifierTranscript::new(&[3; 32], &b);
        if let Ok(tree) = verify(n, &mut v) {
            // The root may be forged only together with a false leaf claim.
            let true_leaf = eval_mle(&p, &tree.leaves.point) == tree.leaves.p
                && eval_mle(&q, &tree.leaves.point) == tree.leaves.q;
            assert!(!true_leaf, "byte {pos}: forged tree with a true leaf claim");
        }
    }
}
