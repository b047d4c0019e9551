//! Per-op reductions, read side: a claim on a node's output becomes claims on what the node
//! reads (its input tensors, its weights, its remainder), one module per op family. The
//! prover's `zkgrad-prover/src/ops/` writes each reduction in the same order.
//!
//! Requantizations check themselves at a fresh point ([`requant`]); activations, inputs and
//! softmax normalizers are checked by lookups and range checks, not here.

// These modules index only the verifier's own circuit description (built from the model or
// checked by `from_description`, not read from the proof); no value read from the proof is
// ever used as an index.
#![allow(clippy::indexing_slicing)]

mod conv;
mod elementwise;
mod embed;
mod gemm;
pub(crate) mod layout;
mod matmul;
mod requant;
mod update;

use zkgrad_circuit::{QGraph, QNode, QOp, QTensor};
use zkgrad_field::E;
use zkgrad_sumcheck::SubClaim;
use zkgrad_transcript::VerifierTranscript;

use crate::claims::Claims;
use crate::error::VerifyError;

/// The node being reduced, and the errors that name it.
pub(crate) struct At<'a> {
    pub g: &'a QGraph,
    /// The node's index; it writes tensor `ni + 1`.
    pub ni: usize,
    pub node: &'a QNode,
}

impl At<'_> {
    /// The tensor the node writes.
    pub fn out(&self) -> &QTensor {
        &self.g.tensors[self.ni + 1]
    }
    pub fn err(&self, why: &'static str) -> VerifyError {
        VerifyError::Node {
            node: self.node.name.clone(),
            why,
        }
    }
    /// Reads a sumcheck of `claim` over `vars` variables of degree `degree`, naming the node on
    /// failure.
    pub fn sumcheck(
        &self,
        claim: E,
        vars: usize,
        degree: usize,
        t: &mut VerifierTranscript,
    ) -> Result<SubClaim, VerifyError> {
        zkgrad_sumcheck::verify(claim, vars, degree, t).map_err(|source| {
            VerifyError::NodeSumcheck {
                node: self.node.name.clone(),
                source,
            }
        })
    }
}

/// `eq(point, i)` for every index `i < 2^n` of an `n`-variable point (variable `k` is bit `k`,
/// as in `zkgrad_poly::eq_table`). Up to [`FULL_EQ_BITS`] variables the whole table is kept
/// (16 MiB at most: one lookup per index); beyond, two tables of `2^⌊n/2⌋` and `2^⌈n/2⌉`
/// entries, `eq(point, i) = eq(lo, i mod 2^⌊n/2⌋)·eq(hi, i / 2^⌊n/2⌋)`. The wiring sums of
/// index maps and convolutions stream over up to `DescLimits::max_tensor_elements` indices;
/// this keeps their memory at the square root of that beyond 2^20 (the values are the same
/// field elements either way).
pub(super) enum SplitEq {
    Full(Vec<E>),
    Split { lo: Vec<E>, hi: Vec<E>, bits: usize },
}

/// Points of at most this many variables get a whole eq table.
pub(super) const FULL_EQ_BITS: usize = 20;

impl SplitEq {
    pub fn new(point: &[E]) -> Self {
        if point.len() <= FULL_EQ_BITS {
            return Self::Full(zkgrad_poly::eq_table(point));
        }
        Self::split(point)
    }
    /// For a sum that reads the table `reads` times: the whole table only when it has no
    /// more entries than twice the reads, else the two half tables (a wiring sum over a
    /// small map into a large tensor would spend most of its time building a table it
    /// barely reads; GPT-2's 294 head splits and merges read 12,288 of 65,536).
    pub fn for_reads(point: &[E], reads: usize) -> Self {
        if point.len() <= FULL_EQ_BITS && (1usize << point.len()) <= reads.saturating_mul(2) {
            return Self::Full(zkgrad_poly::eq_table(point));
        }
        Self::split(point)
    }
    /// Always the two half tables (what [`Self::new`] builds beyond [`FULL_EQ_BITS`]).
    pub fn split(point: &[E]) -> Self {
        let bits = point.len() / 2;
        let (lo, hi) = point.split_at(bits);
        Self::Split {
            lo: zkgrad_poly::eq_table(lo),
            hi: zkgrad_poly::eq_table(hi),
            bits,
        }
    }
    /// `eq(point, i)`, `None` for `i ≥ 2^n`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<E> {
        match self {
            Self::Full(t) => t.get(i).copied(),
            Self::Split { lo, hi, bits } => {
                let lo = lo.get(i & ((1usize << bits) - 1))?;
                let hi = hi.get(i >> bits)?;
                Some(*lo * *hi)
            }
        }
    }
}

/// Reduces the claims `pending` on node `at`'s output (each a point and a value).
pub(crate) fn reduce(
    at: &At,
    pending: Vec<(Vec<E>, E)>,
    rem_limbs: &[Option<(usize, &zkgrad_circuit::layout::Decomposition)>],
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    match &at.node.op {
        QOp::Requant { x, shift } => requant::reduce(at, *x, *shift, pending, rem_limbs, claims, t),
        QOp::Gemm {
            x,
            w,
            bias,
            bias_shift,
        } => gemm::reduce(at, *x, *w, *bias, *bias_shift, pending, claims, t),
        QOp::MatMul { a, b } => matmul::reduce(at, *a, *b, pending, claims, t),
        QOp::RowSum { x } => matmul::reduce_row_sum(at, *x, pending, claims, t),
        QOp::Add { a, b } => elementwise::reduce_add(*a, *b, true, pending, claims, t),
        QOp::Sub { a, b } => elementwise::reduce_add(*a, *b, false, pending, claims, t),
        QOp::AddConst { x, c } => elementwise::reduce_add_const(at, *x, *c, pending, claims),
        QOp::Scale { x, c } => elementwise::reduce_scale(at, *x, *c, pending, claims),
        QOp::Mul { a, b } => elementwise::reduce_mul(at, *a, *b, pending, claims, t),
        QOp::Broadcast { x } => layout::reduce_broadcast(at, *x, pending, claims),
        QOp::Transpose { x } => layout::reduce_transpose(at, *x, pending, claims),
        QOp::Gather { x, .. } => layout::reduce_gather(at, *x, pending, claims, t),
        QOp::Conv {
            x,
            w,
            bias,
            bias_shift,
            geom,
        } => conv::reduce(at, *x, *w, *bias, *bias_shift, geom, pending, claims, t),
        QOp::Update { w, u, .. } => update::reduce(at, *w, *u, claims, t),
        QOp::Embed { ids, w } => embed::reduce(at, *ids, *w, pending, claims, t),
        QOp::PickCol { x, ids, offset } => {
            embed::reduce_pick_col(at, *x, *ids, *offset, pending, claims, t)
        }
        QOp::BatchMatMul { a, b, batch } => {
            matmul::reduce_batch(at, *a, *b, *batch, pending, claims, t)
        }
        QOp::Act { .. }
        | QOp::Input { .. }
        | QOp::LogSumExp { .. }
        | QOp::Const { .. }
        | QOp::PrefixMask { .. }
        | QOp::ArgMax { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::SplitEq;
    use zkgrad_field::{PrimeCharacteristicRing, E, F};

    #[test]
    fn split_eq_is_the_eq_table() {
        for n in 0..7usize {
            let point: Vec<E> = (0..n)
                .map(|k| E::from(F::from_u64(3 + 7 * k as u64)))
                .collect();
            let table = zkgrad_poly::eq_table(&point);
            for split in [SplitEq::new(&point), SplitEq::split(&point)] {
                for (i, v) in table.iter().enumerate() {
                    assert_eq!(split.get(i), Some(*v), "n = {n}, i = {i}");
                }
                assert_eq!(split.get(table.len()), None);
            }
        }
    }
}
