//! The Ligero commitment of one table and its multi-point opening, or the table in clear.
//!
//! # Scheme (Ames et al., "Ligero", CCS 2017, §4; Golovnev et al., "Brakedown", §3 and §4)
//! A table `v` of `2^n` base-field values is laid out as a matrix `M` with `2^a` rows and `2^b`
//! columns, `v[row·2^b + col] = M[row][col]`, so in the little-endian order of `zkgrad-poly` a
//! point splits as `z = (z_lo ‖ z_hi)` with `|z_lo| = b`, and
//! `ṽ(z) = eq(z_hi)ᵀ · M · eq(z_lo)`.
//! Each row is encoded with the Reed–Solomon code of rate `ρ = 2^-log_inv_rate` (the row is the
//! coefficient vector, evaluated on the subgroup of order `2^(b + log_inv_rate)`); the Merkle
//! tree's leaf `j` is column `j` of the encoded matrix; the commitment is the root.
//!
//! Opening at `z`: the verifier draws `r ∈ E^(2^a)`; the prover sends `u_r = rᵀM` and
//! `u_z = eq(z_hi)ᵀM`; the verifier draws `t` column indices and the prover sends each column
//! with its Merkle path. The verifier checks the paths, `Enc(u_r)_j = ⟨r, col_j⟩`,
//! `Enc(u_z)_j = ⟨eq(z_hi), col_j⟩` and `ṽ(z) = ⟨u_z, eq(z_lo)⟩`.
//!
//! Soundness: by correlated agreement for Reed–Solomon codes up to the unique-decoding radius
//! δ = (1 − ρ)/2 (Ben-Sasson et al., "Proximity Gaps for Reed–Solomon Codes", FOCS 2020, Thm
//! 1.2), a matrix with a row δ-far from the code makes `u_r` δ-far except with probability
//! ≤ 2^b·2^(log_inv_rate)/|E|, and then each column query catches it with probability ≥ δ; so
//! a cheating opening survives with probability ≤ (1 − δ)^t + n_cols/|E|. With ρ = 1/4
//! (δ = 3/8) and t = 160 queries, (5/8)^160 < 2^-108.4
//! ([`crate::PcsParams::ligero_opening_error`]).
//!
//! A table of which only the first `used` values may be nonzero ([`commit_used`]: the
//! witness, whose packed blocks fill a prefix) encodes and hashes only its first
//! `⌈used/2^b⌉` rows; the others are zero by definition (Ligero on the smaller matrix), and
//! columns open with that many values.
//!
//! Small tables are sent in clear instead: the commitment is a hash of the values, the opening
//! the values ([`crate::Layout`]).
//!
//! The prover side ([`commit`], [`open_multi`]) is in `prover`, built with the `prover`
//! feature; the verifier side ([`verify_multi`]) in `verifier`.

#[cfg(feature = "prover")]
mod prover;
mod verifier;

#[cfg(feature = "prover")]
pub use prover::{
    commit, commit_used, open, open_multi, row_combination, row_combinations, ProverData,
};
pub use verifier::{verify, verify_multi, verify_multi_used};

use p3_dft::{Radix2DFTSmallBatch, TwoAdicSubgroupDft};
use p3_matrix::dense::RowMajorMatrix;
use zkgrad_field::{PrimeCharacteristicRing, E, F};

use crate::Digest;

/// The commitment of a table laid out in clear: a hash of its values.
pub(crate) fn clear_root(log_n: usize, values: &[F]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"zkgrad/pcs/clear");
    h.update(&(log_n as u64).to_le_bytes());
    for v in values {
        h.update(&zkgrad_field::PrimeField64::as_canonical_u64(v).to_le_bytes());
    }
    *h.finalize().as_bytes()
}

/// `Enc(u)`: the row polynomial with coefficients `u` at every `ω^j`, `ω` of order
/// `2^log_len` — the encoding `commit` applies to each row, computed for several extension-field
/// rows at once by one base-field DFT of their coordinates (cheaper than evaluating at each
/// queried position once the queries outnumber the DFT's layers).
pub(crate) fn encode_all(us: &[&[E]], log_len: usize) -> Vec<Vec<E>> {
    let width = 2 * us.len();
    let height = 1usize << log_len;
    let mut mat = vec![F::ZERO; height * width];
    for (k, u) in us.iter().enumerate() {
        for (i, v) in u.iter().enumerate().take(height) {
            let [c0, c1] = zkgrad_field::e_coords(v);
            if let Some(cell) = mat.get_mut(i * width + 2 * k..i * width + 2 * k + 2) {
                cell.copy_from_slice(&[c0, c1]);
            }
        }
    }
    let evals = Radix2DFTSmallBatch::<F>::default()
        .dft_batch(RowMajorMatrix::new(mat, width))
        .values;
    (0..us.len())
        .map(|k| {
            evals
                .chunks(width)
                .map(|row| match row.get(2 * k..2 * k + 2) {
                    Some([c0, c1]) => zkgrad_field::e_from_coords([*c0, *c1]),
                    _ => E::ZERO,
                })
                .collect()
        })
        .collect()
}
