//! Audit finding 4 (issue 11): softmax's normalization slack must not grow with the row
//! length — all-zero, scaled and one-unit-moved normalizers rejected at every length.

mod common;
use common::*;
use zkgrad_circuit::QGraph;
use zkgrad_circuit::QOp;
use zkgrad_prover::{prove, prove_witness, CommittedModel};

// ---------------------------------------------------------------------------------------------
// Finding 4: softmax's normalization slack must not grow with the row length.

/// A proof whose log-sum-exp hint is moved by `delta` (at 2^-fa) and everything after it
/// recomputed: the softmax scaled by `e^(−delta/2^fa)`. Returns whether it verifies and the
/// row's sum of exp values (the normalization the check reads), relative to 1.
fn shifted_softmax_verifies(q: &QGraph, input: &[i64], delta: i64) -> (bool, f64) {
    let lse = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::LogSumExp { .. }))
        .unwrap();
    let w = lenient_forward(q, input, |ni, out, _| {
        if ni == lse {
            for v in out.iter_mut() {
                *v += delta;
            }
        }
    });
    let exp = q
        .tensors
        .iter()
        .position(|t| t.name == "softmax/exp")
        .unwrap();
    let sum = w.values[exp].iter().sum::<i64>() as f64 / (1u64 << q.tensors[exp].frac) as f64;
    let model = CommittedModel::new(q, &small_params());
    let p = prove_witness(q, &model, w, &small_params()).proof;
    (verify_against(q, &model.root(), &p).is_ok(), sum)
}

#[test]
fn all_zero_softmax_rejected_at_n_600_and_4096() {
    for n in [600, 4096] {
        let (_, q, input) = softmax_layer(n);
        let model = CommittedModel::new(&q, &small_params());
        let honest = prove(&q, &model, &input, &small_params()).unwrap().proof;
        verify_against(&q, &model.root(), &honest).unwrap();
        // The hint 24 above log-sum-exp: every probability rounds to 0.
        let (ok, sum) = shifted_softmax_verifies(&q, &input, 24 << 10);
        assert_eq!(sum, 0.0, "the cheat is an all-zero softmax");
        assert!(!ok, "an all-zero softmax of {n} values was accepted");
    }
}

#[test]
fn scaled_softmax_rejected_at_n_600_and_4096() {
    for n in [600, 4096] {
        let (_, q, input) = softmax_layer(n);
        for scale in [0.5f64, 0.99, 1.01, 2.0] {
            // L − ln(scale): every probability times `scale`.
            let delta = -(scale.ln() * 1024.0).round() as i64;
            let (ok, sum) = shifted_softmax_verifies(&q, &input, delta);
            assert!(
                (sum / scale - 1.0).abs() < 2e-3,
                "the cheat scales by {scale}: {sum}"
            );
            assert!(
                !ok,
                "a softmax of {n} values scaled by {scale} was accepted"
            );
        }
    }
}

/// The normalizer moved by one or two units (at the exp input's scale): the smallest moves the
/// hint can make, which a slack would let through, are all rejected — the softmax is a function.
#[test]
fn softmax_normalizer_moved_by_one_unit_rejected() {
    for n in [4, 600] {
        let (_, q, input) = softmax_layer(n);
        for delta in [-2i64, -1, 1, 2] {
            let (ok, _) = shifted_softmax_verifies(&q, &input, delta);
            assert!(!ok, "normalizer moved by {delta} accepted at n = {n}");
        }
    }
}

// (Two softmaxes of the same logits, and a product of wide values wrapping past p: the second
// adversarial review's attacks, kept in attack_softmax.rs and attack_wraparound.rs.)

// ---------------------------------------------------------------------------------------------
