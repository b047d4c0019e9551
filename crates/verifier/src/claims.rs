//! The claims a verification collects: each a point and a value on a tensor, a remainder, a
//! limb, a weight or an updated weight, routed by who knows the values
//! ([`Claims::on_tensor`]); the openings at the end discharge them.

// These modules index only the verifier's own circuit description (built from the model or
// checked by `from_description`, not read from the proof); no value read from the proof is
// ever used as an index.
#![allow(clippy::indexing_slicing)]

use zkgrad_circuit::layout::{CommitRef, Operand};
use zkgrad_circuit::{QGraph, QNode, QOp, TensorKind};
use zkgrad_field::{PrimeCharacteristicRing, E};

use crate::error::VerifyError;
use crate::protocol::eval_public;

/// Claims collected during verification, discharged by the two openings at the end.
pub(crate) struct Claims<'a> {
    pub g: &'a QGraph,
    pub input: &'a [i64],
    pub output: &'a [i64],
    pub witness: Vec<(CommitRef, Vec<E>, E)>,
    pub weights: Vec<(usize, Vec<E>, E)>,
    pub after: Vec<(usize, Vec<E>, E)>,
    pub pending: Vec<Vec<(Vec<E>, E)>>,
    /// Where each public input tensor's values start in the public input (computed once).
    offsets: Vec<Option<usize>>,
    /// The values of each ArgMax hint placed beside other outputs
    /// (`zkgrad_circuit::argmax::placed_ids`; `check_statement` refused a proof without them).
    placed: Vec<(usize, Vec<i64>)>,
    /// Index-map wiring checks left for the end of the layers phase
    /// (`ops::layout::check_wirings`): none of their results enters the transcript, so they
    /// are checked together, on the machine's threads, before any opening.
    pub wirings: Vec<Wiring>,
}

/// A Gather node's final check, deferred: `closing = w̃_r(ρ)·x̃(ρ)` with the wiring sum
/// `w̃_r(ρ) = Σ_j eq(r, j)·eq(ρ, π(j))` over the node's own map.
pub(crate) struct Wiring {
    /// The Gather node.
    pub node: usize,
    pub r: Vec<E>,
    pub rho: Vec<E>,
    /// The sumcheck's final value, and the claimed `x̃(ρ)`.
    pub closing: E,
    pub x_at_rho: E,
}

impl Claims<'_> {
    /// The values of public tensor `t`: the output, a constant of the circuit, or a slice of
    /// the public input.
    pub fn public_values(&self, t: usize) -> &[i64] {
        if t == self.g.output {
            return self.output;
        }
        if let Some((_, ids)) = self.placed.iter().find(|(p, _)| *p == t) {
            return ids;
        }
        if let Some(QNode {
            op: QOp::Const { data },
            ..
        }) = t.checked_sub(1).and_then(|n| self.g.nodes.get(n))
        {
            return data;
        }
        let off = self.offsets.get(t).copied().flatten().unwrap_or(0);
        let len = self.g.tensors[t].len();
        self.input.get(off..off + len).unwrap_or(&[])
    }

    /// Routes a claim `T̃_t(point) = value` by who knows `T_t`.
    pub fn on_tensor(&mut self, t: usize, point: Vec<E>, value: E) -> Result<(), VerifyError> {
        let tensor = &self.g.tensors[t];
        match tensor.kind {
            TensorKind::Public => {
                let expected = match t.checked_sub(1).and_then(|n| self.g.nodes.get(n)) {
                    Some(QNode {
                        op: QOp::PrefixMask { ids, offset },
                        ..
                    }) => self.prefix_mask_eval(tensor, *ids, *offset, &point)?,
                    _ => eval_public(tensor, self.public_values(t), &point),
                };
                if expected != value {
                    return Err(VerifyError::PublicMismatch {
                        tensor: tensor.name.clone(),
                    });
                }
            }
            TensorKind::Committed => self.witness.push((CommitRef::Tensor(t), point, value)),
            TensorKind::Virtual => self.pending[t].push((point, value)),
            TensorKind::After => self.after.push((t, point, value)),
        }
        Ok(())
    }

    /// The MLE of `out[r, c] = [c < ids[offset + r]]` at `point`:
    /// `Σ_r eq(p_rows, r)·Σ_{c < ids[offset + r]} eq(p_cols, c)`, in `O(rows · log cols)`.
    fn prefix_mask_eval(
        &self,
        tensor: &zkgrad_circuit::QTensor,
        ids: usize,
        offset: usize,
        point: &[E],
    ) -> Result<E, VerifyError> {
        let lc = tensor.log_cols();
        if point.len() != tensor.log_size() {
            return Err(VerifyError::PublicMismatch {
                tensor: tensor.name.clone(),
            });
        }
        let (p_cols, p_rows) = point.split_at(lc);
        let ids = self
            .public_values(ids)
            .get(offset..offset.saturating_add(tensor.rows))
            .unwrap_or(&[]);
        if ids.len() != tensor.rows {
            return Err(VerifyError::PublicMismatch {
                tensor: tensor.name.clone(),
            });
        }
        let eq_rows = zkgrad_poly::eq_table(p_rows);
        let mut v = E::ZERO;
        for (r, &id) in ids.iter().enumerate() {
            let n = usize::try_from(id.clamp(0, tensor.cols as i64)).unwrap_or(0);
            if let Some(e) = eq_rows.get(r) {
                v += *e * zkgrad_poly::prefix_indicator_eval(n, p_cols);
            }
        }
        Ok(v)
    }

    pub fn on_operand(&mut self, op: Operand, point: Vec<E>, value: E) -> Result<(), VerifyError> {
        match op {
            Operand::Tensor(t) => self.on_tensor(t, point, value),
            Operand::Rem(n) => {
                self.witness.push((CommitRef::Rem(n), point, value));
                Ok(())
            }
            Operand::Limb(d, k) => {
                self.witness.push((CommitRef::Limb(d, k), point, value));
                Ok(())
            }
        }
    }
}

impl<'a> Claims<'a> {
    /// No claims yet, about `g` with public `input` and `output`.
    pub fn new(g: &'a QGraph, input: &'a [i64], output: &'a [i64]) -> Self {
        Self {
            g,
            input,
            output,
            witness: Vec::new(),
            weights: Vec::new(),
            after: Vec::new(),
            pending: vec![Vec::new(); g.tensors.len()],
            wirings: Vec::new(),
            offsets: {
                let mut offsets = vec![None; g.tensors.len()];
                let mut off = 0usize;
                for t in g.input_tensors() {
                    if let Some(slot) = offsets.get_mut(t) {
                        if slot.is_none() {
                            *slot = Some(off);
                        }
                    }
                    off += g.tensors.get(t).map_or(0, |t| t.len());
                }
                offsets
            },
            placed: placed_hints(g)
                .filter_map(|ni| {
                    zkgrad_circuit::argmax::placed_ids(g, ni, output).map(|ids| (ni + 1, ids))
                })
                .collect(),
        }
    }
}

/// The nodes of ArgMax hints whose tensor is a slice of the output rather than the output.
pub(crate) fn placed_hints(g: &QGraph) -> impl Iterator<Item = usize> + '_ {
    g.nodes
        .iter()
        .enumerate()
        .filter(move |(ni, n)| matches!(n.op, QOp::ArgMax { .. }) && ni + 1 != g.output)
        .map(|(ni, _)| ni)
}
