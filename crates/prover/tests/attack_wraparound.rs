//! Adversarial review of the audit fixes: roundings whose *input* wraps around p.
//!
//! `crate::bounds` makes every rounding unique mod p (`s + b ≤ 62`); that unique solution is
//! the integer rounding only when the integer `x` being rounded is itself below `2^(s+b−1)`,
//! which the builders are said to guarantee ("the builders keep every accumulator below
//! 2^62"). The verifier never checks it: only the honest forward pass refuses an overflow.
//!
//! The quantizer (`QGraph::from_graph`, what `zkgrad prove` runs on an ONNX file) leaves the
//! operands of an element-wise `Mul` uncommitted, so they can be virtual tensors far wider than
//! `K` bits (an integer `Scale` keeps up to `2^(K−1+20)`), and their product can pass `2^64`.
//! A cheating prover then proves the rounding of the product's residue mod p: a false output for
//! an input on which the model's integer forward pass overflows.

mod common;
use common::*;
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::quant::{ForwardError, QOp, Witness};
use zkgrad_model::{QConfig, QGraph};
use zkgrad_prover::{prove, prove_witness, CommittedModel};
use zkgrad_verifier::verify;

/// `y = (c·x) ⊙ (c·x)` with an integer constant `c` (ONNX: `Mul(x, c)` then `Mul(a, a)`).
fn square_of_scaled(c: f64) -> Graph {
    let n = |name: &str, op: Op| Node {
        name: name.into(),
        op,
        shape: vec![1, 1],
    };
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, 1],
        nodes: vec![
            n("scaled", Op::Scale { x: 0, c }),
            n("square", Op::Mul { a: 1, b: 1 }),
        ],
        output: 2,
        output_parts: Vec::new(),
    }
}

/// The quantizer's circuit for `square_of_scaled(2^14)` at K = 20, act_frac = 14: the
/// builder's relations check passes (shift 14 + 20 bits ≤ 62), yet the product's operands are
/// virtual tensors of up to 2^33.
fn circuit() -> QGraph {
    let cfg = QConfig {
        act_frac: 14,
        weight_frac: 20,
        table_bits: 20,
    };
    let q = QGraph::from_graph(&square_of_scaled((1u64 << 14) as f64), cfg).unwrap();
    q.check_relations().unwrap();
    // Scale is virtual, Mul is virtual, its rounding is the public output.
    assert!(matches!(q.nodes[0].op, QOp::Scale { x: 0, .. }));
    assert!(matches!(q.nodes[1].op, QOp::Mul { a: 1, b: 1 }));
    assert!(matches!(q.nodes[2].op, QOp::Requant { x: 2, shift: 14 }));
    assert_eq!(q.output, 3);
    q
}

/// A witness for `input` whose product is taken mod p (the field value every check sees).
fn wrapped_witness(q: &QGraph, x: i64) -> Witness {
    let c = 1i64 << 14;
    let a = c * x;
    // a² mod p as a signed representative: the value the verifier's identities see.
    let p: i128 = 0xFFFF_FFFF_0000_0001;
    let mut sq = ((a as i128) * (a as i128)).rem_euclid(p);
    if sq > p / 2 {
        sq -= p;
    }
    let sq = sq as i64;
    let s = 14;
    let h = 1i64 << (s - 1);
    let y = (sq + h) >> s;
    let rem = sq + h - (y << s);
    assert!((0..1 << s).contains(&rem));
    assert!(q.public_in_range(y), "forged output {y} out of the public range");
    Witness {
        values: vec![vec![x], vec![a], vec![sq], vec![y]],
        rems: vec![None, None, Some(vec![rem])],
        padding: Vec::new(),
    }
}

#[test]
fn honest_small_inputs_prove_and_verify() {
    let q = circuit();
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    for x in [0i64, 1, -3, 5] {
        let out = prove(&q, &model, &[x], &params).unwrap();
        // (2^14·x)² / 2^14 = 2^14·x².
        assert_eq!(out.proof.output, vec![(1i64 << 14) * x * x]);
        let p = &out.proof;
        verify(&q, &model.root(), &p.input, &p.output, &p.body, &params).unwrap();
    }
}

/// x = 2^18 (0.5 + 0.5 at 2^-14 = 16.0, inside the public range): c·x = 2^32, whose square is
/// 2^64 ≡ 2^32 − 1 (mod p). The integer forward pass overflows; the proof of the output 2^18
/// (16.0, the rounding of (2^32 − 1)/2^14) must be refused. It is accepted: a forgery.
#[test]
fn product_wrapping_past_p_in_a_quantized_model_is_rejected() {
    let q = circuit();
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let x = 1i64 << 18;
    assert!(q.public_in_range(x));
    // The model's own integer forward pass refuses this input: the product passes 2^62.
    assert!(matches!(q.forward(&[x]), Err(ForwardError::Overflow { .. })));
    let w = wrapped_witness(&q, x);
    assert_eq!(w.values[3], vec![1i64 << 18]);
    let p = prove_witness(&q, &model, w, &params).proof;
    let r = verify(&q, &model.root(), &p.input, &p.output, &p.body, &params);
    assert!(
        r.is_err(),
        "FORGERY: (2^14·x)² for x = 2^18 proven to round to {:?} (the integer value is 2^64/2^14 = 2^50)",
        p.output
    );
}
