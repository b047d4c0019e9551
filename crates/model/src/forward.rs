//! The integer forward pass: every tensor of a circuit and every remainder, from the public
//! input — the witness a proof is made of.

use zkgrad_circuit::{MatRhs, QGraph, QOp, TensorKind};

/// The integer values of every tensor, and the remainder of every requantization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    pub values: Vec<Vec<i64>>,
    pub rems: Vec<Option<Vec<i64>>>,
    /// Values in the padding of committed tables, as `(what, index in the padded layout,
    /// value)`. The forward pass leaves it empty (padding is zero); nothing in the protocol
    /// constrains padding, so the soundness tests model a prover who plants values there.
    pub padding: Vec<(zkgrad_circuit::layout::Operand, usize, i64)>,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ForwardError {
    #[error("input has {got} values, the model expects {expected}")]
    InputLength { expected: usize, got: usize },
    #[error(
        "node {node}: value {value} (≈ {approx:.4}) is outside the {bits}-bit range of its lookup \
         table; the input is outside the calibrated range (calibrate on inputs like it with \
         --calibration FILE, or lower --act-frac)"
    )]
    OutOfRange {
        node: String,
        value: i64,
        approx: f64,
        bits: u32,
    },
    #[error("node {node}: intermediate value overflows 62 bits")]
    Overflow { node: String },
    #[error("token id {value} at position {position} is outside the vocabulary of {vocab} tokens (node {node})")]
    TokenId {
        node: String,
        position: usize,
        value: i64,
        vocab: usize,
    },
}

/// The integer forward pass: every tensor and every remainder.
pub fn forward(g: &QGraph, input: &[i64]) -> Result<Witness, ForwardError> {
    forward_with(g, input, |_, _, _| {})
}

/// The forward pass with a hook that sees (and may change) each node's output and
/// remainder right after it is computed. Tests use it to build cheating provers.
pub fn forward_with(
    g: &QGraph,
    input: &[i64],
    hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
) -> Result<Witness, ForwardError> {
    forward_impl(g, input, hook, None)
}

/// The forward pass with the Gemm node `node` computing row `row` of its output only (its other
/// rows, and whatever reads them, are left zero and meaningless): a greedy decoding needs one
/// row of a language model's logits, and GPT-2 124M's LM head (768 × 50257) is nearly a third
/// of its forward pass's products (`zkgrad_workflow::generate`). Not a witness to prove.
pub fn forward_one_row(
    g: &QGraph,
    input: &[i64],
    node: usize,
    row: usize,
) -> Result<Witness, ForwardError> {
    forward_impl(g, input, |_, _, _| {}, Some((node, row)))
}

fn forward_impl(
    g: &QGraph,
    input: &[i64],
    mut hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
    one_row: Option<(usize, usize)>,
) -> Result<Witness, ForwardError> {
    let n_in = g.public_input_len();
    if input.len() != n_in {
        return Err(ForwardError::InputLength {
            expected: n_in,
            got: input.len(),
        });
    }
    let k = g.config.table_bits;
    if let Some(&v) = input.iter().find(|&&v| !g.public_in_range(v)) {
        return Err(ForwardError::OutOfRange {
            node: format!("input {}", g.tensors[0].name),
            value: v,
            approx: v as f64 / (1u64 << g.tensors[0].frac) as f64,
            bits: k,
        });
    }
    let half = 1i64 << (k - 1);
    let n0 = g.input().len();
    let mut values: Vec<Vec<i64>> = vec![input[..n0].to_vec()];
    let mut offset = n0;
    let mut rems = Vec::with_capacity(g.nodes.len());
    let limit = 1i64 << 62;
    for (ni, node) in g.nodes.iter().enumerate() {
        let out_t = &g.tensors[ni + 1];
        let mut rem = None;
        let out: Vec<i64> = match &node.op {
            QOp::Gemm {
                x,
                w,
                bias,
                bias_shift,
            } => {
                let (xv, wt) = (&values[*x], &g.weights[*w]);
                let (rows, inf, outf) = (out_t.rows, wt.cols, wt.rows);
                // The rows computed: all, or the one `forward_one_row` asks for.
                let wanted = |r: usize| match one_row {
                    Some((n, row)) if n == ni => r == row,
                    _ => true,
                };
                let bias_v = bias.map(|b| &g.weights[b].data);
                // The quantizer bounds every weight row's Σ|W| by 2^61 / 2^(K−1): with inputs
                // in range, the accumulators fit in i64 (computed in parallel); otherwise the
                // exact i128 path below names the overflow.
                let half = 1i64 << (g.config.table_bits - 1);
                if xv.iter().all(|v| (-half..half).contains(v)) {
                    use rayon::prelude::*;
                    // W is streamed once, each of its rows against every input row (the
                    // inputs stay in cache): yt[o][r] = W[o]·x[r].
                    let mut yt = vec![0i64; rows * outf];
                    yt.par_chunks_mut(rows.max(1))
                        .enumerate()
                        .for_each(|(o, yo)| {
                            let wr = &wt.data[o * inf..(o + 1) * inf];
                            let b = bias_v.map_or(0, |bv| bv[o] << bias_shift);
                            for (r, out) in yo.iter_mut().enumerate().filter(|(r, _)| wanted(*r)) {
                                let xr = &xv[r * inf..(r + 1) * inf];
                                let acc: i64 = xr.iter().zip(wr).map(|(a, b)| a * b).sum();
                                *out = acc + b;
                            }
                        });
                    let mut y = vec![0i64; rows * outf];
                    for (o, yo) in yt.chunks(rows.max(1)).enumerate() {
                        for (r, v) in yo.iter().enumerate() {
                            y[r * outf + o] = *v;
                        }
                    }
                    if y.iter().any(|v| v.unsigned_abs() >= limit as u64) {
                        return Err(ForwardError::Overflow {
                            node: node.name.clone(),
                        });
                    }
                    y
                } else {
                    let mut y = vec![0i64; rows * outf];
                    for r in (0..rows).filter(|&r| wanted(r)) {
                        let xr = &xv[r * inf..(r + 1) * inf];
                        for o in 0..outf {
                            let wr = &wt.data[o * inf..(o + 1) * inf];
                            let mut acc: i128 = xr
                                .iter()
                                .zip(wr)
                                .map(|(a, b)| (*a as i128) * (*b as i128))
                                .sum();
                            if let Some(b) = bias {
                                acc += (g.weights[*b].data[o] as i128) << bias_shift;
                            }
                            if acc.abs() >= limit as i128 {
                                return Err(ForwardError::Overflow {
                                    node: node.name.clone(),
                                });
                            }
                            y[r * outf + o] = acc as i64;
                        }
                    }
                    y
                }
            }
            QOp::Add { a, b } => values[*a]
                .iter()
                .zip(&values[*b])
                .map(|(x, y)| x + y)
                .collect(),
            QOp::Sub { a, b } => values[*a]
                .iter()
                .zip(&values[*b])
                .map(|(x, y)| x - y)
                .collect(),
            QOp::Mul { a, b } => {
                let mut out = Vec::with_capacity(values[*a].len());
                for (x, y) in values[*a].iter().zip(&values[*b]) {
                    let p = (*x as i128) * (*y as i128);
                    if p.abs() >= limit as i128 {
                        return Err(ForwardError::Overflow {
                            node: node.name.clone(),
                        });
                    }
                    out.push(p as i64);
                }
                out
            }
            QOp::Input { .. } => {
                let n = out_t.len();
                let v = input[offset..offset + n].to_vec();
                offset += n;
                v
            }
            QOp::MatMul { a, b } => {
                let at = &g.tensors[*a];
                let (m, k) = (at.rows, at.cols);
                let n = out_t.cols;
                let av = &values[*a];
                let bv: &[i64] = match b {
                    MatRhs::Tensor(t) => &values[*t],
                    MatRhs::Weight(w) => &g.weights[*w].data,
                };
                let mut out = vec![0i64; m * n];
                for i in 0..m {
                    for j in 0..n {
                        let acc: i128 = (0..k)
                            .map(|l| av[i * k + l] as i128 * bv[l * n + j] as i128)
                            .sum();
                        if acc.abs() >= limit as i128 {
                            return Err(ForwardError::Overflow {
                                node: node.name.clone(),
                            });
                        }
                        out[i * n + j] = acc as i64;
                    }
                }
                out
            }
            QOp::Transpose { x } => {
                let xt = &g.tensors[*x];
                let (r, c) = (xt.rows, xt.cols);
                let xv = &values[*x];
                (0..r * c).map(|q| xv[(q % r) * c + q / r]).collect()
            }
            QOp::RowSum { x } => {
                let xt = &g.tensors[*x];
                let (r, c) = (xt.rows, xt.cols);
                let xv = &values[*x];
                (0..c)
                    .map(|j| (0..r).map(|i| xv[i * c + j]).sum())
                    .collect()
            }
            QOp::Update { w, u, bits } => {
                let half = 1i64 << (bits - 1);
                let mut out = Vec::with_capacity(values[*u].len());
                for (wv, uv) in g.weights[*w].data.iter().zip(&values[*u]) {
                    let v = wv - uv;
                    if !(-half..half).contains(&v) {
                        return Err(ForwardError::OutOfRange {
                            node: node.name.clone(),
                            value: v,
                            approx: v as f64 / (1u64 << out_t.frac) as f64,
                            bits: *bits,
                        });
                    }
                    out.push(v);
                }
                out
            }
            QOp::LogSumExp { x } => {
                // Softmax's normalizer: the least ℓ whose exp values sum to at most 1
                // (crate::softmax), a function of the row.
                let xt = &g.tensors[*x];
                let (c, fa, fz) = (xt.cols, xt.frac, out_t.frac);
                if fz > fa
                    || fa + 2 * zkgrad_circuit::softmax::extra_bits(c)
                        > zkgrad_circuit::softmax::MAX_ROW_BITS
                {
                    return Err(ForwardError::Overflow {
                        node: node.name.clone(),
                    });
                }
                let v: Vec<i64> = values[*x]
                    .chunks(c.max(1))
                    .map(|row| zkgrad_circuit::softmax::normalizer(row, fa, fz, k))
                    .collect();
                let half = 1i64 << (out_t.bits - 1);
                if let Some(&bad) = v.iter().find(|&&x| !(-half..half).contains(&x)) {
                    return Err(ForwardError::OutOfRange {
                        node: node.name.clone(),
                        value: bad,
                        approx: bad as f64 / (1u64 << out_t.frac) as f64,
                        bits: out_t.bits,
                    });
                }
                v
            }
            QOp::Broadcast { x } => {
                let cols = out_t.cols;
                values[*x]
                    .iter()
                    .flat_map(|&v| std::iter::repeat_n(v, cols))
                    .collect()
            }
            QOp::AddConst { x, c } => values[*x].iter().map(|v| v + c).collect(),
            QOp::Const { data } => data.clone(),
            QOp::PickCol { x, ids, offset } => {
                let cols = g.tensors[*x].cols;
                let mut out = Vec::with_capacity(out_t.rows);
                for (r, row) in values[*x].chunks(cols.max(1)).enumerate() {
                    let id = values[*ids][offset + r];
                    let Some(&v) = usize::try_from(id).ok().and_then(|c| row.get(c)) else {
                        return Err(ForwardError::TokenId {
                            node: node.name.clone(),
                            position: offset + r,
                            value: id,
                            vocab: cols,
                        });
                    };
                    out.push(v);
                }
                out
            }
            QOp::ArgMax { x, .. } => {
                let cols = g.tensors[*x].cols;
                crate::generate::argmax_rows(&values[*x], cols)
                    .into_iter()
                    .map(|c| c as i64)
                    .collect()
            }
            QOp::PrefixMask { ids, offset } => {
                let cols = out_t.cols as i64;
                values[*ids][*offset..offset + out_t.rows]
                    .iter()
                    .flat_map(|&id| (0..cols).map(move |c| i64::from(c < id)))
                    .collect()
            }
            QOp::Embed { ids, w } => {
                let wt = &g.weights[*w];
                let mut out = Vec::with_capacity(out_t.len());
                for (position, &id) in values[*ids].iter().enumerate() {
                    if !(0..wt.rows as i64).contains(&id) {
                        return Err(ForwardError::TokenId {
                            node: node.name.clone(),
                            position,
                            value: id,
                            vocab: wt.rows,
                        });
                    }
                    let r = id as usize * wt.cols;
                    out.extend_from_slice(&wt.data[r..r + wt.cols]);
                }
                out
            }
            QOp::BatchMatMul { a, b, batch } => {
                let (at, bt) = (&g.tensors[*a], &g.tensors[*b]);
                // a is [batch·m, k], b is [batch·k, n] (k = b's rows per batch).
                let (m, k, n) = (at.rows / batch, bt.rows / batch, out_t.cols);
                let (av, bv) = (&values[*a], &values[*b]);
                let mut out = vec![0i64; at.rows * n];
                for h in 0..*batch {
                    for i in 0..m {
                        let arow = &av[(h * m + i) * k..(h * m + i + 1) * k];
                        for j in 0..n {
                            let acc: i128 = arow
                                .iter()
                                .enumerate()
                                .map(|(l, x)| *x as i128 * bv[(h * k + l) * n + j] as i128)
                                .sum();
                            if acc.abs() >= limit as i128 {
                                return Err(ForwardError::Overflow {
                                    node: node.name.clone(),
                                });
                            }
                            out[(h * m + i) * n + j] = acc as i64;
                        }
                    }
                }
                out
            }
            QOp::Gather { x, map } => map.apply(&values[*x]),
            QOp::Conv {
                x,
                w,
                bias,
                bias_shift,
                geom,
            } => {
                let mut out = geom.apply(&values[*x], &g.weights[*w].data);
                if let Some(b) = bias {
                    let pl = geom.p_len();
                    for (co, bv) in g.weights[*b].data.iter().enumerate() {
                        for v in &mut out[co * pl..(co + 1) * pl] {
                            *v += bv << bias_shift;
                        }
                    }
                }
                if out.iter().any(|v| v.unsigned_abs() >= limit as u64) {
                    return Err(ForwardError::Overflow {
                        node: node.name.clone(),
                    });
                }
                out
            }
            QOp::Scale { x, c } => {
                let mut out = Vec::with_capacity(values[*x].len());
                for v in &values[*x] {
                    let p = (*v as i128) * (*c as i128);
                    if p.abs() >= limit as i128 {
                        return Err(ForwardError::Overflow {
                            node: node.name.clone(),
                        });
                    }
                    out.push(p as i64);
                }
                out
            }
            QOp::Requant { x, shift } => {
                let xv = &values[*x];
                if *shift == 0 {
                    xv.clone()
                } else {
                    let h = 1i64 << (shift - 1);
                    let y: Vec<i64> = xv.iter().map(|v| (v + h) >> shift).collect();
                    rem = Some(
                        xv.iter()
                            .zip(&y)
                            .map(|(v, y)| v + h - (y << shift))
                            .collect(),
                    );
                    y
                }
            }
            QOp::Act { x, kind, .. } => {
                let fin = g.tensors[*x].frac;
                let mut out = Vec::with_capacity(values[*x].len());
                for &v in &values[*x] {
                    if v < -half || v >= half {
                        return Err(ForwardError::OutOfRange {
                            node: node.name.clone(),
                            value: v,
                            approx: v as f64 / (1u64 << fin) as f64,
                            bits: k,
                        });
                    }
                    out.push(kind.eval_q(v, fin, out_t.frac, g.config.table_bits));
                }
                out
            }
        };
        // Committed requantized values that no table reads get a signed range check.
        if matches!(node.op, QOp::Requant { .. })
            && out_t.kind == TensorKind::Committed
            && !g.read_by_act(ni + 1)
        {
            let half = 1i64 << (out_t.bits - 1);
            if let Some(&v) = out.iter().find(|&&v| v < -half || v >= half) {
                return Err(ForwardError::OutOfRange {
                    node: node.name.clone(),
                    value: v,
                    approx: v as f64 / (1u64 << out_t.frac) as f64,
                    bits: out_t.bits,
                });
            }
        }
        if ni + 1 == g.output {
            if let Some(&v) = out.iter().find(|&&v| !g.public_in_range(v)) {
                return Err(ForwardError::OutOfRange {
                    node: node.name.clone(),
                    value: v,
                    approx: v as f64 / (1u64 << out_t.frac) as f64,
                    bits: k,
                });
            }
        }
        let mut out = out;
        hook(ni, &mut out, &mut rem);
        values.push(out);
        rems.push(rem);
    }
    Ok(Witness {
        values,
        rems,
        padding: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, Node, Op};
    use crate::{calibrate, quantize, quantize_input};
    use zkgrad_circuit::table::ActKind;

    fn mlp() -> Graph {
        let lin = |x, i: usize, o: usize| Op::Linear {
            x,
            w: (0..i * o)
                .map(|k| ((k * 37 % 11) as f64 - 5.0) / 10.0)
                .collect(),
            bias: Some((0..o).map(|k| k as f64 / 10.0).collect()),
            in_features: i,
            out_features: o,
        };
        Graph {
            input_name: "x".into(),
            input_shape: vec![1, 3],
            nodes: vec![
                Node {
                    name: "a".into(),
                    op: lin(0, 3, 4),
                    shape: vec![1, 4],
                },
                Node {
                    name: "b".into(),
                    op: Op::Act {
                        x: 1,
                        kind: ActKind::Sigmoid,
                    },
                    shape: vec![1, 4],
                },
                Node {
                    name: "c".into(),
                    op: lin(2, 4, 2),
                    shape: vec![1, 2],
                },
            ],
            output: 3,
            output_parts: Vec::new(),
        }
    }

    #[test]
    fn description_round_trips_and_rejects_garbage() {
        let g = mlp();
        let cfg = calibrate(&g, &[vec![0.5, -0.5, 0.1]], 12);
        let q = quantize(&g, cfg).unwrap();
        let d = q.describe();
        let back = QGraph::from_description(&d).unwrap();
        assert_eq!(back.describe(), d);
        for n in 0..d.len() {
            assert!(QGraph::from_description(&d[..n]).is_err());
        }
        for i in 0..d.len() {
            let mut b = d.clone();
            b[i] ^= 0x80;
            // Must not panic; any accepted mutation must still be self-consistent.
            if let Ok(g2) = QGraph::from_description(&b) {
                let _ = g2.lookups();
                let _ = g2.witness_layout();
            }
        }
    }

    #[test]
    fn integer_forward_rounds_like_the_float_model() {
        let g = mlp();
        let x = vec![0.5, -0.5, 0.1];
        let cfg = calibrate(&g, std::slice::from_ref(&x), 16);
        let q = quantize(&g, cfg).unwrap();
        let xi: Vec<i64> = x
            .iter()
            .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
            .collect();
        let w = forward(&q, &xi).unwrap();
        let f = g.forward_f64(&x);
        let s = (1u64 << cfg.act_frac) as f64;
        for (a, b) in w.values[q.output].iter().zip(&f[g.output]) {
            assert!((*a as f64 / s - b).abs() < 4.0 / s, "{a} vs {b}");
        }
        assert!(matches!(
            forward(&q, &[1]),
            Err(ForwardError::InputLength { .. })
        ));
    }
}
