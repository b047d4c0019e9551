//! The claims the prover accumulates, mirroring the verifier's, and the witness tables they
//! are about (an operand's integer values, its padded field values).

use zkgrad_circuit::layout::{CommitRef, Operand};
use zkgrad_circuit::{QGraph, TensorKind};
use zkgrad_field::{f_from_i64, E, F};
use zkgrad_model::Witness;

/// Claims the prover accumulates, mirroring the verifier's.
pub(crate) struct Claims<'a> {
    pub g: &'a QGraph,
    pub witness: Vec<(CommitRef, Vec<E>)>,
    pub weights: Vec<(usize, Vec<E>)>,
    pub after: Vec<(usize, Vec<E>)>,
    pub pending: Vec<Vec<Vec<E>>>,
}

impl Claims<'_> {
    pub fn on_tensor(&mut self, t: usize, point: Vec<E>) {
        match self.g.tensors[t].kind {
            TensorKind::Public => {}
            TensorKind::Committed => self.witness.push((CommitRef::Tensor(t), point)),
            TensorKind::Virtual => self.pending[t].push(point),
            TensorKind::After => self.after.push((t, point)),
        }
    }
    pub fn on_operand(&mut self, op: Operand, point: Vec<E>) {
        match op {
            Operand::Tensor(t) => self.on_tensor(t, point),
            Operand::Rem(n) => self.witness.push((CommitRef::Rem(n), point)),
            Operand::Limb(d, k) => self.witness.push((CommitRef::Limb(d, k), point)),
        }
    }
}

/// The integer values of an operand (limbs are computed from the value they split).
pub(crate) fn operand_ints(g: &QGraph, w: &Witness, what: Operand) -> Vec<i64> {
    match what {
        Operand::Tensor(t) => w.values[t].clone(),
        Operand::Rem(n) => w.rems[n].clone().unwrap_or_else(|| w.values[n + 1].clone()),
        Operand::Limb(d, k) => {
            let decs = g.decompositions();
            let Some(dec) = decs.get(d) else {
                return Vec::new();
            };
            let mask = (1i64 << dec.limb_bits(k)) - 1;
            let shift = zkgrad_circuit::layout::LIMB_BITS * k;
            operand_ints(g, w, dec.a)
                .iter()
                .map(|v| ((v + dec.offset) >> shift) & mask)
                .collect()
        }
    }
}

/// Padded field values of a witness table (zero padding, unless the witness plants values
/// there: [`Witness::padding`]).
pub(crate) fn padded(g: &QGraph, w: &Witness, what: Operand) -> Vec<F> {
    let t = g.operand_tensor(what);
    let mut vals = t.pad(&operand_ints(g, w, what));
    for &(_, i, v) in w.padding.iter().filter(|p| p.0 == what) {
        if let Some(slot) = vals.get_mut(i) {
            *slot = v;
        }
    }
    vals.into_iter().map(f_from_i64).collect()
}

impl<'a> Claims<'a> {
    /// No claims yet, about `g`.
    pub fn new(g: &'a QGraph) -> Self {
        Self {
            g,
            witness: Vec::new(),
            weights: Vec::new(),
            after: Vec::new(),
            pending: vec![Vec::new(); g.tensors.len()],
        }
    }
}
