//! Adversarial review of the bit-selection shortcut for Gathers: when
//! `IndexMap::bit_selection` answers, a claim `õut(r) = v` is moved to `x̃(s(r)) = v` with no
//! sumcheck (`zkgrad_verifier::protocol::selected_point`). Each test is named for the attack it
//! stops: maps at the edges of the conditions (offsets, steps, axes of size 1, repeated axes,
//! ranks 0 and 8, layouts whose rows and columns differ from the map's shapes), witnesses that
//! follow another map than the circuit's, tampered outputs and descriptions. Every cheat must
//! be refused (an `Err`, never a panic); every honest proof is a control that must verify and
//! must take the new path.

mod common;

use common::transformer::node;
use common::*;
use zkgrad_circuit::index_map::{AxisMap, BitSource, IndexMap};
use zkgrad_circuit::{QGraph, QOp, QTensor, TensorKind};
use zkgrad_field::{BasedVectorSpace, PrimeCharacteristicRing, E, F};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_verifier::protocol::{eval_public, selected_point};
use zkgrad_verifier::{model_commitment, verify_with_commitment, ProofFile, VerifyError};

/// A named map with the (rows, cols) layouts of its input and output.
type Case = (&'static str, IndexMap, (usize, usize), (usize, usize));

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (PCG-style LCG, high bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A random element of the extension field (both coordinates random).
    fn ext(&mut self) -> E {
        let a = F::from_u64(self.next());
        let b = F::from_u64(self.next());
        E::from_basis_coefficients_slice(&[a, b]).unwrap()
    }
}

fn ax(out_axis: usize, step: i64, offset: i64) -> AxisMap {
    AxisMap {
        out_axis,
        step,
        offset,
    }
}

fn public_tensor(rows: usize, cols: usize) -> QTensor {
    QTensor {
        name: String::new(),
        rows,
        cols,
        frac: 0,
        kind: TensorKind::Public,
        bits: 40,
    }
}

/// When `map` is a bit selection for the layouts `x` and `out`: for several random `x` (values
/// up to 2^40 in absolute value) and random points `r` of the extension field, the verifier's
/// moved claim `x̃(s(r))` equals the MLE of the gathered output (the map applied as the forward
/// pass applies it, laid out in `out`'s padded layout) at `r`. Returns whether it answered.
fn selection_matches_gather(
    map: &IndexMap,
    x: (usize, usize),
    out: (usize, usize),
    rng: &mut Rng,
) -> bool {
    let Some(sel) = map.bit_selection(x, out) else {
        return false;
    };
    let (xt, ot) = (public_tensor(x.0, x.1), public_tensor(out.0, out.1));
    assert_eq!(
        sel.len(),
        xt.log_size(),
        "{map:?}: one source per variable of x̃"
    );
    for s in &sel {
        if let BitSource::Out(v) = s {
            assert!(
                *v < ot.log_size(),
                "{map:?}: a source past the output's point"
            );
        }
    }
    // An output variable routed to two input variables would square it.
    let mut routed: Vec<usize> = sel
        .iter()
        .filter_map(|s| match s {
            BitSource::Out(v) => Some(*v),
            BitSource::Const(_) => None,
        })
        .collect();
    routed.sort_unstable();
    let n = routed.len();
    routed.dedup();
    assert_eq!(routed.len(), n, "{map:?}: an output variable read twice");
    for _ in 0..3 {
        let xs: Vec<i64> = (0..map.in_len())
            .map(|_| (rng.next() >> 23) as i64 - (1 << 40))
            .collect();
        let outs = map.apply(&xs);
        for _ in 0..2 {
            let r: Vec<E> = (0..ot.log_size()).map(|_| rng.ext()).collect();
            let lhs = eval_public(&ot, &outs, &r);
            let rhs = eval_public(&xt, &xs, &selected_point(&sel, &r));
            assert_eq!(lhs, rhs, "{map:?} with layouts {x:?} → {out:?}");
        }
        // And on the hypercube itself (each output index reads the input index of its bits).
        for (j, &o) in outs.iter().enumerate() {
            let r: Vec<E> = (0..ot.log_size())
                .map(|b| E::from(F::from_bool((j >> b) & 1 == 1)))
                .collect();
            let rhs = eval_public(&xt, &xs, &selected_point(&sel, &r));
            assert_eq!(
                rhs,
                E::from(zkgrad_field::f_from_i64(o)),
                "{map:?} at output {j}"
            );
        }
    }
    true
}

/// A random power-of-two split `n = rows·cols`.
fn split(n: usize, rng: &mut Rng) -> (usize, usize) {
    let c = 1usize << rng.below(n.trailing_zeros() as u64 + 1);
    (n / c, c)
}

fn no_panic<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, VerifyError> + std::panic::UnwindSafe,
) -> Result<T, VerifyError> {
    std::panic::catch_unwind(f).unwrap_or_else(|_| panic!("{what}: the verifier panicked"))
}

fn verifies(s: &Setup, p: &ProofFile) -> bool {
    let (q, params) = (s.q.clone(), s.params);
    let p = p.clone();
    no_panic("verify", move || {
        zkgrad_verifier::verify(&q, &p.weight_root, &p.input, &p.output, &p.body, &params)
    })
    .is_ok()
}

/// Verifies `p` by commitment (the circuit read from the proof).
fn by_commitment(p: &ProofFile) -> Result<(), VerifyError> {
    let c = model_commitment(&p.circuit, &p.weight_root);
    let p = p.clone();
    no_panic("by commitment", move || {
        verify_with_commitment(&p, &c, &small_params()).map(|_| ())
    })
}

/// The index of the node named `name` in the quantized circuit.
fn node_index(q: &QGraph, name: &str) -> usize {
    q.nodes
        .iter()
        .position(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// Whether the quantized circuit's Gather `ni` takes the bit-selection path (the verifier's
/// own test: its map against its operand's and its output's layouts).
fn takes_selection(q: &QGraph, ni: usize) -> bool {
    let QOp::Gather { x, map } = &q.nodes[ni].op else {
        panic!("node {ni} is no Gather");
    };
    let (xt, ot) = (&q.tensors[*x], &q.tensors[ni + 1]);
    map.bit_selection((xt.rows, xt.cols), (ot.rows, ot.cols))
        .is_some()
}

/// What reads the Gather's output.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// The Gather writes the public output: the claim at the output's random point.
    Output,
    /// A Linear layer over the Gather's last axis: the claim at the Gemm sumcheck's point.
    Linear,
}

/// `input [in_shape] → tanh (committed) → Gather(map) [out_shape] → reader`.
fn gather_graph(in_shape: &[usize], map: IndexMap, out_shape: &[usize], reader: Reader) -> Graph {
    let mut nodes = vec![
        node(
            "t",
            Op::Act {
                x: 0,
                kind: zkgrad_circuit::table::ActKind::Tanh,
            },
            in_shape.to_vec(),
        ),
        node("g", Op::Gather { x: 1, map }, out_shape.to_vec()),
    ];
    if let Reader::Linear = reader {
        let (rows, cols) = zkgrad_model::graph::matrix_dims(out_shape);
        let outf = 3;
        let scale = 1.0 / (cols as f64).sqrt();
        nodes.push(Node {
            name: "fc".into(),
            op: Op::Linear {
                x: 2,
                w: rnd(41, cols * outf)
                    .into_iter()
                    .map(|v| v * scale)
                    .collect(),
                bias: Some(rnd(42, outf).into_iter().map(|v| v * 0.1).collect()),
                in_features: cols,
                out_features: outf,
            },
            shape: vec![rows, outf],
        });
    }
    Graph {
        input_name: "x".into(),
        input_shape: in_shape.to_vec(),
        output: nodes.len(),
        nodes,
        output_parts: Vec::new(),
    }
}

/// A witness a cheating prover substitutes for the Gather's output, given the Gather's input.
type Alt = Box<dyn Fn(&[i64]) -> Vec<i64>>;

/// One Gather under attack: the honest proof verifies and takes the bit-selection path; a
/// witness whose Gather output follows each of `alts` (another map, a swapped part) instead of
/// the circuit's map, and one whose Gather output has a single entry changed, are refused.
fn attack_gather(name: &str, in_shape: &[usize], map: IndexMap, out_shape: &[usize], alts: &[Alt]) {
    for reader in [Reader::Output, Reader::Linear] {
        let what = format!("{name} ({reader:?})");
        let s = setup(
            gather_graph(in_shape, map.clone(), out_shape, reader),
            16,
            5,
        );
        let g = node_index(&s.q, "g");
        assert!(takes_selection(&s.q, g), "{what}: not a bit selection");
        let honest = zkgrad_model::forward(&s.q, &s.input).unwrap();
        let QOp::Gather { x, .. } = s.q.nodes[g].op else {
            unreachable!()
        };
        let xv = honest.values[x].clone();
        let out_t = g + 1;
        assert_eq!(honest.values[out_t], map.apply(&xv), "{what}: forward pass");
        // Control: the honest proof verifies.
        let p = prove_ok(&s).proof;
        assert!(verifies(&s, &p), "{what}: honest proof refused");
        let mut cheats: Vec<Vec<i64>> = Vec::new();
        for alt in alts {
            let v = alt(&xv);
            assert_eq!(v.len(), honest.values[out_t].len(), "{what}: alt length");
            assert_ne!(
                v, honest.values[out_t],
                "{what}: the alternative is the map itself"
            );
            cheats.push(v);
        }
        // A single entry changed, at the first, a middle and the last output index.
        let n = honest.values[out_t].len();
        for k in [0, n / 2 + 1, n - 1] {
            let mut v = honest.values[out_t].clone();
            v[k] += 1;
            cheats.push(v);
        }
        for (ci, v) in cheats.into_iter().enumerate() {
            let w = lenient_forward(&s.q, &s.input, |ni, out, _| {
                if ni == g {
                    out.clone_from(&v);
                }
            });
            let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
            assert!(!verifies(&s, &p), "{what}: cheat {ci} accepted");
        }
    }
}

/// The Gather's output computed with another map of the same output length.
fn by_map(m: IndexMap) -> Alt {
    Box::new(move |x: &[i64]| m.apply(x))
}

// ---------------------------------------------------------------------------------------
// The identity itself
// ---------------------------------------------------------------------------------------

/// On random maps over power-of-two shapes — steps in {−1, 0, 1, 2} and the i64 extremes,
/// offsets that are zero, multiples of the output axis, arbitrary, negative, equal to the
/// dimension or extreme, repeated and unread output axes, output axes of size 1, layouts split
/// at random and sometimes of the wrong size — whenever `bit_selection` answers, the moved
/// claim `x̃(s(r))` is the MLE of the gathered output at random points of the extension field
/// and on the whole hypercube, for random `x`. A selection that read outside the input, routed
/// a bit to the wrong variable or fixed a wrong constant would differ.
#[test]
fn selection_that_differs_from_the_gathered_mle_impossible() {
    let mut rng = Rng(0xb175_e1ec_7100_0001);
    let (mut answered, mut with_const, mut with_offset, mut size_one, mut broadcast) =
        (0, 0, 0, 0, 0);
    for _ in 0..12000 {
        let in_rank = 1 + rng.below(4) as usize;
        let out_rank = 1 + rng.below(4) as usize;
        let in_shape: Vec<usize> = (0..in_rank).map(|_| 1 << rng.below(4)).collect();
        let out_shape: Vec<usize> = (0..out_rank).map(|_| 1 << rng.below(4)).collect();
        // Mostly transposes of distinct output axes, sometimes repeated axes.
        let mut perm: Vec<usize> = (0..out_rank).collect();
        for i in (1..out_rank).rev() {
            perm.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let axes: Vec<AxisMap> = (0..in_rank)
            .map(|k| {
                let out_axis = if rng.below(3) == 0 || k >= out_rank {
                    rng.below(out_rank as u64) as usize
                } else {
                    perm[k]
                };
                let step = match rng.below(10) {
                    0..=3 => 1,
                    4..=6 => 0,
                    7 => -1,
                    8 => 2,
                    _ => [i64::MIN, i64::MAX, 1 << 32, -(1 << 32)][rng.below(4) as usize],
                };
                let (d, od) = (in_shape[k] as i64, out_shape[out_axis] as i64);
                let offset = match rng.below(8) {
                    0 | 1 => 0,
                    2 | 3 => od * rng.below(4) as i64,
                    4 => rng.below(d as u64 + 1) as i64,
                    5 => -(rng.below(d as u64) as i64) - 1,
                    6 => d,
                    _ => [i64::MIN, i64::MAX, 1 << 32, -(1 << 32), d - od][rng.below(5) as usize],
                };
                ax(out_axis, step, offset)
            })
            .collect();
        let map = IndexMap {
            in_shape,
            out_shape,
            axes,
        };
        let (mut x, mut out) = (
            split(map.in_len(), &mut rng),
            split(map.out_len(), &mut rng),
        );
        // Sometimes layouts whose size is not the map's: never a selection.
        if rng.below(12) == 0 {
            x.0 *= 2;
            assert!(
                map.bit_selection(x, out).is_none(),
                "{map:?}: x of the wrong size"
            );
            continue;
        }
        if rng.below(12) == 0 {
            out.1 *= 2;
            assert!(
                map.bit_selection(x, out).is_none(),
                "{map:?}: out of the wrong size"
            );
            continue;
        }
        if selection_matches_gather(&map, x, out, &mut rng) {
            answered += 1;
            // Everything validated (bit_selection sees maps the description decoder checked;
            // this one passed without that check, so it must be valid on its own).
            map.validate(1 << 20)
                .unwrap_or_else(|e| panic!("{map:?} is a selection but invalid: {e}"));
            let steps = |s: i64| map.axes.iter().any(|a| a.step == s);
            with_const += usize::from(steps(0));
            with_offset += usize::from(map.axes.iter().any(|a| a.step == 1 && a.offset > 0));
            size_one += usize::from(map.out_shape.contains(&1) && map.out_shape.len() > 1);
            broadcast += usize::from((0..map.out_shape.len()).any(|d| {
                map.out_shape[d] > 1 && !map.axes.iter().any(|a| a.step == 1 && a.out_axis == d)
            }));
        }
    }
    assert!(answered > 500, "only {answered} maps were selections");
    for (what, n) in [
        ("fixed coordinates", with_const),
        ("step-1 offsets", with_offset),
        ("output axes of size 1", size_one),
        ("broadcast axes", broadcast),
    ] {
        assert!(n > 20, "only {n} selections with {what}");
    }
}

/// Maps at the edges of the conditions. The ones that read outside the input, read an axis
/// partly, read it backwards or with a stride, read one output axis twice (a diagonal) or lie
/// in a layout that is not the flat one are refused; the ones at the exact edges that are
/// selections (offset = dim − 1, the last block, an output axis of size 1 read at any offset,
/// a fixed coordinate on an output axis also read by a step-1 axis) agree with the map.
#[test]
fn edge_map_moved_to_a_wrong_point_impossible() {
    let mut rng = Rng(7);
    let m = |in_shape: &[usize], out_shape: &[usize], axes: Vec<AxisMap>| IndexMap {
        in_shape: in_shape.to_vec(),
        out_shape: out_shape.to_vec(),
        axes,
    };
    let refused: Vec<Case> = vec![
        (
            "fixed coordinate −1",
            m(&[4, 8], &[8], vec![ax(0, 0, -1), ax(0, 1, 0)]),
            (4, 8),
            (1, 8),
        ),
        (
            "fixed coordinate = dim",
            m(&[4, 8], &[8], vec![ax(0, 0, 4), ax(0, 1, 0)]),
            (4, 8),
            (1, 8),
        ),
        (
            "fixed coordinate i64::MAX",
            m(&[4, 8], &[8], vec![ax(0, 0, i64::MAX), ax(0, 1, 0)]),
            (4, 8),
            (1, 8),
        ),
        (
            "fixed coordinate i64::MIN",
            m(&[4, 8], &[8], vec![ax(0, 0, i64::MIN), ax(0, 1, 0)]),
            (4, 8),
            (1, 8),
        ),
        (
            "fixed coordinate 2^32 + 1 (low bits 1)",
            m(&[4, 8], &[8], vec![ax(0, 0, (1 << 32) + 1), ax(0, 1, 0)]),
            (4, 8),
            (1, 8),
        ),
        (
            "offset not a multiple of the output axis",
            m(&[8], &[4], vec![ax(0, 1, 2)]),
            (1, 8),
            (1, 4),
        ),
        (
            "offset 1 over an output axis of 2",
            m(&[8], &[2], vec![ax(0, 1, 1)]),
            (1, 8),
            (1, 2),
        ),
        (
            "last block past the end",
            m(&[8], &[4], vec![ax(0, 1, 8)]),
            (1, 8),
            (1, 4),
        ),
        (
            "negative block (a pad)",
            m(&[8], &[8], vec![ax(0, 1, -8)]),
            (1, 8),
            (1, 8),
        ),
        (
            "negative offset, multiple of the axis",
            m(&[8], &[4], vec![ax(0, 1, -4)]),
            (1, 8),
            (1, 4),
        ),
        (
            "output axis wider than the input axis (a pad)",
            m(&[4], &[8], vec![ax(0, 1, 0)]),
            (1, 4),
            (1, 8),
        ),
        (
            "offset 2^32 (a multiple of every axis)",
            m(&[8], &[4], vec![ax(0, 1, 1 << 32)]),
            (1, 8),
            (1, 4),
        ),
        (
            "offset i64::MIN",
            m(&[8], &[4], vec![ax(0, 1, i64::MIN)]),
            (1, 8),
            (1, 4),
        ),
        (
            "reversed axis",
            m(&[8], &[8], vec![ax(0, -1, 7)]),
            (1, 8),
            (1, 8),
        ),
        ("stride 2", m(&[8], &[4], vec![ax(0, 2, 0)]), (1, 8), (1, 4)),
        (
            "step i64::MIN",
            m(&[8], &[8], vec![ax(0, i64::MIN, 0)]),
            (1, 8),
            (1, 8),
        ),
        (
            "step 2^32 + 1",
            m(&[8], &[8], vec![ax(0, (1 << 32) + 1, 0)]),
            (1, 8),
            (1, 8),
        ),
        (
            "diagonal",
            m(&[4, 4], &[4], vec![ax(0, 1, 0), ax(0, 1, 0)]),
            (4, 4),
            (1, 4),
        ),
        (
            "shifted diagonal",
            m(&[8, 4], &[4], vec![ax(0, 1, 4), ax(0, 1, 0)]),
            (8, 4),
            (1, 4),
        ),
        (
            "diagonal of a transpose",
            m(&[4, 4], &[4, 4], vec![ax(1, 1, 0), ax(1, 1, 0)]),
            (4, 4),
            (4, 4),
        ),
        (
            "step-1 axis on a missing output axis",
            m(&[4], &[4], vec![ax(1, 1, 0)]),
            (1, 4),
            (1, 4),
        ),
        (
            "one axis map for two input axes",
            m(&[4, 4], &[16], vec![ax(0, 1, 0)]),
            (4, 4),
            (1, 16),
        ),
        (
            "non-power-of-two input axis",
            m(&[3, 4], &[12], vec![ax(0, 0, 0), ax(0, 1, 0)]),
            (3, 4),
            (1, 12),
        ),
        (
            "non-power-of-two layout of x",
            IndexMap::reshape(12),
            (3, 4),
            (1, 12),
        ),
        (
            "layout of x of another size",
            IndexMap::reshape(16),
            (4, 8),
            (2, 8),
        ),
        (
            "layout of out of another size",
            IndexMap::reshape(16),
            (4, 4),
            (4, 8),
        ),
        ("empty layout", IndexMap::reshape(16), (0, 16), (1, 16)),
    ];
    for (what, map, x, out) in &refused {
        assert!(
            map.bit_selection(*x, *out).is_none(),
            "{what}: taken as a selection"
        );
    }
    let accepted: Vec<Case> = vec![
        (
            "fixed coordinate dim − 1",
            m(&[4, 8], &[8], vec![ax(0, 0, 3), ax(0, 1, 0)]),
            (4, 8),
            (1, 8),
        ),
        (
            "fixed coordinate on an axis read by another",
            m(&[4, 8], &[8], vec![ax(0, 0, 2), ax(0, 1, 0)]),
            (4, 8),
            (8, 1),
        ),
        (
            "last block",
            m(&[8], &[4], vec![ax(0, 1, 4)]),
            (1, 8),
            (2, 2),
        ),
        (
            "size-1 output axis read at offset 5",
            m(&[8, 8], &[1, 8], vec![ax(0, 1, 5), ax(1, 1, 0)]),
            (8, 8),
            (1, 8),
        ),
        (
            "size-1 output axis read at offset 7 of 8",
            m(&[8, 2], &[2, 1], vec![ax(1, 1, 7), ax(0, 1, 0)]),
            (16, 1),
            (1, 2),
        ),
        (
            "size-1 input axes",
            m(
                &[1, 4, 1],
                &[4, 1, 1],
                vec![ax(2, 1, 0), ax(0, 1, 0), ax(1, 0, 0)],
            ),
            (1, 4),
            (4, 1),
        ),
        (
            "broadcast over an unread axis",
            m(&[4], &[2, 4], vec![ax(1, 1, 0)]),
            (1, 4),
            (2, 4),
        ),
        (
            "fixed coordinate naming a missing output axis",
            m(&[2, 4], &[4], vec![ax(5, 0, 1), ax(0, 1, 0)]),
            (2, 4),
            (1, 4),
        ),
        (
            "layout rows × cols unlike the shapes",
            IndexMap::transpose(&[2, 4, 8], &[1, 2, 0]),
            (16, 4),
            (2, 32),
        ),
        (
            "rank 8 transpose",
            IndexMap::transpose(&[2; 8], &[3, 7, 0, 5, 1, 6, 2, 4]),
            (16, 16),
            (256, 1),
        ),
        (
            "rank 8 broadcast",
            IndexMap::broadcast(&[1, 2, 1, 2, 1, 2, 1, 2], &[2; 8]).unwrap(),
            (4, 4),
            (16, 16),
        ),
        (
            "a single value",
            m(&[1], &[1], vec![ax(0, 1, 0)]),
            (1, 1),
            (1, 1),
        ),
        (
            "a single value broadcast",
            m(&[1], &[4, 4], vec![ax(0, 0, 0)]),
            (1, 1),
            (4, 4),
        ),
    ];
    for (what, map, x, out) in &accepted {
        assert!(
            selection_matches_gather(map, *x, *out, &mut rng),
            "{what}: not taken as a selection"
        );
    }
    // Half a pad (the first four outputs read zeros before the input): not moved, though its
    // second half reads one aligned block of the input.
    let pad_half = m(&[8], &[8], vec![ax(0, 1, -4)]);
    assert!(pad_half.bit_selection((1, 8), (1, 8)).is_none());
}

/// Rank 0 and rank 9 maps are refused where descriptions are decoded (`validate`), so the
/// selection's empty or oversized point never reaches a verifier reading a description; the
/// rank-0 map, if it did, would still be a correct selection (one value read as itself).
#[test]
fn rank_outside_one_to_eight_described_gather_rejected() {
    let rank0 = IndexMap {
        in_shape: vec![],
        out_shape: vec![],
        axes: vec![],
    };
    assert!(rank0.validate(1 << 20).is_err());
    assert_eq!(rank0.bit_selection((1, 1), (1, 1)), Some(vec![]));
    assert_eq!(rank0.apply(&[42i64]), vec![42]);
    let rank9 = IndexMap::transpose(&[2; 9], &[8, 7, 6, 5, 4, 3, 2, 1, 0]);
    assert!(rank9.validate(1 << 20).is_err());
    // A real circuit whose Gather map is replaced by these: the description is refused.
    let s = setup(
        gather_graph(&[16, 16], IndexMap::reshape(256), &[16, 16], Reader::Output),
        16,
        5,
    );
    let g = node_index(&s.q, "g");
    QGraph::from_description(&s.q.describe()).expect("the honest description decodes");
    for map in [rank0, rank9] {
        let mut q = s.q.clone();
        let QOp::Gather { map: m, .. } = &mut q.nodes[g].op else {
            unreachable!()
        };
        *m = map;
        let e = QGraph::from_description(&q.describe()).unwrap_err();
        assert!(e.to_string().contains("rank"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// End to end: witnesses that follow another map
// ---------------------------------------------------------------------------------------

/// A 2-D transpose `[8, 8] → [8, 8]`: the prover's witness copies `x` (the identity, which
/// swaps the routed variables back) or reads the transpose of only one half.
#[test]
fn transpose_witness_following_identity_rejected() {
    let map = IndexMap::transpose(&[8, 8], &[1, 0]);
    let half_swapped: Alt = Box::new(|x: &[i64]| {
        let t = IndexMap::transpose(&[8, 8], &[1, 0]).apply(x);
        t[..32].iter().chain(&x[32..]).copied().collect()
    });
    attack_gather(
        "transpose",
        &[8, 8],
        map,
        &[8, 8],
        &[by_map(IndexMap::reshape(64)), half_swapped],
    );
}

/// An N-D transpose `[2, 4, 8] → [8, 2, 4]` whose layouts `(8, 8)` and `(16, 4)` are not the
/// shapes' last axes: the witness follows the other rotation, or the reversal.
#[test]
fn nd_transpose_witness_following_another_permutation_rejected() {
    let map = IndexMap::transpose(&[2, 4, 8], &[2, 0, 1]);
    attack_gather(
        "transpose 3-D",
        &[2, 4, 8],
        map,
        &[8, 2, 4],
        &[
            by_map(IndexMap::transpose(&[2, 4, 8], &[1, 2, 0])),
            by_map(IndexMap::transpose(&[2, 4, 8], &[2, 1, 0])),
        ],
    );
}

/// A slice of the last rows `x[4..8, :]` (a step-1 axis at a nonzero offset: high bits
/// constant): the witness reads rows 0..4, rows 2..6 (an offset that is not a block), or rows
/// 6..10 (two rows, then zeros past the end).
#[test]
fn slice_witness_reading_another_block_rejected() {
    let slice = |off: i64| IndexMap::aligned(&[8, 8], &[4, 8], &[1, 1], &[off, 0]);
    attack_gather(
        "slice",
        &[8, 8],
        slice(4),
        &[4, 8],
        &[by_map(slice(0)), by_map(slice(2)), by_map(slice(6))],
    );
}

/// A fixed coordinate `x[1, :, :]` of `[2, 4, 8]` (a step-0 axis: constant bits) taken as a
/// `[4, 8]` matrix: the witness reads `x[0, :, :]`.
#[test]
fn fixed_coordinate_witness_reading_another_coordinate_rejected() {
    let pick = |i: i64| IndexMap {
        in_shape: vec![2, 4, 8],
        out_shape: vec![4, 8],
        axes: vec![ax(0, 0, i), ax(0, 1, 0), ax(1, 1, 0)],
    };
    attack_gather(
        "fixed coordinate",
        &[2, 4, 8],
        pick(1),
        &[4, 8],
        &[by_map(pick(0))],
    );
}

/// An output axis of size 1 read by a step-1 axis at offset 5 (`x[5:6, :]`, every bit of the
/// row constant): the witness reads row 4 (one bit off) or row 1.
#[test]
fn size_one_output_axis_witness_reading_another_row_rejected() {
    let row = |i: i64| IndexMap {
        in_shape: vec![8, 8],
        out_shape: vec![1, 8],
        axes: vec![ax(0, 1, i), ax(1, 1, 0)],
    };
    attack_gather(
        "size-1 output axis",
        &[8, 8],
        row(5),
        &[1, 8],
        &[by_map(row(4)), by_map(row(1)), by_map(row(7))],
    );
}

/// A fixed coordinate and a step-1 axis on the same output axis (`x[3, j]` for output `j`):
/// the witness reads the diagonal `x[j, j]` (the map with both axes step 1, not a selection)
/// or row 2.
#[test]
fn mixed_step_zero_and_one_on_one_axis_witness_reading_the_diagonal_rejected() {
    let row3 = IndexMap {
        in_shape: vec![8, 8],
        out_shape: vec![8],
        axes: vec![ax(0, 0, 3), ax(0, 1, 0)],
    };
    let diag = IndexMap {
        in_shape: vec![8, 8],
        out_shape: vec![8],
        axes: vec![ax(0, 1, 0), ax(0, 1, 0)],
    };
    assert!(diag.bit_selection((8, 8), (1, 8)).is_none());
    let row2 = IndexMap {
        axes: vec![ax(0, 0, 2), ax(0, 1, 0)],
        ..row3.clone()
    };
    attack_gather(
        "fixed and routed on one axis",
        &[8, 8],
        row3,
        &[8],
        &[by_map(diag), by_map(row2)],
    );
}

/// A broadcast of a row over an unread output axis `[8] → [4, 8]`, from `x[2, :]`: the
/// witness repeats another row in one copy (the unread bits must not be free).
#[test]
fn broadcast_witness_with_one_copy_changed_rejected() {
    let bc = IndexMap {
        in_shape: vec![8, 8],
        out_shape: vec![4, 8],
        axes: vec![ax(0, 0, 2), ax(1, 1, 0)],
    };
    let other_copy: Alt = Box::new(|x: &[i64]| {
        let mut v: Vec<i64> = (0..4).flat_map(|_| x[16..24].iter().copied()).collect();
        v[24..32].copy_from_slice(&x[8..16]);
        v
    });
    let other_row = IndexMap {
        axes: vec![ax(0, 0, 6), ax(1, 1, 0)],
        ..bc.clone()
    };
    attack_gather(
        "broadcast",
        &[8, 8],
        bc,
        &[4, 8],
        &[other_copy, by_map(other_row)],
    );
}

/// A reshape into other rows and columns (`(8, 8)` read as `[4, 16]`: the flat identity, the
/// padded layouts both flat): the witness follows a transpose of the `[4, 16]` view.
#[test]
fn reshape_witness_following_a_transposed_view_rejected() {
    let t: Alt = Box::new(|x: &[i64]| IndexMap::transpose(&[4, 16], &[1, 0]).apply(x));
    attack_gather("reshape", &[8, 8], IndexMap::reshape(64), &[4, 16], &[t]);
}

/// A rank-8 transpose of `2^8` values, from a `[16, 16]` tensor to a `[2; 8]` output laid out
/// as `(128, 2)`: the witness follows the permutation with two axes swapped.
#[test]
fn rank_eight_transpose_witness_with_two_axes_swapped_rejected() {
    let perm = [3, 7, 0, 5, 1, 6, 2, 4];
    let mut swapped = perm;
    swapped.swap(0, 7);
    // The tensor is [16, 16]; the map views it as [2; 8].
    let inner = |p: &[usize]| IndexMap::transpose(&[2; 8], p);
    attack_gather(
        "rank 8",
        &[16, 16],
        inner(&perm),
        &[2; 8],
        &[by_map(inner(&swapped))],
    );
}

// ---------------------------------------------------------------------------------------
// Public data and descriptions
// ---------------------------------------------------------------------------------------

/// `output = x[4..8, :]ᵀ` of the public input itself (both ends public: the verifier
/// evaluates both): an output that is another slice, or the right slice with one value
/// changed, is refused.
#[test]
fn public_gather_output_claimed_from_another_block_rejected() {
    let map = IndexMap {
        in_shape: vec![8, 8],
        out_shape: vec![8, 4],
        axes: vec![ax(1, 1, 4), ax(0, 1, 0)],
    };
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![8, 8],
        nodes: vec![node(
            "g",
            Op::Gather {
                x: 0,
                map: map.clone(),
            },
            vec![8, 4],
        )],
        output: 1,
        output_parts: Vec::new(),
    };
    let s = setup(g, 16, 9);
    assert!(takes_selection(&s.q, 0));
    let out = prove_ok(&s);
    assert!(verifies(&s, &out.proof));
    assert_eq!(out.proof.output, map.apply(&s.input));
    let other = IndexMap {
        axes: vec![ax(1, 1, 0), ax(0, 1, 0)],
        ..map.clone()
    };
    let mut bad = vec![other.apply(&s.input)];
    assert_ne!(bad[0], out.proof.output);
    for k in [0, 13, 31] {
        let mut v = out.proof.output.clone();
        v[k] += 1;
        bad.push(v);
    }
    for v in bad {
        let mut p = out.proof.clone();
        p.output = v;
        assert!(!verifies(&s, &p), "claimed output accepted");
    }
}

/// The circuit description tampered so that a Gather's map is another bit selection (another
/// block, another fixed coordinate), published by a cheating prover who proves a witness that
/// follows the original map: refused, by the model commitment when read against the honest
/// one, and by the proof itself when the tampered circuit is the statement.
#[test]
fn described_map_swapped_for_another_selection_rejected() {
    let pick = |i: i64| IndexMap {
        in_shape: vec![2, 4, 8],
        out_shape: vec![4, 8],
        axes: vec![ax(0, 0, i), ax(0, 1, 0), ax(1, 1, 0)],
    };
    let s = setup(
        gather_graph(&[2, 4, 8], pick(1), &[4, 8], Reader::Linear),
        16,
        5,
    );
    let g = node_index(&s.q, "g");
    let honest = prove_ok(&s).proof;
    by_commitment(&honest).expect("honest proof by commitment");
    // The statement whose Gather reads x[0] (with the weights, for proving; the decoded
    // description carries none).
    let mut q2 = s.q.clone();
    let QOp::Gather { map, .. } = &mut q2.nodes[g].op else {
        unreachable!()
    };
    *map = pick(0);
    assert!(takes_selection(&q2, g));
    QGraph::from_description(&q2.describe()).expect("tampered description decodes");
    // The honest proof re-headed for the tampered circuit.
    let mut p = honest.clone();
    p.circuit = q2.describe();
    p.protocol_id = zkgrad_verifier::protocol_id(&q2, &small_params(), &p.weight_root);
    assert!(
        by_commitment(&p).is_err(),
        "proof of x[1] accepted as one of x[0]"
    );
    // Against the honest commitment, the tampered description is refused outright.
    let c = model_commitment(&honest.circuit, &honest.weight_root);
    let p2 = p.clone();
    assert!(no_panic("commitment", move || verify_with_commitment(
        &p2,
        &c,
        &small_params()
    )
    .map(|_| ()))
    .is_err());
    // A prover of the tampered statement whose witness follows the original map (its output
    // and the Linear after it computed from x[1]).
    let w = lenient_forward(&s.q, &s.input, |_, _, _| {});
    assert_ne!(
        w.values[g + 1],
        zkgrad_model::forward(&q2, &s.input).unwrap().values[g + 1]
    );
    let p = zkgrad_prover::prove_witness(&q2, &s.model, w, &s.params).proof;
    assert!(
        by_commitment(&p).is_err(),
        "witness of x[1] accepted for x[0]"
    );
    // Control: an honest proof of the tampered statement verifies.
    let p = zkgrad_prover::prove(&q2, &s.model, &s.input, &s.params)
        .unwrap()
        .proof;
    by_commitment(&p).expect("honest proof of the tampered statement");
}

/// A description whose Gather output is committed (or public, other than the output) would
/// send the claims on it to the opening and never check the map: refused where descriptions
/// are decoded, whatever the map.
#[test]
fn committed_gather_output_described_rejected() {
    let s = setup(
        gather_graph(
            &[8, 8],
            IndexMap::transpose(&[8, 8], &[1, 0]),
            &[8, 8],
            Reader::Linear,
        ),
        16,
        5,
    );
    let g = node_index(&s.q, "g");
    assert_eq!(s.q.tensors[g + 1].kind, TensorKind::Virtual);
    QGraph::from_description(&s.q.describe()).expect("the honest description decodes");
    for kind in [TensorKind::Committed, TensorKind::Public, TensorKind::After] {
        let mut q = s.q.clone();
        q.tensors[g + 1].kind = kind;
        assert!(
            QGraph::from_description(&q.describe()).is_err(),
            "Gather output of kind {kind:?} accepted"
        );
    }
}

/// A claim of the wrong length reaching a selected Gather: a circuit built in code (not
/// decodable: the description decoder refuses its shapes) whose Broadcast reads an `(8, 1)`
/// Gather output as if it had 4 rows, so the claim it moves to the Gather has 2 variables
/// instead of 3. Padding the point with a 0 (what `selected_point` does past `r`) would make
/// the proof verify a statement about the first 4 values only; the verifier refuses the
/// point's length instead (an `Err`, not a panic).
#[test]
fn short_claim_point_on_a_selected_gather_rejected() {
    let tensor = |rows, cols, kind| QTensor {
        name: String::new(),
        rows,
        cols,
        frac: 4,
        kind,
        bits: 16,
    };
    let q = QGraph {
        config: zkgrad_circuit::QConfig {
            act_frac: 4,
            weight_frac: 8,
            table_bits: 16,
        },
        tensors: vec![
            tensor(8, 1, TensorKind::Public),
            tensor(8, 1, TensorKind::Virtual),
            tensor(4, 8, TensorKind::Public),
        ],
        nodes: vec![
            zkgrad_circuit::QNode {
                name: "g".into(),
                op: QOp::Gather {
                    x: 0,
                    map: IndexMap::reshape(8),
                },
            },
            zkgrad_circuit::QNode {
                name: "b".into(),
                op: QOp::Broadcast { x: 1 },
            },
        ],
        weights: Vec::new(),
        tables: Vec::new(),
        output: 2,
    };
    assert!(takes_selection(&q, 0));
    assert!(QGraph::from_description(&q.describe()).is_err());
    let input: Vec<i64> = (0..8).map(|i| 3 * i - 5).collect();
    let out: Vec<i64> = (0..4)
        .flat_map(|r| std::iter::repeat_n(input[r], 8))
        .collect();
    let w = zkgrad_model::Witness {
        values: vec![input.clone(), input.clone(), out],
        rems: vec![None, None],
        padding: Vec::new(),
    };
    let params = small_params();
    let model = zkgrad_prover::CommittedModel::new(&q, &params);
    let p = zkgrad_prover::prove_witness(&q, &model, w, &params).proof;
    let e = no_panic("short point", || {
        zkgrad_verifier::verify(&q, &p.weight_root, &p.input, &p.output, &p.body, &params)
    })
    .unwrap_err();
    assert_eq!(
        e,
        VerifyError::Node {
            node: "g".into(),
            why: "claim point of the wrong length"
        }
    );
}
