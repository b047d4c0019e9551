//! Attacks on verified greedy generation (`QOp::PickCol`, `QOp::PrefixMask`,
//! `zkgrad_model::generate::check_greedy`): proofs of tokens that are not the greedy
//! continuation (ties, the padded columns of a vocabulary that is not a power of two, ids
//! outside the vocabulary, the wrong logits row), and hostile circuit descriptions with
//! codes 21 and 22 against the verifier.
//!
//! The model under attack is a "bigram" language model whose logits row `p` is row `ids[p]`
//! of a table the test writes (an embedding of width `V`): the test decides every logit,
//! so ties and maxima in the last real column are placed exactly.

mod common;

use common::transformer::*;
use common::*;
use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::{QGraph, QOp, TensorKind};
use zkgrad_model::generate::{argmax_rows, check_greedy};
use zkgrad_model::graph::{Graph, Op};

const T: usize = 8;

/// `logits[p] = W[ids[p]]`, `W` a `[v, v]` table: low values everywhere and, on purpose,
/// token 1 → max at 3 and 9 (tie), 3 → max at `v − 1` (the last real column), `v − 1` → max
/// at 0 and `v − 1` (tie), 0 → 5, 5 → 5 (a self-loop), 2 → max at 7 only.
fn bigram(v: usize) -> Graph {
    bigram_wide(v, v)
}

/// [`bigram`] with an input vocabulary of `rows ≥ v` ids (the extra rows low everywhere):
/// ids in `[v, rows)` pass the embedding, and only the pick can refuse them.
fn bigram_wide(rows: usize, v: usize) -> Graph {
    let mut w: Vec<f64> = (0..rows * v)
        .map(|i| ((i / v) * 7 + (i % v) * 13) as f64 % 17.0 / 64.0 - 0.125)
        .collect();
    let mut set = |r: usize, c: usize| w[r * v + c] = 0.75;
    set(1, 3);
    set(1, 9);
    set(3, v - 1);
    set(v - 1, 0);
    set(v - 1, v - 1);
    set(0, 5);
    set(5, 5);
    set(2, 7);
    Graph {
        input_name: "ids".into(),
        input_shape: vec![1, T],
        nodes: vec![node(
            "logits",
            Op::Embed {
                ids: 0,
                table: w,
                vocab: rows,
                dim: v,
            },
            vec![T, v],
        )],
        output: 1,
        output_parts: Vec::new(),
    }
}

/// The bigram model with the greedy check of `n` tokens after a prompt of `first`, the ids
/// `prompt` decoded greedily on the circuit's integer logits after it.
fn greedy_bigram(v: usize, prompt: &[i64], n: usize) -> (Setup, Vec<i64>) {
    let first = prompt.len();
    let mut s = setup_ids(bigram(v), &[0; T]);
    let mut ids = prompt.to_vec();
    ids.resize(T, 0);
    for p in first..first + n {
        let w = zkgrad_model::forward(&s.q, &ids).unwrap();
        ids[p] = argmax_rows(&w.values[s.q.output], v)[p - 1] as i64;
    }
    let logits = s.q.output;
    check_greedy(&mut s.q, logits, 0, first, n).unwrap();
    s.model = zkgrad_prover::CommittedModel::new(&s.q, &s.params);
    s.input = ids.clone();
    (s, ids)
}

/// A proof of `ids` by a prover who runs the forward pass without refusing anything (the
/// loosened ranges) and commits what it computes, `hook` changing values on the way.
fn cheat(
    s: &Setup,
    ids: &[i64],
    hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
) -> zkgrad_verifier::ProofFile {
    let w = lenient_forward(&s.q, ids, hook);
    zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof
}

/// Re-decodes `ids[from..]` greedily (leniently: the check may already fail earlier).
fn redecode(s: &Setup, v: usize, ids: &mut [i64], from: usize) {
    for p in from..ids.len() {
        let w = lenient_forward(&s.q, ids, |_, _, _| {});
        ids[p] = argmax_rows(&w.values[s.q.output], v)[p - 1] as i64;
    }
}

fn node_named(q: &QGraph, name: &str) -> usize {
    q.nodes
        .iter()
        .position(|n| n.name.starts_with(name))
        .unwrap_or_else(|| panic!("no node {name}"))
}

#[test]
fn honest_bigram_generation_verifies_and_breaks_ties_first() {
    // Sanity of the fixture: the ties are real ties in the integer logits, and greedy takes
    // the first maximal column (3 before 9; 0 before 64), through the last real column 64 of
    // a vocabulary of 65 padded to 128.
    let (s, ids) = greedy_bigram(65, &[1], 7);
    assert_eq!(ids, vec![1, 3, 64, 0, 5, 5, 5, 5]);
    let w = zkgrad_model::forward(&s.q, &ids).unwrap();
    let l = &w.values[s.q.output];
    assert_eq!(l[3], l[9], "the tie at row 0 is not a tie");
    assert_eq!(l[2 * 65], l[2 * 65 + 64], "the tie at row 2 is not a tie");
    check(&s, &prove_ok(&s).proof).unwrap();
    // V a power of two (no padded column).
    let (s, ids) = greedy_bigram(64, &[1], 7);
    assert_eq!(ids, vec![1, 3, 63, 0, 5, 5, 5, 5]);
    check(&s, &prove_ok(&s).proof).unwrap();
}

#[test]
fn later_of_two_tied_columns_rejected() {
    for v in [64, 65] {
        let (s, ids) = greedy_bigram(v, &[1], 7);
        // Position 1: 9 ties 3 (the first max). Position 3: v − 1 ties 0. Everything after
        // the changed token re-decoded greedily, so the changed token is the only lie.
        for (pos, tied) in [(1usize, 9i64), (3, v as i64 - 1)] {
            let mut bad = ids.clone();
            bad[pos] = tied;
            redecode(&s, v, &mut bad, pos + 1);
            assert!(
                zkgrad_prover::prove(&s.q, &s.model, &bad, &s.params).is_err(),
                "V {v}, pos {pos}: the honest prover proved a tie broken late"
            );
            let p = cheat(&s, &bad, |_, _, _| {});
            assert!(
                check(&s, &p).is_err(),
                "V {v}, pos {pos}: later tie accepted"
            );
            // The same, the ids swapped into an honest proof after proving.
            let mut q = prove_ok(&s).proof;
            q.input = bad.clone();
            assert!(
                check(&s, &q).is_err(),
                "V {v}, pos {pos}: swapped ids accepted"
            );
        }
    }
}

#[test]
fn committed_logit_lowered_to_hide_an_earlier_tie_rejected() {
    // To claim 9 at position 1, the prover lowers x[0, 3] (the committed logits row) by one
    // so that 9 is strictly maximal: x no longer equals the proven logits.
    let (s, ids) = greedy_bigram(65, &[1], 7);
    let mut bad = ids.clone();
    bad[1] = 9;
    redecode(&s, 65, &mut bad, 2);
    let x = node_named(&s.q, "generation/logits/commit");
    let p = cheat(&s, &bad, |ni, out, _| {
        if ni == x {
            out[3] -= 1;
        }
    });
    assert!(check(&s, &p).is_err(), "lowered committed logit accepted");
    // Or lowers the public logits themselves (the model's output) and the committed copy.
    let logits = s.q.output - 1;
    let p = cheat(&s, &bad, |ni, out, _| {
        if ni == logits {
            out[3] -= 1;
        }
    });
    assert!(check(&s, &p).is_err(), "lowered public logit accepted");
}

#[test]
fn gap_range_commitment_forged_rejected() {
    // Claim 9 at position 1 (gap −1 at column 3): the prover commits an in-range value
    // there instead of the true negative gap (and, separately, also plants the true value in
    // the padding of the gap's commitment, which no lookup reads).
    let (s, ids) = greedy_bigram(65, &[1], 7);
    let mut bad = ids.clone();
    bad[1] = 9;
    let range = node_named(&s.q, "generation/gap/range");
    let shift = 1i64 << (s.q.config.table_bits - 1);
    for plant in [false, true] {
        let mut w = lenient_forward(&s.q, &bad, |ni, out, _| {
            if ni == range {
                for v in out.iter_mut() {
                    if *v < -shift {
                        *v = -shift;
                    }
                }
            }
        });
        if plant {
            let t = &s.q.tensors[range + 1];
            let at = t.pad_index(3) + t.cols; // row 0, a padded column
            w.padding.push((Operand::Tensor(range + 1), at, -shift - 1));
        }
        let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
        assert!(
            check(&s, &p).is_err(),
            "forged gap accepted (plant {plant})"
        );
    }
}

#[test]
fn ids_outside_the_vocabulary_and_in_its_padded_columns_rejected() {
    // V = 65 is padded to 128 columns: a pick of column 65..127 would read the committed
    // logits' padding, which the prover chooses. Every id outside [0, V) at a generated
    // position — and at the last position, which no later row reads — is refused.
    let (s, _) = greedy_bigram(65, &[1], 7);
    let out = prove_ok(&s);
    for pos in [1usize, 4, 7] {
        for bad in [65i64, 100, 127, 128, -1, -65, (1 << 15) - 1, -(1 << 15)] {
            let mut p = out.proof.clone();
            p.input[pos] = bad;
            let r = std::panic::catch_unwind(|| check(&s, &p).is_err());
            assert!(
                matches!(r, Ok(true)),
                "id {bad} at {pos}: accepted or panicked"
            );
        }
    }
    // An input vocabulary of 128 ids and 65 logit columns: id 100 passes the embedding, so
    // only the pick stands between it and x's padding. The prover plants the maximal value
    // in x's padded column 100 of the row it claims (and the gap's padding is free anyway).
    let mut s = setup_ids(bigram_wide(128, 65), &[0; T]);
    let base = s.q.clone();
    let logits = s.q.output;
    check_greedy(&mut s.q, logits, 0, 1, 7).unwrap();
    s.model = zkgrad_prover::CommittedModel::new(&s.q, &s.params);
    s.input = vec![1, 3, 64, 0, 5, 5, 5, 5];
    check(&s, &prove_ok(&s).proof).unwrap();
    let x = node_named(&s.q, "generation/logits/commit") + 1;
    let pick = node_named(&s.q, "generation/pick");
    let before = node_named(&s.q, "generation/before");
    let xt = s.q.tensors[x].clone();
    let padded_cols = 1usize << xt.log_cols();
    for (pos, id) in [(7usize, 100i64), (7, 65), (7, 127), (3, 100)] {
        let mut ids = s.input.clone();
        ids[pos] = id;
        // The model's own values for these ids (the embedding reads id `id` fine), then the
        // check's with the pick reading the planted padding and the mask clamped (all ones).
        let bw = zkgrad_model::forward(&base, &ids).unwrap();
        let mut w = lenient_forward(&s.q, &s.input, |ni, out, rem| {
            if ni < base.nodes.len() {
                *out = bw.values[ni + 1].clone();
                *rem = bw.rems[ni].clone();
            } else if ni == pick {
                out[pos - 1] = 1 << 14;
            } else if ni == before {
                out[(pos - 1) * 65..pos * 65]
                    .iter_mut()
                    .for_each(|v| *v = 1);
            }
        });
        w.values[0] = ids.clone();
        w.padding.push((
            Operand::Tensor(x),
            (pos - 1) * padded_cols + id as usize,
            1 << 14,
        ));
        let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
        assert_eq!(p.input, ids);
        let r = std::panic::catch_unwind(|| check(&s, &p));
        match r {
            Ok(Err(e)) => eprintln!("padded column {id} at {pos}: {e}"),
            Ok(Ok(_)) => panic!("FORGERY: a pick of padded column {id} at {pos} accepted"),
            Err(_) => panic!("a pick of padded column {id} at {pos}: verifier panicked"),
        }
    }
}

#[test]
fn logits_row_off_by_one_rejected() {
    // [1, 5, 5, ...]: every token is the argmax of its OWN row (5 → 5), not of the row
    // before it (1 → 3). A check that read rows first..first+n instead of first−1.. would
    // accept it.
    let (s, _) = greedy_bigram(65, &[1], 7);
    let bad = vec![1, 5, 5, 5, 5, 5, 5, 5];
    assert!(zkgrad_prover::prove(&s.q, &s.model, &bad, &s.params).is_err());
    let p = cheat(&s, &bad, |_, _, _| {});
    assert!(check(&s, &p).is_err(), "off-by-one row accepted");
}

#[test]
fn non_power_of_two_generated_count_with_planted_row_padding_rejected() {
    // n = 3 rows (padded to 4): the prover plants values in the padded 4th row of the
    // committed logits copy and of the gap, and claims 9 (a late tie) at the last generated
    // position.
    let (s, ids) = greedy_bigram(65, &[0, 5, 1], 3);
    assert_eq!(&ids[3..6], &[3, 64, 0]);
    check(&s, &prove_ok(&s).proof).unwrap();
    let mut bad = ids.clone();
    bad[3] = 9;
    redecode(&s, 65, &mut bad, 4);
    let x = node_named(&s.q, "generation/logits/commit") + 1;
    let range = node_named(&s.q, "generation/gap/range") + 1;
    let mut w = lenient_forward(&s.q, &bad, |_, _, _| {});
    for t in [x, range] {
        let tt = &s.q.tensors[t];
        let pc = 1usize << tt.log_cols();
        for c in 0..65 {
            w.padding.push((Operand::Tensor(t), 3 * pc + c, 7));
        }
    }
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(check(&s, &p).is_err());
}

/// The bigram circuit with a public `PrefixMask { ids: 0, offset: 0 }` `[T, cols]` appended,
/// read by a committed rounding (so claims reach it), and the mask tensor.
fn mask_circuit(cols: usize) -> (Setup, usize) {
    let mut s = setup_ids(bigram(65), &[0; T]);
    let fa = s.q.output_tensor().frac;
    let m =
        s.q.push_node("mask", QOp::PrefixMask { ids: 0, offset: 0 }, T, cols, fa);
    s.q.push_node("mask/commit", QOp::Requant { x: m, shift: 0 }, T, cols, fa);
    s.q.check_relations().unwrap();
    s.model = zkgrad_prover::CommittedModel::new(&s.q, &s.params);
    (s, m)
}

#[test]
fn prefix_mask_ids_past_its_columns_agree_and_a_changed_mask_rejected() {
    // ids up to 64 against a mask of 4 columns: the verifier clamps, the forward pass
    // compares; both give all ones. No panic, the honest proof verifies, a mask changed in
    // the committed copy is rejected.
    let (mut s, m) = mask_circuit(4);
    s.input = vec![0, 64, 3, 4, 5, 1, 2, 63];
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    let p = cheat(&s, &s.input.clone(), |ni, out, _| {
        if ni + 1 == m {
            out[4] = 1 - out[4]; // row 1 (id 64), column 0
        }
    });
    assert!(check(&s, &p).is_err(), "changed mask accepted");
    // The ids changed after proving change the verifier's mask.
    let mut p = out.proof.clone();
    p.input[2] = 1;
    assert!(check(&s, &p).is_err());
}

// Found by the attack review: a PrefixMask as the circuit's output was compared with nothing
// (no claim reaches it), so any claimed output verified. `check_relations` now refuses it where
// circuits are built and where descriptions are decoded.
#[test]
fn prefix_mask_as_the_output_with_a_false_output_rejected() {
    let mut s = setup_ids(bigram(65), &[0; T]);
    let fa = s.q.output_tensor().frac;
    let m =
        s.q.push_node("mask", QOp::PrefixMask { ids: 0, offset: 0 }, T, 8, fa);
    let old = s.q.output;
    s.q.tensors[old].kind = match s.q.nodes[old - 1].op {
        QOp::Requant { .. } => TensorKind::Committed,
        _ => TensorKind::Virtual,
    };
    s.q.output = m;
    let e = s.q.check_relations().unwrap_err();
    assert!(e.contains("a mask cannot be the output"), "{e}");
    let e = QGraph::from_description(&s.q.describe()).unwrap_err();
    assert!(e.to_string().contains("a mask cannot be the output"), "{e}");
}

/// Rewrites the first node with op `code` in `q`'s description via `f`, returning the
/// description bytes.
fn describe_with(q: &QGraph, f: impl Fn(&mut QOp)) -> Vec<u8> {
    let mut q = q.clone();
    for n in &mut q.nodes {
        if matches!(n.op, QOp::PickCol { .. } | QOp::PrefixMask { .. }) {
            f(&mut n.op);
        }
    }
    q.describe()
}

#[test]
fn hostile_pick_and_mask_descriptions_refused_without_panic() {
    let (s, _) = greedy_bigram(65, &[1], 7);
    let out = prove_ok(&s);
    let huge = usize::MAX;
    let (x_commit, pick) = (
        node_named(&s.q, "generation/logits/commit") + 1,
        node_named(&s.q, "generation/pick") + 1,
    );
    let _ = pick;
    let n_t = s.q.tensors.len();
    type Edit = Box<dyn Fn(&mut QOp)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "offset past the ids",
            Box::new(|op| match op {
                QOp::PickCol { offset, .. } | QOp::PrefixMask { offset, .. } => *offset = 2,
                _ => {}
            }),
        ),
        (
            "offset usize::MAX",
            Box::new(move |op| match op {
                QOp::PickCol { offset, .. } | QOp::PrefixMask { offset, .. } => *offset = huge,
                _ => {}
            }),
        ),
        (
            "offset overflowing with the rows",
            Box::new(move |op| match op {
                QOp::PickCol { offset, .. } | QOp::PrefixMask { offset, .. } => *offset = huge - 3,
                _ => {}
            }),
        ),
        (
            "ids a committed tensor",
            Box::new(move |op| match op {
                QOp::PickCol { ids, .. } | QOp::PrefixMask { ids, .. } => *ids = x_commit,
                _ => {}
            }),
        ),
        (
            "ids out of range",
            Box::new(move |op| match op {
                QOp::PickCol { ids, .. } | QOp::PrefixMask { ids, .. } => *ids = n_t + 5,
                _ => {}
            }),
        ),
        (
            "ids usize::MAX",
            Box::new(move |op| match op {
                QOp::PickCol { ids, .. } | QOp::PrefixMask { ids, .. } => *ids = huge,
                _ => {}
            }),
        ),
        (
            "pick of a virtual tensor",
            Box::new(move |op| {
                if let QOp::PickCol { x, .. } = op {
                    *x = x_commit - 1
                }
            }),
        ),
        (
            "pick of itself / a later tensor",
            Box::new(move |op| {
                if let QOp::PickCol { x, .. } = op {
                    *x = n_t - 1
                }
            }),
        ),
    ];
    for (what, f) in &edits {
        let d = describe_with(&s.q, f);
        let r = std::panic::catch_unwind(|| QGraph::from_description(&d).is_err());
        assert!(matches!(r, Ok(true)), "{what}: accepted or panicked");
    }
    // Byte-level mutations of the whole description: whatever decodes is verified against
    // the honest proof without a panic (and, being another circuit, rejected).
    let d = s.q.describe();
    let mut decoded = 0;
    for i in 0..d.len() {
        for delta in [1u8, 0x80, 0xff] {
            let mut m = d.clone();
            m[i] = m[i].wrapping_add(delta);
            let r = std::panic::catch_unwind(|| {
                let Ok(g) = QGraph::from_description(&m) else {
                    return None;
                };
                let v = zkgrad_verifier::verify(
                    &g,
                    &out.proof.weight_root,
                    &out.proof.input,
                    &out.proof.output,
                    &out.proof.body,
                    &s.params,
                );
                Some((g.describe() == d, v.is_ok()))
            });
            match r {
                Err(_) => panic!("byte {i} + {delta}: panic"),
                Ok(Some((same, ok))) => {
                    decoded += 1;
                    // Only the same circuit (e.g. a name byte) may verify.
                    assert!(same || !ok, "byte {i} + {delta}: another circuit verified");
                }
                Ok(None) => {}
            }
        }
    }
    eprintln!("{decoded} mutated descriptions decoded");
}

#[test]
fn pick_and_mask_reading_hostile_public_ids_no_panic() {
    // A decoded circuit where the pick reads ids from the public OUTPUT (allowed: public
    // data), with the output's values the prover's: values outside x's columns, negative,
    // and the K-bit extremes are refused or agree, never a panic.
    let (s, _) = greedy_bigram(65, &[1], 7);
    let out = prove_ok(&s);
    let mut q = s.q.clone();
    let o = q.output;
    q.tensors[o].frac = 0;
    for n in &mut q.nodes {
        match &mut n.op {
            QOp::PickCol { ids, offset, .. } | QOp::PrefixMask { ids, offset } => {
                *ids = o;
                *offset = 0;
            }
            _ => {}
        }
    }
    let g = match QGraph::from_description(&q.describe()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("refused when decoded: {e}");
            return;
        }
    };
    assert_eq!(g.tensors[g.output].kind, TensorKind::Public);
    let half = 1i64 << (s.q.config.table_bits - 1);
    for fill in [0i64, 64, 65, 127, -1, half - 1, -half] {
        let mut p = out.proof.clone();
        p.output.iter_mut().for_each(|v| *v = fill);
        let r = std::panic::catch_unwind(|| {
            zkgrad_verifier::verify(&g, &p.weight_root, &p.input, &p.output, &p.body, &s.params)
                .is_err()
        });
        assert!(matches!(r, Ok(true)), "fill {fill}: accepted or panicked");
    }
}
