//! Per-op reductions, write side, one module per op family, mirroring
//! `zkgrad-verifier/src/ops/` module for module: for each claim on a node's output the prover
//! writes what the verifier reads to move the claim onto the node's inputs, weights and
//! remainder.

// Prover side: the circuit and the witness are the prover's own, built together.
#![allow(clippy::indexing_slicing)]

mod conv;
mod elementwise;
mod embed;
mod gemm;
mod layout;
mod matmul;
mod requant;
mod update;

use zkgrad_circuit::layout::Decomposition;
use zkgrad_circuit::{QGraph, QNode, QOp, QTensor};
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_model::Witness;
use zkgrad_transcript::ProverTranscript;

use crate::claims::Claims;
use crate::CommittedModel;

/// The node being reduced, with the witness and the committed weights it reads.
pub(crate) struct At<'a> {
    pub g: &'a QGraph,
    pub w: &'a Witness,
    pub model: &'a CommittedModel,
    /// The node's index; it writes tensor `ni + 1`.
    pub ni: usize,
    pub node: &'a QNode,
}

impl At<'_> {
    /// The tensor the node writes.
    pub fn out(&self) -> &QTensor {
        &self.g.tensors[self.ni + 1]
    }
    /// Weight tensor `wi`'s padded values.
    pub fn weight(&self, wi: usize) -> std::borrow::Cow<'_, [F]> {
        let w = &self.g.weights[wi];
        self.model.weight_values(wi, w.rows, w.cols)
    }
    /// `Σ_r weights[r] · W[r, ·]` over weight `wi`'s padded values, without a padded copy.
    pub fn weight_rows(&self, wi: usize, weights: &[E]) -> Vec<E> {
        let w = &self.g.weights[wi];
        self.model
            .weight_row_combination(wi, w.rows, w.cols, weights)
    }
    /// `out[r] = Σ_c weights[c] · W[r, c]` over weight `wi`'s padded values, without a padded
    /// copy.
    pub fn weight_cols(&self, wi: usize, weights: &[E]) -> Vec<E> {
        let w = &self.g.weights[wi];
        self.model
            .weight_col_combination(wi, w.rows, w.cols, weights)
    }
}

/// Proves the claims `pending` on node `at`'s output (each a point).
pub(crate) fn reduce(
    at: &At,
    pending: Vec<Vec<E>>,
    decomps: &[Decomposition],
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    match &at.node.op {
        QOp::Requant { x, shift } => requant::reduce(at, *x, *shift, pending, decomps, claims, t),
        QOp::Gemm { x, w, bias, .. } => gemm::reduce(at, *x, *w, *bias, pending, claims, t),
        QOp::MatMul { a, b } => matmul::reduce(at, *a, *b, pending, claims, t),
        QOp::RowSum { x } => matmul::reduce_row_sum(at, *x, pending, claims, t),
        QOp::Add { a, b } | QOp::Sub { a, b } => {
            elementwise::reduce_add(at, *a, *b, pending, claims, t)
        }
        QOp::AddConst { x, .. } => elementwise::reduce_add_const(*x, pending, claims),
        QOp::Scale { x, c } => elementwise::reduce_scale(*x, *c, pending, claims),
        QOp::Mul { a, b } => elementwise::reduce_mul(at, *a, *b, pending, claims, t),
        QOp::Broadcast { x } => layout::reduce_broadcast(at, *x, pending, claims),
        QOp::Transpose { x } => layout::reduce_transpose(at, *x, pending, claims),
        QOp::Gather { x, map } => layout::reduce_gather(at, *x, map, pending, claims, t),
        QOp::Conv {
            x, w, bias, geom, ..
        } => conv::reduce(at, *x, *w, *bias, geom, pending, claims, t),
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
        | QOp::ArgMax { .. } => {}
    }
}

/// The indicator of the first `real` of `len` indices (a contraction's real entries).
fn real_prefix(real: usize, len: usize) -> Vec<E> {
    (0..len)
        .map(|k| if k < real { E::ONE } else { E::ZERO })
        .collect()
}

/// `out[row] = Σ_c weights[c] · M[row, c]` for a row-major matrix `M` with `cols` columns.
pub(crate) fn col_combination(m: &[F], cols: usize, weights: &[E]) -> Vec<E> {
    use rayon::prelude::*;
    m.par_chunks(cols)
        .map(|row| row.iter().zip(weights).map(|(v, w)| *w * *v).sum())
        .collect()
}
