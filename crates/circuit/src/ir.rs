//! The quantized circuit: what prover and verifier agree on.
//!
//! Every activation tensor is an integer at scale `2^-act_frac`; weights and biases are integers
//! at scale `2^-weight_frac`. A linear layer computes `acc = x·Wᵀ + 2^act_frac·b` exactly at
//! scale `2^-(act_frac + weight_frac)` and is followed by a requantization, a rounding shift by
//! `weight_frac` bits: `acc + 2^(s−1) = 2^s·y + rem` with `0 ≤ rem < 2^s`. Non-linear functions
//! read a table of `2^table_bits` entries, so their inputs must lie in
//! `[−2^(table_bits−1), 2^(table_bits−1))`.
//!
//! A [`QGraph`] is a list of typed nodes over tensors ([`QOp`], [`QTensor`]) and the quantized
//! weights; the quantizer that builds one from a float model, and the integer forward pass that
//! computes its witness, live in `zkgrad-model` (the prover's side). This crate only describes
//! the circuit, so a verifier can be built from it alone.

use crate::conv::ConvGeom;
use crate::index_map::IndexMap;
use crate::table::{ActKind, TableKind};

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

/// A tensor's [`QTensor::pad_index`] by a multiplication instead of a division.
#[derive(Clone, Copy, Debug)]
pub struct Padder {
    cols: u64,
    log_cols: u32,
    magic: u64,
}

impl Padder {
    /// `pad_index(i)`.
    #[inline]
    pub fn at(&self, i: usize) -> usize {
        let i = i as u64;
        let row = if self.cols == 1 {
            i
        } else if i < 1 << 32 {
            ((self.magic as u128 * i as u128) >> 64) as u64
        } else {
            i / self.cols
        };
        ((row << self.log_cols) | (i - row * self.cols)) as usize
    }
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
    /// [`Self::pad_index`] without a division per call, for loops over every entry.
    pub fn padder(&self) -> Padder {
        let cols = self.cols.max(1) as u64;
        Padder {
            cols,
            log_cols: self.log_cols() as u32,
            // ⌈2^64/cols⌉ (Lemire, Kaser and Kurz, "Faster remainder by direct computation",
            // 2019, §2): for i < 2^32, ⌊i/cols⌋ = (magic·i) >> 64 exactly. 0 for one column.
            magic: (u64::MAX / cols).wrapping_add(1),
        }
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
    /// `out[t, c] = W[ids[t], c]`: an embedding lookup by the public token ids `ids` (a public
    /// tensor of integers at scale 2^0, one id per output row). The verifier derives the
    /// lookup's wiring from the ids it holds itself; the prover never states it.
    Embed {
        ids: usize,
        w: usize,
    },
    /// A constant tensor (row-major, unpadded) that is part of the circuit: a causal mask, a
    /// folded position embedding. Public: the verifier evaluates its MLE itself.
    Const {
        data: Vec<i64>,
    },
    /// `out[b·M + m, n] = Σ_k a[b·M + m, k]·c[b·K + k, n]` for `batch` products of
    /// `[M, K]·[K, N]` matrices stacked along the rows (per-head attention products), with `M`
    /// and `K` powers of two so that the batch index is the high row variables of all three.
    BatchMatMul {
        a: usize,
        b: usize,
        batch: usize,
    },
    /// `out[r, 0] = x[r, ids[offset + r]]`: in each row of `x`, the entry a public tensor of
    /// integers (`ids`, at scale 2^0) names. The verifier derives the wiring from the values it
    /// holds, as for [`QOp::Embed`].
    PickCol {
        x: usize,
        ids: usize,
        offset: usize,
    },
    /// `out[r, c] = [c < ids[offset + r]]`: public, evaluated by the verifier from the ids
    /// (the columns before a proven argmax, which must lie strictly below its maximum).
    PrefixMask {
        ids: usize,
        offset: usize,
    },
    /// `out[r, 0]`: the first maximal column of row `r` of `x`, a value the prover supplies.
    /// Its values are public: the circuit's output (`at = 0`), or — beside other outputs (a
    /// classifier's label and probabilities) — `output[at + r] / 2^f`, `f` the output's scale,
    /// where the output assembly places it (`crate::argmax::placed_ids`). Pinned by the check
    /// that follows it (`crate::argmax`): PickCol, Broadcast, Sub, PrefixMask, Sub, AddConst, a
    /// K-bit rounding.
    ArgMax {
        x: usize,
        at: usize,
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
            QOp::Embed { .. } => 18,
            QOp::Const { .. } => 19,
            QOp::BatchMatMul { .. } => 20,
            QOp::PickCol { .. } => 21,
            QOp::PrefixMask { .. } => 22,
            QOp::ArgMax { .. } => 23,
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
            | QOp::Conv { .. }
            | QOp::Embed { .. }
            | QOp::BatchMatMul { .. }
            | QOp::PickCol { .. } => true,
            QOp::Const { .. }
            | QOp::PrefixMask { .. }
            | QOp::ArgMax { .. }
            | QOp::Requant { .. }
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
            | QOp::ArgMax { x, .. }
            | QOp::Conv { x, .. } => vec![*x],
            QOp::Add { a, b } | QOp::Sub { a, b } | QOp::Mul { a, b } => vec![*a, *b],
            QOp::MatMul { a, b } => match b {
                MatRhs::Tensor(t) => vec![*a, *t],
                MatRhs::Weight(_) => vec![*a],
            },
            QOp::Update { u, .. } => vec![*u],
            QOp::Embed { ids, .. } | QOp::PrefixMask { ids, .. } => vec![*ids],
            QOp::PickCol { x, ids, .. } => vec![*x, *ids],
            QOp::BatchMatMul { a, b, .. } => vec![*a, *b],
            QOp::Input { .. } | QOp::Const { .. } => vec![],
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
            | QOp::ArgMax { x, .. }
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
            QOp::Embed { ids, .. } | QOp::PrefixMask { ids, .. } => *ids = f(*ids),
            QOp::PickCol { x, ids, .. } => {
                *x = f(*x);
                *ids = f(*ids);
            }
            QOp::BatchMatMul { a, b, .. } => {
                *a = f(*a);
                *b = f(*b);
            }
            QOp::Input { .. } | QOp::Const { .. } => {}
        }
        op
    }
}

impl QGraph {
    /// Frees every weight's values, keeping its name and shape: for a prover past its forward
    /// pass, whose proof reads the values from the committed tables (GPT-2 124M: 1 GB that
    /// the proof's own tables then reuse instead of fresh pages). Running the graph after this
    /// is meaningless.
    pub fn drop_weight_values(&mut self) {
        for w in &mut self.weights {
            w.data = Vec::new();
        }
    }

    /// Whether the public output needs a claim of its own at a random point: when the op that
    /// writes it reduces claims (otherwise the requantization or lookup covers it).
    pub fn output_needs_claim(&self) -> bool {
        self.output
            .checked_sub(1)
            .and_then(|n| self.nodes.get(n))
            .is_some_and(|n| n.op.reduces_claims())
    }

    /// Whether a public input value is within the range every value of the circuit keeps,
    /// `[−2^(K−1), 2^(K−1))` (the verifier refuses proofs whose public input is not).
    pub fn public_in_range(&self, v: i64) -> bool {
        let half = 1i64 << (self.config.table_bits - 1);
        (-half..half).contains(&v)
    }

    /// Whether the verifier holds tensor `t`'s values before reading the proof: the public
    /// input or output (not a constant or mask the circuit derives).
    pub fn is_public_data(&self, t: usize) -> bool {
        t == 0
            || t == self.output
            || t.checked_sub(1)
                .and_then(|n| self.nodes.get(n))
                .is_some_and(|n| matches!(n.op, QOp::Input { .. } | QOp::ArgMax { .. }))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padder_is_pad_index_without_the_division() {
        for cols in [
            1usize,
            2,
            3,
            7,
            64,
            768,
            3072,
            50257,
            (1 << 20) + 1,
            (1 << 31) - 1,
        ] {
            let t = QTensor {
                name: String::new(),
                rows: 1 << 10,
                cols,
                frac: 0,
                kind: TensorKind::Virtual,
                bits: 20,
            };
            let p = t.padder();
            let probes = (0..5000usize)
                .chain([cols - 1, cols, cols + 1, 5 * cols + 3])
                .chain([
                    (1usize << 32) - 1,
                    1 << 32,
                    (1 << 32) + 7,
                    (1 << 40) + 12345,
                ]);
            for i in probes {
                assert_eq!(p.at(i), t.pad_index(i), "cols {cols}, i {i}");
            }
        }
    }
}
