//! The ops transformers need, proved and attacked: batched products of computed tensors
//! (per-head attention), embedding lookups by public token ids, constants of the circuit
//! (causal masks).

mod common;

use common::transformer::*;
use common::*;
use zkgrad_model::graph::{Graph, Op};

#[test]
fn batched_product_proves_and_verifies() {
    // Rows per head and contracted sizes that are not powers of two are padded per head.
    for (b, m, k, n) in [
        (2, 4, 4, 3),
        (3, 2, 8, 5),
        (1, 4, 2, 2),
        (4, 8, 4, 8),
        (2, 3, 5, 4),
        (3, 12, 6, 12),
    ] {
        let s = setup(batched(b, m, k, n), 16, 7);
        let out = prove_ok(&s);
        check(&s, &out.proof).unwrap_or_else(|e| panic!("{b}x{m}x{k}x{n}: {e}"));
        assert!(max_output_error(&s, &out.proof) < 1e-2);
    }
}

#[test]
fn embedding_proves_and_verifies() {
    for tied in [false, true] {
        let s = setup_ids(embedding(5, 14, 6, tied), &[3, 4, 5, 0, 0]);
        // The tied LM head reads the embedding's committed table: one weight tensor.
        assert_eq!(s.q.weights.len(), 1);
        let out = prove_ok(&s);
        check(&s, &out.proof).unwrap();
        assert!(max_output_error(&s, &out.proof) < 1e-2);
    }
}

#[test]
fn token_ids_swapped_after_proving_rejected() {
    let s = setup_ids(embedding(5, 14, 6, true), &[3, 4, 5, 0, 0]);
    let out = prove_ok(&s);
    for ids in [[4, 3, 5, 0, 0], [3, 4, 5, 0, 1], [3, 4, 5, 0, 13]] {
        let mut p = out.proof.clone();
        p.input = ids.to_vec();
        assert!(check(&s, &p).is_err(), "ids {ids:?} accepted");
    }
}

#[test]
fn token_id_outside_the_table_rejected() {
    let s = setup_ids(embedding(5, 14, 6, false), &[3, 4, 5, 0, 0]);
    let out = prove_ok(&s);
    for bad in [14, -1, 1 << 14] {
        let mut p = out.proof.clone();
        p.input[2] = bad;
        assert!(check(&s, &p).is_err(), "id {bad} accepted");
    }
    // The honest prover refuses such an id before proving.
    assert!(zkgrad_model::forward(&s.q, &[3, 4, 14, 0, 0]).is_err());
}

#[test]
fn embedding_row_substituted_rejected() {
    let s = setup_ids(embedding(5, 14, 6, false), &[3, 4, 5, 0, 0]);
    let embed = s.q.nodes.iter().position(|n| n.name == "embed").unwrap();
    let table = &s.q.weights[0];
    let row = |i: usize| table.data[i * table.cols..(i + 1) * table.cols].to_vec();
    // Position 1 reads row 7 instead of row 4 (what a prover who picks the wiring would do).
    let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
        if ni == embed {
            out[table.cols..2 * table.cols].copy_from_slice(&row(7));
        }
    });
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(check(&s, &p).is_err());
}

#[test]
fn batched_product_entry_or_heads_swapped_rejected() {
    let (b, m, k, n) = (2, 4, 4, 3);
    let s = setup(batched(b, m, k, n), 16, 7);
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    // One entry off by one, and the two heads' results swapped.
    let cheats: [fn(&mut Vec<i64>); 2] = [
        |out| out[5] += 1,
        |out| {
            let half = out.len() / 2;
            let (x, y) = out.split_at_mut(half);
            x.swap_with_slice(y);
        },
    ];
    for cheat in cheats {
        let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
            if ni == ab {
                cheat(out);
            }
        });
        let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
        assert!(check(&s, &p).is_err());
    }
}

/// Scores `[heads·T, T]` (a public input) plus a causal mask (a constant `[T, T]` of 0 on and
/// below the diagonal and `fill` above, broadcast over the heads), then a softmax per row.
fn masked_softmax(heads: usize, t: usize, fill: f64) -> Graph {
    let mask: Vec<f64> = (0..t * t)
        .map(|i| if i % t > i / t { fill } else { 0.0 })
        .collect();
    let map = zkgrad_circuit::index_map::IndexMap::broadcast(&[1, t, t], &[heads, t, t]).unwrap();
    Graph {
        input_name: "scores".into(),
        input_shape: vec![heads * t, t],
        nodes: vec![
            node("mask", Op::Const { data: mask }, vec![1, t, t]),
            node("mask/heads", Op::Gather { x: 1, map }, vec![heads, t, t]),
            node("masked", Op::Add { a: 0, b: 2 }, vec![heads * t, t]),
            node("probs", Op::Softmax { x: 3 }, vec![heads * t, t]),
        ],
        output: 4,
        output_parts: Vec::new(),
    }
}

#[test]
fn causal_mask_holds_in_proven_probabilities() {
    let s = setup(masked_softmax(2, 4, -3.4e38), 20, 5);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    // Every probability of a later position is exactly 0.
    for (i, &v) in out.proof.output.iter().enumerate() {
        let (row, col) = ((i / 4) % 4, i % 4);
        if col > row {
            assert_eq!(v, 0, "position {row} attends to {col}");
        }
    }
    assert!(max_output_error(&s, &out.proof) < 1e-2);
}

#[test]
fn position_attending_to_a_later_one_rejected() {
    let s = setup(masked_softmax(2, 4, -3.4e38), 20, 5);
    // A prover who lets each position attend to every other: the mask's values zeroed in
    // the witness (the circuit's constant is the verifier's own) ...
    let mask = s.q.nodes.iter().position(|n| n.name == "mask").unwrap();
    let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
        if ni == mask {
            out.iter_mut().for_each(|v| *v = 0);
        }
    });
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(check(&s, &p).is_err());
    // ... or a proof of the unmasked circuit, checked against the masked one.
    let open = setup(masked_softmax(2, 4, 0.0), 20, 5);
    let p = prove_ok(&open).proof;
    assert!(verify_against(&s.q, &p.weight_root, &p).is_err());
}

/// A toy language model (ids → embedding → tanh → tied LM head, `t` positions) with the
/// greedy-choice check of `n` tokens after a prompt of `first`; the ids decoded greedily on the
/// circuit's own integer logits.
fn greedy_setup(t: usize, first: usize, n: usize) -> (Setup, Vec<i64>) {
    let vocab = 14;
    let ids: Vec<i64> = (0..t as i64).map(|i| (3 * i + 1) % vocab as i64).collect();
    greedy_decoded(embedding(t, vocab, 6, true), ids, first, n, vocab)
}

#[test]
fn greedy_generation_proves_and_verifies() {
    let (s, _) = greedy_setup(8, 3, 4);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    assert_eq!(
        zkgrad_model::generate::greedy_check_of(&s.q, 0),
        Some((3, 4))
    );
}

#[test]
fn generated_token_changed_rejected() {
    let (s, ids) = greedy_setup(8, 3, 4);
    let out = prove_ok(&s);
    // Each generated token replaced by another, after proving.
    for p in 3..7 {
        let mut bad = out.proof.clone();
        bad.input[p] = (ids[p] + 1) % 14;
        assert!(check(&s, &bad).is_err(), "position {p}");
    }
    // A prover who claims a token that is not the argmax: the gap goes negative somewhere.
    let mut wrong = ids.clone();
    wrong[4] = (ids[4] + 5) % 14;
    let w = lenient_forward(&s.q, &wrong, |_, _, _| {});
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(check(&s, &p).is_err());
    // The honest prover refuses to prove it.
    assert!(zkgrad_prover::prove(&s.q, &s.model, &wrong, &s.params).is_err());
}

#[test]
fn greedy_check_outside_the_sequence_refused() {
    let mut s = setup_ids(embedding(8, 14, 6, true), &[0; 8]);
    let logits = s.q.output;
    for (first, n) in [(0, 2), (3, 6), (8, 1), (2, 0)] {
        assert!(
            zkgrad_model::generate::check_greedy(&mut s.q.clone(), logits, 0, first, n).is_err(),
            "first {first}, n {n}"
        );
    }
    // And a description whose pick reads past the ids is refused when decoded.
    zkgrad_model::generate::check_greedy(&mut s.q, logits, 0, 3, 4).unwrap();
    let mut q = s.q.clone();
    for node in &mut q.nodes {
        if let zkgrad_circuit::QOp::PickCol { offset, .. } = &mut node.op {
            *offset = 5;
        }
    }
    assert!(zkgrad_circuit::QGraph::from_description(&q.describe()).is_err());
}

#[test]
fn generation_with_the_causal_mask_lifted_rejected() {
    let (s, ids) = greedy_attention_setup();
    check(&s, &prove_ok(&s).proof).unwrap();
    // A prover whose positions see later tokens: the mask's values zeroed in the witness, so
    // every row's logits (and the argmax checked against them) come from the whole sequence.
    let mask = s.q.nodes.iter().position(|x| x.name == "mask").unwrap();
    let w = lenient_forward(&s.q, &ids, |ni, out, _| {
        if ni == mask {
            out.iter_mut().for_each(|v| *v = 0);
        }
    });
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(check(&s, &p).is_err());
}

/// `x` `[rows, 4]` → Linear(4, 3) → ArgMax (the model's output); with `tie`, the layer's last
/// two output rows are equal, so every row's logits 1 and 2 tie.
fn classifier(rows: usize, tie: bool) -> Graph {
    let mut w: Vec<f64> = rnd(31, 12).iter().map(|v| v * 0.7).collect();
    if tie {
        let (a, b) = w.split_at_mut(8);
        b.copy_from_slice(&a[4..8]);
    }
    let mut bias = vec![0.1, 0.3, 0.3];
    if !tie {
        bias[2] = -0.2;
    }
    Graph {
        input_name: "x".into(),
        input_shape: vec![rows, 4],
        nodes: vec![
            node(
                "fc",
                Op::Linear {
                    x: 0,
                    w,
                    bias: Some(bias),
                    in_features: 4,
                    out_features: 3,
                },
                vec![rows, 3],
            ),
            node("label", Op::ArgMax { x: 1, at: None }, vec![rows, 1]),
        ],
        output: 2,
        output_parts: Vec::new(),
    }
}

#[test]
fn argmax_output_proves_and_another_label_rejected() {
    let s = setup(classifier(6, false), 16, 9);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    let float = s.graph.forward_f64(&s.input_f);
    let labels: Vec<i64> = float[2].iter().map(|&v| v as i64).collect();
    assert_eq!(out.proof.output, labels);
    for r in 0..6 {
        for other in 0..3 {
            if other == labels[r] {
                continue;
            }
            let mut p = out.proof.clone();
            p.output[r] = other;
            assert!(check(&s, &p).is_err(), "row {r} labelled {other}");
        }
        let mut p = out.proof.clone();
        p.output[r] = 3;
        assert!(
            check(&s, &p).is_err(),
            "row {r} labelled outside the classes"
        );
    }
}

#[test]
fn argmax_tie_to_a_later_index_rejected() {
    let s = setup(classifier(4, true), 16, 9);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    for r in 0..4 {
        if out.proof.output[r] == 1 {
            // Columns 1 and 2 are equal: 2 is also maximal, but not the first.
            let mut p = out.proof.clone();
            p.output[r] = 2;
            assert!(
                check(&s, &p).is_err(),
                "row {r}: the later of two tied maxima"
            );
        }
    }
    assert!(out.proof.output.contains(&1), "no tied row to test");
}

#[test]
fn argmax_without_its_check_or_off_the_output_refused() {
    let s = setup(classifier(4, false), 16, 9);
    // The check's last node removed from a description: the hint is no longer pinned.
    let mut q = s.q.clone();
    q.nodes.pop();
    q.tensors.pop();
    assert!(zkgrad_circuit::QGraph::from_description(&q.describe()).is_err());
    // The strict mask replaced by zeros (ties to any maximal index).
    let mut q = s.q.clone();
    for n in &mut q.nodes {
        if let zkgrad_circuit::QOp::Sub { b, .. } = &mut n.op {
            if matches!(s.q.nodes[*b - 1].op, zkgrad_circuit::QOp::PrefixMask { .. }) {
                *b -= 2;
            }
        }
    }
    assert!(zkgrad_circuit::QGraph::from_description(&q.describe()).is_err());
    // ArgMax that is not the output.
    let mut g = classifier(4, false);
    g.nodes
        .push(node("after", Op::Scale { x: 2, c: 2.0 }, vec![4, 1]));
    g.output = 3;
    let cfg = zkgrad_circuit::QConfig {
        act_frac: 8,
        weight_frac: 12,
        table_bits: 16,
    };
    let e = zkgrad_model::quantize(&g, cfg).unwrap_err();
    assert!(e.to_string().contains("only as a model output"), "{e}");
}

#[test]
fn label_beside_other_outputs_proves_and_a_changed_label_rejected() {
    let rows = 6;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    let f = s.q.tensors[s.q.output].frac;
    let float = s.graph.forward_f64(&s.input_f);
    let labels: Vec<i64> = float[2].iter().map(|&v| v as i64).collect();
    // The label slots hold each label at the logits' scale.
    let slots: Vec<i64> = out.proof.output[..rows].iter().map(|v| v >> f).collect();
    assert_eq!(slots, labels);
    assert!(f > 0, "the logits kept their scale");
    for r in 0..rows {
        for other in 0..4 {
            let mut p = out.proof.clone();
            p.output[r] = other << f;
            let accepted = check(&s, &p).is_ok();
            assert_eq!(accepted, other == labels[r], "row {r} labelled {other}");
        }
        // Not a multiple of the scale: no label at all.
        let mut p = out.proof.clone();
        p.output[r] += 1;
        assert!(check(&s, &p).is_err(), "row {r}: a label slot off the grid");
    }
    // A logit changed.
    let mut p = out.proof.clone();
    p.output[rows + 1] += 1;
    assert!(check(&s, &p).is_err());
}

#[test]
fn label_placed_outside_the_output_refused() {
    let s = setup(label_and_logits(4, false), 16, 9);
    let mut q = s.q.clone();
    let total = q.tensors[q.output].len();
    for n in &mut q.nodes {
        if let zkgrad_circuit::QOp::ArgMax { at, .. } = &mut n.op {
            *at = total - 1;
        }
    }
    assert!(zkgrad_circuit::QGraph::from_description(&q.describe()).is_err());
}

/// `x` `[4, 8]` → a layer with one outlier output channel (values in the thousands, as trained
/// transformers' residual streams have) and a layer with small outputs; the output is the
/// small one plus 2^-10 of the outlier one (a factor the weights hold exactly).
fn outlier_channel() -> Graph {
    let mut w1: Vec<f64> = rnd(41, 64).iter().map(|v| v * 0.3).collect();
    for v in &mut w1[3 * 8..4 * 8] {
        *v *= 3000.0;
    }
    let w2: Vec<f64> = rnd(42, 64).iter().map(|v| v * 0.05).collect();
    let lin = |x: usize, w: Vec<f64>| Op::Linear {
        x,
        w,
        bias: None,
        in_features: 8,
        out_features: 8,
    };
    Graph {
        input_name: "x".into(),
        input_shape: vec![4, 8],
        nodes: vec![
            node("outlier", lin(0, w1), vec![4, 8]),
            node("small", lin(0, w2), vec![4, 8]),
            node(
                "scaled",
                Op::Scale {
                    x: 1,
                    c: 1.0 / 1024.0,
                },
                vec![4, 8],
            ),
            node("out", Op::Add { a: 2, b: 3 }, vec![4, 8]),
        ],
        output: 4,
        output_parts: Vec::new(),
    }
}

#[test]
fn per_tensor_scales_keep_small_values_beside_an_outlier_channel() {
    let g = outlier_channel();
    let x = rnd(43, 32);
    let k = 20;
    let global = zkgrad_model::calibrate(&g, std::slice::from_ref(&x), k);
    let fracs = zkgrad_model::calibrate_per_tensor(&g, std::slice::from_ref(&x), k);
    let error = |q: &zkgrad_circuit::QGraph| {
        let xq = zkgrad_model::quantize_public_input(q, &x).unwrap();
        let model = zkgrad_prover::CommittedModel::new(q, &small_params());
        let p = zkgrad_prover::prove(q, &model, &xq, &small_params())
            .unwrap()
            .proof;
        zkgrad_verifier::verify(
            q,
            &p.weight_root,
            &p.input,
            &p.output,
            &p.body,
            &small_params(),
        )
        .unwrap();
        let s = (1u64 << q.output_tensor().frac) as f64;
        let f = &g.forward_f64(&x)[g.output];
        p.output
            .iter()
            .zip(f)
            .map(|(a, b)| (*a as f64 / s - b).abs())
            .fold(0.0, f64::max)
    };
    let q_global = zkgrad_model::quantize(&g, global).unwrap();
    let cfg = zkgrad_circuit::QConfig {
        act_frac: *fracs.iter().max().unwrap(),
        ..global
    };
    let (q_tensor, _) = zkgrad_model::quantize_with_scales(&g, cfg, &fracs).unwrap();
    let (e_global, e_tensor) = (error(&q_global), error(&q_tensor));
    // One global scale is set by the outlier (thousands); the small layer keeps its own.
    assert!(global.act_frac < 9, "global scale 2^-{}", global.act_frac);
    assert!(
        fracs[2] > global.act_frac + 6,
        "small layer at 2^-{}",
        fracs[2]
    );
    assert!(
        e_tensor * 20.0 < e_global,
        "per-tensor error {e_tensor} vs global {e_global}"
    );
}
