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
