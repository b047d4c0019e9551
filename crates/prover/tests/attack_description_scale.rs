//! Adversarial review, round 2: values of unknown bound in circuit descriptions.

mod common;
use common::*;
use zkgrad_circuit::QOp;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::Witness;
use zkgrad_prover::{prove_witness, CommittedModel};
use zkgrad_verifier::{model_commitment, verify_with_commitment};

/// `y = round(c·(x·W)/2^20)` with `c = 2^44`: the quantizer's linear layer with a constant
/// scaling inserted between the product and its rounding. With the weight known (W = 1.0 at
/// 2^-20) the circuit is refused (2^44·2^20·2^19 passes 2^62); decoded from its description the
/// weight is unknown, and `check_no_wrap` bounds only products, so the description is
/// accepted. At x = 3 (at 2^-10) the scaled value is 3·2^64 ≡ 3·(2^32 − 1) (mod p), which
/// rounds to an in-range output (12288, i.e. 12.0); the integer forward pass overflows. No
/// integer weight gives it either: `round(2^44·W·3/2^20) = 3·2^24·W` is a multiple of 2^24 for
/// every integer `W`, and 12288 is not — the proof holds only for the field weight
/// `W = 2^-12 mod p`: a description's weights are field elements (and `Scale(Gemm(W), c)` is
/// `Gemm(c·W mod p)`, so bounding products of unknown-bound values buys nothing more).
fn scaled_linear() -> QGraph {
    let cfg = QConfig {
        act_frac: 10,
        weight_frac: 20,
        table_bits: 20,
    };
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![1, 1],
        nodes: vec![Node {
            name: "fc".into(),
            op: Op::Linear {
                x: 0,
                w: vec![1.0],
                bias: None,
                in_features: 1,
                out_features: 1,
            },
            shape: vec![1, 1],
        }],
        output: 1,
        output_parts: Vec::new(),
    };
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    assert!(matches!(q.nodes[0].op, QOp::Gemm { .. }));
    assert!(matches!(q.nodes[1].op, QOp::Requant { x: 1, .. }));
    // Insert Scale(t1, 2^44) as node 1; the rounding reads it.
    let mut s = q.clone();
    let scaled = zkgrad_circuit::QTensor {
        name: "scaled".into(),
        ..q.tensors[1].clone()
    };
    s.tensors.insert(2, scaled);
    s.nodes.insert(
        1,
        zkgrad_circuit::QNode {
            name: "scale".into(),
            op: QOp::Scale { x: 1, c: 1 << 44 },
        },
    );
    if let QOp::Requant { x, .. } = &mut s.nodes[2].op {
        *x = 2;
    }
    s.output = 3;
    s
}

/// The finding, and what zkgrad states about it: a description's weights are committed field
/// elements, never range-proven, so `verify --commitment` proves the circuit's computation *in
/// the field* with the committed weights — a function of the input (every other output is
/// rejected), but equal to the integer computation only for weights the quantizer would produce,
/// which only a verifier holding the model (`verify --model`, which rebuilds the circuit with the
/// weights and runs the no-wrap check on it) can check (docs/SECURITY.md, "Models published by
/// commitment"). Here the builder refuses the circuit with the weight known; decoded from its
/// description it is accepted, and the field computation verifies against the commitment while
/// the neighbouring outputs do not.
#[test]
fn description_scaling_an_unknown_bound_value_past_p_is_a_field_function_of_the_weights() {
    let q = scaled_linear();
    // With the weights known the builder's check refuses it.
    let known = q.check_relations();
    assert!(known.is_err(), "known weights: {known:?}");
    // The same circuit as a description (weights unknown) is accepted.
    assert!(QGraph::from_description(&q.describe()).is_ok());
    // The field witness at x = 3.
    let p: i128 = 0xFFFF_FFFF_0000_0001;
    let x = 3i64;
    let acc = x as i128 * (1 << 20);
    let scaled = (acc * (1i128 << 44)).rem_euclid(p);
    let scaled = if scaled > p / 2 { scaled - p } else { scaled } as i64;
    let h = 1i64 << 19;
    let y = (scaled + h) >> 20;
    let rem = scaled + h - (y << 20);
    assert!(q.public_in_range(y));
    assert!(
        zkgrad_model::forward(&q, &[x]).is_err(),
        "the integer forward pass refuses x = 3"
    );
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let proves = |y: i64, rem: i64| {
        let w = Witness {
            values: vec![vec![x], vec![acc as i64], vec![scaled], vec![y]],
            rems: vec![None, None, Some(vec![rem])],
            padding: Vec::new(),
        };
        let pf = prove_witness(&q, &model, w, &params).proof;
        let c = model_commitment(&pf.circuit, &pf.weight_root);
        verify_with_commitment(&pf, &c, &params).is_ok()
    };
    assert!(
        proves(y, rem),
        "the field computation verifies against the commitment"
    );
    for dy in [-1i64, 1] {
        assert!(
            !proves(y + dy, rem - (dy << 20)),
            "a second output {} verifies: not a function",
            y + dy
        );
    }
}
