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

/// A greedy decoding's forward passes, each computing only what the next token needs: the
/// KV cache of a causal language model, for any circuit.
///
/// Step `s` reads the logits row `live − 1` of a pass over `ids[..live]`. In a causal model
/// rows `< live` of every tensor depend on positions `< live` only, so each Gemm over the
/// positions (its output rows are the `T` positions) computes
/// - no row `≥ live` (they keep the last pass's values: the masked attention weighs them 0);
/// - no row whose input row equals the last pass's, where that pass computed it (a Gemm's
///   output row is a function of its input row): after the prompt, one row a step;
/// - and the LM head (`head`) its row `live − 1` only.
///
/// Other ops are computed whole (they are a fraction of a pass). The values are not a witness
/// to prove: only the logits row `live − 1` is meant (the proof's own forward pass is whole,
/// and its greedy check refuses a token that is not the argmax of the real pass).
pub struct Decoder<'g> {
    g: &'g QGraph,
    head: Option<usize>,
    /// The nodes evaluated: the model's, not what a circuit appends after its output (a
    /// greedy check reads tokens not decoded yet).
    nodes: usize,
    last: Option<Witness>,
    /// Per node, the rows of its output the last pass computed (empty: all, or not a Gemm).
    computed: Vec<Vec<bool>>,
}

impl<'g> Decoder<'g> {
    /// A decoder for `g`'s first `nodes` nodes (through its output), whose Gemm node `head`
    /// (if any) computes the logits' rows.
    pub fn new(g: &'g QGraph, nodes: usize, head: Option<usize>) -> Self {
        Self {
            g,
            head,
            nodes: nodes.max(g.output).min(g.nodes.len()),
            last: None,
            computed: Vec::new(),
        }
    }

    /// The pass over `ids` (all `T` positions; those from `live` on are not read), returning
    /// its output tensor, whose row `live − 1` is the real pass's.
    pub fn step(&mut self, ids: &[i64], live: usize) -> Result<&[i64], ForwardError> {
        let positions = self.g.input().len();
        let mut plan = RowPlan {
            head: self.head,
            head_row: live.saturating_sub(1),
            restrict: Some((positions, live)),
            last: self.last.as_ref(),
            last_computed: &self.computed,
            computed: vec![Vec::new(); self.g.nodes.len()],
            nodes: Some(self.nodes),
        };
        let w = forward_impl(self.g, ids, |_, _, _| {}, Some(&mut plan))?;
        self.computed = plan.computed;
        let out = self.g.output;
        Ok(&self.last.insert(w).values[out])
    }

    /// The whole pass over `ids` (every row of every node through the output), which the next
    /// [`Self::step`] does not reuse: its error, if any, is the model's on these ids.
    pub fn whole(&mut self, ids: &[i64]) -> Result<&[i64], ForwardError> {
        let mut plan = RowPlan {
            nodes: Some(self.nodes),
            ..RowPlan::default()
        };
        self.last = None;
        self.computed.clear();
        let w = forward_impl(self.g, ids, |_, _, _| {}, Some(&mut plan))?;
        Ok(&self.last.insert(w).values[self.g.output])
    }
}

/// Which rows of the Gemms a pass computes ([`Decoder`]).
#[derive(Default)]
struct RowPlan<'a> {
    /// The Gemm node computing only `head_row`.
    head: Option<usize>,
    head_row: usize,
    /// `(T, live)`: Gemms with `T` output rows compute rows `< live`, reusing the last pass's.
    restrict: Option<(usize, usize)>,
    last: Option<&'a Witness>,
    last_computed: &'a [Vec<bool>],
    /// Filled by the pass: per node, the rows it holds computed values of.
    computed: Vec<Vec<bool>>,
    /// How many nodes to evaluate (all if `None`).
    nodes: Option<usize>,
}

impl RowPlan<'_> {
    /// For the Gemm node `ni` (`rows` output rows of `inf` inputs, input `xv`, input tensor
    /// `x`): whether each row is computed now, and whether it holds its computed value after
    /// this pass (computed now, or the last pass's for the same input row).
    fn gemm_rows(
        &self,
        ni: usize,
        rows: usize,
        x: usize,
        inf: usize,
        xv: &[i64],
    ) -> (Vec<bool>, Vec<bool>) {
        let is_head = self.head == Some(ni);
        let Some((_, live)) = self.restrict.filter(|&(t, _)| t == rows) else {
            let compute: Vec<bool> = (0..rows).map(|r| !is_head || r == self.head_row).collect();
            return (compute.clone(), compute);
        };
        let done = self
            .last_computed
            .get(ni)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let last_x = self.last.and_then(|w| w.values.get(x));
        (0..rows)
            .map(|r| {
                let needed = if is_head {
                    r == self.head_row
                } else {
                    r < live
                };
                let reusable = done.get(r) == Some(&true)
                    && last_x.and_then(|l| l.get(r * inf..(r + 1) * inf))
                        == xv.get(r * inf..(r + 1) * inf);
                (needed && !reusable, needed || reusable)
            })
            .unzip()
    }
}

fn forward_impl(
    g: &QGraph,
    input: &[i64],
    mut hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
    mut plan: Option<&mut RowPlan>,
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
    let evaluated = plan.as_ref().and_then(|p| p.nodes).unwrap_or(g.nodes.len());
    for (ni, node) in g.nodes.iter().enumerate().take(evaluated) {
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
                // The rows computed: all, or those a `RowPlan` asks for; the others are the
                // last pass's (or zero).
                let (compute, holds) = match plan.as_deref() {
                    Some(p) => p.gemm_rows(ni, rows, *x, inf, xv),
                    None => (vec![true; rows], Vec::new()),
                };
                if let Some(c) = plan.as_deref_mut().and_then(|p| p.computed.get_mut(ni)) {
                    *c = holds;
                }
                let wanted = |r: usize| compute[r];
                let kept = plan
                    .as_deref()
                    .and_then(|p| p.last)
                    .and_then(|l| l.values.get(ni + 1))
                    .filter(|l| l.len() == rows * outf);
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
                    let mut y = kept.cloned().unwrap_or_else(|| vec![0i64; rows * outf]);
                    for (o, yo) in yt.chunks(rows.max(1)).enumerate() {
                        for (r, v) in yo.iter().enumerate().filter(|(r, _)| wanted(*r)) {
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
                    let mut y = kept.cloned().unwrap_or_else(|| vec![0i64; rows * outf]);
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
