//! The float graph: what the ONNX importer produces and the f64 reference forward pass runs.
//!
//! Values are numbered: value 0 is the graph's first input, value `i + 1` is the output of node
//! `i`; further graph inputs are `Input` nodes. The public input of a run is every graph input's
//! values, concatenated in that order (value 0 first, then the `Input` nodes in node order).
//! Nodes are in topological order. Every shape is kept in full; the quantized graph views each
//! tensor as a matrix `[rows, cols]` (`matrix_dims`: `cols` the last dimension, or `H·W` for NCHW).

use zkgrad_circuit::conv::ConvGeom;
use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::table::ActKind;

/// One float op. Weights live inline (they are the model's initializers).
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `y[r, o] = Σ_i x[r, i] · w[o, i] + bias[o]`, `w` row-major `out_features × in_features`.
    Linear {
        x: usize,
        w: Vec<f64>,
        bias: Option<Vec<f64>>,
        in_features: usize,
        out_features: usize,
    },
    /// A 2-D convolution (batch 1, NCHW): `w` is dense `c_out × (c_in·kh·kw)` (zero outside a
    /// group's block), see [`ConvGeom`].
    Conv {
        x: usize,
        w: Vec<f64>,
        bias: Option<Vec<f64>>,
        geom: ConvGeom,
    },
    /// Element-wise sum of two values of the same shape.
    Add { a: usize, b: usize },
    /// Element-wise difference of two values of the same shape.
    Sub { a: usize, b: usize },
    /// Element-wise maximum of two values of the same shape (`a + relu(b − a)`).
    Max { a: usize, b: usize },
    /// Element-wise product of two values of the same shape.
    Mul { a: usize, b: usize },
    /// Multiplication by a scalar constant (ONNX `Mul`/`Div` by a constant).
    Scale { x: usize, c: f64 },
    /// Addition of a scalar constant (ONNX `Add`/`Sub` of a scalar that is not a layer's bias).
    AddConst { x: usize, c: f64 },
    /// A scalar non-linearity.
    Act { x: usize, kind: ActKind },
    /// A change of shape that keeps the row-major data (Reshape, Flatten, Identity).
    View { x: usize },
    /// A further graph input (`index` ≥ 1), with the node's shape.
    Input { index: usize },
    /// `out[m, n] = Σ_k a[m, k]·b[k, n]` for two computed matrices.
    MatMul { a: usize, b: usize },
    /// The transpose of a matrix.
    Transpose { x: usize },
    /// Softmax over the last axis (each row of the matrix view).
    Softmax { x: usize },
    /// `out[0, c] = Σ_r x[r, c]`.
    RowSum { x: usize },
    /// `out[j] = x[π(j)]` (0 where `π(j)` is undefined): Slice, Pad, Concat's parts, N-D
    /// Transpose, broadcasting, reshapes that move the last dimension.
    Gather { x: usize, map: IndexMap },
    /// `out[t, :] = table[ids[t], :]`: an embedding lookup by token ids, `ids` a graph input of
    /// integers; `table` row-major `vocab × dim`.
    Embed {
        ids: usize,
        table: Vec<f64>,
        vocab: usize,
        dim: usize,
    },
    /// A constant tensor of the node's shape (row-major).
    Const { data: Vec<f64> },
    /// `batch` stacked products `[M, K]·[K, N]`: `a` is `[batch·M, K]`, `b` `[batch·K, N]`.
    BatchMatMul { a: usize, b: usize, batch: usize },
    /// The first maximal column of each row (a proven argmax): the model's output, or — beside
    /// other outputs — the part of their concatenation that starts at `at` (set by the
    /// importer's output assembly; `None` elsewhere, which the quantizer refuses).
    ArgMax { x: usize, at: Option<usize> },
}

impl Op {
    /// The op's name, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Linear { .. } => "Linear",
            Op::Conv { .. } => "Conv",
            Op::Add { .. } => "Add",
            Op::Sub { .. } => "Sub",
            Op::Max { .. } => "Max",
            Op::Mul { .. } => "Mul",
            Op::Scale { .. } => "Scale",
            Op::AddConst { .. } => "AddConst",
            Op::Act { kind, .. } => kind.name(),
            Op::View { .. } => "View",
            Op::Input { .. } => "Input",
            Op::MatMul { .. } => "MatMul",
            Op::Transpose { .. } => "Transpose",
            Op::Softmax { .. } => "Softmax",
            Op::RowSum { .. } => "RowSum",
            Op::Gather { .. } => "Gather",
            Op::Embed { .. } => "Embed",
            Op::Const { .. } => "Const",
            Op::BatchMatMul { .. } => "BatchMatMul",
            Op::ArgMax { .. } => "ArgMax",
        }
    }

    pub fn inputs(&self) -> Vec<usize> {
        let mut op = self.clone();
        op.inputs_mut().into_iter().map(|v| *v).collect()
    }

    /// The values this op reads, to rewrite them.
    pub fn inputs_mut(&mut self) -> Vec<&mut usize> {
        match self {
            Op::Linear { x, .. }
            | Op::Conv { x, .. }
            | Op::Scale { x, .. }
            | Op::AddConst { x, .. }
            | Op::Act { x, .. }
            | Op::View { x }
            | Op::Transpose { x }
            | Op::Softmax { x }
            | Op::RowSum { x }
            | Op::Gather { x, .. }
            | Op::ArgMax { x, .. } => vec![x],
            Op::Embed { ids, .. } => vec![ids],
            Op::BatchMatMul { a, b, .. } => vec![a, b],
            Op::Const { .. } => vec![],
            Op::Add { a, b }
            | Op::Sub { a, b }
            | Op::Mul { a, b }
            | Op::Max { a, b }
            | Op::MatMul { a, b } => vec![a, b],
            Op::Input { .. } => vec![],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub shape: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub input_name: String,
    pub input_shape: Vec<usize>,
    pub nodes: Vec<Node>,
    /// The value that is the graph's output.
    pub output: usize,
    /// A graph with several outputs proves their concatenation (each flattened, in order) as
    /// one output; this names the parts and their shapes (empty for a single output).
    pub output_parts: Vec<(String, Vec<usize>)>,
}

impl Graph {
    /// Frees the weights (Linear and Conv weights and biases, embedding tables, constants), for
    /// a caller done with the float model that keeps its shapes and outputs: its forward pass
    /// is meaningless after this. `generate` reports no float error, and GPT-2 124M's float
    /// weights are 1 GB that its proof's allocations then reuse instead of fresh pages.
    pub fn drop_weights(&mut self) {
        for node in &mut self.nodes {
            match &mut node.op {
                Op::Linear { w, bias, .. } | Op::Conv { w, bias, .. } => {
                    *w = Vec::new();
                    *bias = None;
                }
                Op::Embed { table, .. } => *table = Vec::new(),
                Op::Const { data } => *data = Vec::new(),
                _ => {}
            }
        }
    }
}

/// The matrix view of a shape: `cols` is the last dimension, `rows` the product of the rest —
/// except for a 4-D (NCHW) shape, viewed as `[N·C, H·W]` (a channel's image is one row, as a
/// convolution's output is laid out).
pub fn matrix_dims(shape: &[usize]) -> (usize, usize) {
    if let [n, c, h, w] = shape {
        return ((n * c).max(1), (h * w).max(1));
    }
    match shape.split_last() {
        None => (1, 1),
        Some((&c, rest)) => (rest.iter().product::<usize>().max(1), c.max(1)),
    }
}

/// `Σ a_i·b_i` in eight interleaved partial sums (vectorizable; the float forward pass's inner
/// loop).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f64>() + tail
}

impl Graph {
    pub fn shape(&self, value: usize) -> &[usize] {
        if value == 0 {
            &self.input_shape
        } else {
            self.nodes.get(value - 1).map_or(&[][..], |n| &n.shape[..])
        }
    }
    /// Values in the public input: every graph input, concatenated.
    pub fn n_inputs(&self) -> usize {
        self.input_shape.iter().product::<usize>()
            + self
                .nodes
                .iter()
                .filter(|n| matches!(n.op, Op::Input { .. }))
                .map(|n| n.shape.iter().product::<usize>())
                .sum::<usize>()
    }
    pub fn n_params(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Linear { w, bias, .. } => w.len() + bias.as_ref().map_or(0, |b| b.len()),
                Op::Embed { table, .. } => table.len(),
                Op::Conv { w, bias, .. } => w.len() + bias.as_ref().map_or(0, |b| b.len()),
                _ => 0,
            })
            .sum()
    }

    /// The f64 reference forward pass; returns every value (index as above).
    pub fn forward_f64(&self, input: &[f64]) -> Vec<Vec<f64>> {
        let n0: usize = self.input_shape.iter().product();
        let mut vals: Vec<Vec<f64>> = vec![input.get(..n0).unwrap_or(input).to_vec()];
        let mut offset = n0;
        for node in &self.nodes {
            let get = |i: usize| vals.get(i).cloned().unwrap_or_default();
            let out = match &node.op {
                Op::Linear {
                    x,
                    w,
                    bias,
                    in_features,
                    out_features,
                } => {
                    let xv = get(*x);
                    let (inf, outf) = ((*in_features).max(1), *out_features);
                    let rows = xv.len() / inf;
                    // Weight row outside, input rows inside: each weight is read once per pass
                    // (GPT-2's 50,257 × 768 LM head: 309 MB once, not once per token), and the
                    // few input rows stay in cache; the weight rows in parallel.
                    use rayon::prelude::*;
                    let yt: Vec<f64> = w
                        .par_chunks_exact(inf)
                        .take(outf)
                        .enumerate()
                        .flat_map_iter(|(o, wrow)| {
                            let b = bias.as_ref().and_then(|b| b.get(o)).copied().unwrap_or(0.0);
                            xv.chunks_exact(inf).map(move |xr| b + dot(xr, wrow))
                        })
                        .collect();
                    let mut y = vec![0.0; rows * outf];
                    for (o, yo) in yt.chunks_exact(rows.max(1)).enumerate() {
                        for (r, v) in yo.iter().enumerate() {
                            if let Some(out) = y.get_mut(r * outf + o) {
                                *out = *v;
                            }
                        }
                    }
                    y
                }
                Op::Conv { x, w, bias, geom } => {
                    let mut y = geom.apply(&get(*x), w);
                    if let Some(b) = bias {
                        for (co, row) in y.chunks_mut(geom.p_len().max(1)).enumerate() {
                            let bv = b.get(co).copied().unwrap_or(0.0);
                            row.iter_mut().for_each(|v| *v += bv);
                        }
                    }
                    y
                }
                Op::Add { a, b } => get(*a).iter().zip(get(*b)).map(|(x, y)| x + y).collect(),
                Op::Sub { a, b } => get(*a).iter().zip(get(*b)).map(|(x, y)| x - y).collect(),
                // A 0/1 mask times a "−∞" mask value (Where(mask, −∞, scores)) is 0 where the
                // mask is off, as in the circuit, where the sentinel is a finite number.
                Op::Mul { a, b } => get(*a)
                    .iter()
                    .zip(get(*b))
                    .map(|(&x, y)| if x == 0.0 || y == 0.0 { 0.0 } else { x * y })
                    .collect(),
                Op::Max { a, b } => get(*a).iter().zip(get(*b)).map(|(x, y)| x.max(y)).collect(),
                Op::Scale { x, c } => get(*x).iter().map(|v| v * c).collect(),
                Op::AddConst { x, c } => get(*x).iter().map(|v| v + c).collect(),
                Op::Act { x, kind } => get(*x).iter().map(|&v| kind.eval_f64(v)).collect(),
                Op::View { x } => get(*x),
                Op::Input { .. } => {
                    let n: usize = node.shape.iter().product();
                    let v = input.get(offset..offset + n).unwrap_or_default().to_vec();
                    offset += n;
                    v
                }
                Op::MatMul { a, b } => {
                    let (av, bv) = (get(*a), get(*b));
                    let (m, k) = matrix_dims(self.shape(*a));
                    let n = matrix_dims(self.shape(*b)).1;
                    let mut out = vec![0.0; m * n];
                    for i in 0..m {
                        for j in 0..n {
                            out[i * n + j] = (0..k).map(|l| av[i * k + l] * bv[l * n + j]).sum();
                        }
                    }
                    out
                }
                Op::Transpose { x } => {
                    let xv = get(*x);
                    let (r, c) = matrix_dims(self.shape(*x));
                    (0..r * c).map(|i| xv[(i % r) * c + i / r]).collect()
                }
                Op::Gather { x, map } => map.apply(&get(*x)),
                Op::Embed {
                    ids, table, dim, ..
                } => get(*ids)
                    .iter()
                    .flat_map(|&id| {
                        let r = id.round().max(0.0) as usize * dim;
                        table.get(r..r + dim).unwrap_or(&[]).to_vec()
                    })
                    .collect(),
                Op::Const { data } => data.clone(),
                Op::ArgMax { x, .. } => {
                    let c = matrix_dims(self.shape(*x)).1.max(1);
                    get(*x)
                        .chunks(c)
                        .map(|row| {
                            let mut best = 0;
                            for (i, v) in row.iter().enumerate() {
                                if *v > row[best] {
                                    best = i;
                                }
                            }
                            best as f64
                        })
                        .collect()
                }
                Op::BatchMatMul { a, b, batch } => {
                    let (av, bv) = (get(*a), get(*b));
                    let (rows, k) = matrix_dims(self.shape(*a));
                    let n = matrix_dims(self.shape(*b)).1;
                    let m = rows / batch.max(&1);
                    let mut out = vec![0.0; rows * n];
                    for h in 0..*batch {
                        for i in 0..m {
                            for j in 0..n {
                                out[(h * m + i) * n + j] = (0..k)
                                    .map(|l| av[(h * m + i) * k + l] * bv[(h * k + l) * n + j])
                                    .sum();
                            }
                        }
                    }
                    out
                }
                Op::Softmax { x } => {
                    let xv = get(*x);
                    let c = matrix_dims(self.shape(*x)).1;
                    xv.chunks(c.max(1))
                        .flat_map(|row| {
                            let m = row.iter().copied().fold(f64::MIN, f64::max);
                            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
                            let s: f64 = e.iter().sum();
                            e.into_iter().map(move |v| v / s)
                        })
                        .collect()
                }
                Op::RowSum { x } => {
                    let xv = get(*x);
                    let (r, c) = matrix_dims(self.shape(*x));
                    (0..c)
                        .map(|j| (0..r).map(|i| xv[i * c + j]).sum())
                        .collect()
                }
            };
            vals.push(out);
        }
        vals
    }
}
