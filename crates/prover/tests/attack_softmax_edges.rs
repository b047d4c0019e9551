//! Adversarial review, round 2: the unique softmax normalizer at its edges.
//!
//! Every hint move below recomputes everything after the hint (range widths loosened so the
//! forward pass goes through) and is proven; each proof must be refused.

mod common;
use common::*;
use zkgrad_circuit::QOp;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::{quantize_input, Witness};
use zkgrad_prover::{prove_witness, CommittedModel};
use zkgrad_verifier::{model_commitment, verify, verify_with_commitment};

fn softmax_graph(rows: usize, n: usize) -> Graph {
    Graph {
        input_name: "x".into(),
        input_shape: vec![rows, n],
        nodes: vec![Node {
            name: "softmax".into(),
            op: Op::Softmax { x: 0 },
            shape: vec![rows, n],
        }],
        output: 1,
        output_parts: Vec::new(),
    }
}

fn with_hints_moved(q: &QGraph, x: &[i64], delta: &[i64]) -> Option<Witness> {
    let hint = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::LogSumExp { .. }))
        .unwrap();
    let loose = loosened(q);
    zkgrad_model::forward_with(&loose, x, |ni, out, _| {
        if ni == hint {
            for (v, d) in out.iter_mut().zip(delta.iter().cycle()) {
                *v += d;
            }
        }
    })
    .ok()
}

fn verifies(q: &QGraph, w: Witness) -> Option<Vec<i64>> {
    let params = small_params();
    let model = CommittedModel::new(q, &params);
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prove_witness(q, &model, w, &params).proof
    }))
    .ok();
    let Some(p) = p else {
        panic!("the prover panicked on a moved hint");
    };
    let c = model_commitment(&p.circuit, &p.weight_root);
    let a = verify_with_commitment(&p, &c, &params).is_ok();
    let b = verify(q, &model.root(), &p.input, &p.output, &p.body, &params).is_ok();
    assert_eq!(a, b, "the two verifiers disagree");
    a.then_some(p.output)
}

/// Rows of length 1, 3 and 5 (padded columns), 3 rows (padded rows), at act_frac 10 (d = 0,
/// the Requant of z a plain copy) and 16 (d = 4), with logits spread so far that most exp
/// values are 0 (and near the exp table's lower domain edge): the honest proof verifies; every
/// hint moved by ±1, ±2, ±7 (per row, in patterns) is refused.
#[test]
fn moved_normalizer_rejected_at_row_edges_and_d0() {
    for act_frac in [10u32, 16] {
        let cfg = QConfig {
            act_frac,
            weight_frac: 20,
            table_bits: 20,
        };
        for (rows, n) in [(1usize, 1usize), (3, 1), (3, 3), (1, 5)] {
            let q = zkgrad_model::quantize(&softmax_graph(rows, n), cfg).unwrap();
            QGraph::from_description(&q.describe()).unwrap();
            // Spread: at act_frac 10 the public range is ±512 (the table's ±128 bounds z).
            let lim = if act_frac == 10 { 100.0 } else { 7.0 };
            let x: Vec<i64> = rnd(act_frac as u64 + n as u64, rows * n)
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let v = if i % 2 == 0 { lim * v } else { -lim * v.abs() };
                    quantize_input(v, act_frac).unwrap()
                })
                .collect();
            let honest = zkgrad_model::forward(&q, &x).expect("honest forward");
            let honest_out = honest.values[q.output].clone();
            assert!(verifies(&q, honest).is_some(), "honest proof rejected");
            for delta in [
                vec![1],
                vec![-1],
                vec![2],
                vec![-2],
                vec![7],
                vec![0, 1, 0],
                vec![-1, 0, 1],
            ] {
                let Some(w) = with_hints_moved(&q, &x, &delta) else {
                    continue;
                };
                if delta.iter().cycle().take(rows).all(|&d| d == 0) {
                    continue;
                }
                let out = verifies(&q, w);
                assert!(
                    out.is_none(),
                    "FORGERY: act_frac {act_frac} rows {rows} n {n} hint moved by {delta:?}: {out:?} \
                     (honest {honest_out:?})"
                );
            }
        }
    }
}
