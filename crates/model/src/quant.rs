//! Fixed-point quantization and the integer forward pass.
//!
//! Every activation tensor is an integer at scale `2^-act_frac`; weights and biases are integers
//! at scale `2^-weight_frac`. A linear layer computes `acc = x·Wᵀ + 2^act_frac·b` exactly at
//! scale `2^-(act_frac + weight_frac)` and is followed by a requantization, a rounding shift by
//! `weight_frac` bits: `acc + 2^(s−1) = 2^s·y + rem` with `0 ≤ rem < 2^s`. Non-linear functions
//! read a table of `2^table_bits` entries, so their inputs must lie in
//! `[−2^(table_bits−1), 2^(table_bits−1))`; calibration picks `act_frac` so that they do, and the
//! forward pass refuses (naming the node) any value that does not.
//!
//! The weights' quantization depends only on the model and `weight_frac`, so the model
//! commitment is a fingerprint of the model alone.

use crate::conv::ConvGeom;
use crate::graph::{matrix_dims, Graph, Op};
use crate::index_map::IndexMap;
use crate::table::{ActKind, TableKind};
use zkgrad_field::codec::Writer;

/// The precision settings; part of every protocol id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QConfig {
    pub act_frac: u32,
    pub weight_frac: u32,
    pub table_bits: u32,
}

impl QConfig {
    pub const DEFAULT_TABLE_BITS: u32 = 20;
    /// Weights default to as many fractional bits as a table is wide (the rounding shift after a
    /// product is range-checked in that table).
    pub const DEFAULT_WEIGHT_FRAC: u32 = 20;

    /// Picks `act_frac` from sample inputs: the largest number of fractional bits that keeps
    /// every value a table or range check reads below `2^(table_bits−1)` with 25% headroom.
    pub fn calibrate(graph: &Graph, samples: &[Vec<f64>], table_bits: u32) -> Self {
        let mut max_abs = 1e-9f64;
        for s in samples {
            for v in graph.forward_f64(s) {
                for x in v {
                    if x.is_finite() {
                        max_abs = max_abs.max(x.abs());
                    }
                }
            }
        }
        let limit = (1u64 << (table_bits - 1)) as f64;
        let mut act_frac = 0u32;
        while act_frac < table_bits.saturating_sub(2)
            && max_abs * 1.25 * ((1u64 << (act_frac + 1)) as f64) < limit
        {
            act_frac += 1;
        }
        Self {
            act_frac,
            weight_frac: Self::DEFAULT_WEIGHT_FRAC.min(table_bits),
            table_bits,
        }
    }
}

/// Who knows a tensor's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// The input or the output: the verifier holds the values.
    Public,
    /// Committed by the prover (requantized values and activation outputs).
    Committed,
    /// Never committed: claims on it are reduced through the op that produced it.
    Virtual,
    /// An updated weight tensor (training): committed in a commitment of its own, which becomes
    /// part of the weights after the step.
    After,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QTensor {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub frac: u32,
    pub kind: TensorKind,
    /// The signed width a committed requantized value is range-checked to (values lie in
    /// `[−2^(bits−1), 2^(bits−1))`); the activation table width `K` unless a circuit widens it.
    pub bits: u32,
}

impl QTensor {
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn log_rows(&self) -> usize {
        zkgrad_poly::log2_ceil(self.rows)
    }
    pub fn log_cols(&self) -> usize {
        zkgrad_poly::log2_ceil(self.cols)
    }
    pub fn log_size(&self) -> usize {
        self.log_rows() + self.log_cols()
    }
    /// Where flat row-major index `i` lies in the padded layout.
    pub fn pad_index(&self, i: usize) -> usize {
        ((i / self.cols.max(1)) << self.log_cols()) | (i % self.cols.max(1))
    }
    /// The values laid out row-major with rows and columns padded to powers of two.
    pub fn pad<T: Copy + Default>(&self, vals: &[T]) -> Vec<T> {
        let pc = 1usize << self.log_cols();
        let mut out = vec![T::default(); 1 << self.log_size()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                if let (Some(o), Some(v)) = (out.get_mut(r * pc + c), vals.get(r * self.cols + c)) {
                    *o = *v;
                }
            }
        }
        out
    }
}

/// A quantized op. Tensor `0` is the input; node `i` writes tensor `i + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QOp {
    /// `out[r, o] = Σ_i x[r, i]·W[o, i] + 2^bias_shift·b[o]`.
    Gemm {
        x: usize,
        w: usize,
        bias: Option<usize>,
        bias_shift: u32,
    },
    Add {
        a: usize,
        b: usize,
    },
    Sub {
        a: usize,
        b: usize,
    },
    /// `out = a ⊙ b` (element-wise; the scale of `out` is the sum of theirs).
    Mul {
        a: usize,
        b: usize,
    },
    /// `out = c·x`.
    Scale {
        x: usize,
        c: i64,
    },
    /// `x + 2^(shift−1) = 2^shift·out + rem`, `0 ≤ rem < 2^shift` (`out = x` for shift 0).
    Requant {
        x: usize,
        shift: u32,
    },
    /// A further public input (`index` ≥ 1).
    Input {
        index: usize,
    },
    /// `out[m, n] = Σ_k a[m, k]·b[k, n]`, the contraction masked to real `k` (see the verifier).
    MatMul {
        a: usize,
        b: MatRhs,
    },
    /// `out = xᵀ`: a permutation of the MLE's variables.
    Transpose {
        x: usize,
    },
    /// `out[0, c] = Σ_{r real} x[r, c]`.
    RowSum {
        x: usize,
    },
    /// `out[r, 0]`: softmax's normalizer of row `r` at the output's scale, a value the prover
    /// supplies (committed and range-checked, with no relation of its own: the two
    /// normalization checks of `crate::softmax` pin it to one value).
    LogSumExp {
        x: usize,
    },
    /// `out[r, c] = x[r, 0]` for every real column.
    Broadcast {
        x: usize,
    },
    /// `out = x + c` on real entries.
    AddConst {
        x: usize,
        c: i64,
    },
    /// `out = W[w] − u` (an SGD update), range-checked to `bits` signed bits.
    Update {
        w: usize,
        u: usize,
        bits: u32,
    },
    /// `out = f_q(x)` through table `table`.
    Act {
        x: usize,
        kind: ActKind,
        table: usize,
    },
    /// `out[j] = x[π(j)]` over flat row-major indices, 0 where `π(j)` is undefined
    /// ([`IndexMap`]).
    Gather {
        x: usize,
        map: IndexMap,
    },
    /// `out[co, p] = Σ_j W[co, j]·X[p, j] + 2^bias_shift·b[co]` with `X` the im2col matrix of
    /// `x` ([`ConvGeom`]; never materialized).
    Conv {
        x: usize,
        w: usize,
        bias: Option<usize>,
        bias_shift: u32,
        geom: ConvGeom,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QNode {
    pub name: String,
    pub op: QOp,
}

/// A weight tensor, row-major `rows × cols`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QWeight {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<i64>,
}

impl QWeight {
    pub fn as_tensor(&self) -> QTensor {
        QTensor {
            name: self.name.clone(),
            rows: self.rows,
            cols: self.cols,
            frac: 0,
            kind: TensorKind::Committed,
            bits: 0,
        }
    }
}

/// The quantized circuit: what prover and verifier agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QGraph {
    pub config: QConfig,
    pub tensors: Vec<QTensor>,
    pub nodes: Vec<QNode>,
    pub weights: Vec<QWeight>,
    /// The activation tables (range tables are implied by the lookups).
    pub tables: Vec<TableKind>,
    pub output: usize,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QuantError {
    #[error("node {node}: {why}")]
    Unsupported { node: String, why: String },
    #[error("node {node}: weight {value} does not fit the fixed-point range at 2^-{frac}")]
    WeightTooLarge { node: String, value: f64, frac: u32 },
    #[error("invalid precision settings: {0}")]
    Config(String),
}

/// The integer values of every tensor, and the remainder of every requantization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    pub values: Vec<Vec<i64>>,
    pub rems: Vec<Option<Vec<i64>>>,
    /// Values in the padding of committed tables, as `(what, index in the padded layout,
    /// value)`. The forward pass leaves it empty (padding is zero); nothing in the protocol
    /// constrains padding, so the soundness tests model a prover who plants values there.
    pub padding: Vec<(crate::layout::Operand, usize, i64)>,
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
}

fn quantize(x: f64, frac: u32) -> Option<i64> {
    let v = (x * (1u64 << frac) as f64).round();
    if v.is_finite() && v.abs() < (1u64 << 40) as f64 {
        Some(v as i64)
    } else {
        None
    }
}

/// Quantizes an activation (input) value at `frac` bits; `None` for NaN, infinity or overflow.
pub fn quantize_input(x: f64, frac: u32) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    quantize(x, frac)
}

/// The right operand of a [`QOp::MatMul`]: a computed tensor or a weight matrix `[k, n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatRhs {
    Tensor(usize),
    Weight(usize),
}

impl QOp {
    /// The op's tag in a circuit description (`QGraph::describe`, `QGraph::from_description`).
    pub fn code(&self) -> u8 {
        match self {
            QOp::Gemm { .. } => 1,
            QOp::Add { .. } => 2,
            QOp::Sub { .. } => 3,
            QOp::Scale { .. } => 4,
            QOp::Requant { .. } => 5,
            QOp::Act { .. } => 6,
            QOp::Mul { .. } => 7,
            QOp::Input { .. } => 8,
            QOp::MatMul { .. } => 9,
            QOp::Transpose { .. } => 10,
            QOp::RowSum { .. } => 11,
            QOp::Update { .. } => 12,
            QOp::LogSumExp { .. } => 13,
            QOp::Broadcast { .. } => 14,
            QOp::AddConst { .. } => 15,
            QOp::Gather { .. } => 16,
            QOp::Conv { .. } => 17,
        }
    }

    /// Whether a claim on this op's output is reduced to claims on its inputs (the linear and
    /// product ops). Requantizations check themselves at a point of their own; activations are
    /// checked by lookups.
    pub fn reduces_claims(&self) -> bool {
        match self {
            QOp::Gemm { .. }
            | QOp::Add { .. }
            | QOp::Sub { .. }
            | QOp::Mul { .. }
            | QOp::Scale { .. }
            | QOp::MatMul { .. }
            | QOp::Transpose { .. }
            | QOp::RowSum { .. }
            | QOp::Broadcast { .. }
            | QOp::AddConst { .. }
            | QOp::Gather { .. }
            | QOp::Conv { .. } => true,
            QOp::Requant { .. }
            | QOp::Act { .. }
            | QOp::Input { .. }
            | QOp::Update { .. }
            | QOp::LogSumExp { .. } => false,
        }
    }
    /// The tensors this op reads (weights excluded).
    pub fn operands(&self) -> Vec<usize> {
        match self {
            QOp::Gemm { x, .. }
            | QOp::Scale { x, .. }
            | QOp::Requant { x, .. }
            | QOp::Transpose { x }
            | QOp::RowSum { x }
            | QOp::LogSumExp { x }
            | QOp::Broadcast { x }
            | QOp::AddConst { x, .. }
            | QOp::Act { x, .. }
            | QOp::Gather { x, .. }
            | QOp::Conv { x, .. } => vec![*x],
            QOp::Add { a, b } | QOp::Sub { a, b } | QOp::Mul { a, b } => vec![*a, *b],
            QOp::MatMul { a, b } => match b {
                MatRhs::Tensor(t) => vec![*a, *t],
                MatRhs::Weight(_) => vec![*a],
            },
            QOp::Update { u, .. } => vec![*u],
            QOp::Input { .. } => vec![],
        }
    }

    /// The op with every tensor it reads renamed by `f` (weights and tables kept).
    pub fn map_operands(&self, f: impl Fn(usize) -> usize) -> QOp {
        let mut op = self.clone();
        match &mut op {
            QOp::Gemm { x, .. }
            | QOp::Scale { x, .. }
            | QOp::Requant { x, .. }
            | QOp::Transpose { x }
            | QOp::RowSum { x }
            | QOp::LogSumExp { x }
            | QOp::Broadcast { x }
            | QOp::AddConst { x, .. }
            | QOp::Act { x, .. }
            | QOp::Gather { x, .. }
            | QOp::Conv { x, .. } => *x = f(*x),
            QOp::Add { a, b } | QOp::Sub { a, b } | QOp::Mul { a, b } => {
                *a = f(*a);
                *b = f(*b);
            }
            QOp::MatMul { a, b } => {
                *a = f(*a);
                if let MatRhs::Tensor(t) = b {
                    *t = f(*t);
                }
            }
            QOp::Update { u, .. } => *u = f(*u),
            QOp::Input { .. } => {}
        }
        op
    }
}

impl QGraph {
    /// Whether the public output needs a claim of its own at a random point: when the op that
    /// writes it reduces claims (otherwise the requantization or lookup covers it).
    pub fn output_needs_claim(&self) -> bool {
        self.output
            .checked_sub(1)
            .and_then(|n| self.nodes.get(n))
            .is_some_and(|n| n.op.reduces_claims())
    }

    /// Builds the quantized circuit for `graph` at the given precision.
    pub fn from_graph(graph: &Graph, config: QConfig) -> Result<Self, QuantError> {
        Self::from_graph_with_map(graph, config).map(|(g, _)| g)
    }

    /// Builds the circuit and says, for each float value (index as in [`Graph`]), the quantized
    /// tensor that holds it.
    pub fn from_graph_with_map(
        graph: &Graph,
        config: QConfig,
    ) -> Result<(Self, Vec<usize>), QuantError> {
        let k = config.table_bits;
        if !(4..=20).contains(&k) {
            return Err(QuantError::Config(format!("table bits {k} outside 4..=20")));
        }
        if config.weight_frac > 40 || config.act_frac + 1 >= k {
            return Err(QuantError::Config(format!(
                "weight_frac {} must be ≤ 40 and act_frac {} < table bits ({k}) − 1",
                config.weight_frac, config.act_frac
            )));
        }
        let (fa, fw) = (config.act_frac, config.weight_frac);
        let (r0, c0) = matrix_dims(&graph.input_shape);
        let mut g = QGraph {
            config,
            tensors: vec![QTensor {
                name: graph.input_name.clone(),
                rows: r0,
                cols: c0,
                frac: fa,
                kind: TensorKind::Public,
                bits: config.table_bits,
            }],
            nodes: Vec::new(),
            weights: Vec::new(),
            tables: Vec::new(),
            output: 0,
        };
        // float value -> quantized tensor
        let mut map: Vec<usize> = vec![0];
        // Value bounds of the tensors so far, extended where a product needs them (see
        // `QGraph::extend_value_bounds`).
        let mut bounds: Vec<Option<u128>> = Vec::new();
        for node in &graph.nodes {
            let (rows, cols) = matrix_dims(&node.shape);
            let name = node.name.clone();
            let t = match &node.op {
                Op::Linear {
                    x,
                    w,
                    bias,
                    in_features,
                    out_features,
                } => {
                    let xt = g.committed(map[*x], &name);
                    if g.tensors[xt].cols != *in_features {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: format!(
                                "input has {} columns, the layer expects {in_features}",
                                g.tensors[xt].cols
                            ),
                        });
                    }
                    let (wi, bi) =
                        g.push_weights(&name, w, *out_features, *in_features, bias.as_deref())?;
                    g.push_rounded(
                        &name,
                        QOp::Gemm {
                            x: xt,
                            w: wi,
                            bias: bi,
                            bias_shift: fa,
                        },
                        rows,
                        cols,
                        fa,
                        fw,
                    )
                }
                Op::Conv { x, w, bias, geom } => {
                    let xt = g.committed(map[*x], &name);
                    if g.tensors[xt].len() != geom.c_in * geom.h * geom.w
                        || (rows, cols) != (geom.c_out, geom.p_len())
                    {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: format!(
                                "convolution of a {}-value input into [{rows}, {cols}] does not match its geometry",
                                g.tensors[xt].len()
                            ),
                        });
                    }
                    let (wi, bi) =
                        g.push_weights(&name, w, geom.c_out, geom.j_len(), bias.as_deref())?;
                    g.push_rounded(
                        &name,
                        QOp::Conv {
                            x: xt,
                            w: wi,
                            bias: bi,
                            bias_shift: fa,
                            geom: geom.clone(),
                        },
                        rows,
                        cols,
                        fa,
                        fw,
                    )
                }
                Op::Add { a, b } | Op::Sub { a, b } => {
                    let (ta, tb) = (map[*a], map[*b]);
                    let same = |t: &QTensor| t.rows == rows && t.cols == cols && t.frac == fa;
                    if !same(&g.tensors[ta]) || !same(&g.tensors[tb]) {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: "element-wise operands must have the output's shape (no broadcasting yet)"
                                .into(),
                        });
                    }
                    let op = if matches!(node.op, Op::Add { .. }) {
                        QOp::Add { a: ta, b: tb }
                    } else {
                        QOp::Sub { a: ta, b: tb }
                    };
                    g.push(&name, op, rows, cols, fa)
                }
                Op::Softmax { x } => crate::softmax::softmax(&mut g, map[*x], rows, cols)?,
                Op::Max { a, b } => {
                    // max(a, b) = a + relu(b − a): a proven comparison through the ReLU table;
                    // the result is committed so that claims on a chain of maxima stay few.
                    let (ta, tb) = (map[*a], map[*b]);
                    let same = |t: &QTensor| t.rows == rows && t.cols == cols && t.frac == fa;
                    if !same(&g.tensors[ta]) || !same(&g.tensors[tb]) {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: "maximum operands must have the output's shape".into(),
                        });
                    }
                    let d = g.push(
                        &format!("{name}/diff"),
                        QOp::Sub { a: tb, b: ta },
                        rows,
                        cols,
                        fa,
                    );
                    let d = g.push(
                        &format!("{name}/diff/commit"),
                        QOp::Requant { x: d, shift: 0 },
                        rows,
                        cols,
                        fa,
                    );
                    let table = g.table_index(TableKind::Act {
                        kind: ActKind::Relu,
                        in_frac: fa,
                        out_frac: fa,
                    });
                    let r = g.push(
                        &format!("{name}/relu"),
                        QOp::Act {
                            x: d,
                            kind: ActKind::Relu,
                            table,
                        },
                        rows,
                        cols,
                        fa,
                    );
                    let m = g.push(&name, QOp::Add { a: ta, b: r }, rows, cols, fa);
                    g.push(
                        &format!("{name}/commit"),
                        QOp::Requant { x: m, shift: 0 },
                        rows,
                        cols,
                        fa,
                    )
                }
                Op::Mul { a, b } => {
                    let (ta, tb) = (map[*a], map[*b]);
                    let same = |t: &QTensor| t.rows == rows && t.cols == cols && t.frac == fa;
                    if !same(&g.tensors[ta]) || !same(&g.tensors[tb]) {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: "element-wise operands must have the output's shape (no broadcasting yet)"
                                .into(),
                        });
                    }
                    // A product's operands are committed (range-checked to K bits) when their bounds would
                    // let the product pass 2^61 (crate::bounds: nothing may wrap around p).
                    g.extend_value_bounds(&mut bounds);
                    let bound = |t: usize| bounds.get(t).copied().flatten().unwrap_or(u128::MAX);
                    let (ta, tb) = if bound(ta).saturating_mul(bound(tb)) >= 1u128 << 61 {
                        let ca = g.committed(ta, &name);
                        let cb = if tb == ta { ca } else { g.committed(tb, &name) };
                        (ca, cb)
                    } else {
                        (ta, tb)
                    };
                    g.push_rounded(&name, QOp::Mul { a: ta, b: tb }, rows, cols, fa, fa)
                }
                Op::Scale { x, c } if c.fract() == 0.0 && c.abs() < (1u64 << 20) as f64 => {
                    // An integer factor keeps the scale: no rounding, no committed value.
                    g.push(
                        &name,
                        QOp::Scale {
                            x: map[*x],
                            c: *c as i64,
                        },
                        rows,
                        cols,
                        fa,
                    )
                }
                Op::AddConst { x, c } => {
                    let cq = quantize(*c, fa)
                        .filter(|q| q.abs() < 1 << (config.table_bits - 1))
                        .ok_or(QuantError::WeightTooLarge {
                            node: name.clone(),
                            value: *c,
                            frac: fa,
                        })?;
                    g.push(&name, QOp::AddConst { x: map[*x], c: cq }, rows, cols, fa)
                }
                Op::Scale { x, c } => {
                    let cq = quantize(*c, fw).ok_or(QuantError::WeightTooLarge {
                        node: name.clone(),
                        value: *c,
                        frac: fw,
                    })?;
                    // The operand is committed (K-bit range) when its bound times the factor
                    // could pass 2^61 (crate::bounds: nothing may wrap around p).
                    let xt = map[*x];
                    g.extend_value_bounds(&mut bounds);
                    let bound = bounds.get(xt).copied().flatten().unwrap_or(u128::MAX);
                    let wide = bound.saturating_mul(cq.unsigned_abs() as u128) >= 1u128 << 61;
                    let xt = if wide { g.committed(xt, &name) } else { xt };
                    g.push_rounded(&name, QOp::Scale { x: xt, c: cq }, rows, cols, fa, fw)
                }
                Op::Act { x, kind } => {
                    let mut xt = map[*x];
                    if g.tensors[xt].kind == TensorKind::Virtual {
                        xt = g.push(
                            &format!("{name}/commit"),
                            QOp::Requant { x: xt, shift: 0 },
                            rows,
                            cols,
                            fa,
                        );
                    }
                    let tk = TableKind::Act {
                        kind: *kind,
                        in_frac: fa,
                        out_frac: fa,
                    };
                    let table = match g.tables.iter().position(|t| *t == tk) {
                        Some(i) => i,
                        None => {
                            g.tables.push(tk);
                            g.tables.len() - 1
                        }
                    };
                    g.push(
                        &name,
                        QOp::Act {
                            x: xt,
                            kind: *kind,
                            table,
                        },
                        rows,
                        cols,
                        fa,
                    )
                }
                Op::Input { index } => g.push(&name, QOp::Input { index: *index }, rows, cols, fa),
                Op::MatMul { a, b } => {
                    let (ta, tb) = (map[*a], map[*b]);
                    let (sa, sb) = (&g.tensors[ta], &g.tensors[tb]);
                    if sa.cols != sb.rows || (sa.rows, sb.cols) != (rows, cols) {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: format!(
                                "matrix product of [{}, {}] and [{}, {}]: only 2-D products are supported",
                                sa.rows, sa.cols, sb.rows, sb.cols
                            ),
                        });
                    }
                    let (ta, tb) = (g.committed(ta, &name), g.committed(tb, &name));
                    g.push_rounded(
                        &name,
                        QOp::MatMul {
                            a: ta,
                            b: MatRhs::Tensor(tb),
                        },
                        rows,
                        cols,
                        fa,
                        fa,
                    )
                }
                Op::Transpose { x } => g.push(&name, QOp::Transpose { x: map[*x] }, rows, cols, fa),
                Op::Gather { x, map: im } => {
                    let xt = map[*x];
                    if im.in_len() != g.tensors[xt].len() || im.out_len() != rows * cols {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: "index map sizes do not match its tensors".into(),
                        });
                    }
                    g.push(
                        &name,
                        QOp::Gather {
                            x: xt,
                            map: im.clone(),
                        },
                        rows,
                        cols,
                        fa,
                    )
                }
                Op::RowSum { x } => g.push(&name, QOp::RowSum { x: map[*x] }, rows, cols, fa),
                Op::View { x } => {
                    let xt = map[*x];
                    let src = &g.tensors[xt];
                    if (src.rows, src.cols) == (rows, cols) {
                        xt
                    } else {
                        // The row-major values stay; their padded layout moves.
                        let im = IndexMap::reshape(rows * cols);
                        g.push(&name, QOp::Gather { x: xt, map: im }, rows, cols, fa)
                    }
                }
            };
            map.push(t);
        }
        g.output = map[graph.output];
        if let Some(t) = g.tensors.get_mut(g.output) {
            t.kind = TensorKind::Public;
        }
        g.check_relations().map_err(QuantError::Config)?;
        Ok((g, map))
    }

    /// Quantizes a layer's weight matrix (`rows × cols`, row-major) and bias, checks the row sums
    /// for exact field arithmetic, and appends them; returns their indices.
    fn push_weights(
        &mut self,
        name: &str,
        w: &[f64],
        rows: usize,
        cols: usize,
        bias: Option<&[f64]>,
    ) -> Result<(usize, Option<usize>), QuantError> {
        let (fw, k) = (self.config.weight_frac, self.config.table_bits);
        let q = |v: &[f64], what: &str| -> Result<Vec<i64>, QuantError> {
            v.iter()
                .map(|&x| {
                    quantize(x, fw)
                        .filter(|q| q.abs() < 1 << 31)
                        .ok_or_else(|| QuantError::WeightTooLarge {
                            node: format!("{name} ({what})"),
                            value: x,
                            frac: fw,
                        })
                })
                .collect()
        };
        let wq = q(w, "weight")?;
        // Inputs are below 2^(K-1), so Σ_j |W[o, j]| must stay below 2^(61-(K-1)) for every
        // accumulator to stay far below p/2 (the field identity is the integer one).
        let row_bound = wq
            .chunks(cols.max(1))
            .map(|r| r.iter().map(|v| v.unsigned_abs() as u128).sum::<u128>())
            .max()
            .unwrap_or(0);
        if row_bound << (k - 1) >= 1u128 << 61 {
            return Err(QuantError::Unsupported {
                node: name.to_string(),
                why: format!(
                    "the weights' row sums (up to {row_bound} at 2^-{fw}) are too large for \
                     exact field arithmetic; lower --weight-frac or --table-bits"
                ),
            });
        }
        self.weights.push(QWeight {
            name: format!("{name}.weight"),
            rows,
            cols,
            data: wq,
        });
        let wi = self.weights.len() - 1;
        let bi = match bias {
            Some(b) => {
                let bq = q(b, "bias")?;
                self.weights.push(QWeight {
                    name: format!("{name}.bias"),
                    rows: 1,
                    cols: rows,
                    data: bq,
                });
                Some(self.weights.len() - 1)
            }
            None => None,
        };
        Ok((wi, bi))
    }

    /// Appends `op` (its result at `2^-(frac + shift)`) and its rounding by `shift` bits to
    /// `2^-frac` (a Requant named `{name}/requant`); returns the rounded tensor.
    pub fn push_rounded(
        &mut self,
        name: &str,
        op: QOp,
        rows: usize,
        cols: usize,
        frac: u32,
        shift: u32,
    ) -> usize {
        let x = self.push(name, op, rows, cols, frac + shift);
        self.push(
            &format!("{name}/requant"),
            QOp::Requant { x, shift },
            rows,
            cols,
            frac,
        )
    }

    /// Appends a node writing a new tensor; returns the tensor.
    pub fn push_node(&mut self, name: &str, op: QOp, rows: usize, cols: usize, frac: u32) -> usize {
        self.push(name, op, rows, cols, frac)
    }

    /// The index of an activation table, added if new.
    pub fn table_index(&mut self, t: TableKind) -> usize {
        match self.tables.iter().position(|x| *x == t) {
            Some(i) => i,
            None => {
                self.tables.push(t);
                self.tables.len() - 1
            }
        }
    }

    /// `t` itself if its values are bounded (public or committed), else a committed copy: the
    /// operands of products must be range-bounded for the no-wrap-around argument.
    fn committed(&mut self, t: usize, name: &str) -> usize {
        let tensor = &self.tensors[t];
        if tensor.kind != TensorKind::Virtual {
            return t;
        }
        let (rows, cols, frac) = (tensor.rows, tensor.cols, tensor.frac);
        self.push(
            &format!("{name}/commit{t}"),
            QOp::Requant { x: t, shift: 0 },
            rows,
            cols,
            frac,
        )
    }

    fn push(&mut self, name: &str, op: QOp, rows: usize, cols: usize, frac: u32) -> usize {
        let kind = match op {
            QOp::Requant { .. } | QOp::Act { .. } | QOp::LogSumExp { .. } => TensorKind::Committed,
            QOp::Input { .. } => TensorKind::Public,
            QOp::Update { .. } => TensorKind::After,
            _ => TensorKind::Virtual,
        };
        self.nodes.push(QNode {
            name: name.to_string(),
            op,
        });
        self.tensors.push(QTensor {
            name: name.to_string(),
            rows,
            cols,
            frac,
            kind,
            bits: self.config.table_bits,
        });
        self.tensors.len() - 1
    }

    /// Whether a public input value is within the range every value of the circuit keeps,
    /// `[−2^(K−1), 2^(K−1))` (the verifier refuses proofs whose public input is not).
    pub fn public_in_range(&self, v: i64) -> bool {
        let half = 1i64 << (self.config.table_bits - 1);
        (-half..half).contains(&v)
    }

    /// The public input tensors, in the order their values are concatenated.
    pub fn input_tensors(&self) -> Vec<usize> {
        let mut v = vec![0];
        v.extend(
            self.nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| matches!(n.op, QOp::Input { .. }))
                .map(|(i, _)| i + 1),
        );
        v
    }

    /// Length of the public input (every input tensor, concatenated).
    pub fn public_input_len(&self) -> usize {
        self.input_tensors()
            .iter()
            .map(|&t| self.tensors[t].len())
            .sum()
    }

    /// Where each public input tensor's values start in the public input.
    pub fn public_offset(&self, t: usize) -> Option<usize> {
        let mut off = 0;
        for i in self.input_tensors() {
            if i == t {
                return Some(off);
            }
            off += self.tensors[i].len();
        }
        None
    }

    pub fn input(&self) -> &QTensor {
        &self.tensors[0]
    }
    pub fn output_tensor(&self) -> &QTensor {
        &self.tensors[self.output]
    }

    /// Node index that writes tensor `t` (`None` for the input).
    pub fn producer(&self, t: usize) -> Option<usize> {
        t.checked_sub(1)
    }

    /// The `Update` nodes, in order: `(node, weight)`.
    pub fn updates(&self) -> Vec<(usize, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n.op {
                QOp::Update { w, .. } => Some((i, w)),
                _ => None,
            })
            .collect()
    }

    /// Whether some `Act` node reads tensor `t` (its lookup then bounds `t` to K signed bits).
    pub fn read_by_act(&self, t: usize) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(n.op, QOp::Act { x, .. } if x == t))
    }

    pub fn n_params(&self) -> usize {
        self.weights.iter().map(|w| w.data.len()).sum()
    }

    /// The integer forward pass: every tensor and every remainder.
    pub fn forward(&self, input: &[i64]) -> Result<Witness, ForwardError> {
        self.forward_with(input, |_, _, _| {})
    }

    /// The forward pass with a hook that sees (and may change) each node's output and
    /// remainder right after it is computed. Tests use it to build cheating provers.
    pub fn forward_with(
        &self,
        input: &[i64],
        mut hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
    ) -> Result<Witness, ForwardError> {
        let n_in = self.public_input_len();
        if input.len() != n_in {
            return Err(ForwardError::InputLength {
                expected: n_in,
                got: input.len(),
            });
        }
        let k = self.config.table_bits;
        if let Some(&v) = input.iter().find(|&&v| !self.public_in_range(v)) {
            return Err(ForwardError::OutOfRange {
                node: format!("input {}", self.tensors[0].name),
                value: v,
                approx: v as f64 / (1u64 << self.tensors[0].frac) as f64,
                bits: k,
            });
        }
        let half = 1i64 << (k - 1);
        let n0 = self.input().len();
        let mut values: Vec<Vec<i64>> = vec![input[..n0].to_vec()];
        let mut offset = n0;
        let mut rems = Vec::with_capacity(self.nodes.len());
        let limit = 1i64 << 62;
        for (ni, node) in self.nodes.iter().enumerate() {
            let out_t = &self.tensors[ni + 1];
            let mut rem = None;
            let out: Vec<i64> = match &node.op {
                QOp::Gemm {
                    x,
                    w,
                    bias,
                    bias_shift,
                } => {
                    let (xv, wt) = (&values[*x], &self.weights[*w]);
                    let (rows, inf, outf) = (out_t.rows, wt.cols, wt.rows);
                    let bias_v = bias.map(|b| &self.weights[b].data);
                    // The quantizer bounds every weight row's Σ|W| by 2^61 / 2^(K−1): with inputs
                    // in range, the accumulators fit in i64 (computed in parallel); otherwise the
                    // exact i128 path below names the overflow.
                    let half = 1i64 << (self.config.table_bits - 1);
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
                                for (r, out) in yo.iter_mut().enumerate() {
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
                        for r in 0..rows {
                            let xr = &xv[r * inf..(r + 1) * inf];
                            for o in 0..outf {
                                let wr = &wt.data[o * inf..(o + 1) * inf];
                                let mut acc: i128 = xr
                                    .iter()
                                    .zip(wr)
                                    .map(|(a, b)| (*a as i128) * (*b as i128))
                                    .sum();
                                if let Some(b) = bias {
                                    acc += (self.weights[*b].data[o] as i128) << bias_shift;
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
                    let at = &self.tensors[*a];
                    let (m, k) = (at.rows, at.cols);
                    let n = out_t.cols;
                    let av = &values[*a];
                    let bv: &[i64] = match b {
                        MatRhs::Tensor(t) => &values[*t],
                        MatRhs::Weight(w) => &self.weights[*w].data,
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
                    let xt = &self.tensors[*x];
                    let (r, c) = (xt.rows, xt.cols);
                    let xv = &values[*x];
                    (0..r * c).map(|q| xv[(q % r) * c + q / r]).collect()
                }
                QOp::RowSum { x } => {
                    let xt = &self.tensors[*x];
                    let (r, c) = (xt.rows, xt.cols);
                    let xv = &values[*x];
                    (0..c)
                        .map(|j| (0..r).map(|i| xv[i * c + j]).sum())
                        .collect()
                }
                QOp::Update { w, u, bits } => {
                    let half = 1i64 << (bits - 1);
                    let mut out = Vec::with_capacity(values[*u].len());
                    for (wv, uv) in self.weights[*w].data.iter().zip(&values[*u]) {
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
                    let xt = &self.tensors[*x];
                    let (c, fa, fz) = (xt.cols, xt.frac, out_t.frac);
                    if fz > fa
                        || fa + 2 * crate::softmax::extra_bits(c) > crate::softmax::MAX_ROW_BITS
                    {
                        return Err(ForwardError::Overflow {
                            node: node.name.clone(),
                        });
                    }
                    let v: Vec<i64> = values[*x]
                        .chunks(c.max(1))
                        .map(|row| crate::softmax::normalizer(row, fa, fz, k))
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
                QOp::Gather { x, map } => map.apply(&values[*x]),
                QOp::Conv {
                    x,
                    w,
                    bias,
                    bias_shift,
                    geom,
                } => {
                    let mut out = geom.apply(&values[*x], &self.weights[*w].data);
                    if let Some(b) = bias {
                        let pl = geom.p_len();
                        for (co, bv) in self.weights[*b].data.iter().enumerate() {
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
                    let fin = self.tensors[*x].frac;
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
                        out.push(kind.eval_q(v, fin, out_t.frac, self.config.table_bits));
                    }
                    out
                }
            };
            // Committed requantized values that no table reads get a signed range check.
            if matches!(node.op, QOp::Requant { .. })
                && out_t.kind == TensorKind::Committed
                && !self.read_by_act(ni + 1)
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
            if ni + 1 == self.output {
                if let Some(&v) = out.iter().find(|&&v| !self.public_in_range(v)) {
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

    /// Every parameter that shapes a proof of this circuit, as bytes (weights excluded: they
    /// enter through their commitment).
    pub fn describe(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(b"zkgrad/qgraph/v1");
        w.u32(self.config.act_frac);
        w.u32(self.config.weight_frac);
        w.u32(self.config.table_bits);
        w.u32(self.tensors.len() as u32);
        for t in &self.tensors {
            w.u64(t.rows as u64);
            w.u64(t.cols as u64);
            w.u32(t.frac);
            w.u8(match t.kind {
                TensorKind::Public => 0,
                TensorKind::Committed => 1,
                TensorKind::Virtual => 2,
                TensorKind::After => 3,
            });
            w.u32(t.bits);
        }
        w.u32(self.weights.len() as u32);
        for t in &self.weights {
            w.u64(t.rows as u64);
            w.u64(t.cols as u64);
        }
        w.u32(self.tables.len() as u32);
        for t in &self.tables {
            match t {
                TableKind::Range { bits } => {
                    w.u8(0);
                    w.u32(*bits);
                }
                TableKind::Act {
                    kind,
                    in_frac,
                    out_frac,
                } => {
                    w.u8(kind.code());
                    for v in kind.params() {
                        w.u32(v);
                    }
                    w.u32(*in_frac);
                    w.u32(*out_frac);
                }
            }
        }
        w.u32(self.nodes.len() as u32);
        for n in &self.nodes {
            w.u8(n.op.code());
            match &n.op {
                QOp::Gemm {
                    x,
                    w: wi,
                    bias,
                    bias_shift,
                } => {
                    w.u64(*x as u64);
                    w.u64(*wi as u64);
                    w.u64(bias.map_or(u64::MAX, |b| b as u64));
                    w.u32(*bias_shift);
                }
                QOp::Add { a, b } | QOp::Sub { a, b } | QOp::Mul { a, b } => {
                    w.u64(*a as u64);
                    w.u64(*b as u64);
                }
                QOp::Transpose { x }
                | QOp::RowSum { x }
                | QOp::LogSumExp { x }
                | QOp::Broadcast { x } => w.u64(*x as u64),
                QOp::Input { index } => w.u64(*index as u64),
                QOp::MatMul { a, b } => {
                    w.u64(*a as u64);
                    let (tag, i) = match b {
                        MatRhs::Tensor(t) => (0, *t),
                        MatRhs::Weight(i) => (1, *i),
                    };
                    w.u8(tag);
                    w.u64(i as u64);
                }
                QOp::Update { w: wi, u, bits } => {
                    w.u64(*wi as u64);
                    w.u64(*u as u64);
                    w.u32(*bits);
                }
                QOp::AddConst { x, c } | QOp::Scale { x, c } => {
                    w.u64(*x as u64);
                    w.u64(*c as u64);
                }
                QOp::Requant { x, shift } => {
                    w.u64(*x as u64);
                    w.u32(*shift);
                }
                QOp::Act { x, kind, table } => {
                    w.u64(*x as u64);
                    w.u8(kind.code());
                    for v in kind.params() {
                        w.u32(v);
                    }
                    w.u64(*table as u64);
                }
                QOp::Conv {
                    x,
                    w: wi,
                    bias,
                    bias_shift,
                    geom,
                } => {
                    w.u64(*x as u64);
                    w.u64(*wi as u64);
                    w.u64(bias.map_or(u64::MAX, |b| b as u64));
                    w.u32(*bias_shift);
                    for v in [
                        geom.c_in,
                        geom.h,
                        geom.w,
                        geom.c_out,
                        geom.kh,
                        geom.kw,
                        geom.stride[0],
                        geom.stride[1],
                        geom.dilation[0],
                        geom.dilation[1],
                        geom.pad[0],
                        geom.pad[1],
                        geom.oh,
                        geom.ow,
                    ] {
                        w.u64(v as u64);
                    }
                }
                QOp::Gather { x, map } => {
                    w.u64(*x as u64);
                    for shape in [&map.in_shape, &map.out_shape] {
                        w.u8(shape.len() as u8);
                        for &d in shape.iter() {
                            w.u64(d as u64);
                        }
                    }
                    for a in &map.axes {
                        w.u8(a.out_axis as u8);
                        w.u64(a.step as u64);
                        w.u64(a.offset as u64);
                    }
                }
            }
        }
        w.u64(self.output as u64);
        w.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Node;

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
        let cfg = QConfig::calibrate(&g, &[vec![0.5, -0.5, 0.1]], 12);
        let q = QGraph::from_graph(&g, cfg).unwrap();
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
        let cfg = QConfig::calibrate(&g, std::slice::from_ref(&x), 16);
        let q = QGraph::from_graph(&g, cfg).unwrap();
        let xi: Vec<i64> = x
            .iter()
            .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
            .collect();
        let w = q.forward(&xi).unwrap();
        let f = g.forward_f64(&x);
        let s = (1u64 << cfg.act_frac) as f64;
        for (a, b) in w.values[q.output].iter().zip(&f[g.output]) {
            assert!((*a as f64 / s - b).abs() < 4.0 / s, "{a} vs {b}");
        }
        assert!(matches!(
            q.forward(&[1]),
            Err(ForwardError::InputLength { .. })
        ));
    }
}
