//! Built-in models for benchmarks and tests, with weights from a fixed seed.

use crate::graph::{Graph, Node, Op};
use zkgrad_circuit::table::ActKind;

/// SplitMix64 numbers in (-1, 1): reproducible everywhere.
pub fn uniform(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// An MLP `dims[0] → dims[1] → … ` with `act` between layers (none after the last), weights
/// like PyTorch's default init: U(−1/√in, 1/√in).
pub fn mlp(dims: &[usize], act: ActKind, seed: u64) -> Graph {
    let mut nodes = Vec::new();
    let mut x = 0;
    for (k, w) in dims.windows(2).enumerate() {
        let (i, o) = (w[0], w[1]);
        let bound = 1.0 / (i as f64).sqrt();
        let s = seed.wrapping_mul(1000).wrapping_add(k as u64);
        nodes.push(Node {
            name: format!("fc{}", k + 1),
            op: Op::Linear {
                x,
                w: uniform(s, i * o).into_iter().map(|v| v * bound).collect(),
                bias: Some(uniform(s + 500, o).into_iter().map(|v| v * bound).collect()),
                in_features: i,
                out_features: o,
            },
            shape: vec![1, o],
        });
        x = nodes.len();
        if k + 2 < dims.len() {
            nodes.push(Node {
                name: format!("act{}", k + 1),
                op: Op::Act { x, kind: act },
                shape: vec![1, o],
            });
            x = nodes.len();
        }
    }
    Graph {
        input_name: "input".into(),
        input_shape: vec![1, dims[0]],
        nodes,
        output: x,
        output_parts: Vec::new(),
    }
}

/// Workload A: Linear(5,8) → ReLU → Linear(8,8) → Sigmoid → Linear(8,2).
pub fn seed_mlp(seed: u64) -> Graph {
    let mut g = mlp(&[5, 8, 8, 2], ActKind::Relu, seed);
    if let Some(n) = g.nodes.get_mut(3) {
        if let Op::Act { kind, .. } = &mut n.op {
            *kind = ActKind::Sigmoid;
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_parameter_counts() {
        assert_eq!(seed_mlp(0).n_params(), 138);
        assert_eq!(
            mlp(&[1024, 1024], ActKind::Relu, 1).n_params(),
            1024 * 1024 + 1024
        );
        let g = mlp(&[4, 3, 2], ActKind::Tanh, 2);
        assert_eq!(g.nodes.len(), 3);
        assert_eq!(g.shape(g.output), &[1, 2]);
    }
}
