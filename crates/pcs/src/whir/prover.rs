//! The WHIR prover: the commitment of a table and its opening at one point.

use p3_commit::MultilinearPcs;
use p3_matrix::dense::RowMajorMatrix;
use p3_sumcheck::layout::{Layout as _, Table};
use p3_sumcheck::PrescribedPointPcs;
use p3_whir::pcs::WhirProverData;
use zkgrad_field::{E, F};
use zkgrad_transcript::{Challenger, ProverTranscript};

use super::{challenger, opening_protocol, p3_point, Challenge, Lay, Mmcs, WhirParams};
use crate::Digest;

/// Everything the prover keeps between commit and open.
#[derive(Clone)]
pub struct WhirData {
    pub log_n: usize,
    pub root: Digest,
    data: WhirProverData<F, E, Mmcs, Lay>,
}

impl WhirData {
    /// The committed values (`2^log_n`), as the WHIR table holds them.
    pub fn values(&self) -> &[F] {
        self.data.table(0).iter_polys().next().unwrap_or_default()
    }
}

/// Commits to `values` (padded with zeros to `2^log_n`); `log_n ≥ params.min_log_n()`.
#[allow(clippy::panic)] // Prover side: parameters the caller checked (Layout::choose_batched)
pub fn commit(mut values: Vec<F>, log_n: usize, params: &WhirParams) -> WhirData {
    assert!(values.len() <= 1 << log_n, "table larger than 2^log_n");
    assert!(log_n >= params.min_log_n(), "table too small for WHIR");
    values.resize(1 << log_n, F::default());
    let scheme = params
        .scheme(log_n)
        .unwrap_or_else(|e| panic!("WHIR parameters for 2^{log_n}: {e}"));
    let table = Table::new(RowMajorMatrix::new(values, 1 << log_n));
    let witness = Lay::new_witness(vec![table], params.first_folding(log_n));
    // The commit only observes its root; the opening's challenger observes it again after the
    // transcript seed, so this one is thrown away.
    let mut throwaway = Challenge::new(super::Bytes::new());
    let (root, data) = scheme
        .commit(witness, &mut throwaway)
        .unwrap_or_else(|e| panic!("WHIR commit: {e}"));
    let root = *root
        .roots()
        .first()
        .unwrap_or_else(|| panic!("WHIR commitment without a root"));
    WhirData { log_n, root, data }
}

/// Proves `ṽ(point) = value` for the committed table (the caller has written or observed the
/// value in `t` before).
pub fn open(wd: &WhirData, point: &[E], params: &WhirParams, t: &mut ProverTranscript) {
    open_points(wd, &[point], params, t);
}

/// Proves `ṽ(z_j) = y_j` at every point `z_j` of `points` with one WHIR opening (each a batch
/// of p3's opening protocol, combined by WHIR's initial random combination; the caller has
/// written or observed the values in `t` before).
#[allow(clippy::panic)] // Prover side: its own commitment, at points of the right dimension
pub fn open_points(wd: &WhirData, points: &[&[E]], params: &WhirParams, t: &mut ProverTranscript) {
    for point in points {
        assert_eq!(point.len(), wd.log_n, "point of the wrong dimension");
    }
    let scheme = params
        .scheme(wd.log_n)
        .unwrap_or_else(|e| panic!("WHIR parameters for 2^{}: {e}", wd.log_n));
    let seed = t.challenge_vec(b"pcs/whir/seed", 2);
    let mut ch = challenger(&scheme, &seed, &wd.root);
    let p3_points: Vec<_> = points.iter().map(|z| p3_point(z)).collect();
    let proof = scheme
        .open_at(
            wd.data.clone(),
            &opening_protocol(wd.log_n, points.len()),
            &p3_points,
            &mut ch,
        )
        .unwrap_or_else(|e| panic!("WHIR opening: {e}"));
    let bytes = postcard::to_allocvec(&proof).unwrap_or_else(|e| panic!("WHIR proof bytes: {e}"));
    t.write_blob(b"pcs/whir/proof", &bytes);
}
