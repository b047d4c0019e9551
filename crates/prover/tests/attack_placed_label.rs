//! Attacks on a proven ArgMax placed beside other outputs (commit 2bced93: `QOp::ArgMax.at`,
//! `argmax::placed_ids`): the label slot of the public output changed, the check chain's
//! witness cheated, and descriptions that move, share or overflow the slot.

mod common;

use common::transformer::{classifier, label_and_logits, node};
use common::*;
use zkgrad_circuit::{QGraph, QOp};
use zkgrad_model::graph::Op;
use zkgrad_prover::{prove, CommittedModel};

const C: i64 = 3;

fn hint_node(q: &QGraph) -> usize {
    q.nodes
        .iter()
        .position(|n| matches!(n.op, QOp::ArgMax { .. }))
        .expect("an ArgMax")
}

fn out_frac(q: &QGraph) -> u32 {
    q.tensors[q.output].frac
}

/// The honest labels (the float graph's argmax of each row).
fn true_labels(s: &Setup) -> Vec<i64> {
    let float = s.graph.forward_f64(&s.input_f);
    float[2].iter().map(|&v| v as i64).collect()
}

/// The label slot set to every value worth trying that is not the honest one: other labels
/// (in and out of `[0, C)`, negative), values off the 2^f grid on both sides of zero, the
/// range's ends.
fn slot_candidates(f: u32, k: u32, honest_label: i64) -> Vec<i64> {
    let unit = 1i64 << f;
    let half = 1i64 << (k - 1);
    let mut v = vec![];
    for l in -3..=C + 2 {
        if l != honest_label {
            v.push(l * unit);
        }
    }
    let h = honest_label * unit;
    for d in [1, -1, unit / 2, -(unit / 2), unit - 1, -(unit - 1)] {
        if d != 0 {
            v.push(h + d);
        }
    }
    v.extend([-half, half - 1, -unit + 1, -1, 1]);
    v.retain(|&x| x != h && (-half..half).contains(&x));
    v.sort();
    v.dedup();
    v
}

#[test]
fn label_slot_other_multiples_negative_and_off_grid_rejected() {
    // Row counts that fill, pad and do not pad the hint's rows.
    for (label_last, rows) in [(false, 4), (true, 4), (false, 5), (true, 3)] {
        let s = setup(label_and_logits(rows, label_last), 16, 9);
        let out = prove_ok(&s);
        check(&s, &out.proof).unwrap();
        let f = out_frac(&s.q);
        assert!(f > 0);
        let at = if label_last { 3 * rows } else { 0 };
        let labels = true_labels(&s);
        for r in 0..rows {
            assert_eq!(out.proof.output[at + r], labels[r] << f);
            for v in slot_candidates(f, 16, labels[r]) {
                let mut p = out.proof.clone();
                p.output[at + r] = v;
                assert!(
                    check(&s, &p).is_err(),
                    "FORGERY: label_last={label_last} row {r} slot {v} (label {})",
                    labels[r]
                );
            }
        }
    }
}

#[test]
fn all_label_rows_swapped_at_once_rejected() {
    let rows = 6;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let out = prove_ok(&s);
    let f = out_frac(&s.q);
    let labels = true_labels(&s);
    for shift in 1..C {
        let mut p = out.proof.clone();
        for r in 0..rows {
            p.output[r] = ((labels[r] + shift) % C) << f;
        }
        assert!(
            check(&s, &p).is_err(),
            "FORGERY: every label moved by {shift}"
        );
    }
}

/// The hint changed in the witness, everything after it recomputed (the output's label slot
/// then holds the new label at the output's scale, consistently): the gap goes negative.
#[test]
fn changed_hint_with_consistent_output_and_recomputed_check_rejected() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let hint = hint_node(&s.q);
    let gap = hint + 7;
    assert!(matches!(s.q.nodes[gap].op, QOp::Requant { shift: 0, .. }));
    let f = out_frac(&s.q);
    let labels = true_labels(&s);
    let k = s.q.config.table_bits;
    for r in 0..rows {
        for other in 0..C {
            if other == labels[r] {
                continue;
            }
            // 0: the gap as computed (negative somewhere); 1: negative gaps clamped to 0 (the
            // rounding identity then breaks); 2: negative gaps moved by +2^K into the range.
            for fix in 0..3 {
                let w = lenient_forward(&s.q, &s.input, |n, out, _| {
                    if n == hint {
                        out[r] = other;
                    }
                    if n == gap {
                        let half = 1i64 << (k - 1);
                        for v in out.iter_mut() {
                            if *v < -half {
                                match fix {
                                    1 => *v = -half,
                                    2 => *v += 1 << k,
                                    _ => {}
                                }
                            }
                        }
                    }
                });
                assert_eq!(w.values[s.q.output][r], other << f);
                let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
                assert!(
                    check(&s, &p).is_err(),
                    "FORGERY: row {r} labelled {other} (fix {fix})"
                );
            }
        }
    }
}

/// The hint kept honest in the witness while the output's label slot carries another label
/// (the prover's own hint disagrees with the public one the verifier derives).
#[test]
fn witness_hint_disagreeing_with_the_public_slot_rejected() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let f = out_frac(&s.q);
    let labels = true_labels(&s);
    let out_node = s.q.output - 1;
    for r in 0..rows {
        let other = (labels[r] + 1) % C;
        let w = lenient_forward(&s.q, &s.input, |n, out, _| {
            if n == out_node {
                out[r] = other << f;
            }
        });
        let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
        assert!(check(&s, &p).is_err(), "FORGERY: row {r} slot only");
    }
}

/// Proves `q2` (a variant of `s.q` with the same weights) honestly and verifies against it.
fn prove_variant(s: &Setup, q2: &QGraph) -> (zkgrad_verifier::ProofFile, CommittedModel) {
    let model = CommittedModel::new(q2, &s.params);
    let p = prove(q2, &model, &s.input, &s.params).unwrap().proof;
    (p, model)
}

/// `q2` (a variant of `s.q` with the same weights) validated as a verifier would, then proved
/// with the weights (a description has none): `None`, said on stderr, when the description is
/// refused or the honest prover cannot prove it.
fn checked_variant(s: &Setup, q2: &QGraph) -> Option<zkgrad_prover::ProveOutput> {
    if let Err(e) = QGraph::from_description(&q2.describe()) {
        eprintln!("refused: {e}");
        return None;
    }
    match prove(q2, &CommittedModel::new(q2, &s.params), &s.input, &s.params) {
        Ok(out) => {
            eprintln!(
                "variant proves; the honest proof verifies: {}",
                verify_against(q2, &out.proof.weight_root, &out.proof).is_ok()
            );
            Some(out)
        }
        Err(e) => {
            eprintln!("unprovable: {e}");
            None
        }
    }
}

/// A description whose ArgMax reads its values from the logits' slots instead of the label's:
/// the hint is still pinned to the argmax, so no output verifies with a wrong label.
#[test]
fn hint_placed_on_the_logits_slots_cannot_move_the_label() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let f = out_frac(&s.q);
    let labels = true_labels(&s);
    for at in [1, rows, rows + 1, 3 * rows] {
        let mut q2 = s.q.clone();
        let hint = hint_node(&q2);
        if let QOp::ArgMax { at: a, .. } = &mut q2.nodes[hint].op {
            *a = at;
        }
        // Validated as a verifier would; proved with the weights (a description has none).
        if let Err(e) = QGraph::from_description(&q2.describe()) {
            eprintln!("refused: {e}");
            continue;
        }
        let (p, _) = prove_variant(&s, &q2);
        let slots_ok = (0..rows).all(|r| p.output[at + r] == labels[r] << f);
        let ok = verify_against(&q2, &p.weight_root, &p).is_ok();
        eprintln!("at {at}: accepted; the honest proof verifies: {ok}");
        assert!(
            !ok || slots_ok,
            "at {at}: honest proof with the slots not its labels"
        );
        // The label slots forged to other labels and the slots at `at` to match them.
        for shift in 1..C {
            let mut p2 = p.clone();
            for r in 0..rows {
                p2.output[r] = ((labels[r] + shift) % C) << f;
            }
            for r in 0..rows {
                p2.output[at + r] = ((labels[r] + shift) % C) << f;
            }
            assert!(
                verify_against(&q2, &p2.weight_root, &p2).is_err(),
                "FORGERY: at {at}, labels moved by {shift}"
            );
        }
    }
}

/// The hint as the circuit's output with a nonzero offset, or a slice past the output's end,
/// or an offset that overflows: refused by validation.
#[test]
fn output_hint_with_offset_and_overflowing_slices_refused() {
    let s = setup(classifier(4, 31, None), 16, 9);
    let hint = hint_node(&s.q);
    for at in [1usize, 3, 4, 1 << 40] {
        let mut q = s.q.clone();
        if let QOp::ArgMax { at: a, .. } = &mut q.nodes[hint].op {
            *a = at;
        }
        assert!(QGraph::from_description(&q.describe()).is_err(), "at {at}");
        assert!(q.check_relations().is_err(), "at {at}");
    }
    let s = setup(label_and_logits(4, false), 16, 9);
    let total = s.q.tensors[s.q.output].len();
    for at in [total - 3, total, usize::MAX - 1, usize::MAX] {
        let mut q = s.q.clone();
        let h = hint_node(&q);
        if let QOp::ArgMax { at: a, .. } = &mut q.nodes[h].op {
            *a = at;
        }
        assert!(QGraph::from_description(&q.describe()).is_err(), "at {at}");
        assert!(q.check_relations().is_err(), "at {at}");
    }
}

/// Two classifiers over different logits whose hints read the same output slots: each hint
/// is pinned by its own check, so the slots verify only where both argmaxes agree.
#[test]
fn two_hints_sharing_one_slot_are_both_pinned() {
    let rows = 6;
    let mut g = label_and_logits(rows, false);
    // A second layer and ArgMax at the same offset, not placed in the output by any index map.
    let w2: Vec<f64> = rnd(77, 12).iter().map(|v| v * 0.7).collect();
    g.nodes.push(node(
        "fc2",
        Op::Linear {
            x: 0,
            w: w2,
            bias: Some(vec![-0.3, 0.2, 0.1]),
            in_features: 4,
            out_features: 3,
        },
        vec![rows, 3],
    ));
    g.nodes.push(node(
        "label2",
        Op::ArgMax { x: 6, at: Some(0) },
        vec![rows, 1],
    ));
    // Keep the output the assembly's sum: the extra nodes come after it in the float graph.
    let s = setup(g, 16, 9);
    let n_hints =
        s.q.nodes
            .iter()
            .filter(|n| matches!(n.op, QOp::ArgMax { .. }))
            .count();
    if n_hints < 2 {
        // The quantizer dropped the unused branch: nothing to attack here.
        return;
    }
    let float = s.graph.forward_f64(&s.input_f);
    let l1: Vec<i64> = float[2].iter().map(|&v| v as i64).collect();
    let l2: Vec<i64> = float[7].iter().map(|&v| v as i64).collect();
    let f = out_frac(&s.q);
    let Ok(out) = prove(&s.q, &s.model, &s.input, &s.params) else {
        return;
    };
    let ok = check(&s, &out.proof).is_ok();
    assert_eq!(ok, l1 == l2, "labels {l1:?} vs {l2:?}");
    // Each row's slot set to each label: accepted only if it is both argmaxes (never, where
    // they differ).
    for r in 0..rows {
        for l in 0..C {
            let mut p = out.proof.clone();
            p.output[r] = l << f;
            if check(&s, &p).is_ok() {
                assert!(l == l1[r] && l == l2[r], "FORGERY: row {r} slot {l}");
            }
        }
    }
}

/// The label's scale-up, changed in a description: a scale that is not the output's
/// (2^(f±1), 1, a wrap-size constant) cannot make a wrong label verify.
#[test]
fn label_scale_changed_in_description_cannot_move_the_label() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let f = out_frac(&s.q);
    let labels = true_labels(&s);
    let hint = hint_node(&s.q);
    let scale_node =
        s.q.nodes
            .iter()
            .position(|n| {
                matches!(n.op, QOp::Scale { x, .. } if s.q.producer(x).is_some_and(|p| {
            matches!(s.q.nodes[p].op, QOp::Gather { x: g, .. } if g == hint + 1)
        }) || x == hint + 1)
            })
            .expect("the label's scale-up");
    for c in [
        1i64,
        1 << (f - 1),
        1 << (f + 1),
        -(1 << f),
        (1 << f) + 1,
        1 << 40,
        i64::MAX,
    ] {
        let mut q2 = s.q.clone();
        if let QOp::Scale { c: cc, .. } = &mut q2.nodes[scale_node].op {
            *cc = c;
        }
        let Some(out) = checked_variant(&s, &q2) else {
            continue;
        };
        for r in 0..rows {
            for l in 0..C {
                let mut p = out.proof.clone();
                p.output[r] = l << f;
                if verify_against(&q2, &p.weight_root, &p).is_ok() {
                    assert_eq!(l, labels[r], "FORGERY: scale {c}, row {r} slot {l}");
                }
            }
        }
    }
}

/// The output's scale changed in a description (0, or so large that only 0 is a multiple in
/// the public range): the hint's public values follow, and no wrong label verifies.
#[test]
fn output_scale_changed_in_description_cannot_move_the_label() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let labels = true_labels(&s);
    for f2 in [0u32, 1, 15, 16, 40, 61, 62, 63] {
        let mut q2 = s.q.clone();
        let o = q2.output;
        q2.tensors[o].frac = f2;
        let Some(out) = checked_variant(&s, &q2) else {
            continue;
        };
        for r in 0..rows {
            for v in [0i64, 1, 2, 3, -1, 1 << f2.min(14), 2 << f2.min(14)] {
                let mut p = out.proof.clone();
                p.output[r] = v;
                if verify_against(&q2, &p.weight_root, &p).is_ok() {
                    let id = v >> f2.min(62);
                    assert_eq!(id, labels[r], "FORGERY: frac {f2}, row {r} slot {v}");
                }
            }
        }
    }
}

/// The quantizer refuses a label that cannot be scaled to the other outputs' scale within the
/// public range ((C−1)·2^f ≥ 2^(K−1)).
#[test]
fn label_scaled_past_the_public_range_lowers_the_output_scale() {
    let g = label_and_logits(4, false);
    let cfg = zkgrad_circuit::QConfig {
        act_frac: 14,
        weight_frac: 14,
        table_bits: 16,
    };
    // The logits are rounded down to the finest scale that keeps every label in range.
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    let f = q.tensors[q.output].frac;
    assert!((C - 1) << f < 1 << 15, "label scale 2^{f} leaves the range");
    assert_eq!(f, 13);
    // And a classifier calibrated on one row (act_frac 14 at K = 16) proves and verifies.
    let s = setup(label_and_logits(1, false), 16, 9);
    check(&s, &prove_ok(&s).proof).unwrap();
}

/// Descriptions where the label's scale-up would leave the public range are either refused
/// or unprovable for a nonzero label: the public range check bounds the slot.
#[test]
fn label_scale_past_the_range_in_a_description_cannot_wrap() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let labels = true_labels(&s);
    let mut q2 = s.q.clone();
    let o = q2.output;
    // Every value at the output: 2^15 makes label 1 = 2^15, outside [−2^15, 2^15).
    q2.tensors[o].frac = 15;
    if let Some(out) = checked_variant(&s, &q2) {
        for r in 0..rows {
            for v in [-(1i64 << 15), 0, (1 << 15) - 1] {
                let mut p = out.proof.clone();
                p.output[r] = v;
                if verify_against(&q2, &p.weight_root, &p).is_ok() {
                    assert_eq!(v >> 15, labels[r], "FORGERY: row {r} slot {v}");
                }
            }
        }
    }
}

/// The strongest out-of-range label: hint −1 in row `r` with every other value of the witness
/// consistent with it (the mask of a −1 is all zeros, so the gap is the honest max minus each
/// logit, in range) and the slot −2^f: only the pick's column check stands in the way. Also C
/// (one past the classes).
#[test]
fn negative_label_with_a_consistent_witness_rejected_by_the_pick() {
    let rows = 4;
    let s = setup(label_and_logits(rows, false), 16, 9);
    let q = &s.q;
    let ni = hint_node(q);
    let o = ni + 1;
    let f = out_frac(q);
    let k = q.config.table_bits;
    let cols = C as usize;
    let reads = |t: usize, want: fn(&QOp, usize) -> bool| {
        q.nodes
            .iter()
            .position(|n| want(&n.op, t))
            .map(|n| n + 1)
            .unwrap()
    };
    let placed = reads(o, |op, t| matches!(op, QOp::Gather { x, .. } if *x == t));
    let scaled = reads(
        placed,
        |op, t| matches!(op, QOp::Scale { x, .. } if *x == t),
    );
    assert!(matches!(q.nodes[q.output - 1].op, QOp::Add { .. }));
    for r in 0..rows {
        for id in [-1i64, C] {
            let mut w = lenient_forward(q, &s.input, |_, _, _| {});
            w.values[o][r] = id;
            for c in 0..cols {
                let i = r * cols + c;
                let mask = i64::from((c as i64) < id);
                w.values[o + 4][i] = mask;
                w.values[o + 5][i] = w.values[o + 3][i] - mask;
                w.values[o + 6][i] = w.values[o + 5][i] - (1 << (k - 1));
                w.values[o + 7][i] = w.values[o + 6][i];
            }
            w.values[placed][r] = id;
            w.values[scaled][r] = id << f;
            w.values[q.output][r] = id << f;
            let p = zkgrad_prover::prove_witness(q, &s.model, w, &s.params).proof;
            let e = check(&s, &p).expect_err("FORGERY: a label outside the classes");
            if id < 0 {
                assert!(e.to_string().contains("outside the tensor"), "row {r}: {e}");
            }
        }
    }
}
