//! GELU written out by exporters, fused back into one activation, and the nodes no output
//! reads dropped.
//!
//! PyTorch's exporters decompose GELU: GPT-2's `gelu_new` into
//! `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (Mul, Pow, Mul, Add, Mul, Tanh, Add, Mul) and
//! BERT's exact GELU into `0.5·x·(1 + erf(x/√2))` (Div, Erf, Add, Mul, Mul). Proven as written,
//! each step is a requantization with its remainder's range checks on the widest activation of
//! the block (the MLP's hidden layer, four times the model width): for GPT-2 124M two thirds of
//! the witness. The same function is one lookup into a `GeluTanh` or `Gelu` table
//! (`zkgrad_circuit::table`), which is also closer to the float model (one rounding instead of
//! eight). The rewrite changes the circuit, not the statement's meaning: the fused node computes
//! the same real function of the same value, and the circuit is what the model commitment binds.

use std::collections::HashMap;

use zkgrad_circuit::table::ActKind;
use zkgrad_model::graph::{Graph, Node, Op};

use crate::node::Sources;

/// `√(2/π)`, GPT-2's constant inside the tanh.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic term's coefficient of the tanh approximation.
const CUBIC: f64 = 0.044_715;

/// Whether `c` is `want` as an exporter writes it (an `f32`, or `1/x` of one for a Div).
fn is(c: f64, want: f64) -> bool {
    (c - want).abs() <= 1e-6 * want.abs().max(1.0)
}

/// Fuses every decomposed GELU into one `Act` node; returns how many were fused. The nodes
/// the decomposition leaves unread are dropped by [`prune`].
pub(crate) fn fuse_gelu(graph: &mut Graph) -> usize {
    let mut fused = 0;
    for k in 0..graph.nodes.len() {
        if let Some((x, kind)) = gelu_at(graph, k) {
            if let Some(node) = graph.nodes.get_mut(k) {
                node.op = Op::Act { x, kind };
                fused += 1;
            }
        }
    }
    fused
}

/// The op of value `v` (a node's output; the graph input has none).
fn op(graph: &Graph, v: usize) -> Option<&Op> {
    graph.nodes.get(v.checked_sub(1)?).map(|n| &n.op)
}

/// `v` with the views that lead to it skipped: the value whose data `v` holds.
fn source(graph: &Graph, mut v: usize) -> usize {
    while let Some(Op::View { x }) = op(graph, v) {
        v = *x;
    }
    v
}

/// `Scale { x, c }` at `v` (through views) with `c` equal to `want`: its `x`.
fn scaled(graph: &Graph, v: usize, want: f64) -> Option<usize> {
    match op(graph, source(graph, v)) {
        Some(Op::Scale { x, c }) if is(*c, want) => Some(*x),
        _ => None,
    }
}

/// `1 + t` at `v` with `t = tanh(·)` or `erf(·)`: the activation's kind and input.
fn one_plus(graph: &Graph, v: usize) -> Option<(ActKind, usize)> {
    let Some(Op::AddConst { x, c }) = op(graph, source(graph, v)) else {
        return None;
    };
    if !is(*c, 1.0) {
        return None;
    }
    match op(graph, source(graph, *x)) {
        Some(Op::Act { x, kind }) if matches!(kind, ActKind::Tanh | ActKind::Erf) => {
            Some((*kind, *x))
        }
        _ => None,
    }
}

/// Whether the activation's input `e` is `x/√2` (erf) or `√(2/π)·(x + 0.044715·x³)` (tanh),
/// for `x` holding the data of `x_src`.
fn argument_of(graph: &Graph, kind: ActKind, e: usize, x_src: usize) -> bool {
    let same = |v: usize| source(graph, v) == x_src;
    match kind {
        ActKind::Erf => scaled(graph, e, std::f64::consts::FRAC_1_SQRT_2).is_some_and(same),
        ActKind::Tanh => {
            let Some(d) = scaled(graph, e, SQRT_2_OVER_PI) else {
                return false;
            };
            let Some(Op::Add { a, b }) = op(graph, source(graph, d)) else {
                return false;
            };
            let cube = |v: usize| {
                // x·x·x in either association, through the views Pow's import writes.
                let Some(Op::Mul { a, b }) = op(graph, source(graph, v)) else {
                    return false;
                };
                let square = |v: usize| matches!(op(graph, source(graph, v)), Some(Op::Mul { a, b }) if same(*a) && same(*b));
                (same(*a) && square(*b)) || (square(*a) && same(*b))
            };
            let cubic = |v: usize| scaled(graph, v, CUBIC).is_some_and(cube);
            (same(*a) && cubic(*b)) || (cubic(*a) && same(*b))
        }
        _ => false,
    }
}

/// Node `k` as a decomposed GELU of `x`: `(x, kind)`, `x` of node `k`'s shape.
fn gelu_at(graph: &Graph, k: usize) -> Option<(usize, ActKind)> {
    let node = graph.nodes.get(k)?;
    // The product `h · (1 + t)` with `h = 0.5·x`, or `x · (0.5·(1 + t))`; or `0.5·(x·(1 + t))`.
    let candidates: Vec<(usize, usize)> = match &node.op {
        Op::Mul { a, b } => {
            let mut c = Vec::new();
            for (h, g) in [(*a, *b), (*b, *a)] {
                if let Some(x) = scaled(graph, h, 0.5) {
                    c.push((x, g)); // (0.5·x)·(1 + t)
                }
                if let Some(g) = scaled(graph, g, 0.5) {
                    c.push((h, g)); // x·(0.5·(1 + t))
                }
            }
            c
        }
        Op::Scale { x: m, c } if is(*c, 0.5) => match op(graph, source(graph, *m)) {
            Some(Op::Mul { a, b }) => vec![(*a, *b), (*b, *a)],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    candidates.into_iter().find_map(|(x, g)| {
        let (kind, e) = one_plus(graph, g)?;
        let fused = match kind {
            ActKind::Tanh => ActKind::GeluTanh,
            _ => ActKind::Gelu,
        };
        (graph.shape(x) == node.shape.as_slice() && argument_of(graph, kind, e, source(graph, x)))
            .then_some((x, fused))
    })
}

/// Drops the nodes that neither the output nor a graph input needs, renumbering the rest (and
/// the Linear sources keyed by node); returns how many were dropped. Further graph inputs
/// (`Op::Input`) stay: they are part of the input the statement fixes.
pub(crate) fn prune(graph: &mut Graph, sources: &mut Sources) -> usize {
    let n = graph.nodes.len();
    let mut live = vec![false; n + 1];
    live[0] = true;
    let mut stack = vec![graph.output];
    for (k, node) in graph.nodes.iter().enumerate() {
        if matches!(node.op, Op::Input { .. }) {
            stack.push(k + 1);
        }
    }
    while let Some(v) = stack.pop() {
        let Some(seen) = live.get_mut(v) else {
            continue;
        };
        if std::mem::replace(seen, true) || v == 0 {
            continue;
        }
        if let Some(node) = graph.nodes.get_mut(v - 1) {
            stack.extend(node.op.inputs_mut().into_iter().map(|x| *x));
        }
    }
    let dropped = live.iter().filter(|l| !**l).count();
    if dropped == 0 {
        return 0;
    }
    // Old value → new value.
    let mut renumber = vec![0usize; n + 1];
    let mut next = 1;
    for v in 1..=n {
        if live[v] {
            renumber[v] = next;
            next += 1;
        }
    }
    let nodes = std::mem::take(&mut graph.nodes);
    graph.nodes = nodes
        .into_iter()
        .enumerate()
        .filter(|(k, _)| live[k + 1])
        .map(|(_, mut node): (usize, Node)| {
            for x in node.op.inputs_mut() {
                *x = renumber[*x];
            }
            node
        })
        .collect();
    graph.output = renumber[graph.output];
    let old: HashMap<_, _> = std::mem::take(sources);
    *sources = old
        .into_iter()
        .filter(|(k, _)| live.get(k + 1) == Some(&true))
        .map(|(k, s)| (renumber[k + 1] - 1, s))
        .collect();
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinearSource;

    fn node(op: Op, shape: &[usize]) -> Node {
        Node {
            name: String::new(),
            op,
            shape: shape.to_vec(),
        }
    }

    /// A graph of `nodes` on an input of `shape`, its output value `output`.
    fn graph(shape: &[usize], nodes: Vec<Node>, output: usize) -> Graph {
        Graph {
            input_name: "x".into(),
            input_shape: shape.to_vec(),
            nodes,
            output,
            output_parts: Vec::new(),
        }
    }

    /// `0.5·x·(1 + tanh(√(2/π)·(x + c·x³)))` of the input, as GPT-2's export writes it (the
    /// Pow's views included), with the tanh's output also read by `extra` when given.
    fn gelu_tanh_graph(c: f64, tanh_read_elsewhere: bool) -> Graph {
        let s = [2, 3];
        let mut nodes = vec![
            node(Op::Scale { x: 0, c: 0.5 }, &s), // 1
            node(Op::Mul { a: 0, b: 0 }, &s),     // 2
            node(Op::Mul { a: 2, b: 0 }, &s),     // 3
            node(Op::View { x: 3 }, &s),          // 4
            node(Op::Scale { x: 4, c }, &s),      // 5
            node(Op::Add { a: 0, b: 5 }, &s),     // 6
            node(
                Op::Scale {
                    x: 6,
                    c: 0.797_884_6,
                },
                &s,
            ), // 7
            node(
                Op::Act {
                    x: 7,
                    kind: ActKind::Tanh,
                },
                &s,
            ), // 8
            node(Op::AddConst { x: 8, c: 1.0 }, &s), // 9
            node(Op::Mul { a: 1, b: 9 }, &s),     // 10
        ];
        let mut output = 10;
        if tanh_read_elsewhere {
            nodes.push(node(Op::Add { a: 10, b: 8 }, &s)); // 11
            output = 11;
        }
        graph(&s, nodes, output)
    }

    #[test]
    fn decomposed_gelu_tanh_fuses_into_one_table_of_the_same_function() {
        let g0 = gelu_tanh_graph(CUBIC, false);
        let mut g = g0.clone();
        assert_eq!(fuse_gelu(&mut g), 1);
        assert_eq!(
            prune(&mut g, &mut Sources::new()),
            9,
            "the decomposition is dropped"
        );
        assert!(matches!(
            g.nodes[..],
            [Node {
                op: Op::Act {
                    x: 0,
                    kind: ActKind::GeluTanh
                },
                ..
            }]
        ));
        let x = [-3.0, -0.7, 0.0, 0.2, 1.5, 4.0];
        let (want, got) = (&g0.forward_f64(&x)[g0.output], &g.forward_f64(&x)[g.output]);
        for (a, b) in want.iter().zip(got) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn a_read_intermediate_stays_and_a_different_constant_is_not_fused() {
        let mut g = gelu_tanh_graph(CUBIC, true);
        assert_eq!(fuse_gelu(&mut g), 1);
        prune(&mut g, &mut Sources::new());
        assert!(
            g.nodes.iter().any(|n| matches!(
                n.op,
                Op::Act {
                    kind: ActKind::Tanh,
                    ..
                }
            )),
            "the tanh read by another node is still computed"
        );
        let mut g = gelu_tanh_graph(0.04, false);
        assert_eq!(fuse_gelu(&mut g), 0, "0.04·x³ is not GELU's cubic term");
        assert_eq!(prune(&mut g, &mut Sources::new()), 0);
    }

    #[test]
    fn decomposed_erf_gelu_fuses_in_each_association() {
        let s = [1, 4];
        let erf = |first: Vec<Node>, last: Op| {
            let mut nodes = vec![
                node(
                    Op::Scale {
                        x: 0,
                        c: std::f64::consts::FRAC_1_SQRT_2,
                    },
                    &s,
                ), // 1
                node(
                    Op::Act {
                        x: 1,
                        kind: ActKind::Erf,
                    },
                    &s,
                ), // 2
                node(Op::AddConst { x: 2, c: 1.0 }, &s), // 3
            ];
            nodes.extend(first);
            nodes.push(node(last, &s));
            let output = nodes.len();
            graph(&s, nodes, output)
        };
        for g0 in [
            // x·0.5 then ·(1 + erf): BERT's export.
            erf(
                vec![node(Op::Scale { x: 0, c: 0.5 }, &s)],
                Op::Mul { a: 4, b: 3 },
            ),
            // 0.5·(x·(1 + erf)).
            erf(
                vec![node(Op::Mul { a: 0, b: 3 }, &s)],
                Op::Scale { x: 4, c: 0.5 },
            ),
            // x·(0.5·(1 + erf)).
            erf(
                vec![node(Op::Scale { x: 3, c: 0.5 }, &s)],
                Op::Mul { a: 0, b: 4 },
            ),
        ] {
            let mut g = g0.clone();
            assert_eq!(fuse_gelu(&mut g), 1);
            prune(&mut g, &mut Sources::new());
            assert_eq!(g.nodes.len(), 1);
            let x = [-2.0, -0.3, 0.6, 3.0];
            let (want, got) = (&g0.forward_f64(&x)[g0.output], &g.forward_f64(&x)[g.output]);
            for (a, b) in want.iter().zip(got) {
                assert!((a - b).abs() < 1e-9, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn pruning_keeps_further_inputs_and_renumbers_linear_sources() {
        let linear = |x| Op::Linear {
            x,
            w: vec![1.0, 2.0, 3.0, 4.0],
            bias: None,
            in_features: 2,
            out_features: 2,
        };
        let s = [1, 2];
        let nodes = vec![
            node(linear(0), &s),                  // 1
            node(Op::Scale { x: 1, c: 3.0 }, &s), // 2: read by nothing
            node(Op::Input { index: 1 }, &s),     // 3: read by nothing, kept
            node(linear(1), &s),                  // 4
        ];
        let mut g = graph(&s, nodes, 4);
        let source = |w: &str| LinearSource {
            weight: w.into(),
            trans_b: true,
            alpha: 1.0,
            bias: None,
        };
        let mut sources: Sources = [(0, source("w0")), (3, source("w1"))].into();
        assert_eq!(prune(&mut g, &mut sources), 1);
        assert_eq!(g.nodes.len(), 3);
        assert!(matches!(g.nodes[1].op, Op::Input { index: 1 }));
        assert!(matches!(g.nodes[2].op, Op::Linear { x: 1, .. }));
        assert_eq!(g.output, 3);
        assert_eq!(sources[&0].weight, "w0");
        assert_eq!(sources[&2].weight, "w1");
        assert_eq!(sources.len(), 2);
    }
}
