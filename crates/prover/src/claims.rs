//! The claims the prover accumulates, mirroring the verifier's, and the witness tables they
//! are about (an operand's integer values, its padded field values).

use zkgrad_circuit::layout::{CommitRef, Decomposition, Operand};
use zkgrad_circuit::{QGraph, TensorKind};
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::Witness;

/// A claim on a block of the witness commitment: the block, and the point.
pub(crate) type WitnessClaim = (CommitRef, Vec<E>);

/// Claims the prover accumulates, mirroring the verifier's.
pub(crate) struct Claims<'a> {
    pub g: &'a QGraph,
    /// Claims on the witness commitment, and beside each its value where the prover already
    /// computed it (and sent it): the opening then takes it instead of evaluating the block
    /// again. Private, so that the two stay aligned: pushed only by [`Claims::on_witness`],
    /// read by [`Claims::witness`].
    witness: Vec<WitnessClaim>,
    witness_values: Vec<Option<E>>,
    pub weights: Vec<(usize, Vec<E>)>,
    pub after: Vec<(usize, Vec<E>)>,
    pub pending: Vec<Vec<Vec<E>>>,
}

impl Claims<'_> {
    pub fn on_tensor(&mut self, t: usize, point: Vec<E>) {
        self.on_tensor_valued(t, point, None);
    }
    /// [`Self::on_tensor`] with the tensor's padded MLE at `point`, when already computed.
    pub fn on_tensor_valued(&mut self, t: usize, point: Vec<E>, value: Option<E>) {
        match self.g.tensors[t].kind {
            TensorKind::Public => {}
            TensorKind::Committed => self.on_witness(CommitRef::Tensor(t), point, value),
            TensorKind::Virtual => self.pending[t].push(point),
            TensorKind::After => self.after.push((t, point)),
        }
    }
    /// [`Self::on_operand`] with the operand's padded MLE at `point` (its `padded` table's),
    /// when already computed.
    pub fn on_operand_valued(&mut self, op: Operand, point: Vec<E>, value: Option<E>) {
        match op {
            Operand::Tensor(t) => self.on_tensor_valued(t, point, value),
            Operand::Rem(n) => self.on_witness(CommitRef::Rem(n), point, value),
            Operand::Limb(d, k) => self.on_witness(CommitRef::Limb(d, k), point, value),
        }
    }
    /// A claim on the witness block `what` at `point`, with its value if already computed
    /// (the MLE at `point` of exactly the values the header committed for `what`).
    pub fn on_witness(&mut self, what: CommitRef, point: Vec<E>, value: Option<E>) {
        self.witness.push((what, point));
        self.witness_values.push(value);
    }
    /// The witness claims, and their values where known (one per claim).
    pub fn witness(&self) -> (&[WitnessClaim], &[Option<E>]) {
        (&self.witness, &self.witness_values)
    }
}

/// The decompositions an operand's values depend on: `g.decompositions()` for a limb (a
/// lookup plan of the whole graph, tens of microseconds), none otherwise.
fn decomps_for(g: &QGraph, what: Operand) -> Vec<Decomposition> {
    match what {
        Operand::Limb(..) => g.decompositions(),
        _ => Vec::new(),
    }
}

/// The integer values of an operand (limbs are computed from the value they split), given
/// `g.decompositions()` (callers that read many limbs plan once).
pub(crate) fn operand_ints_in(w: &Witness, what: Operand, decomps: &[Decomposition]) -> Vec<i64> {
    match what {
        Operand::Tensor(t) => w.values[t].clone(),
        Operand::Rem(n) => w.rems[n].clone().unwrap_or_else(|| w.values[n + 1].clone()),
        Operand::Limb(d, k) => {
            let Some(dec) = decomps.get(d) else {
                return Vec::new();
            };
            let mask = (1i64 << dec.limb_bits(k)) - 1;
            let shift = dec.limb_shift(k);
            operand_ints_in(w, dec.a, decomps)
                .iter()
                .map(|v| ((v + dec.offset) >> shift) & mask)
                .collect()
        }
    }
}

/// Padded field values of a witness table (zero padding, unless the witness plants values
/// there: [`Witness::padding`]).
pub(crate) fn padded(g: &QGraph, w: &Witness, what: Operand) -> Vec<F> {
    padded_in(g, w, what, &decomps_for(g, what))
}

/// [`padded`] given `g.decompositions()`.
pub(crate) fn padded_in(
    g: &QGraph,
    w: &Witness,
    what: Operand,
    decomps: &[Decomposition],
) -> Vec<F> {
    let mut out = F::zero_vec(1 << g.operand_tensor_in(what, decomps).log_size());
    write_padded_in(g, w, what, decomps, &mut out);
    out
}

/// Writes [`padded`]'s values into `out` (`2^log_size` entries, zero): the real entries row by
/// row at their padded places, then the planted padding (the witness table is built block by
/// block with it, in place).
pub(crate) fn write_padded_in(
    g: &QGraph,
    w: &Witness,
    what: Operand,
    decomps: &[Decomposition],
    out: &mut [F],
) {
    let t = g.operand_tensor_in(what, decomps);
    let owned;
    let ints: &[i64] = match what {
        Operand::Tensor(ti) => &w.values[ti],
        _ => {
            owned = operand_ints_in(w, what, decomps);
            &owned
        }
    };
    let (cols, pc) = (t.cols.max(1), 1usize << t.log_cols());
    for (row, src) in out.chunks_mut(pc).zip(ints.chunks(cols)).take(t.rows) {
        for (o, &v) in row.iter_mut().zip(src) {
            *o = f_from_i64(v);
        }
    }
    for &(_, i, v) in w.padding.iter().filter(|p| p.0 == what) {
        if let Some(slot) = out.get_mut(i) {
            *slot = f_from_i64(v);
        }
    }
}

impl<'a> Claims<'a> {
    /// No claims yet, about `g`.
    pub fn new(g: &'a QGraph) -> Self {
        Self {
            g,
            witness: Vec::new(),
            witness_values: Vec::new(),
            weights: Vec::new(),
            after: Vec::new(),
            pending: vec![Vec::new(); g.tensors.len()],
        }
    }
}
