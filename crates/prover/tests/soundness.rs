//! Cheating provers and tampered proofs, each named for what it shows is rejected.

mod common;
use common::*;
use zkgrad_circuit::QOp;
use zkgrad_model::Op;
use zkgrad_prover::{prove_witness, CommittedModel};
use zkgrad_verifier::{
    model_commitment, verify, verify_with_commitment, verify_with_model, VerifyError,
};

#[test]
fn proof_checked_against_another_model_is_rejected() {
    let s = setup(seed_mlp(), 10, 1);
    let p = prove_ok(&s).proof;
    // Same architecture, other weights.
    let mut other = seed_mlp();
    if let zkgrad_model::Op::Linear { w, .. } = &mut other.nodes[2].op {
        w[3] += 0.25;
    }
    let q2 = zkgrad_model::quantize(&other, s.q.config).unwrap();
    let m2 = CommittedModel::new(&q2, &small_params());
    assert_ne!(m2.root(), p.weight_root);
    assert_eq!(
        verify_with_model(&p, &q2, &m2.root(), &small_params()),
        Err(VerifyError::ProtocolMismatch)
    );
    // Even forcing the check through with the other model's commitment fails.
    assert!(verify(
        &q2,
        &m2.root(),
        &p.input,
        &p.output,
        &p.body,
        &small_params()
    )
    .is_err());
    // And against the other model's published commitment.
    let c2 = model_commitment(&q2.describe(), &m2.root());
    assert!(verify_with_commitment(&p, &c2, &small_params()).is_err());
    // The honest commitment accepts.
    let c = model_commitment(&p.circuit, &p.weight_root);
    verify_with_commitment(&p, &c, &small_params()).unwrap();
}

#[test]
fn proof_checked_against_another_input_is_rejected() {
    let s = setup(seed_mlp(), 10, 1);
    let p = prove_ok(&s).proof;
    for i in 0..p.input.len() {
        let mut b = p.clone();
        b.input[i] += 1;
        assert!(check(&s, &b).is_err());
    }
}

#[test]
fn proof_checked_against_another_output_is_rejected() {
    let s = setup(seed_mlp(), 10, 1);
    let p = prove_ok(&s).proof;
    for i in 0..p.output.len() {
        for d in [-1, 1] {
            let mut b = p.clone();
            b.output[i] += d;
            assert!(check(&s, &b).is_err());
        }
    }
}

#[test]
fn proof_with_another_precision_is_rejected() {
    let s = setup(seed_mlp(), 10, 1);
    let p = prove_ok(&s).proof;
    let mut cfg = s.q.config;
    cfg.act_frac -= 1;
    let q2 = zkgrad_model::quantize(&s.graph, cfg).unwrap();
    assert!(verify(
        &q2,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params()
    )
    .is_err());
}

/// A tiny model whose proof is small enough to flip every byte.
fn tiny() -> Setup {
    use zkgrad_circuit::table::ActKind;
    use zkgrad_model::graph::{Graph, Node, Op};
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![1, 2],
        nodes: vec![
            Node {
                name: "fc".into(),
                op: Op::Linear {
                    x: 0,
                    w: vec![0.5, -0.25, 0.75, 0.125],
                    bias: Some(vec![0.1, -0.2]),
                    in_features: 2,
                    out_features: 2,
                },
                shape: vec![1, 2],
            },
            Node {
                name: "sig".into(),
                op: Op::Act {
                    x: 1,
                    kind: ActKind::Sigmoid,
                },
                shape: vec![1, 2],
            },
            Node {
                name: "out".into(),
                op: Op::Linear {
                    x: 2,
                    w: vec![1.0, -1.0],
                    bias: None,
                    in_features: 2,
                    out_features: 1,
                },
                shape: vec![1, 1],
            },
        ],
        output: 3,
        output_parts: Vec::new(),
    };
    setup(g, 5, 3)
}

#[test]
fn every_single_byte_flip_of_a_small_proof_is_rejected() {
    let s = tiny();
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    for pos in 0..p.body.len() {
        for bit in [0u8, 5] {
            let mut b = p.clone();
            b.body[pos] ^= 1 << bit;
            assert!(
                check(&s, &b).is_err(),
                "flipping bit {bit} of byte {pos} was accepted"
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_of_a_small_proof_is_rejected() {
    let s = tiny();
    let p = prove_ok(&s).proof;
    for n in 0..p.body.len() {
        let mut b = p.clone();
        b.body.truncate(n);
        assert!(check(&s, &b).is_err(), "truncation to {n} accepted");
    }
    let mut b = p.clone();
    b.body.push(0);
    assert!(matches!(check(&s, &b), Err(VerifyError::Transcript(_))));
}

#[test]
fn sampled_byte_flips_of_the_seed_mlp_proof_are_rejected() {
    let s = setup(seed_mlp(), 10, 1);
    let p = prove_ok(&s).proof;
    let step = (p.body.len() / 400).max(1);
    for pos in (0..p.body.len()).step_by(step) {
        let mut b = p.clone();
        b.body[pos] ^= 0x04;
        assert!(check(&s, &b).is_err(), "flip at {pos} accepted");
    }
}

use common::perturbations_rejected_public as perturbations_rejected;

#[test]
fn cheating_prover_off_by_one_in_each_op_of_the_seed_mlp_is_rejected() {
    perturbations_rejected(&setup(seed_mlp(), 10, 1));
}

#[test]
fn cheating_prover_off_by_one_in_each_op_kind_is_rejected() {
    let s = setup(all_ops(), 10, 2);
    // The graph really has every op kind.
    for want in ["Gemm", "Add", "Sub", "Mul", "Scale", "Requant", "Act"] {
        assert!(
            s.q.nodes
                .iter()
                .any(|n| format!("{:?}", n.op).starts_with(want)),
            "{want}"
        );
    }
    assert!(s.q.nodes.iter().any(|n| matches!(
        n.op,
        QOp::Act {
            kind: zkgrad_circuit::ActKind::Tanh,
            ..
        }
    )));
    perturbations_rejected(&s);
}

#[test]
fn cheating_prover_with_a_wrong_weight_is_rejected() {
    // The prover computes with other weights but presents the honest model's commitment.
    let s = setup(seed_mlp(), 10, 1);
    let mut q2 = s.q.clone();
    q2.weights[0].data[0] += 1;
    let w = zkgrad_model::forward(&q2, &s.input).unwrap();
    let p = prove_witness(&s.q, &s.model, w, &small_params()).proof;
    assert!(check(&s, &p).is_err());
}

#[test]
fn out_of_range_activation_input_is_refused_by_the_honest_prover() {
    let s = setup(seed_mlp(), 10, 1);
    let big: Vec<i64> = s.input.iter().map(|v| v * 1000 + 100_000).collect();
    assert!(zkgrad_prover::prove(&s.q, &s.model, &big, &small_params()).is_err());
}

#[test]
fn every_single_bit_flip_of_a_whole_small_proof_file_is_rejected() {
    let s = tiny();
    let p = prove_ok(&s).proof;
    let bytes = p.to_bytes();
    let c = model_commitment(&p.circuit, &p.weight_root);
    let mut accepted = Vec::new();
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            let Ok(f) = zkgrad_verifier::ProofFile::from_bytes(&b) else {
                continue;
            };
            let by_model = verify_with_model(&f, &s.q, &s.model.root(), &small_params()).is_ok();
            let by_commitment = verify_with_commitment(&f, &c, &small_params()).is_ok();
            if by_model || by_commitment {
                accepted.push((pos, bit));
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "accepted flips (byte, bit): {accepted:?}"
    );
}

#[test]
fn public_input_outside_the_value_range_is_rejected() {
    // A huge public input could make accumulators wrap around p; the verifier refuses it.
    let s = setup(seed_mlp(), 10, 1);
    let p = prove_ok(&s).proof;
    let mut b = p.clone();
    b.input[0] = 1 << 40;
    assert_eq!(check(&s, &b), Err(VerifyError::PublicRange));
}

#[test]
fn cheating_prover_off_by_one_in_matrix_ops_is_rejected() {
    let s = setup(matrix_ops(), 12, 4);
    perturbations_rejected(&s);
}

#[test]
fn proof_checked_against_another_second_input_is_rejected() {
    let s = setup(matrix_ops(), 12, 4);
    let p = prove_ok(&s).proof;
    let n0 = s.q.input().len();
    for i in [n0, p.input.len() - 1] {
        let mut b = p.clone();
        b.input[i] += 1;
        assert!(check(&s, &b).is_err());
    }
}

#[test]
fn output_that_is_a_huge_field_element_is_rejected() {
    // The last requantization is x + 2^(s-1) = 2^s·y + rem. A cheating prover takes rem + 1 and
    // solves for y in the field: y' = y − 2^-s (mod p), a huge element that satisfies the field
    // identity. Only a range check on the public output stops it.
    use zkgrad_field::{f_from_i64, f_to_i64, Field, PrimeCharacteristicRing, F};
    let s = setup(seed_mlp(), 10, 1);
    let last = s.q.nodes.len() - 1;
    let shift = match s.q.nodes[last].op {
        QOp::Requant { shift, .. } => shift,
        _ => panic!("the seed MLP ends in a requantization"),
    };
    let w = zkgrad_model::forward_with(&s.q, &s.input, |n, out, rem| {
        if n == last {
            if let Some(r) = rem.as_mut() {
                r[0] += 1;
            }
            let inv = F::from_u64(1u64 << shift).inverse();
            out[0] = f_to_i64(f_from_i64(out[0]) - inv);
        }
    })
    .unwrap();
    assert!(
        w.values[s.q.output][0].abs() > 1 << 40,
        "the forged output is huge"
    );
    let p = prove_witness(&s.q, &s.model, w, &small_params()).proof;
    assert!(check(&s, &p).is_err(), "a forged huge output was accepted");
}

#[test]
fn cheating_prover_off_by_one_in_layout_ops_is_rejected() {
    let s = setup(layout_ops(), 12, 5);
    perturbations_rejected(&s);
}

#[test]
fn proof_checked_against_another_index_map_is_rejected() {
    use zkgrad_circuit::index_map::IndexMap;
    use zkgrad_model::Op;
    let s = setup(layout_ops(), 12, 5);
    let p = prove_ok(&s).proof;
    // The same graph with the slice's offset moved: another circuit, another protocol id.
    let mut other = s.graph.clone();
    other.nodes[0].op = Op::Gather {
        x: 0,
        map: IndexMap::aligned(&[2, 3, 4], &[2, 2, 2], &[1, 1, 2], &[0, 1, 1]),
    };
    let q = zkgrad_model::quantize(&other, s.q.config).unwrap();
    assert!(zkgrad_verifier::verify(
        &q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params()
    )
    .is_err());
}

#[test]
fn cheating_provers_and_mutated_proofs_of_exported_models_are_rejected() {
    // The PyTorch export of the seed step (examples/gen_sgd_step.py): Slice, Reshape, broadcast
    // Add, Greater + Cast, ReduceSum, Concat and two outputs, all through index maps.
    // Also the layout example (examples/gen_examples.py layout) and a CNN exported from PyTorch
    // (examples/gen_cnn.py: Conv, BatchNorm, MaxPool, AveragePool, SiLU, GlobalAveragePool) and
    // its pointwise model (LayerNorm, LeakyRelu, Clip, Erf, Pow, Sqrt, Div, Softmax).
    for model in [
        "sgd_step/step.onnx",
        "layout/layout.onnx",
        "cnn/mixed.onnx",
        "cnn/pointwise.onnx",
    ] {
        let path = format!("{}/../../examples/{model}", env!("CARGO_MANIFEST_DIR"));
        let g = zkgrad_onnx::import(&std::fs::read(path).unwrap()).unwrap();
        let s = setup(g, 16, 7);
        let p = prove_ok(&s).proof;
        check(&s, &p).unwrap();
        perturbations_rejected(&s);
        // Mutated proofs: 200 byte flips spread over the body.
        let step = (p.body.len() / 200).max(1);
        for pos in (0..p.body.len()).step_by(step) {
            let mut b = p.clone();
            b.body[pos] ^= 0x10;
            assert!(check(&s, &b).is_err(), "{model}: flip at {pos} accepted");
        }
    }
}

#[test]
fn cheating_prover_off_by_one_in_convolutions_is_rejected() {
    let s = setup(conv_ops(), 12, 6);
    perturbations_rejected(&s);
}

#[test]
fn convolution_checked_against_other_geometry_or_weights_is_rejected() {
    let s = setup(conv_ops(), 12, 6);
    let p = prove_ok(&s).proof;
    // Another padding (same shapes: a 1-pixel shift of the window) or one weight changed.
    let mut shifted = s.graph.clone();
    let mut reweighted = s.graph.clone();
    if let Op::Conv { geom, .. } = &mut shifted.nodes[2].op {
        geom.pad = [0, 0];
    }
    if let Op::Conv { w, .. } = &mut reweighted.nodes[0].op {
        w[5] += 0.25;
    }
    for g in [shifted, reweighted] {
        let q = zkgrad_model::quantize(&g, s.q.config).unwrap();
        let model = CommittedModel::new(&q, &small_params());
        assert!(verify(
            &q,
            &model.root(),
            &p.input,
            &p.output,
            &p.body,
            &small_params()
        )
        .is_err());
    }
}

#[test]
fn packed_weight_commitment_binds_every_weight() {
    // The CIFAR-10 CNN's weights are committed packed in one table (weight_packing), their
    // claims batched into one opening.
    let s = setup(zkgrad_model::zoo_cnn::cifar_cnn(), 12, 3);
    let packing = zkgrad_verifier::protocol::weight_packing(&s.q, &small_params());
    // Every weight's power-of-two parts, and nothing else.
    let l = packing.unwrap();
    let parts: usize =
        s.q.weights
            .iter()
            .map(|w| zkgrad_verifier::protocol::weight_parts(w.rows, w.cols).len())
            .sum();
    assert_eq!(l.blocks.len(), parts);
    assert!(parts > s.q.weights.len(), "no tensor was cut into parts");
    let real: usize = s.q.weights.iter().map(|w| w.rows * w.cols).sum();
    assert_eq!(l.used(), real, "the parts fill the table without padding");
    let out = prove_ok(&s);
    let p = out.proof;
    check(&s, &p).unwrap();
    // Through the published model commitment too (the circuit decoded from the proof).
    let c = model_commitment(&p.circuit, &p.weight_root);
    verify_with_commitment(&p, &c, &small_params()).unwrap();
    // Other weights (one value of the last layer off by one quantum), same circuit.
    let last = s.q.weights.len() - 2;
    other_weights_rejected(&s, last, 5);
    // Flipped bytes in the weight opening (the end of the body) are rejected.
    let n = p.body.len();
    for k in 1..=24 {
        let mut b = p.clone();
        b.body[n - k * 997 % (n / 3) - 1] ^= 0x08;
        assert!(check(&s, &b).is_err(), "flip {k} accepted");
    }
}

// The WHIR scheme: WHIR openings, one GKR for all lookups' values, committed multiplicities.

/// Whether `s`'s witness and (packed) weights are opened with WHIR.
fn opened_with_whir(s: &Setup) -> (bool, bool) {
    let lookups = s.q.lookups();
    let committed = zkgrad_verifier::protocol::committed_tables(&s.q, &lookups, &s.params);
    let wl = s.q.witness_layout_with(&committed);
    let witness = zkgrad_pcs::Layout::choose_batched(wl.log_n, wl.used(), &s.params).whir;
    let weights = zkgrad_verifier::protocol::weight_packing(&s.q, &s.params)
        .is_some_and(|l| zkgrad_pcs::Layout::choose_batched(l.log_n, l.used(), &s.params).whir);
    (witness, weights)
}

#[test]
fn whir_scheme_cheating_prover_off_by_one_in_each_op_kind_is_rejected() {
    // Too small a witness for WHIR (it is sent in clear): the succinct lookups alone.
    let s = setup_with(all_ops(), 10, 2, whir_small());
    // Some tables' multiplicities committed, the others' in clear.
    let committed = zkgrad_verifier::protocol::committed_tables(&s.q, &s.q.lookups(), &s.params);
    assert!(committed.contains(&true) && committed.contains(&false));
    check(&s, &prove_ok(&s).proof).unwrap();
    perturbations_rejected(&s);
}

#[test]
fn whir_scheme_with_clear_multiplicities_rejects_cheating_provers() {
    // The default threshold keeps this small proof's multiplicities in clear; the values
    // still go through the one batched GKR.
    let mut params = whir_small();
    if let Some(w) = params.whir.as_mut() {
        w.commit_mults_from = 16;
    }
    let s = setup_with(all_ops(), 10, 2, params);
    assert!(
        !zkgrad_verifier::protocol::committed_tables(&s.q, &s.q.lookups(), &s.params)
            .contains(&true)
    );
    perturbations_rejected(&s);
}

#[test]
fn whir_scheme_cheating_prover_off_by_one_in_convolutions_is_rejected() {
    let s = setup_with(conv_ops(), 10, 4, whir_small());
    perturbations_rejected(&s);
    // A whole CNN whose witness and packed weights are opened with WHIR.
    let s = setup_with(zkgrad_model::zoo_cnn::lenet5(), 12, 4, whir_small());
    assert_eq!(opened_with_whir(&s), (true, true));
    perturbations_rejected(&s);
}

#[test]
fn whir_scheme_mutated_proofs_are_rejected() {
    let s = setup_with(zkgrad_model::zoo_cnn::lenet5(), 12, 5, whir_small());
    assert_eq!(opened_with_whir(&s), (true, true));
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    let step = (p.body.len() / 500).max(1);
    for pos in (0..p.body.len()).step_by(step) {
        let mut b = p.clone();
        b.body[pos] ^= 0x10;
        assert!(check(&s, &b).is_err(), "flip at {pos} accepted");
    }
    for cut in (0..p.body.len()).step_by(p.body.len() / 40) {
        let mut b = p.clone();
        b.body.truncate(cut);
        assert!(check(&s, &b).is_err(), "truncation at {cut} accepted");
    }
}

/// The out-of-domain claims that bind the list-decoded WHIR tables (the witness, then the
/// packed weights: `zkgrad_pcs::bind`, written right after the roots) are part of what the
/// openings prove: either value changed by one in the field, or swapped with the other's, is
/// refused. (That a binding singles out one candidate is `zkgrad_pcs`'s
/// `attack_whir_binding`; here, that the whole proof carries and checks both.)
#[test]
fn whir_binding_values_changed_after_the_roots_rejected() {
    let s = setup_with(zkgrad_model::zoo_cnn::lenet5(), 12, 5, whir_small());
    assert_eq!(opened_with_whir(&s), (true, true));
    let packing = zkgrad_verifier::protocol::weight_packing(&s.q, &s.params).expect("packed");
    let layout = zkgrad_pcs::Layout::choose_batched(packing.log_n, packing.used(), &s.params);
    assert!(zkgrad_pcs::binds(&layout, &s.params));
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    // One weight root, the witness root, no updates: the bindings follow, 16 bytes each
    // (an element of E as two little-endian limbs).
    assert!(s.q.updates().is_empty());
    let at = 2 * 32;
    let value = |b: &[u8], k: usize| b[at + 16 * k..at + 16 * k + 16].to_vec();
    for k in 0..2 {
        let mut b = p.clone();
        let limb = u64::from_le_bytes(b.body[at + 16 * k..at + 16 * k + 8].try_into().unwrap());
        let one_more = (limb + 1) % 0xFFFF_FFFF_0000_0001;
        b.body[at + 16 * k..at + 16 * k + 8].copy_from_slice(&one_more.to_le_bytes());
        assert!(check(&s, &b).is_err(), "binding {k} plus one accepted");
    }
    let mut b = p.clone();
    let (w, x) = (value(&p.body, 0), value(&p.body, 1));
    b.body[at..at + 16].copy_from_slice(&x);
    b.body[at + 16..at + 32].copy_from_slice(&w);
    assert!(check(&s, &b).is_err(), "bindings swapped accepted");
}

#[test]
fn whir_scheme_binds_the_weights_and_the_scheme() {
    let s = setup_with(zkgrad_model::zoo_cnn::lenet5(), 12, 6, whir_small());
    let p = prove_ok(&s).proof;
    assert_eq!(p.pcs, zkgrad_pcs::Scheme::Whir);
    let c = model_commitment(&p.circuit, &p.weight_root);
    verify_with_commitment(&p, &c, &s.params).unwrap();
    other_weights_rejected(&s, 1, 3);
    // The same model under Ligero: another weight root, and neither scheme's proof verifies
    // under the other's parameters.
    let ligero = setup(zkgrad_model::zoo_cnn::lenet5(), 12, 6);
    assert_ne!(ligero.model.root(), s.model.root());
    let pl = prove_ok(&ligero).proof;
    assert!(verify(
        &s.q,
        &pl.weight_root,
        &pl.input,
        &pl.output,
        &pl.body,
        &s.params
    )
    .is_err());
    assert!(verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &ligero.params
    )
    .is_err());
    let mut relabelled = p.clone();
    relabelled.pcs = zkgrad_pcs::Scheme::Ligero;
    assert!(verify_with_commitment(&relabelled, &c, &ligero.params).is_err());
}

/// Weights that differ from `s`'s in one value (tensor `wi`, entry `at`, one quantum) have
/// another root; a proof made with them fails against the honest root, and so does a prover
/// that holds their commitment but claims the honest model.
fn other_weights_rejected(s: &Setup, wi: usize, at: usize) {
    let mut q2 = s.q.clone();
    q2.weights[wi].data[at] += 1;
    let m2 = CommittedModel::new(&q2, &s.params);
    assert_ne!(m2.root(), s.model.root());
    let root = s.model.root();
    for (q, m) in [(&q2, &m2), (&s.q, &m2)] {
        let p = zkgrad_prover::prove(q, m, &s.input, &s.params)
            .unwrap()
            .proof;
        assert!(verify(&s.q, &root, &p.input, &p.output, &p.body, &s.params).is_err());
    }
}
