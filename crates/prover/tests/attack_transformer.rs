//! Adversarial review of the transformer relations of c506cca: `QOp::Embed` (lookups by
//! public token ids), `QOp::BatchMatMul` (stacked products of computed tensors) and
//! `QOp::Const` (constants of the circuit). Each test is named for the attack it stops and
//! asserts that the verifier refuses it (an `Err`, never a panic).

mod common;

use common::*;
use zkgrad_circuit::{QGraph, QOp, TensorKind};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_verifier::{model_commitment, verify_with_commitment, ProofFile, VerifyError};

fn node(name: &str, op: Op, shape: Vec<usize>) -> Node {
    Node {
        name: name.into(),
        op,
        shape,
    }
}

fn no_panic<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, VerifyError> + std::panic::UnwindSafe,
) -> Result<T, VerifyError> {
    std::panic::catch_unwind(f).unwrap_or_else(|_| panic!("{what}: the verifier panicked"))
}

/// Verifies `p` by commitment (the circuit read from the proof, as a client holding only the
/// model commitment would).
fn by_commitment(p: &ProofFile) -> Result<(), VerifyError> {
    let c = model_commitment(&p.circuit, &p.weight_root);
    let p = p.clone();
    no_panic("by commitment", move || {
        verify_with_commitment(&p, &c, &small_params()).map(|_| ())
    })
}

/// `q` described and proved again from a forged witness, its proof file re-headed for `q`.
fn reheaded(q: &QGraph, p: &ProofFile) -> ProofFile {
    let mut p = p.clone();
    p.circuit = q.describe();
    p.protocol_id = zkgrad_verifier::protocol_id(q, &small_params(), &p.weight_root);
    p
}

// ---------------------------------------------------------------------------------------
// Const
// ---------------------------------------------------------------------------------------

/// A circuit whose output is a constant of the circuit: `out = C` (the input unused). The
/// output's op reduces no claim and no lookup reads it, and the output is no input tensor:
/// nothing compares the claimed output with `C`.
fn const_output() -> Graph {
    let data: Vec<f64> = (0..6).map(|i| i as f64 * 0.25 - 0.5).collect();
    Graph {
        input_name: "x".into(),
        input_shape: vec![2, 3],
        nodes: vec![node("c", Op::Const { data }, vec![2, 3])],
        output: 1,
        output_parts: Vec::new(),
    }
}

// FORGERY: a circuit whose output tensor is written by `QOp::Const` accepts ANY claimed output
// (in range, of the right length): `output_needs_claim` is false for Const (it does not reduce
// claims), no lookup covers it, and `check_statement` compares the output with the public
// input only when the output is an input tensor. Both `verify` and `verify_with_commitment`
// accept.
#[test]
#[ignore = "FORGERY: an output written by QOp::Const is never compared with the constant"]
fn const_output_claimed_otherwise_rejected() {
    let s = setup(const_output(), 16, 3);
    assert!(matches!(s.q.nodes[0].op, QOp::Const { .. }));
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    let QOp::Const { data } = &s.q.nodes[0].op else {
        unreachable!()
    };
    assert_eq!(&out.proof.output, data);
    let mut p = out.proof.clone();
    p.output = vec![1000, -7, 0, 0, 3, 1];
    let direct = no_panic("verify", || check(&s, &p).map(|_| ()));
    let commit = by_commitment(&p);
    assert!(
        direct.is_err() && commit.is_err(),
        "a claimed output {:?} of the constant {:?} accepted (verify: {:?}, by commitment: {:?})",
        p.output,
        data,
        direct.map(|_| ()),
        commit
    );
}

/// `x + C` then tanh, with `C` a constant of the circuit: the sum is virtual, so a claim on
/// `C` meets the verifier's own data.
fn const_added() -> Graph {
    let data: Vec<f64> = (0..8).map(|i| (i as f64 - 3.5) * 0.125).collect();
    Graph {
        input_name: "x".into(),
        input_shape: vec![2, 4],
        nodes: vec![
            node("c", Op::Const { data }, vec![2, 4]),
            node("sum", Op::Add { a: 0, b: 1 }, vec![2, 4]),
            node(
                "act",
                Op::Act {
                    x: 2,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                vec![2, 4],
            ),
        ],
        output: 3,
        output_parts: Vec::new(),
    }
}

#[test]
fn const_values_changed_in_witness_rejected() {
    let s = setup(const_added(), 16, 3);
    check(&s, &prove_ok(&s).proof).unwrap();
    let c = s.q.nodes.iter().position(|n| n.name == "c").unwrap();
    let cheats: [fn(&mut Vec<i64>); 3] = [
        |v| v[0] += 1,
        |v| v.iter_mut().for_each(|x| *x = 0),
        |v| v.reverse(),
    ];
    for cheat in cheats {
        let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
            if ni == c {
                cheat(out);
            }
        });
        let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
        assert!(no_panic("const", || check(&s, &p)).is_err());
        assert!(by_commitment(&p).is_err());
    }
}

/// The constant read through an activation's lookup (a public tensor in a LogUp leaf): the
/// leaf's claim is evaluated on the circuit's data, not the prover's.
fn const_activated() -> Graph {
    let data: Vec<f64> = (0..8).map(|i| (i as f64 - 3.5) * 0.25).collect();
    Graph {
        input_name: "x".into(),
        input_shape: vec![2, 4],
        nodes: vec![
            node("c", Op::Const { data }, vec![2, 4]),
            node(
                "act",
                Op::Act {
                    x: 1,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                vec![2, 4],
            ),
            node("sum", Op::Add { a: 0, b: 2 }, vec![2, 4]),
            node(
                "out",
                Op::Act {
                    x: 3,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                vec![2, 4],
            ),
        ],
        output: 4,
        output_parts: Vec::new(),
    }
}

#[test]
fn const_changed_under_an_activation_lookup_rejected() {
    let s = setup(const_activated(), 16, 3);
    check(&s, &prove_ok(&s).proof).unwrap();
    let c = s.q.nodes.iter().position(|n| n.name == "c").unwrap();
    // The constant changed and everything after it recomputed consistently.
    let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
        if ni == c {
            out[3] += 5;
        }
    });
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(no_panic("const/act", || check(&s, &p)).is_err());
}

/// A proof of the circuit with one constant checked against the same circuit with another
/// (the constants are part of the circuit: the protocol id and the claims differ).
#[test]
fn proof_for_another_constant_rejected() {
    let s = setup(const_added(), 16, 3);
    let p = prove_ok(&s).proof;
    let mut q = s.q.clone();
    let ci = q.nodes.iter().position(|n| n.name == "c").unwrap();
    if let QOp::Const { data } = &mut q.nodes[ci].op {
        data[2] += 1;
    }
    assert!(no_panic("other const", || verify_against(&q, &p.weight_root, &p)).is_err());
    // Re-headed for the other circuit, so the header checks pass and the claims decide.
    let p2 = reheaded(&q, &p);
    assert!(by_commitment(&p2).is_err());
}

// ---------------------------------------------------------------------------------------
// Embed
// ---------------------------------------------------------------------------------------

fn embedding(t: usize, vocab: usize, dim: usize) -> Graph {
    let table: Vec<f64> = rnd(11, vocab * dim).iter().map(|v| v * 0.5).collect();
    Graph {
        input_name: "ids".into(),
        input_shape: vec![1, t],
        nodes: vec![
            node(
                "embed",
                Op::Embed {
                    ids: 0,
                    table,
                    vocab,
                    dim,
                },
                vec![t, dim],
            ),
            node(
                "act",
                Op::Act {
                    x: 1,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                vec![t, dim],
            ),
        ],
        output: 2,
        output_parts: Vec::new(),
    }
}

fn setup_ids(graph: Graph, ids: &[i64]) -> Setup {
    let mut s = setup(graph, 16, 3);
    s.input = ids.to_vec();
    s.input_f = ids.iter().map(|&v| v as f64).collect();
    s
}

/// An embedding whose output is the public output itself (the embedding op then starts the
/// walk with a claim at a random point of the output).
fn embedding_out(t: usize, vocab: usize, dim: usize) -> Graph {
    let mut g = embedding(t, vocab, dim);
    g.nodes.truncate(1);
    g.output = 1;
    g
}

#[test]
fn embedding_output_row_or_padding_changed_rejected() {
    let s = setup_ids(embedding_out(5, 12, 3), &[3, 4, 11, 0, 3]);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    let n = out.proof.output.len();
    for i in 0..n {
        let mut p = out.proof.clone();
        p.output[i] += 1;
        assert!(no_panic("embed out", || check(&s, &p)).is_err(), "entry {i}");
    }
    // Rows swapped (the output of ids [4, 3, ...] under the public ids [3, 4, ...]).
    let mut p = out.proof.clone();
    let (a, b) = p.output.split_at_mut(3);
    a.swap_with_slice(&mut b[..3]);
    assert!(no_panic("embed swap", || check(&s, &p)).is_err());
}

/// The ids changed in the witness only: the prover proves the lookup of other ids while the
/// public input states the honest ones.
#[test]
fn embedding_of_other_ids_than_the_public_ones_rejected() {
    let s = setup_ids(embedding(5, 12, 3), &[3, 4, 11, 0, 3]);
    let forged_ids = [3, 4, 10, 0, 3];
    let w = lenient_forward(&s.q, &forged_ids, |_, _, _| {});
    let mut p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    // As proved: fine for the forged ids.
    check(&s, &p).unwrap();
    p.input = s.input.clone();
    assert!(no_panic("ids", || check(&s, &p)).is_err());
}

/// Token ids from a second input (an `Input` node, not tensor 0): the verifier finds them at
/// their offset in the public input, after tensor 0's values.
fn embedding_second_input(t: usize, vocab: usize, dim: usize) -> Graph {
    let table: Vec<f64> = rnd(13, vocab * dim).iter().map(|v| v * 0.5).collect();
    Graph {
        input_name: "x".into(),
        input_shape: vec![t, dim],
        nodes: vec![
            node("ids", Op::Input { index: 1 }, vec![1, t]),
            node(
                "embed",
                Op::Embed {
                    ids: 1,
                    table,
                    vocab,
                    dim,
                },
                vec![t, dim],
            ),
            node("sum", Op::Add { a: 0, b: 2 }, vec![t, dim]),
            node(
                "act",
                Op::Act {
                    x: 3,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                vec![t, dim],
            ),
        ],
        output: 4,
        output_parts: Vec::new(),
    }
}

#[test]
fn embedding_ids_from_a_second_input_swapped_rejected() {
    let (t, vocab, dim) = (3, 6, 4);
    let mut s = setup(embedding_second_input(t, vocab, dim), 16, 5);
    let ids_t = s.q.nodes.iter().position(|n| n.name == "ids").unwrap() + 1;
    assert_eq!(s.q.tensors[ids_t].frac, 0);
    let x_len = t * dim;
    s.input.truncate(x_len);
    s.input.extend([5, 0, 2]);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    for (pos, v) in [(x_len, 4), (x_len + 1, 1), (x_len + 2, 5), (0, s.input[0] + 1)] {
        let mut p = out.proof.clone();
        p.input[pos] = v;
        assert!(
            no_panic("second input", || check(&s, &p)).is_err(),
            "input[{pos}] = {v} accepted"
        );
    }
    // The ids and x swapped in the statement's order (x's first values read as ids).
    let mut p = out.proof.clone();
    p.input.rotate_right(t);
    assert!(no_panic("rotated", || check(&s, &p)).is_err());
}

/// An embedding read by a rounding whose table rows are longer than one field element's worth
/// of positions: ids repeated (one table row summed into many positions' wiring).
#[test]
fn embedding_repeated_ids_with_one_row_changed_rejected() {
    let s = setup_ids(embedding(8, 4, 2), &[1, 1, 1, 1, 1, 1, 1, 1]);
    let out = prove_ok(&s);
    check(&s, &out.proof).unwrap();
    let embed = s.q.nodes.iter().position(|n| n.name == "embed").unwrap();
    // The last position reads row 2; the others row 1 as stated.
    let table = &s.q.weights[0];
    let row2 = table.data[2 * table.cols..3 * table.cols].to_vec();
    let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
        if ni == embed {
            let n = out.len();
            out[n - table.cols..].copy_from_slice(&row2);
        }
    });
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(no_panic("repeat", || check(&s, &p)).is_err());
}

/// The circuit's table size read in the description changed: the same proof checked against
/// an embedding with fewer rows (an id beyond the new table is refused, not indexed).
#[test]
fn embedding_table_shrunk_under_the_proof_rejected() {
    let s = setup_ids(embedding(5, 12, 3), &[3, 4, 11, 0, 3]);
    let p = prove_ok(&s).proof;
    let mut q = s.q.clone();
    q.weights[0].rows = 8;
    let cols = q.weights[0].cols;
    q.weights[0].data.truncate(8 * cols);
    assert!(no_panic("shrunk", || verify_against(&q, &p.weight_root, &p)).is_err());
    assert!(by_commitment(&reheaded(&q, &p)).is_err());
}

// ---------------------------------------------------------------------------------------
// BatchMatMul
// ---------------------------------------------------------------------------------------

fn batched(b: usize, m: usize, k: usize, n: usize) -> Graph {
    Graph {
        input_name: "a".into(),
        input_shape: vec![b * m, k],
        nodes: vec![
            node("b", Op::Input { index: 1 }, vec![b * k, n]),
            node(
                "ab",
                Op::BatchMatMul {
                    a: 0,
                    b: 1,
                    batch: b,
                },
                vec![b * m, n],
            ),
        ],
        output: 2,
        output_parts: Vec::new(),
    }
}

/// Three heads (the batch variables padded to four): a change in the last real head, or a
/// product computed with the padding head's zeros, or with another head's `b`.
#[test]
fn batched_product_last_head_of_three_changed_rejected() {
    let (b, m, k, n) = (3, 2, 4, 3);
    let s = setup(batched(b, m, k, n), 16, 7);
    check(&s, &prove_ok(&s).proof).unwrap();
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    let head = m * n;
    let cheats: [Box<dyn Fn(&mut Vec<i64>)>; 3] = [
        Box::new(move |out| out[2 * head + head - 1] += 1),
        Box::new(move |out| out[2 * head..].iter_mut().for_each(|v| *v = 0)),
        Box::new(move |out| {
            let first = out[..head].to_vec();
            out[2 * head..].copy_from_slice(&first);
        }),
    ];
    for cheat in &cheats {
        let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
            if ni == ab {
                cheat(out);
            }
        });
        let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
        assert!(no_panic("3 heads", || check(&s, &p)).is_err());
    }
}

/// The output entries of a product claimed with heads' `a` and `b` mismatched (head `h`'s
/// `a` with head `h+1`'s `b`): the product the verifier checks pairs them by `h` only.
#[test]
fn batched_product_heads_paired_crosswise_rejected() {
    let (b, m, k, n) = (2, 2, 2, 2);
    let s = setup(batched(b, m, k, n), 16, 9);
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    let (a_in, b_in) = s.input.split_at(b * m * k);
    let (a_in, b_in) = (a_in.to_vec(), b_in.to_vec());
    let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
        if ni == ab {
            for h in 0..b {
                let hb = (h + 1) % b;
                for i in 0..m {
                    for j in 0..n {
                        out[(h * m + i) * n + j] = (0..k)
                            .map(|l| a_in[(h * m + i) * k + l] * b_in[(hb * k + l) * n + j])
                            .sum();
                    }
                }
            }
        }
    });
    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
    assert!(no_panic("crosswise", || check(&s, &p)).is_err());
}

/// A proof for `batch = 1` (one `[4, 2]·[2, 2]` product) checked against the circuit with the
/// same tensor shapes read as other batchings is refused by the description itself or the
/// claims (the tensors `a [4, 2]`, `b [2·?, 2]` admit only batch 1 here; the by-commitment
/// path must refuse every other batch without a panic).
#[test]
fn batched_product_rebatched_description_rejected() {
    let s = setup(batched(1, 4, 2, 2), 16, 9);
    let p = prove_ok(&s).proof;
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    for batch in [0, 2, 3, 4, 8, usize::MAX] {
        let mut q = s.q.clone();
        if let QOp::BatchMatMul { batch: bt, .. } = &mut q.nodes[ab].op {
            *bt = batch;
        }
        assert!(by_commitment(&reheaded(&q, &p)).is_err(), "batch {batch}");
    }
}

/// The same for a circuit whose shapes fit two batchings (`a [4, 2]`, `b [4, 2]`: batch 2 with
/// `M = K = 2`): a proof of batch 2 verified as... only batch 2 fits (`a.cols = K`), so a
/// re-batched description is refused.
#[test]
fn batched_product_output_kind_or_operands_swapped_rejected() {
    let s = setup(batched(2, 2, 2, 2), 16, 9);
    let p = prove_ok(&s).proof;
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    // a and b swapped in the description (same shapes here): a different product.
    let mut q = s.q.clone();
    if let QOp::BatchMatMul { a, b, .. } = &mut q.nodes[ab].op {
        std::mem::swap(a, b);
    }
    assert!(by_commitment(&reheaded(&q, &p)).is_err());
    // The output declared committed (not the quantizer's kind).
    let mut q = s.q.clone();
    q.tensors[ab + 1].kind = TensorKind::Committed;
    assert!(by_commitment(&reheaded(&q, &p)).is_err());
}
