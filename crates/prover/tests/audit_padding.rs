//! Audit finding 2 (issue 11): values planted in the padding of a committed weight and of a
//! committed activation cannot reach a real entry (masked contractions).

mod common;
use common::*;
use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QGraph;
use zkgrad_circuit::QOp;
use zkgrad_field::f_from_i64;
use zkgrad_model::graph::Graph;
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_prover::{prove, prove_witness, CommittedModel};
use zkgrad_verifier::protocol::weight_values;

// ---------------------------------------------------------------------------------------------
// Finding 2: padding planted in a committed weight and in a committed activation.

/// Linear(5,6) → ReLU → Linear(6,3): the second layer contracts over 6 columns padded to 8.
fn padded_mlp() -> Graph {
    zkgrad_model::zoo::mlp(&[5, 6, 3], ActKind::Relu, 3)
}

/// The weight tensor read by the Gemm that writes (before its rounding) tensor `t`, and that
/// Gemm's input.
fn gemm_feeding(q: &QGraph, node_name_prefix: &str) -> (usize, usize, usize) {
    q.nodes
        .iter()
        .enumerate()
        .find_map(|(ni, n)| match n.op {
            QOp::Gemm { x, w, .. } if n.name.starts_with(node_name_prefix) => Some((ni, x, w)),
            _ => None,
        })
        .unwrap()
}

#[test]
fn planted_weight_padding_in_a_committed_model_is_rejected() {
    // A model published by commitment only: its owner committed fc2's weight with a value in
    // its padding (row 0, column 6), and a prover plants a value in the padding of fc2's input
    // (the ReLU output, column 6): unmasked, their product adds 0.5 to output 0.
    let g = padded_mlp();
    let x = rnd(41, 5);
    let cfg = zkgrad_model::calibrate(&g, std::slice::from_ref(&x), 20);
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    let (gemm, relu_t, w2) = gemm_feeding(&q, "fc2");
    let params = small_params();
    let (fa, fw) = (cfg.act_frac, cfg.weight_frac);
    let (p_w, p_x) = (1i64 << (fw - 1), 1i64 << fa); // 0.5 and 1.0
    let w_cols = 1 << q.weights[w2].as_tensor().log_cols();
    assert_eq!(w_cols, 8);
    let model = CommittedModel::from_padded(&q, &params, &|wi| {
        let mut v = weight_values(&q, wi).0;
        if wi == w2 {
            v[6] = f_from_i64(p_w);
        }
        v
    });
    let input = quantized(&x, fa);
    let mut w = lenient_forward(&q, &input, |ni, out, _| {
        if ni == gemm {
            out[0] += p_x * p_w;
        }
    });
    w.padding.push((Operand::Tensor(relu_t), 6, p_x));
    let honest = zkgrad_model::forward(&q, &input).unwrap();
    assert_ne!(
        w.values[q.output], honest.values[q.output],
        "the plant moves the output"
    );
    let p = prove_witness(&q, &model, w, &params).proof;
    assert!(
        verify_against(&q, &model.root(), &p).is_err(),
        "an output steered through planted padding was accepted"
    );
    // The same model with its planted padding proves honest outputs: padding itself is harmless.
    let honest_proof = prove(&q, &model, &input, &params).unwrap().proof;
    verify_against(&q, &model.root(), &honest_proof).unwrap();
}

#[test]
fn planted_padding_in_updated_weights_cannot_steer_the_chained_step() {
    let g = padded_mlp();
    let x = rnd(43, 5);
    let y = vec![0.1, -0.2, 0.3];
    let spec = SgdSpec {
        batch: 1,
        lr: 0.01,
        loss: Loss::Mse,
    };
    let cfg = TrainConfig::calibrate(&g, std::slice::from_ref(&x), 0);
    let q = sgd_step(&g, &spec, cfg).unwrap();
    let params = small_params();
    let public = quantized(&[x.clone(), y].concat(), cfg.act_frac);
    let (_, relu_t, w2) = gemm_feeding(&q, "fc2");
    let (upd, u) = q
        .updates()
        .into_iter()
        .find(|&(_, wi)| wi == w2)
        .map(|(ni, _)| match q.nodes[ni].op {
            QOp::Update { u, .. } => (ni, u),
            _ => unreachable!(),
        })
        .unwrap();
    let QOp::Requant { shift: s, .. } = q.nodes[u - 1].op else {
        unreachable!()
    };
    // Step 1 commits W2' with c in its padding (row 0, column 6): u's padding is c, its
    // remainder's −2^s·c (the rounding identity holds there, as x's padding is 0), W2''s −c.
    let c = 1i64 << (62 - s).min(cfg.weight_frac - 2);
    let model1 = CommittedModel::new(&q, &params);
    let mut w1 = zkgrad_model::forward(&q, &public).unwrap();
    w1.padding.push((Operand::Tensor(u), 6, c));
    w1.padding.push((Operand::Rem(u - 1), 6, -(c << s)));
    w1.padding.push((Operand::Tensor(upd + 1), 6, -c));
    let after: Vec<Vec<i64>> = q
        .weights
        .iter()
        .enumerate()
        .map(|(wi, wt)| {
            q.updates()
                .iter()
                .find(|&&(_, w)| w == wi)
                .map_or(wt.data.clone(), |&(ni, _)| w1.values[ni + 1].clone())
        })
        .collect();
    let out1 = prove_witness(&q, &model1, w1, &params);
    // Padding is not constrained: the step verifies, and its root commits the planted padding.
    let v1 = verify_against(&q, &model1.root(), &out1.proof).unwrap();
    let mut q2 = q.clone();
    for (wt, vals) in q2.weights.iter_mut().zip(&after) {
        wt.data = vals.clone();
    }
    let model2 = CommittedModel::from_padded(&q2, &params, &|wi| {
        let mut v = weight_values(&q2, wi).0;
        if wi == w2 {
            v[6] = f_from_i64(-c);
        }
        v
    });
    assert_eq!(model2.root(), v1.weight_root_after, "the chain holds");
    // Step 2 plants a value in the padding of fc2's input: unmasked, output 0 moves by
    // p_x·c (−0.5 at the default precision).
    let (gemm2, _, _) = gemm_feeding(&q2, "fc2");
    let p_x = (1i64 << (cfg.act_frac + cfg.weight_frac - 1)) / c;
    let mut w2w = lenient_forward(&q2, &public, |ni, out, _| {
        if ni == gemm2 {
            out[0] += p_x * -c;
        }
    });
    w2w.padding.push((Operand::Tensor(relu_t), 6, p_x));
    // The backward pass's G·W2 carries W2's padded column into the padded column of its
    // output: the cheater absorbs it in that rounding's (unconstrained) padded remainder, so
    // that only the forward plant remains to be caught.
    let dx = q2.nodes.iter().position(|n| n.name == "layer2/dX").unwrap();
    let QOp::MatMul { a: grad, .. } = q2.nodes[dx].op else {
        unreachable!()
    };
    assert_eq!(q2.nodes[dx + 1].name, "layer2/dX/requant");
    let carried = w2w.values[grad][0] * -c;
    w2w.padding.push((Operand::Rem(dx + 1), 6, carried));
    // Likewise the update's Gᵀ·A carries A's planted column into the padded column of W2's
    // rounding (absorbed by its remainder, u's padding left 0), and W2'' = W2 − u keeps W2's
    // padding.
    let (upd2, u2) = q2
        .updates()
        .into_iter()
        .find(|&(_, wi)| wi == w2)
        .map(|(ni, _)| match q2.nodes[ni].op {
            QOp::Update { u, .. } => (ni, u),
            _ => unreachable!(),
        })
        .unwrap();
    let QOp::Scale { c: lr_q, .. } = q2.nodes[u2 - 2].op else {
        unreachable!()
    };
    for o in 0..3 {
        let raw = w2w.values[grad][o] * p_x;
        w2w.padding
            .push((Operand::Rem(u2 - 1), o * 8 + 6, lr_q * raw));
    }
    w2w.padding.push((Operand::Tensor(upd2 + 1), 6, -c));
    let p2 = prove_witness(&q2, &model2, w2w, &params).proof;
    assert!(
        verify_against(&q2, &model2.root(), &p2).is_err(),
        "a chained step steered through planted padding was accepted"
    );
    // (An honest prover does not prove against such weights: its integer forward pass leaves
    // the padded column of G·W2 at 0. Only padding is ever affected, never a real entry.)
}
