//! Adversarial review, round 2: values of unknown bound in circuit descriptions.

mod common;
use common::*;
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::quant::{QOp, Witness};
use zkgrad_model::{QConfig, QGraph};
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
/// `W = 2^-12 mod p`. FORGERY (currently verifies through `verify_with_commitment`): the
/// description validator bounds only products (`Mul`, `MatMul` of tensors) of unknown-bound
/// values; `Scale` takes any i64 constant (AddConst is limited to 2^40, Scale is not) of a
/// weight-dependent value.
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
    let q = QGraph::from_graph(&g, cfg).unwrap();
    assert!(matches!(q.nodes[0].op, QOp::Gemm { .. }));
    assert!(matches!(q.nodes[1].op, QOp::Requant { x: 1, .. }));
    // Insert Scale(t1, 2^44) as node 1; the rounding reads it.
    let mut s = q.clone();
    let scaled = zkgrad_model::quant::QTensor {
        name: "scaled".into(),
        ..q.tensors[1].clone()
    };
    s.tensors.insert(2, scaled);
    s.nodes.insert(
        1,
        zkgrad_model::quant::QNode {
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

#[test]
fn description_scaling_an_unknown_bound_value_past_p_is_rejected() {
    let q = scaled_linear();
    // With the weights known the builder's check refuses it.
    let known = q.check_relations();
    assert!(known.is_err(), "known weights: {known:?}");
    // The same circuit as a description (weights unknown).
    let decoded = QGraph::from_description(&q.describe());
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
    let w = Witness {
        values: vec![vec![x], vec![acc as i64], vec![scaled], vec![y]],
        rems: vec![None, None, Some(vec![rem])],
        padding: Vec::new(),
    };
    assert!(
        q.forward(&[x]).is_err(),
        "the integer forward pass refuses x = 3"
    );
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let pf = prove_witness(&q, &model, w, &params).proof;
    let c = model_commitment(&pf.circuit, &pf.weight_root);
    let r = verify_with_commitment(&pf, &c, &params);
    assert!(
        decoded.is_err() || r.is_err(),
        "description accepted ({}), proof of round(2^44·3·1.0·2^20/2^20) = {} at 2^-10 verifies \
         against the commitment: the integer value is 3·2^44",
        decoded.is_ok(),
        y
    );
}
