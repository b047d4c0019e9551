//! Adversarial review of the transformer relations of c506cca: `QOp::Embed` (lookups by
//! public token ids), `QOp::BatchMatMul` (stacked products of computed tensors) and
//! `QOp::Const` (constants of the circuit). Each test is named for the attack it stops and
//! asserts that the verifier refuses it (an `Err`, never a panic).

mod common;

use common::transformer::*;
use common::*;
use zkgrad_circuit::{QGraph, QOp, TensorKind};
use zkgrad_model::graph::{Graph, Op};
use zkgrad_verifier::{model_commitment, verify_with_commitment, ProofFile, VerifyError};

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

/// `p` re-headed for the circuit `q` (its description and protocol id), body unchanged: what a
/// prover who publishes `q`'s commitment would send.
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

// Found by the attack review: a circuit whose output tensor is written by `QOp::Const` was
// compared with nothing (no claim reaches a Const, no lookup reads the output), so any claimed
// output verified. `check_relations` now refuses such a circuit where circuits are built (the
// quantizer) and where descriptions are decoded (verification by commitment).
#[test]
fn const_output_claimed_otherwise_rejected() {
    let cfg = zkgrad_circuit::QConfig {
        act_frac: 8,
        weight_frac: 12,
        table_bits: 16,
    };
    let err = zkgrad_model::quantize(&const_output(), cfg).unwrap_err();
    assert!(
        err.to_string().contains("constant cannot be the output"),
        "{err}"
    );
    // A description that makes a constant the output anyway.
    let mut q = zkgrad_model::quantize(&const_added(), cfg).unwrap();
    let c = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Const { .. }))
        .unwrap()
        + 1;
    let old = q.output;
    q.tensors[old].kind = zkgrad_circuit::TensorKind::Committed;
    q.output = c;
    let e = zkgrad_circuit::QGraph::from_description(&q.describe()).unwrap_err();
    assert!(
        e.to_string().contains("constant cannot be the output"),
        "{e}"
    );
}

/// A change a cheating prover makes to one node's output.
type Cheat = Box<dyn Fn(&mut Vec<i64>)>;

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

/// An embedding whose output is the public output itself (the embedding op then starts the
/// walk with a claim at a random point of the output).
fn embedding_out(t: usize, vocab: usize, dim: usize) -> Graph {
    let mut g = embedding(t, vocab, dim, false);
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
        assert!(
            no_panic("embed out", || check(&s, &p)).is_err(),
            "entry {i}"
        );
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
    let s = setup_ids(embedding(5, 12, 3, false), &[3, 4, 11, 0, 3]);
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
    for (pos, v) in [
        (x_len, 4),
        (x_len + 1, 1),
        (x_len + 2, 5),
        (0, s.input[0] + 1),
    ] {
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

/// Every position reads the same id (one table row summed into every position's wiring
/// `s(i)`), and the witness makes the last position read another row.
#[test]
fn embedding_repeated_ids_with_one_row_changed_rejected() {
    let s = setup_ids(embedding(8, 4, 2, false), &[1, 1, 1, 1, 1, 1, 1, 1]);
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
    let s = setup_ids(embedding(5, 12, 3, false), &[3, 4, 11, 0, 3]);
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

/// Three heads (the batch variables padded to four): a change in the last real head, or a
/// product computed with the padding head's zeros, or with another head's `b`.
#[test]
fn batched_product_last_head_of_three_changed_rejected() {
    let (b, m, k, n) = (3, 2, 4, 3);
    let s = setup(batched(b, m, k, n), 16, 7);
    check(&s, &prove_ok(&s).proof).unwrap();
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    let head = m * n;
    let cheats: [Cheat; 3] = [
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

/// A proof for `batch = 1` (one `[4, 2]·[2, 2]` product) checked by commitment against the
/// same circuit with another batch (0, non-dividing, over the limit): refused without a panic
/// (only batch 1 fits these shapes).
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

/// A batch-2 proof (`a [4, 2]`, `b [4, 2]`, `M = K = 2`) checked by commitment against the
/// description with `a` and `b` swapped (same shapes, another product), or with the product's
/// output declared committed (not the kind the quantizer assigns).
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

// ---------------------------------------------------------------------------------------
// Hostile descriptions (verification by commitment: the circuit is read from the proof)
// ---------------------------------------------------------------------------------------

/// `q` mutated by `f`, described, and verified by commitment with `p`'s body: refused, no
/// panic, in decoding or later.
fn hostile(what: &str, q: &QGraph, p: &ProofFile, f: impl FnOnce(&mut QGraph)) {
    let mut q = q.clone();
    f(&mut q);
    let desc = q.describe();
    let decoded = std::panic::catch_unwind(|| QGraph::from_description(&desc))
        .unwrap_or_else(|_| panic!("{what}: decoding panicked"));
    let r = by_commitment(&reheaded(&q, p));
    assert!(
        r.is_err(),
        "{what}: accepted (decoded: {})",
        decoded.is_ok()
    );
    eprintln!(
        "HOSTILE {what}: decoded={} verify={:?}",
        decoded.is_ok(),
        r.err()
    );
}

#[test]
fn hostile_embedding_descriptions_rejected() {
    let s = setup_ids(embedding(5, 12, 3, false), &[3, 4, 11, 0, 3]);
    let p = prove_ok(&s).proof;
    assert!(by_commitment(&p).is_ok());
    let e = s.q.nodes.iter().position(|n| n.name == "embed").unwrap();
    let eo = e + 1;
    let set = |q: &mut QGraph, ids: Option<usize>, w: Option<usize>| {
        if let QOp::Embed { ids: i, w: wi } = &mut q.nodes[e].op {
            if let Some(v) = ids {
                *i = v;
            }
            if let Some(v) = w {
                *wi = v;
            }
        }
    };
    // Ids read from the embedding's own output, a later tensor, a computed tensor.
    hostile("ids = own output", &s.q, &p, |q| set(q, Some(eo), None));
    hostile("ids = later", &s.q, &p, |q| set(q, Some(eo + 1), None));
    hostile("ids = output", &s.q, &p, |q| set(q, Some(q.output), None));
    hostile("ids = huge", &s.q, &p, |q| set(q, Some(usize::MAX), None));
    // A weight out of range.
    hostile("w = 1", &s.q, &p, |q| set(q, None, Some(1)));
    hostile("w = huge", &s.q, &p, |q| {
        set(q, None, Some(usize::MAX >> 1))
    });
    // Ids at a fractional scale (an input quantized as activations).
    hostile("ids frac", &s.q, &p, |q| {
        q.tensors[0].frac = q.config.act_frac
    });
    // Ids not public.
    hostile("ids committed", &s.q, &p, |q| {
        q.tensors[0].kind = TensorKind::Committed
    });
    // More, fewer output rows than ids; other columns than the table's.
    for (rows, cols) in [(4, 3), (6, 3), (8, 3), (5, 2), (5, 4), (1, 3), (0, 3)] {
        hostile(&format!("out [{rows}, {cols}]"), &s.q, &p, |q| {
            for t in eo..q.tensors.len() {
                q.tensors[t].rows = rows;
                q.tensors[t].cols = cols;
            }
        });
    }
    // The table shrunk so that an id of the statement is outside it (rows 11 < id 11 + 1),
    // or to one row; the table emptied.
    for rows in [11, 1, 0] {
        hostile(&format!("table rows {rows}"), &s.q, &p, |q| {
            q.weights[0].rows = rows;
            let c = q.weights[0].cols;
            q.weights[0].data.truncate(rows * c);
        });
    }
}

/// Token ids read from a constant of the circuit (public, but not an input): refused by the
/// relation checks (where it would be sound, the verifier knowing the constant; this checks
/// the decoder does not index the public input with a constant's offset).
#[test]
fn hostile_embedding_ids_from_a_constant_rejected() {
    let table: Vec<f64> = rnd(11, 4 * 2).iter().map(|v| v * 0.5).collect();
    let g = Graph {
        input_name: "ids".into(),
        input_shape: vec![1, 3],
        nodes: vec![
            node("c", Op::Const { data: vec![0.0; 3] }, vec![1, 3]),
            node(
                "embed",
                Op::Embed {
                    ids: 0,
                    table,
                    vocab: 4,
                    dim: 2,
                },
                vec![3, 2],
            ),
            node(
                "act",
                Op::Act {
                    x: 2,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                vec![3, 2],
            ),
        ],
        output: 3,
        output_parts: Vec::new(),
    };
    let s = setup_ids(g, &[1, 2, 3]);
    let p = prove_ok(&s).proof;
    let e = s.q.nodes.iter().position(|n| n.name == "embed").unwrap();
    let c = s.q.nodes.iter().position(|n| n.name == "c").unwrap() + 1;
    hostile("ids = const", &s.q, &p, |q| {
        q.tensors[c].frac = 0;
        if let QOp::Embed { ids, .. } = &mut q.nodes[e].op {
            *ids = c;
        }
    });
}

#[test]
fn hostile_const_descriptions_rejected() {
    let s = setup(const_added(), 16, 3);
    let p = prove_ok(&s).proof;
    assert!(by_commitment(&p).is_ok());
    let ci = s.q.nodes.iter().position(|n| n.name == "c").unwrap();
    let with = |f: fn(&mut Vec<i64>)| {
        move |q: &mut QGraph| {
            if let QOp::Const { data } = &mut q.nodes[ci].op {
                f(data)
            }
        }
    };
    hostile("const short", &s.q, &p, with(|d| d.truncate(7)));
    hostile("const empty", &s.q, &p, with(|d| d.clear()));
    hostile("const long", &s.q, &p, with(|d| d.push(0)));
    hostile("const 2^15", &s.q, &p, with(|d| d[0] = 1 << 15));
    hostile("const -2^15-1", &s.q, &p, with(|d| d[0] = -(1 << 15) - 1));
    hostile("const i64::MIN", &s.q, &p, with(|d| d[1] = i64::MIN));
    hostile("const i64::MAX", &s.q, &p, with(|d| d[7] = i64::MAX));
    hostile("const p", &s.q, &p, with(|d| d[0] = (1 << 31) - 1));
    // The constant's tensor declared committed or virtual (the prover would then choose it).
    for kind in [
        TensorKind::Committed,
        TensorKind::Virtual,
        TensorKind::After,
    ] {
        hostile(&format!("const {kind:?}"), &s.q, &p, |q| {
            q.tensors[ci + 1].kind = kind
        });
    }
    // The constant's tensor reshaped under the same data.
    hostile("const reshaped", &s.q, &p, |q| {
        q.tensors[ci + 1].rows = 4;
        q.tensors[ci + 1].cols = 2;
    });
}

/// A description whose constant count claims more values than the bytes left (a huge
/// allocation otherwise), or a count that differs from the tensor's: refused in decoding.
#[test]
fn hostile_const_counts_in_bytes_rejected() {
    let s = setup(const_added(), 16, 3);
    let desc = s.q.describe();
    let ci = s.q.nodes.iter().position(|n| n.name == "c").unwrap();
    let QOp::Const { data } = &s.q.nodes[ci].op else {
        unreachable!()
    };
    // Find the count (u64 LE 8) followed by the data.
    let mut pat = (data.len() as u64).to_le_bytes().to_vec();
    for &v in data {
        pat.extend_from_slice(&(v as u64).to_le_bytes());
    }
    let at = desc
        .windows(pat.len())
        .position(|w| w == &pat[..])
        .expect("constant in the description");
    for n in [0u64, 7, 9, 1 << 20, u64::MAX / 8, u64::MAX] {
        let mut d = desc.clone();
        d[at..at + 8].copy_from_slice(&n.to_le_bytes());
        let r = std::panic::catch_unwind(|| QGraph::from_description(&d))
            .unwrap_or_else(|_| panic!("count {n}: decoding panicked"));
        assert!(r.is_err(), "count {n} decoded");
    }
    // Every truncation of the description is refused without a panic.
    for cut in at..(at + pat.len() + 8).min(desc.len()) {
        let r = std::panic::catch_unwind(|| QGraph::from_description(&desc[..cut]))
            .unwrap_or_else(|_| panic!("cut {cut}: decoding panicked"));
        assert!(r.is_err());
    }
}

#[test]
fn hostile_batched_product_descriptions_rejected() {
    let (b, m, k, n) = (2, 2, 4, 3);
    let s = setup(batched(b, m, k, n), 16, 7);
    let p = prove_ok(&s).proof;
    assert!(by_commitment(&p).is_ok());
    let ab = s.q.nodes.iter().position(|x| x.name == "ab").unwrap();
    let (ta, tb, to) = match s.q.nodes[ab].op {
        QOp::BatchMatMul { a, b, .. } => (a, b, ab + 1),
        _ => unreachable!(),
    };
    let batch = |v: usize| {
        move |q: &mut QGraph| {
            if let QOp::BatchMatMul { batch, .. } = &mut q.nodes[ab].op {
                *batch = v;
            }
        }
    };
    for v in [0, 1, 3, 4, 8, 1 << 40, usize::MAX] {
        hostile(&format!("batch {v}"), &s.q, &p, batch(v));
    }
    // Operands: the output itself, a later tensor, out of range.
    for (x, y) in [(to, tb), (ta, to), (ta, usize::MAX), (tb, ta), (ta, ta)] {
        hostile(&format!("operands {x} {y}"), &s.q, &p, |q| {
            if let QOp::BatchMatMul { a, b, .. } = &mut q.nodes[ab].op {
                *a = x;
                *b = y;
            }
        });
    }
    // Shapes: M not a power of two (a [6, 4] in 2 batches), K not one, out rows / cols off.
    let shapes: [(usize, usize, usize, usize, usize, usize); 6] = [
        (6, 4, 8, 3, 6, 3),
        (4, 3, 6, 3, 4, 3),
        (4, 4, 8, 3, 8, 3),
        (4, 4, 8, 3, 4, 2),
        (4, 4, 8, 3, 2, 3),
        (4, 4, 4, 3, 4, 3),
    ];
    for (ar, ac, br, bc, or, oc) in shapes {
        hostile(
            &format!("shapes {ar}x{ac} {br}x{bc} -> {or}x{oc}"),
            &s.q,
            &p,
            |q| {
                q.tensors[ta].rows = ar;
                q.tensors[ta].cols = ac;
                q.tensors[tb].rows = br;
                q.tensors[tb].cols = bc;
                for t in to..q.tensors.len() {
                    q.tensors[t].rows = or;
                    q.tensors[t].cols = oc;
                }
            },
        );
    }
}

// ---------------------------------------------------------------------------------------
// Padding of a tied embedding table (committed by the model's owner, read by the lookup and
// by the LM head)
// ---------------------------------------------------------------------------------------

/// Token ids → embedding `[12, 3]` (columns padded to 4) → tanh → LM head reading the same
/// committed table (`logits = h·Eᵀ`).
fn tied(t: usize) -> Graph {
    embedding(t, 12, 3, true)
}

#[test]
fn planted_padding_in_a_tied_embedding_table_cannot_steer_the_logits() {
    use zkgrad_circuit::layout::Operand;
    use zkgrad_field::f_from_i64;
    use zkgrad_verifier::protocol::weight_values;
    let s = setup_ids(tied(5), &[3, 4, 11, 0, 3]);
    let q = &s.q;
    assert_eq!(q.weights.len(), 1, "the table is committed once");
    let (gemm, h) = q
        .nodes
        .iter()
        .enumerate()
        .find_map(|(ni, n)| match n.op {
            QOp::Gemm { x, w: 0, .. } if n.name.starts_with("lm_head") => Some((ni, x)),
            _ => None,
        })
        .expect("the LM head reads the table");
    assert_eq!(q.tensors[h].kind, TensorKind::Committed);
    let (fa, fw) = (q.config.act_frac, q.config.weight_frac);
    let (p_w, p_x) = (1i64 << (fw - 1), 1i64 << fa);
    // The owner plants 0.5 in the table's padded column 3 of row 0 (read as `W[0, 3]` by the
    // LM head's contraction over the 3 real columns, and as the padded column of every
    // embedding of id 0) and in padded row 13 (no id may reach it).
    let model = zkgrad_prover::CommittedModel::from_padded(q, &s.params, &|wi| {
        let mut v = weight_values(q, wi).0;
        v[3] = f_from_i64(p_w);
        v
    });
    // The embedding of id 0 (position 3) then has 0.5 in its padded column 3, and so has its
    // rounding's committed output: the prover who knows the plant pads it to match (the
    // honest forward pass pads with zeros and its proof fails there, a completeness matter
    // of planted models, not soundness).
    let rq = q
        .nodes
        .iter()
        .position(|n| n.name == "embed/requant")
        .unwrap()
        + 1;
    let QOp::Requant { shift, .. } = q.nodes[rq - 1].op else {
        unreachable!()
    };
    let y_plant = (3 * 4 + 3, p_w >> shift);
    let mut w = zkgrad_model::forward(q, &s.input).unwrap();
    w.padding.push((Operand::Tensor(rq), y_plant.0, y_plant.1));
    let honest = zkgrad_prover::prove_witness(q, &model, w, &s.params).proof;
    verify_against(q, &model.root(), &honest).expect("planted padding is harmless");
    assert_eq!(
        honest.output,
        zkgrad_model::forward(q, &s.input).unwrap().values[q.output]
    );
    // A prover plants 1.0 in h's padded column 3 (row 0) and adds the unmasked product to
    // logit [0, 0].
    let mut w = lenient_forward(q, &s.input, |ni, out, _| {
        if ni == gemm {
            out[0] += p_x * p_w;
        }
    });
    w.padding.push((Operand::Tensor(rq), y_plant.0, y_plant.1));
    w.padding.push((Operand::Tensor(h), 3, p_x));
    let p = zkgrad_prover::prove_witness(q, &model, w, &s.params).proof;
    assert_ne!(p.output, honest.output, "the plant moves the output");
    assert!(
        no_panic("tied padding", || verify_against(q, &model.root(), &p)).is_err(),
        "logits steered through the tied table's padding were accepted"
    );
}
