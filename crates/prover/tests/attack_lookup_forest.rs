//! Proof format v7: every lookup (both schemes) sits in a *forest* of exactly full
//! fractional-sum GKR trees (`PackedLayout::pack_exact`, `protocol::lookup_layouts`), one tree
//! per set bit of the total number of leaves; Ligero proofs now share trees between tables and
//! separate them with δ. Each test is a cheating prover or a tampered proof, named for the
//! attack it shows is rejected (or a control that the honest proof verifies).
//!
//! Cheating witnesses are proved with `prove_witness` (the honest mechanics over a dishonest
//! witness; its multiplicities count each lookup's `a` column, skipping values outside the
//! table). Tampered proofs are edited in place at offsets computed from the layout
//! ([`Sections`]), which is checked against the prover's own count of the section's bytes.

mod common;
use common::*;
use zkgrad_circuit::layout::{Lookup, Operand, PackedLayout};
use zkgrad_circuit::table::{ActKind, TableKind};
use zkgrad_circuit::QOp;
use zkgrad_field::codec::{Reader, Writer};
use zkgrad_field::{Field, PrimeCharacteristicRing, E};
use zkgrad_lookup::GkrError;
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::Witness;
use zkgrad_prover::{prove_witness, ProveOutput};
use zkgrad_verifier::protocol::{committed_tables, lookup_layouts};
use zkgrad_verifier::VerifyError;

// ---------------------------------------------------------------------------------------------
// Models.

fn linear(name: &str, x: usize, inf: usize, outf: usize, seed: u64) -> Node {
    linear_with(name, x, inf, outf, seed, true)
}

fn act(name: &str, x: usize, kind: ActKind, n: usize) -> Node {
    Node {
        name: name.into(),
        op: Op::Act { x, kind },
        shape: vec![1, n],
    }
}

/// Seven lookups of three sizes whose forest has three value trees (64 | 32 | 2 leaves):
/// fc1's remainder and range check, fc2's remainder and `tanh(fc2)` fill the first tree,
/// `relu(fc2)` (the same input as tanh) and the range check of `tanh − relu` the second, fc3's
/// remainder (2 values) the last. With WHIR (`whir_small`) all three tables' multiplicities
/// are committed, and the table side is a forest too (2048 | 1024 leaves).
fn forest_model() -> Graph {
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, 6],
        nodes: vec![
            linear("fc1", 0, 6, 16, 31),       // 1
            linear("fc2", 1, 16, 16, 32),      // 2
            act("tanh", 2, ActKind::Tanh, 16), // 3
            act("relu", 2, ActKind::Relu, 16), // 4
            Node {
                name: "sub".into(),
                op: Op::Sub { a: 3, b: 4 },
                shape: vec![1, 16],
            }, // 5
            linear("fc3", 5, 16, 2, 33),       // 6
        ],
        output: 6,
        output_parts: Vec::new(),
    }
}

/// A model whose last lookup reads one value (a tree of a single leaf, `log_n = 0`).
fn one_leaf_model() -> Graph {
    Graph {
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
            act("sig", 1, ActKind::Sigmoid, 2),
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
    }
}

fn forest(scheme: &str) -> Setup {
    match scheme {
        "whir" => setup_with(forest_model(), 10, 7, whir_small()),
        _ => setup(forest_model(), 10, 7),
    }
}

fn conv(scheme: &str) -> Setup {
    match scheme {
        "whir" => setup_with(conv_ops(), 10, 5, whir_small()),
        _ => setup(conv_ops(), 10, 5),
    }
}

fn one_leaf() -> Setup {
    setup(one_leaf_model(), 5, 3)
}

const SCHEMES: [&str; 2] = ["ligero", "whir"];

// ---------------------------------------------------------------------------------------------
// Layout helpers.

struct Forests {
    lookups: Vec<Lookup>,
    committed: Vec<bool>,
    values: Vec<PackedLayout<usize>>,
    tables: Vec<PackedLayout<usize>>,
}

fn forests(s: &Setup) -> Forests {
    let lookups = s.q.lookups();
    let committed = committed_tables(&s.q, &lookups, &s.params);
    let (values, tables) = lookup_layouts(&s.q, &lookups, &committed);
    Forests {
        lookups,
        committed,
        values,
        tables,
    }
}

impl Forests {
    /// The value tree holding lookup `li`.
    fn tree_of(&self, li: usize) -> usize {
        self.values
            .iter()
            .position(|t| t.blocks.iter().any(|b| b.0 == li))
            .expect("every lookup is in a tree")
    }
    fn logs(&self) -> (Vec<usize>, Vec<usize>) {
        (
            self.values.iter().map(|t| t.log_n).collect(),
            self.tables.iter().map(|t| t.log_n).collect(),
        )
    }
}

/// The first lookup of `q` reading operand `a`.
fn lookup_reading(f: &Forests, a: Operand) -> usize {
    f.lookups.iter().position(|l| l.a == a).unwrap()
}

/// The lookup whose `b` column is tensor `t` (an activation's output).
fn lookup_writing(f: &Forests, t: usize) -> usize {
    f.lookups
        .iter()
        .position(|l| l.b == Some(Operand::Tensor(t)))
        .unwrap()
}

fn node_named(s: &Setup, name: &str) -> usize {
    s.q.nodes.iter().position(|n| n.name == name).unwrap()
}

/// Where each part of the lookup section of a proof body lies.
struct TreeSpan {
    side: &'static str,
    log_n: usize,
    /// The root `(P, Q)`: two extension elements.
    root: usize,
    /// The values sent after the GKR (`a`, `b` per value block, `m` per table block).
    leaves: usize,
    end: usize,
}

struct Sections {
    start: usize,
    trees: Vec<TreeSpan>,
}

fn varint_at(body: &[u8], pos: &mut usize) -> u64 {
    let mut r = Reader::new(&body[*pos..]);
    let v = r.varint().unwrap();
    *pos += r.position();
    v
}

/// The lookup section of `out`'s proof, parsed from the layout: the clear multiplicities
/// (LEB128), then per tree its root (32 bytes), per layer `k` a sumcheck of `k` rounds of 3
/// elements and the 4 layer values, then the leaf values. Checked against the prover's byte
/// count of the phase (these circuits have no limb decompositions, so the phase is exactly the
/// lookups).
fn sections(s: &Setup, out: &ProveOutput) -> Sections {
    let f = forests(s);
    assert!(s.q.decompositions().is_empty());
    let body = &out.proof.body;
    let start = out.timings.bytes[0];
    let mut pos = start;
    for (ti, _) in s.q.used_tables() {
        if !f.committed[ti] {
            let nnz = varint_at(body, &mut pos);
            for _ in 0..2 * nnz {
                varint_at(body, &mut pos);
            }
        }
    }
    let mut trees = Vec::new();
    let sides = [("value", &f.values), ("table", &f.tables)];
    for (side, forest) in sides {
        for tree in forest.iter() {
            let root = pos;
            pos += 32;
            for k in 0..tree.log_n {
                pos += 16 * 3 * k + 64;
            }
            let leaves = pos;
            for &(li, _, _) in &tree.blocks {
                let two = side == "value" && f.lookups[li].b.is_some();
                pos += if two { 32 } else { 16 };
            }
            trees.push(TreeSpan {
                side,
                log_n: tree.log_n,
                root,
                leaves,
                end: pos,
            });
        }
    }
    assert_eq!(
        pos,
        start + out.timings.bytes[1],
        "the parsed lookup section must be the prover's"
    );
    Sections { start, trees }
}

fn e_at(body: &[u8], at: usize) -> E {
    Reader::new(&body[at..at + 16]).e().unwrap()
}

fn put_e(body: &mut [u8], at: usize, v: E) {
    let mut w = Writer::new();
    w.e(v);
    body[at..at + 16].copy_from_slice(&w.bytes);
}

fn root(body: &[u8], t: &TreeSpan) -> (E, E) {
    (e_at(body, t.root), e_at(body, t.root + 16))
}

fn verify_body(s: &Setup, out: &ProveOutput, body: Vec<u8>) -> Result<(), VerifyError> {
    let mut p = out.proof.clone();
    p.body = body;
    check(s, &p).map(|_| ())
}

fn is_identity_failure(r: &Result<(), VerifyError>) -> bool {
    matches!(
        r,
        Err(VerifyError::Lookups(
            "looked-up values are not all in their tables"
        ))
    )
}

fn is_count_failure(r: &Result<(), VerifyError>) -> bool {
    matches!(
        r,
        Err(VerifyError::Lookup {
            why: "multiplicities do not count every lookup",
            ..
        })
    )
}

// ---------------------------------------------------------------------------------------------
// Structure and controls.

#[test]
fn forest_trees_are_exactly_full_so_no_padding_leaf_exists() {
    // The `1 − Σ sel` padding term is zero as a polynomial only if the blocks tile each tree:
    // checked for every model and scheme used here, and that every lookup (committed table)
    // is in exactly one tree, trees one per set bit of the total, largest first.
    let setups = [
        forest("ligero"),
        forest("whir"),
        conv("ligero"),
        conv("whir"),
        one_leaf(),
        setup(all_ops(), 10, 2),
        setup(matrix_ops(), 12, 4),
        setup_with(all_ops(), 10, 2, whir_small()),
    ];
    for s in &setups {
        let f = forests(s);
        let k = s.q.config.table_bits;
        let tables = s.q.used_tables();
        let value_items: Vec<(usize, usize)> = f
            .lookups
            .iter()
            .enumerate()
            .map(|(li, l)| (li, s.q.operand_tensor(l.a).log_size()))
            .collect();
        let table_items: Vec<(usize, usize)> = tables
            .iter()
            .filter(|(ti, _)| f.committed[*ti])
            .map(|(ti, t)| (*ti, t.log_size(k) as usize))
            .collect();
        for (trees, items) in [(&f.values, value_items), (&f.tables, table_items)] {
            let total: usize = items.iter().map(|(_, log)| 1usize << log).sum();
            let logs: Vec<usize> = trees.iter().map(|t| t.log_n).collect();
            let bits: Vec<usize> = (0..64).rev().filter(|b| total >> b & 1 == 1).collect();
            assert_eq!(logs, bits, "one tree per set bit of {total}, largest first");
            let mut seen = vec![0usize; items.len()];
            for tree in trees {
                let mut used = vec![false; 1 << tree.log_n];
                for &(id, log, block) in &tree.blocks {
                    let item = items.iter().position(|it| it.0 == id).unwrap();
                    assert_eq!(items[item].1, log, "a block has its item's size");
                    seen[item] += 1;
                    for leaf in &mut used[block << log..(block + 1) << log] {
                        assert!(!*leaf, "blocks overlap");
                        *leaf = true;
                    }
                }
                assert!(
                    used.iter().all(|u| *u),
                    "a tree with a leaf outside every block"
                );
            }
            assert!(
                seen.iter().all(|n| *n == 1),
                "each item in exactly one tree"
            );
        }
    }
}

#[test]
fn multi_tree_forests_of_the_attacked_models_are_as_expected() {
    // The attacks below rely on these shapes: ≥ 3 value trees, the last one small, a
    // single-leaf tree, and a table-side forest of two trees.
    let fl = forests(&forest("ligero"));
    assert_eq!(fl.logs(), (vec![6, 5, 1], vec![]));
    let fw = forests(&forest("whir"));
    assert_eq!(fw.logs(), (vec![6, 5, 1], vec![11, 10]));
    assert_eq!(fw.committed, vec![true, true, true]);
    let c = forests(&conv("ligero"));
    assert_eq!(c.logs(), (vec![9, 7, 6, 5, 2], vec![]));
    let cw = forests(&conv("whir"));
    assert_eq!(cw.logs(), (vec![9, 7, 6, 5, 2], vec![11]));
    let o = forests(&one_leaf());
    assert_eq!(o.logs().0.last(), Some(&0));
}

#[test]
fn honest_proofs_over_multi_tree_forests_verify() {
    for s in [
        forest("ligero"),
        forest("whir"),
        conv("ligero"),
        conv("whir"),
        one_leaf(),
    ] {
        let out = prove_ok(&s);
        check(&s, &out.proof).unwrap();
        // The section parser agrees with the prover (asserted inside).
        let sec = sections(&s, &out);
        assert_eq!(
            sec.trees.len(),
            forests(&s).values.len() + forests(&s).tables.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A looked-up value outside its table, in a later tree.

/// The witness with remainder `at` of requantization node `n` moved out of `[0, 2^shift)` by
/// `sign·2^shift` and its output moved by `−sign` (the rounding identity still holds), later
/// values recomputed.
fn remainder_out_of_range(s: &Setup, n: usize, at: usize, sign: i64) -> Witness {
    let QOp::Requant { shift, .. } = s.q.nodes[n].op else {
        panic!("node {n} is not a rounding");
    };
    assert!(shift > 0);
    let w = lenient_forward(&s.q, &s.input, |ni, out, rem| {
        if ni == n {
            rem.as_mut().unwrap()[at] += sign << shift;
            out[at] -= sign;
        }
    });
    let r = w.rems[n].as_ref().unwrap()[at];
    assert!(
        !(0..1i64 << shift).contains(&r),
        "the remainder is out of range"
    );
    w
}

/// Proves the out-of-range remainder of the rounding read by lookup `li` (which must be in
/// value tree `tree`) and checks the rejection: by the count of the clear multiplicities, or
/// (committed multiplicities) by the LogUp identity itself.
fn assert_remainder_rejected(s: &Setup, li: usize, tree: usize) {
    let f = forests(s);
    assert_eq!(f.tree_of(li), tree);
    let Operand::Rem(n) = f.lookups[li].a else {
        panic!("lookup {li} is not a remainder's");
    };
    let committed = f.committed[f.lookups[li].table];
    let len = s.q.tensors[n + 1].len();
    for (at, sign) in [(0, 1), (len - 1, -1)] {
        let w = remainder_out_of_range(s, n, at, sign);
        let out = prove_witness(&s.q, &s.model, w, &s.params);
        let r = check(s, &out.proof).map(|_| ());
        assert!(r.is_err(), "remainder out of range in tree {tree} accepted");
        if committed {
            assert!(is_identity_failure(&r), "{r:?}");
        } else {
            assert!(is_count_failure(&r), "{r:?}");
        }
    }
}

/// conv's rounding whose remainder is in value tree `tree` (of five).
fn conv_remainder_in_tree(f: &Forests, tree: usize) -> usize {
    (0..f.lookups.len())
        .find(|&li| matches!(f.lookups[li].a, Operand::Rem(_)) && f.tree_of(li) == tree)
        .unwrap()
}

#[test]
fn remainder_outside_its_range_in_second_tree_rejected() {
    for scheme in SCHEMES {
        // conv2's rounding: the second of five value trees.
        let s = conv(scheme);
        let li = conv_remainder_in_tree(&forests(&s), 1);
        assert_remainder_rejected(&s, li, 1);
    }
}

#[test]
fn remainder_outside_its_range_in_third_tree_rejected() {
    for scheme in SCHEMES {
        // conv3's rounding: the third of five value trees.
        let s = conv(scheme);
        let li = conv_remainder_in_tree(&forests(&s), 2);
        assert_remainder_rejected(&s, li, 2);
    }
}

#[test]
fn remainder_outside_its_range_in_last_smallest_tree_rejected() {
    for scheme in SCHEMES {
        // conv: the fifth tree (4 leaves) holds only the head's rounding, whose output is the
        // public output: the forged proof claims an output one lower.
        let s = conv(scheme);
        let f = forests(&s);
        let last = f.values.len() - 1;
        let (li, _, _) = f.values[last].blocks[0];
        assert_remainder_rejected(&s, li, last);
        // The forest model: the third tree (2 leaves), fc3's rounding.
        let s = forest(scheme);
        let f = forests(&s);
        let li = lookup_reading(&f, Operand::Rem(node_named(&s, "fc3/requant")));
        assert_remainder_rejected(&s, li, 2);
    }
}

#[test]
fn remainder_outside_its_range_in_a_single_leaf_tree_rejected() {
    // A tree of one leaf has no GKR layer: its root is the leaf claim itself.
    let s = one_leaf();
    let f = forests(&s);
    let last = f.values.len() - 1;
    assert_eq!(f.values[last].log_n, 0);
    let (li, _, _) = f.values[last].blocks[0];
    assert_remainder_rejected(&s, li, last);
    // Its honest proof verifies (control).
    check(&s, &prove_ok(&s).proof).unwrap();
}

#[test]
fn remainder_outside_its_range_in_first_tree_beside_later_trees_rejected() {
    // The forest model with WHIR: fc2's rounding shares the first tree with tanh and reads the
    // committed range table, so the cheat meets the LogUp identity; with Ligero, the count.
    for scheme in SCHEMES {
        let s = forest(scheme);
        let f = forests(&s);
        let li = lookup_reading(&f, Operand::Rem(node_named(&s, "fc2/requant")));
        assert_remainder_rejected(&s, li, 0);
    }
}

#[test]
fn range_checked_value_outside_its_range_in_second_tree_rejected() {
    // `tanh − relu` is committed and range-checked (10 bits, offset 512) in the second tree:
    // a value pushed 2^10 above its honest value is outside the table. The prover's own count
    // skips it, so with clear multiplicities the count refuses it, with committed ones LogUp.
    for scheme in SCHEMES {
        let s = forest(scheme);
        let f = forests(&s);
        let sub = node_named(&s, "sub");
        // The rounding-free commit of `sub` that fc3 reads.
        let commit =
            s.q.nodes
                .iter()
                .position(|n| matches!(n.op, QOp::Requant { x, shift: 0 } if x == sub + 1))
                .unwrap();
        let li = lookup_reading(&f, Operand::Tensor(commit + 1));
        assert_eq!(f.tree_of(li), 1);
        let committed = f.committed[f.lookups[li].table];
        let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
            if ni == commit {
                out[3] += 1 << 10;
            }
        });
        // (The commit's identity with `sub`'s output fails too, but only in the layers phase,
        // after the lookups: the rejection asserted is the lookup's.)
        let out = prove_witness(&s.q, &s.model, w, &s.params);
        let r = check(&s, &out.proof).map(|_| ());
        assert!(r.is_err());
        if committed {
            assert!(is_identity_failure(&r), "{r:?}");
        } else {
            assert!(is_count_failure(&r), "{r:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Two-column lookups (γ) in later trees: wrong activation outputs. The prover's multiplicities
// count the input column only, so the counts stay right and the LogUp identity must refuse.

fn wrong_activation_output(s: &Setup, name: &str, at: usize) -> Result<(), VerifyError> {
    let n = node_named(s, name);
    let honest = zkgrad_model::forward(&s.q, &s.input).unwrap();
    let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
        if ni == n {
            // A quarter (8 fractional bits): enough to move the rounded output.
            out[at] += 64;
        }
    });
    assert_ne!(
        w.values[s.q.output], honest.values[s.q.output],
        "the forged activation moves the output"
    );
    let out = prove_witness(&s.q, &s.model, w, &s.params);
    check(s, &out.proof).map(|_| ())
}

#[test]
fn wrong_activation_output_in_second_tree_rejected() {
    for scheme in SCHEMES {
        let s = forest(scheme);
        let f = forests(&s);
        let relu = node_named(&s, "relu");
        assert_eq!(f.tree_of(lookup_writing(&f, relu + 1)), 1);
        for at in [0, 7, 15] {
            let r = wrong_activation_output(&s, "relu", at);
            assert!(is_identity_failure(&r), "{scheme} relu[{at}] moved: {r:?}");
        }
    }
}

#[test]
fn wrong_activation_output_in_first_tree_beside_later_trees_rejected() {
    for scheme in SCHEMES {
        let s = forest(scheme);
        let f = forests(&s);
        let tanh = node_named(&s, "tanh");
        assert_eq!(f.tree_of(lookup_writing(&f, tanh + 1)), 0);
        let r = wrong_activation_output(&s, "tanh", 5);
        assert!(is_identity_failure(&r), "{scheme}: {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Table separation (δ): rows of one table presented as rows of another.

#[test]
fn activation_rows_swapped_between_tables_rejected_by_table_separation() {
    // tanh and relu read the same tensor x (tanh in the first value tree, relu in the second).
    // The forger swaps their outputs: tanh's lookup reads the rows (x, relu(x)), relu's the
    // rows (x, tanh(x)). Every row is a row of *some* used table, with exactly the
    // multiplicities the prover sends (each table's input column is read as before): without
    // the table column δ·T, LogUp over the union of the tables would accept, and the output
    // `tanh − relu` would be negated. With it, the identity must fail — with the clear
    // multiplicities (Ligero, new in v7: one shared forest) and with committed ones (WHIR).
    for scheme in SCHEMES {
        let s = forest(scheme);
        let f = forests(&s);
        let (tanh, relu) = (node_named(&s, "tanh"), node_named(&s, "relu"));
        let (lt, lr) = (lookup_writing(&f, tanh + 1), lookup_writing(&f, relu + 1));
        assert_eq!(
            (f.tree_of(lt), f.tree_of(lr)),
            (0, 1),
            "the swap spans two trees"
        );
        assert_eq!(f.lookups[lt].a, f.lookups[lr].a);
        assert_ne!(f.lookups[lt].table, f.lookups[lr].table);
        let honest = zkgrad_model::forward(&s.q, &s.input).unwrap();
        let (ht, hr) = (
            honest.values[tanh + 1].clone(),
            honest.values[relu + 1].clone(),
        );
        assert_ne!(ht, hr);
        let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
            if ni == tanh {
                *out = hr.clone();
            } else if ni == relu {
                *out = ht.clone();
            }
        });
        // The swapped rows are rows of the other table.
        let tables = s.q.used_tables();
        let x = &honest.values[match f.lookups[lt].a {
            Operand::Tensor(t) => t,
            _ => unreachable!(),
        }];
        for (lookup, outs) in [(lt, &w.values[tanh + 1]), (lr, &w.values[relu + 1])] {
            let other = if lookup == lt { lr } else { lt };
            let TableKind::Act {
                kind,
                in_frac,
                out_frac,
            } = tables[f.lookups[other].table].1
            else {
                unreachable!()
            };
            for (xi, yi) in x.iter().zip(outs) {
                assert_eq!(
                    *yi,
                    kind.eval_q(*xi, in_frac, out_frac, s.q.config.table_bits)
                );
            }
        }
        assert_ne!(w.values[s.q.output], honest.values[s.q.output]);
        let out = prove_witness(&s.q, &s.model, w, &s.params);
        let r = check(&s, &out.proof).map(|_| ());
        assert!(
            is_identity_failure(&r),
            "{scheme}: rows swapped between tables: {r:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Fraction mass moved between trees; trees reordered, dropped or repeated.

#[test]
fn tree_root_mass_moved_to_another_tree_rejected() {
    // Root P_i += Q_i and P_j −= Q_j: the sum of the roots' fractions is unchanged (so the
    // final comparison alone would pass), but tree i's GKR no longer opens at its root.
    for scheme in SCHEMES {
        let s = forest(scheme);
        let out = prove_ok(&s);
        let sec = sections(&s, &out);
        let body = &out.proof.body;
        let n = sec.trees.len();
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let (ti, tj) = (&sec.trees[i], &sec.trees[j]);
                let mut b = body.clone();
                let (pi, qi) = root(body, ti);
                let (pj, qj) = root(body, tj);
                // Value side gains 1 in tree i; the other tree compensates: −1 on the same
                // side, +1 on the table side.
                put_e(&mut b, ti.root, pi + qi);
                let pj2 = if ti.side == tj.side { pj - qj } else { pj + qj };
                put_e(&mut b, tj.root, pj2);
                let expect_sum = |b: &[u8]| {
                    let f = |t: &TreeSpan| {
                        let (p, q) = root(b, t);
                        let sign = if t.side == "value" { E::ONE } else { -E::ONE };
                        sign * p * q.inverse()
                    };
                    sec.trees.iter().map(f).sum::<E>()
                };
                assert_eq!(expect_sum(&b), expect_sum(body), "mass is conserved");
                let r = verify_body(&s, &out, b);
                let first = if ti.root < tj.root { ti } else { tj };
                assert!(
                    matches!(
                        &r,
                        Err(VerifyError::LookupsGkr {
                            side,
                            source: GkrError::LayerMismatch { layer: 0 },
                        }) if *side == first.side
                    ),
                    "{scheme}: mass moved from tree {j} to {i}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn tree_roots_swapped_rejected() {
    for scheme in SCHEMES {
        let s = forest(scheme);
        let out = prove_ok(&s);
        let sec = sections(&s, &out);
        let body = &out.proof.body;
        for i in 0..sec.trees.len() {
            for j in i + 1..sec.trees.len() {
                let (a, b) = (&sec.trees[i], &sec.trees[j]);
                let mut t = body.clone();
                t[a.root..a.root + 32].copy_from_slice(&body[b.root..b.root + 32]);
                t[b.root..b.root + 32].copy_from_slice(&body[a.root..a.root + 32]);
                let r = verify_body(&s, &out, t);
                assert!(
                    matches!(r, Err(VerifyError::LookupsGkr { .. })),
                    "{scheme}: roots of trees {i} and {j} swapped: {r:?}"
                );
            }
        }
    }
}

#[test]
fn trees_reordered_dropped_or_repeated_rejected() {
    for scheme in SCHEMES {
        let s = forest(scheme);
        let out = prove_ok(&s);
        let sec = sections(&s, &out);
        let body = &out.proof.body;
        let span = |t: &TreeSpan| t.root..t.end;
        let n = sec.trees.len();
        let mut cases = 0;
        for i in 0..n {
            // Dropped.
            let mut b = body.clone();
            b.drain(span(&sec.trees[i]));
            assert!(
                verify_body(&s, &out, b).is_err(),
                "{scheme}: tree {i} dropped"
            );
            // Repeated right after itself.
            let mut b = body.clone();
            let copy = body[span(&sec.trees[i])].to_vec();
            let at = sec.trees[i].end;
            b.splice(at..at, copy);
            assert!(
                verify_body(&s, &out, b).is_err(),
                "{scheme}: tree {i} repeated"
            );
            // Exchanged with each later tree (the whole proofs, roots, layers and leaf values).
            for j in i + 1..n {
                let (a, c) = (span(&sec.trees[i]), span(&sec.trees[j]));
                let mut b = body[..a.start].to_vec();
                b.extend_from_slice(&body[c.clone()]);
                b.extend_from_slice(&body[a.end..c.start]);
                b.extend_from_slice(&body[a.clone()]);
                b.extend_from_slice(&body[c.end..]);
                assert_eq!(b.len(), body.len());
                assert!(
                    verify_body(&s, &out, b).is_err(),
                    "{scheme}: trees {i} and {j} exchanged"
                );
                cases += 1;
            }
        }
        assert!(cases >= 3);
        // An extra tree appended after the last (a repeat of the smallest value tree).
        let last_value = sec.trees.iter().rfind(|t| t.side == "value").unwrap();
        let mut b = body.clone();
        let end = sec.trees.last().unwrap().end;
        b.splice(end..end, body[span(last_value)].to_vec());
        assert!(verify_body(&s, &out, b).is_err());
    }
}

#[test]
fn leaf_values_sent_after_a_later_tree_are_bound() {
    // The a, b (value side) and m (table side) values read after each tree: each changed by
    // one is refused by that tree's leaf check.
    for scheme in SCHEMES {
        let s = forest(scheme);
        let out = prove_ok(&s);
        let sec = sections(&s, &out);
        let body = &out.proof.body;
        let mut cases = 0;
        for t in &sec.trees {
            for at in (t.leaves..t.end).step_by(16) {
                let mut b = body.clone();
                put_e(&mut b, at, e_at(body, at) + E::ONE);
                let r = verify_body(&s, &out, b);
                let want = if t.side == "value" {
                    "value leaves do not match the committed values"
                } else {
                    "table leaves do not match the committed multiplicities"
                };
                assert_eq!(r, Err(VerifyError::Lookups(want)), "{scheme} {}", t.side);
                cases += 1;
            }
        }
        assert!(cases >= 8);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Zero denominators.

#[test]
fn zero_root_denominator_rejected() {
    let mut setups: Vec<Setup> = SCHEMES.iter().map(|s| forest(s)).collect();
    setups.push(one_leaf());
    for s in &setups {
        let out = prove_ok(s);
        let sec = sections(s, &out);
        let body = &out.proof.body;
        for t in &sec.trees {
            // Q = 0, and (P, Q) = (0, 0).
            for p_too in [false, true] {
                let mut b = body.clone();
                put_e(&mut b, t.root + 16, E::ZERO);
                if p_too {
                    put_e(&mut b, t.root, E::ZERO);
                }
                let r = verify_body(s, &out, b);
                assert!(
                    matches!(
                        r,
                        Err(VerifyError::LookupsGkr { .. }) | Err(VerifyError::Lookups(_))
                    ),
                    "tree of 2^{} leaves with Q = 0: {r:?}",
                    t.log_n
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Padding inside a block: planted values carry no mass and hide nothing.

#[test]
fn planted_padding_in_a_lookup_block_cannot_hide_an_out_of_range_value() {
    // conv1's remainder is [4, 36], a block of 4 × 64 leaves in the first tree: 112 padding
    // leaves whose values the prover chooses. Planting table values there (that the
    // committed multiplicities could count) does not rescue an out-of-range real value.
    let s = conv("whir");
    let f = forests(&s);
    let li = 0;
    let Operand::Rem(n) = f.lookups[li].a else {
        panic!()
    };
    assert!(f.committed[f.lookups[li].table]);
    let t = &s.q.tensors[n + 1];
    assert_eq!((t.rows, t.cols), (4, 36));
    let mut w = remainder_out_of_range(&s, n, 0, 1);
    for row in 0..4 {
        for col in 36..64 {
            w.padding
                .push((Operand::Rem(n), row * 64 + col, (row * 64 + col) as i64));
        }
    }
    let out = prove_witness(&s.q, &s.model, w, &s.params);
    let r = check(&s, &out.proof).map(|_| ());
    assert!(is_identity_failure(&r), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. Byte-level tampering of the lookup section: an error, never a panic, never a pass.

#[test]
fn every_bit_flip_of_the_lookup_section_of_a_small_proof_is_rejected() {
    let s = one_leaf();
    let out = prove_ok(&s);
    let sec = sections(&s, &out);
    let end = sec.trees.last().unwrap().end;
    assert!(end - sec.start > 100);
    for pos in sec.start..end {
        for bit in 0..8 {
            let mut b = out.proof.body.clone();
            b[pos] ^= 1 << bit;
            assert!(
                verify_body(&s, &out, b).is_err(),
                "flip of bit {bit} of byte {pos} accepted"
            );
        }
    }
}

#[test]
fn every_byte_of_the_lookup_sections_of_multi_tree_proofs_tampered_is_rejected() {
    for s in [forest("ligero"), forest("whir"), conv("ligero")] {
        let out = prove_ok(&s);
        let sec = sections(&s, &out);
        let end = sec.trees.last().unwrap().end;
        let body = &out.proof.body;
        for pos in sec.start..end {
            for mask in [0x01u8, 0x80] {
                let mut b = body.clone();
                b[pos] ^= mask;
                assert!(
                    verify_body(&s, &out, b).is_err(),
                    "flip {mask:#x} at {pos} accepted"
                );
            }
        }
        // Truncated anywhere in the section, or a byte removed or inserted there.
        for pos in (sec.start..end).step_by(7) {
            let mut b = body.clone();
            b.truncate(pos);
            assert!(verify_body(&s, &out, b).is_err(), "truncation at {pos}");
            let mut b = body.clone();
            b.remove(pos);
            assert!(verify_body(&s, &out, b).is_err(), "byte {pos} removed");
            let mut b = body.clone();
            b.insert(pos, 0);
            assert!(verify_body(&s, &out, b).is_err(), "byte inserted at {pos}");
        }
        // Values replaced by non-canonical encodings (≥ p) and by all-ones.
        for t in &sec.trees {
            for at in [t.root, t.root + 8, t.leaves] {
                let mut b = body.clone();
                b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
                let r = verify_body(&s, &out, b);
                assert!(
                    matches!(
                        r,
                        Err(VerifyError::Transcript(_))
                            | Err(VerifyError::LookupsGkr {
                                source: GkrError::Transcript { .. },
                                ..
                            })
                    ),
                    "{r:?}"
                );
            }
        }
    }
}
