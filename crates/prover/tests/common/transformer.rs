//! Small transformer graphs shared by the transformer op tests and their attacks.

use super::{rnd, setup, Setup};
use zkgrad_model::graph::{Graph, Node, Op};

pub fn node(name: &str, op: Op, shape: Vec<usize>) -> Node {
    Node {
        name: name.into(),
        op,
        shape,
    }
}

/// `a` `[B·M, K]` times `b` `[B·K, N]` in `B` batches, then tanh.
pub fn batched(b: usize, m: usize, k: usize, n: usize) -> Graph {
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

/// Token ids (a public input of `t` integers) → embedding `[vocab, dim]` → tanh, and, when
/// `tied`, an LM head reading the same table (`logits = h·Eᵀ`).
pub fn embedding(t: usize, vocab: usize, dim: usize, tied: bool) -> Graph {
    let table: Vec<f64> = rnd(11, vocab * dim).iter().map(|v| v * 0.5).collect();
    let mut nodes = vec![
        node(
            "embed",
            Op::Embed {
                ids: 0,
                table: table.clone(),
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
    ];
    if tied {
        nodes.push(node(
            "lm_head",
            Op::Linear {
                x: 2,
                w: table,
                bias: None,
                in_features: dim,
                out_features: vocab,
            },
            vec![t, vocab],
        ));
    }
    Graph {
        input_name: "ids".into(),
        input_shape: vec![1, t],
        output: nodes.len(),
        nodes,
        output_parts: Vec::new(),
    }
}

/// A setup whose public input is the token ids `ids`.
pub fn setup_ids(graph: Graph, ids: &[i64]) -> Setup {
    let mut s = setup(graph, 16, 3);
    s.input = ids.to_vec();
    s.input_f = ids.iter().map(|&v| v as f64).collect();
    s
}

/// A one-head causal attention language model over `t` positions: ids → embedding `h` →
/// `softmax(h·hᵀ + mask)·h + h` → tied LM head.
pub fn attention_lm(t: usize, vocab: usize, dim: usize) -> Graph {
    let table: Vec<f64> = rnd(21, vocab * dim).iter().map(|v| v * 0.8).collect();
    let mask: Vec<f64> = (0..t * t)
        .map(|i| if i % t > i / t { -3.4e38 } else { 0.0 })
        .collect();
    let nodes = vec![
        node(
            "embed",
            Op::Embed {
                ids: 0,
                table: table.clone(),
                vocab,
                dim,
            },
            vec![t, dim],
        ), // 1
        node("ht", Op::Transpose { x: 1 }, vec![dim, t]), // 2
        node("scores", Op::MatMul { a: 1, b: 2 }, vec![t, t]), // 3
        node("mask", Op::Const { data: mask }, vec![t, t]), // 4
        node("masked", Op::Add { a: 3, b: 4 }, vec![t, t]), // 5
        node("probs", Op::Softmax { x: 5 }, vec![t, t]),  // 6
        node("ctx", Op::MatMul { a: 6, b: 1 }, vec![t, dim]), // 7
        node("res", Op::Add { a: 7, b: 1 }, vec![t, dim]), // 8
        node(
            "lm_head",
            Op::Linear {
                x: 8,
                w: table,
                bias: None,
                in_features: dim,
                out_features: vocab,
            },
            vec![t, vocab],
        ), // 9
    ];
    Graph {
        input_name: "ids".into(),
        input_shape: vec![1, t],
        output: nodes.len(),
        nodes,
        output_parts: Vec::new(),
    }
}

/// [`attention_lm`] over 8 positions (vocabulary 16) with the greedy-choice check of 4 tokens
/// after a prompt of 3, decoded on the circuit's own logits; the setup's input is the ids.
pub fn greedy_attention_setup() -> (Setup, Vec<i64>) {
    greedy_decoded(
        attention_lm(8, 16, 4),
        vec![5, 9, 2, 0, 0, 0, 0, 0],
        3,
        4,
        16,
    )
}

/// `graph` (a language model over `ids.len()` positions, logits over `vocab`) with `n` tokens
/// after the first `first` of `ids` decoded greedily on the circuit's own logits, and the
/// greedy-choice check of them; the setup's input is the decoded ids.
pub fn greedy_decoded(
    graph: Graph,
    mut ids: Vec<i64>,
    first: usize,
    n: usize,
    vocab: usize,
) -> (Setup, Vec<i64>) {
    let mut s = setup_ids(graph, &vec![0; ids.len()]);
    for p in first..first + n {
        let w = zkgrad_model::forward(&s.q, &ids).unwrap();
        ids[p] = zkgrad_model::generate::argmax_rows(&w.values[s.q.output], vocab)[p - 1] as i64;
    }
    let logits = s.q.output;
    zkgrad_model::generate::check_greedy(&mut s.q, logits, 0, first, n).unwrap();
    s.model = zkgrad_prover::CommittedModel::new(&s.q, &s.params);
    s.input = ids.clone();
    (s, ids)
}

/// `x` `[rows, 4]` → Linear(4, 3) (seeded by `seed`) → ArgMax placed at `at`.
pub fn classifier(rows: usize, seed: u64, at: Option<usize>) -> Graph {
    let w: Vec<f64> = rnd(seed, 12).iter().map(|v| v * 0.7).collect();
    Graph {
        input_name: "x".into(),
        input_shape: vec![rows, 4],
        nodes: vec![
            node(
                "fc",
                Op::Linear {
                    x: 0,
                    w,
                    bias: Some(vec![0.1, 0.3, -0.2]),
                    in_features: 4,
                    out_features: 3,
                },
                vec![rows, 3],
            ),
            node("label", Op::ArgMax { x: 1, at }, vec![rows, 1]),
        ],
        output: 2,
        output_parts: Vec::new(),
    }
}

/// The label and the logits concatenated into `[1, 4·rows]` as the importer assembles them;
/// with `label_last`, the logits come first and the label sits at `3·rows`.
pub fn label_and_logits(rows: usize, label_last: bool) -> Graph {
    let total = rows + 3 * rows;
    let (label_at, logits_at) = if label_last { (3 * rows, 0) } else { (0, rows) };
    let mut g = classifier(rows, 31, Some(label_at));
    let place = |x: usize, len: usize, off: usize| Op::Gather {
        x,
        map: zkgrad_circuit::index_map::IndexMap::aligned(&[len], &[total], &[1], &[-(off as i64)]),
    };
    g.nodes.push(node(
        "outputs/label",
        place(2, rows, label_at),
        vec![1, total],
    ));
    g.nodes.push(node(
        "outputs/logits",
        place(1, 3 * rows, logits_at),
        vec![1, total],
    ));
    let (a, b) = if label_last { (4, 3) } else { (3, 4) };
    g.nodes
        .push(node("outputs/sum", Op::Add { a, b }, vec![1, total]));
    g.output = 5;
    g
}
