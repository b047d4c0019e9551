//! The integer bounds that make every relation a proof checks mod p an integer relation, and
//! the check that a circuit keeps them ([`QGraph::check_relations`]), run where circuits are
//! built (the quantizer, the training and LoRA builders) and where descriptions are decoded
//! (`QGraph::from_description`).
//!
//! The verifier checks identities in Goldilocks, `p = 2^64 − 2^32 + 1`, where
//! `2^64 ≡ 2^32 − 1`: an identity that holds mod p holds over the integers only if both sides
//! are bounded well below p. The rules (docs/SECURITY.md, "Uniqueness"):
//!
//! - **Roundings.** `x + 2^(s−1)·[real] = 2^s·y + rem` with `rem ∈ [0, 2^s)` (range-checked) and
//!   `y ∈ [−2^(b−1), 2^(b−1))` (range-checked, or read by a table of `2^K` entries, or public):
//!   the right side takes `2^(s+b)` distinct integer values in `[−2^(s+b−1), 2^(s+b−1))`. Two
//!   solutions for one `x` would differ by a nonzero multiple of p smaller than `2^(s+b)`; with
//!   `s + b ≤ 62` ([`MAX_ROUNDING_BITS`]) there is none. So `(y, rem)` is unique, and when the
//!   integer `x` satisfies `|x| + 2^(s−1) < 2^(s+b−1)` (the builders keep every accumulator below
//!   `2^62`) it is the integer rounding. The substitution `y → y + 2^(64−s)`,
//!   `rem → rem − (2^32 − 1)` — a solution mod p whenever `s ≥ 33` — puts `y` out of its range.
//! - **Range checks and limbs.** `a + 2^(b−1) = Σ_k 2^(L·k)·limb_k` with each limb in its table:
//!   the sum is an integer in `[0, 2^b)` with `b ≤ 62`, so `a`'s field value is that integer
//!   minus the offset.
//! - **Updates.** `W' = W − u` with `u` the rounding above: the prover's unknowns in
//!   `x + 2^(s−1) = 2^s·(W − W') + rem` are `W'` (range-checked to its width `b`) and `rem`, so
//!   when `s + b ≤ 62` it is unique and `u` stays virtual; otherwise `u` is committed and
//!   range-checked to `62 − s` bits. A weight is updated at most once per step.
//! - **Lookups** bind the whole value: `a + 2^(K−1) ∈ [0, 2^K)` for an activation's input, so
//!   its output is the table's function of that integer. An activation reads a committed or
//!   public tensor, never a virtual one.
//! - **No wrap.** Every value stays below `2^62` in magnitude for every input in range
//!   ([`QGraph::value_bounds`]: products of bounded operands, weights by their row sums or
//!   their range), so each field value is the integer; a product never reads a value whose
//!   bound is unknown.
//! - **Hints.** The only prover-chosen value without a relation of its own is softmax's
//!   log-sum-exp; it must sit in the exact template [`crate::softmax::softmax`] builds, which
//!   pins it within a stated slack.

use crate::ir::{QGraph, QOp, TensorKind};

/// `s + b` of every rounding: at most 62, so that its right side spans fewer than `2^63 < p`
/// integers.
pub const MAX_ROUNDING_BITS: u32 = 62;

/// Every value of a circuit stays below `2^62 < p/2` in magnitude: its field element is then
/// the integer (negatives as `p − |x|`), and no identity holds by wrapping around p.
pub const MAX_VALUE_BITS: u32 = 62;

/// Who reads what, computed once per pass in one walk of the nodes: the rules look these up
/// instead of scanning the circuit again for every node, so that checking a description stays
/// linear in its size (a proof file may declare 2^16 nodes).
struct Uses {
    /// How many operand slots of nodes read each tensor.
    readers: Vec<u32>,
    /// Whether an activation reads each tensor.
    by_act: Vec<bool>,
    /// For a tensor that is an update's `u`: the width of that update's `W'`.
    update_of_u: Vec<Option<u32>>,
    /// For each weight: the width of its update, if it is updated.
    weight_update: Vec<Option<u32>>,
}

impl Uses {
    fn of(g: &QGraph) -> Self {
        let n = g.tensors.len();
        let mut u = Uses {
            readers: vec![0; n],
            by_act: vec![false; n],
            update_of_u: vec![None; n],
            weight_update: vec![None; g.weights.len()],
        };
        for node in &g.nodes {
            for t in node.op.operands() {
                if let Some(r) = u.readers.get_mut(t) {
                    *r += 1;
                }
            }
            match node.op {
                QOp::Act { x, .. } => {
                    if let Some(a) = u.by_act.get_mut(x) {
                        *a = true;
                    }
                }
                QOp::Update { w, u: ut, bits } => {
                    if let Some(slot) = u.update_of_u.get_mut(ut) {
                        *slot = Some(bits);
                    }
                    if let Some(slot) = u.weight_update.get_mut(w) {
                        slot.get_or_insert(bits);
                    }
                }
                _ => {}
            }
        }
        u
    }
}

impl QGraph {
    /// The signed width a committed or public tensor is proven to fit (`None` for virtual
    /// tensors and table outputs, which no rounding reads as its output): public values are
    /// bounded by the verifier to `K` bits; a requantized value read by an activation is bound
    /// by its table's domain (`K` bits); any other committed requantized value, a log-sum-exp
    /// hint and an updated weight are range-checked to their own width.
    pub fn proven_bits(&self, t: usize) -> Option<u32> {
        self.proven_bits_with(&Uses::of(self), t)
    }

    fn proven_bits_with(&self, uses: &Uses, t: usize) -> Option<u32> {
        let tensor = self.tensors.get(t)?;
        let k = self.config.table_bits;
        let by_act = uses.by_act.get(t).copied().unwrap_or(false);
        match tensor.kind {
            TensorKind::Public => Some(k),
            TensorKind::Virtual => None,
            TensorKind::After => match self.nodes.get(t.checked_sub(1)?)?.op {
                QOp::Update { bits, .. } => Some(bits),
                _ => None,
            },
            TensorKind::Committed => match self.nodes.get(t.checked_sub(1)?)?.op {
                QOp::Requant { .. } if by_act => Some(k),
                QOp::Requant { .. } | QOp::LogSumExp { .. } => Some(tensor.bits),
                _ => None,
            },
        }
    }

    /// Checks the rules of this module on every node: each rounding's `s + b ≤ 62`, its output
    /// committed or public; each activation reading a committed or public tensor; each update
    /// subtracting a committed rounding from a weight updated only once, its result committed
    /// apart (never the public output); each log-sum-exp hint inside its softmax template; and
    /// no value wrapping around p ([`Self::check_no_wrap`]). Linear in the circuit's size.
    /// Indices must already be valid (as `from_description` and the builders guarantee).
    pub fn check_relations(&self) -> Result<(), String> {
        let uses = Uses::of(self);
        let mut updated = vec![false; self.weights.len()];
        for (ni, node) in self.nodes.iter().enumerate() {
            let o = ni + 1;
            let kind = |t: usize| self.tensors.get(t).map(|t| t.kind);
            let bad = |why: String| Err(format!("node {ni} ({}): {why}", node.name));
            match &node.op {
                QOp::Requant { shift, .. } => {
                    // A virtual rounding is an update's `u = W − W'`: unique by the range of
                    // `W'` (the prover's unknown beside `rem`), so `s + bits(W') ≤ 62`.
                    let update_bits = uses.update_of_u.get(o).copied().flatten();
                    let readers = uses.readers.get(o).copied().unwrap_or(0);
                    let bits = match (kind(o), update_bits) {
                        (Some(TensorKind::Committed | TensorKind::Public), _) => {
                            self.proven_bits_with(&uses, o)
                        }
                        (Some(TensorKind::Virtual), Some(bits)) if readers == 1 => Some(bits),
                        _ => {
                            return bad("a rounding's output must be committed or public, or an \
                                 update's rounding read by its update alone"
                                .into())
                        }
                    };
                    if *shift > 0 {
                        let Some(bits) = bits else {
                            return bad("a rounding's output has no proven bound".into());
                        };
                        if shift + bits > MAX_ROUNDING_BITS {
                            return bad(format!(
                                "a rounding by {shift} bits of a {bits}-bit value: shift + bits \
                                 must be at most {MAX_ROUNDING_BITS} for it to be unique mod p"
                            ));
                        }
                    }
                }
                QOp::Act { x, .. } => {
                    if !matches!(kind(*x), Some(TensorKind::Committed | TensorKind::Public)) {
                        return bad("an activation must read a committed or public tensor".into());
                    }
                }
                QOp::Update { w, u, .. } => {
                    if kind(o) != Some(TensorKind::After) {
                        return bad("an updated weight is committed apart, never public".into());
                    }
                    let rounding = u
                        .checked_sub(1)
                        .and_then(|n| self.nodes.get(n))
                        .is_some_and(|n| matches!(n.op, QOp::Requant { .. }));
                    if !matches!(kind(*u), Some(TensorKind::Committed | TensorKind::Virtual))
                        || !rounding
                    {
                        return bad("an update must subtract a rounding".into());
                    }
                    match updated.get_mut(*w) {
                        Some(done) if !*done => *done = true,
                        _ => return bad(format!("weight {w} is updated twice")),
                    }
                }
                QOp::LogSumExp { .. } => crate::softmax::check_template(
                    self,
                    ni,
                    uses.readers.get(o).copied().unwrap_or(0),
                )?,
                QOp::Gemm { .. }
                | QOp::Add { .. }
                | QOp::Sub { .. }
                | QOp::Mul { .. }
                | QOp::Scale { .. }
                | QOp::Input { .. }
                | QOp::MatMul { .. }
                | QOp::Transpose { .. }
                | QOp::RowSum { .. }
                | QOp::Broadcast { .. }
                | QOp::AddConst { .. }
                | QOp::Gather { .. }
                | QOp::Conv { .. } => {}
                QOp::Const { data } => {
                    // A constant output would be compared with nothing: no claim reaches it.
                    if o == self.output {
                        return bad("a constant cannot be the output".into());
                    }
                    let len = self.tensors.get(o).map_or(0, |t| t.len());
                    let k = self.config.table_bits;
                    if data.len() != len || data.iter().any(|&v| !self.public_in_range(v)) {
                        return bad(format!(
                            "a constant must hold its tensor's {len} values, each a {k}-bit \
                             signed integer"
                        ));
                    }
                }
                QOp::Embed { ids, w } => {
                    // The ids are public input at scale 2^0 that the verifier reads as indices.
                    let is_input = *ids == 0
                        || ids
                            .checked_sub(1)
                            .and_then(|n| self.nodes.get(n))
                            .is_some_and(|n| matches!(n.op, QOp::Input { .. }));
                    let (Some(ti), Some(wt), Some(to)) = (
                        self.tensors.get(*ids),
                        self.weights.get(*w),
                        self.tensors.get(o),
                    ) else {
                        return bad("operands out of range".into());
                    };
                    if !is_input || ti.frac != 0 || ti.kind != TensorKind::Public {
                        return bad(
                            "an embedding reads its ids from a public input at scale 2^0".into(),
                        );
                    }
                    if to.rows != ti.len() || to.cols != wt.cols {
                        return bad(format!(
                            "an embedding of {} ids into a [{}, {}] table cannot write [{}, {}]",
                            ti.len(),
                            wt.rows,
                            wt.cols,
                            to.rows,
                            to.cols
                        ));
                    }
                }
                QOp::ArgMax { .. } => crate::argmax::check_template(self, ni)?,
                QOp::PickCol { ids, offset, .. } | QOp::PrefixMask { ids, offset } => {
                    // A mask output would be compared with nothing: no claim reaches it.
                    if matches!(node.op, QOp::PrefixMask { .. }) && o == self.output {
                        return bad("a mask cannot be the output".into());
                    }
                    // The ids are public data the verifier holds, integers at 2^0, one per row.
                    let (Some(ti), Some(to)) = (self.tensors.get(*ids), self.tensors.get(o)) else {
                        return bad("operands out of range".into());
                    };
                    if !self.is_public_data(*ids) || ti.frac != 0 {
                        return bad(
                            "the ids of a pick must be public input or output at scale 2^0".into(),
                        );
                    }
                    if offset.checked_add(to.rows).is_none_or(|end| end > ti.len()) {
                        return bad(format!(
                            "{} rows from id {offset} of a tensor of {} values",
                            to.rows,
                            ti.len()
                        ));
                    }
                    if let QOp::PickCol { x, .. } = node.op {
                        let xt = self.tensors.get(x);
                        if !matches!(kind(x), Some(TensorKind::Committed | TensorKind::Public))
                            || xt.map(|t| t.rows) != Some(to.rows)
                            || to.cols != 1
                        {
                            return bad("a pick reads one entry of each row of a committed or \
                                        public tensor"
                                .into());
                        }
                    }
                }
                QOp::BatchMatMul { a, b, batch } => {
                    let (Some(ta), Some(tb)) = (self.tensors.get(*a), self.tensors.get(*b)) else {
                        return bad("operands out of range".into());
                    };
                    let Some(to) = self.tensors.get(o) else {
                        return bad("output out of range".into());
                    };
                    let dims = |t: &crate::ir::QTensor| (t.rows, t.cols);
                    if !batch_matmul_shapes(dims(ta), dims(tb), dims(to), *batch) {
                        return bad(format!(
                            "batched product of [{}, {}] and [{}, {}] in {batch} batches: the \
                             rows per batch must be powers of two",
                            ta.rows, ta.cols, tb.rows, tb.cols
                        ));
                    }
                }
            }
        }
        self.check_no_wrap_with(&uses)
    }

    /// An upper bound on `|value|` of every tensor, over every public input in range and every
    /// committed value in its proven range: from the public range, the weights' values (an
    /// updated weight by its range instead, which holds at every step of a run), the range
    /// checks and the tables. `None` where it depends on weights the circuit does not hold (a
    /// description decoded from a proof) — until a rounding's range bounds it again.
    pub fn value_bounds(&self) -> Vec<Option<u128>> {
        let mut b = Vec::new();
        self.extend_value_bounds(&mut b);
        b
    }

    /// [`Self::value_bounds`] of the tensors past `b.len()`, appended to `b` (the earlier ones
    /// as `b` holds them): the quantizer keeps one vector while it builds, so that each
    /// weight's row sums are read once. An entry computed before later nodes were pushed may
    /// be looser or tighter than a fresh one (a later activation can narrow a rounding's
    /// proven width); it only guides what the quantizer commits — `check_relations` recomputes.
    pub fn extend_value_bounds(&self, b: &mut Vec<Option<u128>>) {
        self.extend_value_bounds_with(&Uses::of(self), b);
    }

    fn extend_value_bounds_with(&self, uses: &Uses, b: &mut Vec<Option<u128>>) {
        let k = self.config.table_bits;
        let half = |bits: u32| 1u128 << (bits.clamp(1, 126) - 1);
        // (largest row sum of |W|, largest |W|) of a weight, if known: read once per call (a
        // tied embedding is read by its lookup and by the head), in one parallel pass (GPT-2
        // 124M: 100 ms a call on one thread, 34 ms so: u64 sums where they cannot wrap).
        let stats: Vec<std::cell::OnceCell<Option<(u128, u128)>>> = self
            .weights
            .iter()
            .map(|_| std::cell::OnceCell::new())
            .collect();
        let weight = |wi: usize| -> Option<(u128, u128)> {
            let w = self.weights.get(wi)?;
            let actual = |v: &[i64]| -> (u128, u128) {
                use rayon::prelude::*;
                let cols = w.cols.max(1);
                v.par_chunks(cols)
                    .with_min_len((1 << 14) / cols + 1)
                    .map(|r| {
                        let max = r.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0) as u128;
                        // The sum in u64 (vectorized) where `len · max` cannot exceed it.
                        let sum = if max.saturating_mul(r.len() as u128) <= u64::MAX as u128 {
                            r.iter().map(|x| x.unsigned_abs()).sum::<u64>() as u128
                        } else {
                            r.iter().map(|x| x.unsigned_abs() as u128).sum::<u128>()
                        };
                        (sum, max)
                    })
                    .reduce(|| (0, 0), |x, y| (x.0.max(y.0), x.1.max(y.1)))
            };
            *stats
                .get(wi)?
                .get_or_init(|| match uses.weight_update.get(wi).copied().flatten() {
                    Some(bits) => Some((w.cols as u128 * half(bits), half(bits))),
                    None if w.data.len() == w.rows * w.cols => Some(actual(&w.data)),
                    None => None,
                })
        };
        let cap = |v: u128| v.min(1u128 << 126);
        if b.is_empty() {
            b.push(Some(half(k)));
        }
        for (ni, node) in self.nodes.iter().enumerate().skip(b.len() - 1) {
            let o = ni + 1;
            let get = |t: usize| b.get(t).copied().flatten();
            let linear = |x: Option<u128>, w: usize, bias: &Option<usize>, shift: u32| {
                let (rows, _) = weight(w)?;
                let bias = match bias {
                    Some(bi) => weight(*bi)?.1 << shift.min(60),
                    None => 0,
                };
                Some(cap(rows.saturating_mul(x?).saturating_add(bias)))
            };
            let v = match &node.op {
                QOp::Gemm {
                    x,
                    w,
                    bias,
                    bias_shift,
                }
                | QOp::Conv {
                    x,
                    w,
                    bias,
                    bias_shift,
                    ..
                } => linear(get(*x), *w, bias, *bias_shift),
                QOp::Add { a, b: bb } | QOp::Sub { a, b: bb } => {
                    get(*a).zip(get(*bb)).map(|(x, y)| cap(x + y))
                }
                QOp::Mul { a, b: bb } => {
                    get(*a).zip(get(*bb)).map(|(x, y)| cap(x.saturating_mul(y)))
                }
                QOp::Scale { x, c } => {
                    get(*x).map(|v| cap(v.saturating_mul(c.unsigned_abs() as u128)))
                }
                QOp::AddConst { x, c } => get(*x).map(|v| cap(v + c.unsigned_abs() as u128)),
                QOp::MatMul { a, b: rhs } => {
                    let kdim = self.tensors.get(*a).map_or(0, |t| t.cols) as u128;
                    let rb = match rhs {
                        crate::ir::MatRhs::Tensor(t) => get(*t),
                        crate::ir::MatRhs::Weight(wi) => weight(*wi).map(|w| w.1),
                    };
                    get(*a)
                        .zip(rb)
                        .map(|(x, y)| cap(kdim.saturating_mul(x).saturating_mul(y)))
                }
                QOp::RowSum { x } => {
                    let rows = self.tensors.get(*x).map_or(0, |t| t.rows) as u128;
                    get(*x).map(|v| cap(rows.saturating_mul(v)))
                }
                QOp::BatchMatMul { a, b: bb, .. } => {
                    let kdim = self.tensors.get(*a).map_or(0, |t| t.cols) as u128;
                    get(*a)
                        .zip(get(*bb))
                        .map(|(x, y)| cap(kdim.saturating_mul(x).saturating_mul(y)))
                }
                QOp::Embed { w, .. } => weight(*w).map(|w| w.1),
                QOp::PickCol { x, .. } => get(*x),
                QOp::PrefixMask { .. } => Some(1),
                QOp::ArgMax { x, .. } => self.tensors.get(*x).map(|t| t.cols as u128),
                QOp::Const { data } => Some(
                    data.iter()
                        .map(|v| v.unsigned_abs() as u128)
                        .max()
                        .unwrap_or(0),
                ),
                QOp::Transpose { x } | QOp::Broadcast { x } | QOp::Gather { x, .. } => get(*x),
                QOp::Requant { x, shift } => {
                    let proven = self.proven_bits_with(uses, o).map(half);
                    match (get(*x).map(|v| (v >> shift) + 1), proven) {
                        (Some(r), Some(p)) => Some(r.min(p)),
                        (r, p) => r.or(p),
                    }
                }
                QOp::Act { table, .. } => self.tables.get(*table).map(|t| t.output_bound(k)),
                QOp::Input { .. } => Some(half(k)),
                QOp::LogSumExp { .. } | QOp::Update { .. } => {
                    self.proven_bits_with(uses, o).map(half)
                }
            };
            b.push(v);
        }
    }

    /// No value wraps around p: every tensor's bound ([`Self::value_bounds`]) is below
    /// `2^MAX_VALUE_BITS`, so each field value is the integer the integer forward pass
    /// computes, for every input in range; and no product multiplies a value whose bound is
    /// unknown (a description's weights are not known, but its roundings' ranges are).
    pub fn check_no_wrap(&self) -> Result<(), String> {
        self.check_no_wrap_with(&Uses::of(self))
    }

    fn check_no_wrap_with(&self, uses: &Uses) -> Result<(), String> {
        let mut bounds = Vec::new();
        self.extend_value_bounds_with(uses, &mut bounds);
        let limit = 1u128 << MAX_VALUE_BITS;
        for (t, b) in bounds.iter().enumerate() {
            if let Some(b) = b {
                if *b >= limit {
                    let name = self.tensors.get(t).map_or("", |t| t.name.as_str());
                    return Err(format!(
                        "tensor {t} ({name}) may reach {b} > 2^{MAX_VALUE_BITS}: its value would \
                         wrap around p"
                    ));
                }
            }
        }
        for (ni, node) in self.nodes.iter().enumerate() {
            let unknown = |t: usize| bounds.get(t).copied().flatten().is_none();
            let operands = match &node.op {
                QOp::Mul { a, b } => vec![*a, *b],
                QOp::MatMul {
                    a,
                    b: crate::ir::MatRhs::Tensor(t),
                } => vec![*a, *t],
                QOp::BatchMatMul { a, b, .. } => vec![*a, *b],
                _ => continue,
            };
            if operands.into_iter().any(unknown) {
                return Err(format!(
                    "node {ni} ({}): a product of a value with no proven bound",
                    node.name
                ));
            }
        }
        Ok(())
    }
}

/// Whether `a` `[batch·M, K]`, `b` `[batch·K, N]` and `out` `[batch·M, N]` (each `(rows,
/// cols)`) fit a batched product with `M` and `K` powers of two (the batch index is then the
/// high row variables of all three tensors).
pub fn batch_matmul_shapes(
    a: (usize, usize),
    b: (usize, usize),
    out: (usize, usize),
    batch: usize,
) -> bool {
    if batch == 0 || !a.0.is_multiple_of(batch) || !b.0.is_multiple_of(batch) {
        return false;
    }
    let (m, k) = (a.0 / batch, b.0 / batch);
    m.is_power_of_two() && k.is_power_of_two() && a.1 == k && out == (a.0, b.1)
}
