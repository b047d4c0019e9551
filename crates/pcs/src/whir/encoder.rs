//! The Reed–Solomon encoder of WHIR's commitments: p3's `Radix2DFTSmallBatch` throughout,
//! but the initial commitment of a large table (the message borrowed where it lies) is
//! transformed in four steps (Bailey's FFT: D. H. Bailey, "FFTs in external or hierarchical
//! memory", J. Supercomputing 4, 1990), each pass over the codeword working on blocks that
//! stay in cache.
//!
//! # The transform
//! Each column of the `h_m × w` message is the coefficient vector of a polynomial of degree
//! below `h_m`; its codeword is the evaluations at the `h = h_m·2^r` powers of `ω`, the
//! subgroup generator p3 uses (`two_adic_generator(log h)`): `X[k] = Σ_j x[j]·ω^{jk}`, with
//! `x[j] = 0` for `j ≥ h_m`. Write `h = n1·n2`, `j = j1 + n1·j2` and `k = k2 + n2·k1`
//! (`j1, k1 < n1`, `j2, k2 < n2`). Since `ω^{n1·n2} = 1`,
//!
//! `X[k2 + n2·k1] = Σ_{j1} ω_{n1}^{j1·k1} · ω^{j1·k2} · Σ_{j2} x[j1 + n1·j2]·ω_{n2}^{j2·k2}`
//!
//! with `ω_{n1} = ω^{n2}` and `ω_{n2} = ω^{n1}` the generators of those orders. So:
//! 1. for each `j1`, the rows `j1 + n1·j2` of the message (zero past it) are gathered into an
//!    `n2 × w` block, transformed (size `n2`), each output row `k2` scaled by `ω^{j1·k2}`,
//!    and written to rows `n2·j1 + k2` of the codeword — one contiguous block per `j1`;
//! 2. for each `k2`, the rows `n2·j1 + k2` are gathered (over `j1`), transformed (size `n1`)
//!    and written back to the same rows, now indexed `n2·k1 + k2`: `X` in natural order.
//!
//! Every sub-transform is p3's, on a block of `2^10`–`2^11` rows; the codeword is read and
//! written about twice instead of once per group of layers (p3's large transform of GPT-2
//! 124M's `2^21 × 128` codeword makes six passes over its 2 GB). The codeword is the same,
//! element for element (`four_step_is_the_dft`), so commitments and proofs are unchanged.

use p3_commit::Encoder;
use p3_dft::Radix2DFTSmallBatch;
use p3_matrix::dense::{RowMajorMatrix, RowMajorMatrixView};
use p3_whir::{SecurityAssumption, WhirDomain, WhirQueryPoint};
use zkgrad_field::{E, F};

/// Codewords of at least `2^FOUR_STEP_FROM_LOG_VALUES` values (1 GB) of a borrowed message are
/// transformed in four steps: warm, at rate 1/2 (`examples/encode_time.rs`), `2^20 × 128`
/// messages take 1.55–1.69 s against p3's 1.81–2.14 s, `2^19 × 128` 0.73–0.81 s against
/// 0.84–0.86 s and `2^21 × 32` 0.89–0.94 s against 1.01–1.05 s, while at half a gigabyte
/// p3 is as fast or faster (`2^18 × 128`: 0.41–0.45 s against 0.36–0.39 s; `2^19 × 32`:
/// 0.20–0.26 s against 0.20–0.23 s).
#[cfg(feature = "prover")]
const FOUR_STEP_FROM_LOG_VALUES: usize = 27;

/// WHIR's encoder (the `Dft` of `super::Whir`): p3's `Radix2DFTSmallBatch`, every method
/// delegated to it but the encoding of a borrowed base-field message (a commitment), which
/// [`four_step`] computes for a large codeword.
#[derive(Clone, Debug, Default)]
pub(crate) struct Encode {
    dft: Radix2DFTSmallBatch<F>,
}

type Inner = Radix2DFTSmallBatch<F>;

impl Encoder<F> for Encode {
    fn encode_batch(&self, message: RowMajorMatrix<F>, log_inv_rate: usize) -> RowMajorMatrix<F> {
        Encoder::encode_batch(&self.dft, message, log_inv_rate)
    }

    fn encode_batch_padded(
        &self,
        message: RowMajorMatrix<F>,
        log_inv_rate: usize,
    ) -> RowMajorMatrix<F> {
        Encoder::encode_batch_padded(&self.dft, message, log_inv_rate)
    }

    fn encode_batch_borrowed(
        &self,
        message: RowMajorMatrixView<'_, F>,
        log_inv_rate: usize,
    ) -> RowMajorMatrix<F> {
        #[cfg(feature = "prover")]
        {
            use p3_matrix::Matrix;
            let values = (message.height() << log_inv_rate).saturating_mul(message.width());
            if message.height().is_power_of_two() && values >> FOUR_STEP_FROM_LOG_VALUES > 0 {
                return four_step(&self.dft, message, log_inv_rate);
            }
        }
        Encoder::encode_batch_borrowed(&self.dft, message, log_inv_rate)
    }
}

impl WhirDomain<F, E> for Encode {
    fn protocol_id(&self) -> &'static [u8] {
        <Inner as WhirDomain<F, E>>::protocol_id(&self.dft)
    }

    fn supports_security_assumption(&self, assumption: SecurityAssumption) -> bool {
        <Inner as WhirDomain<F, E>>::supports_security_assumption(&self.dft, assumption)
    }

    fn stratified_queries(&self) -> bool {
        <Inner as WhirDomain<F, E>>::stratified_queries(&self.dft)
    }

    fn max_log_domain_size(&self) -> usize {
        <Inner as WhirDomain<F, E>>::max_log_domain_size(&self.dft)
    }

    fn encode_extension_batch_padded(
        &self,
        message: RowMajorMatrix<E>,
        log_inv_rate: usize,
    ) -> RowMajorMatrix<E> {
        <Inner as WhirDomain<F, E>>::encode_extension_batch_padded(&self.dft, message, log_inv_rate)
    }

    fn query_point(
        &self,
        log_domain_size: usize,
        num_variables: usize,
        index: usize,
    ) -> WhirQueryPoint<F> {
        <Inner as WhirDomain<F, E>>::query_point(&self.dft, log_domain_size, num_variables, index)
    }
}

/// The codeword of `message` (`h_m × w`, `h_m` a power of two) at rate `2^-log_inv_rate`: each
/// column's evaluations at the `h = h_m·2^log_inv_rate` powers of `ω`, in natural order, by the
/// four steps of the module's documentation (public for `examples/encode_time.rs`).
#[cfg(feature = "prover")]
#[allow(clippy::indexing_slicing)] // blocks and rows lie inside the matrices they were cut from
pub fn four_step(
    dft: &Radix2DFTSmallBatch<F>,
    message: RowMajorMatrixView<'_, F>,
    log_inv_rate: usize,
) -> RowMajorMatrix<F> {
    use p3_dft::TwoAdicSubgroupDft;
    use p3_field::{Field, PackedValue, PrimeCharacteristicRing, TwoAdicField};
    use p3_matrix::Matrix;
    use rayon::prelude::*;

    let (h_m, w) = (message.height(), message.width());
    let log_h = h_m.trailing_zeros() as usize + log_inv_rate;
    let h = 1usize << log_h;
    let (n1, n2) = (1usize << (log_h / 2), 1usize << (log_h - log_h / 2));
    let omega = F::two_adic_generator(log_h);
    let mut out = F::zero_vec(h * w);
    if w == 0 {
        return RowMajorMatrix::new(out, w);
    }
    type P = <F as Field>::Packing;
    // 1. Size-n2 transforms of the rows j1 + n1·j2, twisted by ω^{j1·k2}, into block j1.
    out.par_chunks_mut(n2 * w).enumerate().for_each_init(
        Vec::new,
        |buf: &mut Vec<F>, (j1, block)| {
            buf.clear();
            for j2 in 0..n2 {
                let row = j1 + n1 * j2;
                if row < h_m {
                    buf.extend_from_slice(&message.values[row * w..(row + 1) * w]);
                } else {
                    buf.resize(buf.len() + w, F::ZERO);
                }
            }
            let y = dft.dft_batch(RowMajorMatrix::new(std::mem::take(buf), w));
            let step = omega.exp_u64(j1 as u64);
            let mut twist = F::ONE;
            for (dst, src) in block.chunks_exact_mut(w).zip(y.values.chunks_exact(w)) {
                dst.copy_from_slice(src);
                let (packed, rest) = P::pack_slice_with_suffix_mut(dst);
                let t = P::from(twist);
                for p in packed {
                    *p *= t;
                }
                for v in rest {
                    *v *= twist;
                }
                twist *= step;
            }
            *buf = y.values;
        },
    );
    // 2. Size-n1 transforms of the rows n2·j1 + k2 (over j1), in place, a few k2 per task:
    // each block's piece is `c` contiguous rows, 4 KB at GPT-2's width of 128 (1–16 KB measured
    // alike, within the machine's noise).
    let c = (512 / w).clamp(1, n2);
    let tasks = n2.div_ceil(c);
    let mut pieces: Vec<Vec<&mut [F]>> = (0..tasks).map(|_| Vec::with_capacity(n1)).collect();
    for block in out.chunks_mut(n2 * w) {
        for (t, piece) in block.chunks_mut(c * w).enumerate() {
            pieces[t].push(piece);
        }
    }
    pieces
        .into_par_iter()
        .for_each_init(Vec::new, |buf: &mut Vec<F>, mut rows| {
            let width = rows.first().map_or(0, |r| r.len());
            buf.clear();
            for r in &rows {
                buf.extend_from_slice(r);
            }
            let x = dft.dft_batch(RowMajorMatrix::new(std::mem::take(buf), width));
            for (dst, src) in rows.iter_mut().zip(x.values.chunks_exact(width)) {
                dst.copy_from_slice(src);
            }
            *buf = x.values;
        });
    RowMajorMatrix::new(out, w)
}

#[cfg(all(test, feature = "prover"))]
mod tests {
    use super::*;
    use p3_field::PrimeCharacteristicRing;

    /// The four steps give p3's codeword element for element, for any width and rate, with
    /// `n1 = n2` (even `log h`) and `n2 = 2·n1` (odd).
    #[test]
    fn four_step_is_the_dft() {
        let dft = Inner::default();
        for (log_m, w, rate) in [
            (0, 1, 1),
            (1, 3, 1),
            (4, 128, 1),
            (5, 7, 2),
            (8, 16, 1),
            (9, 5, 1),
            (11, 128, 1),
            (12, 3, 2),
        ] {
            let h_m = 1usize << log_m;
            let values: Vec<F> = (0..h_m * w)
                .map(|i| F::from_u64((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7))
                .collect();
            let view = RowMajorMatrixView::new(&values, w);
            let expected = Encoder::encode_batch_borrowed(&dft, view, rate);
            let got = four_step(&dft, view, rate);
            assert_eq!(got.width, expected.width, "2^{log_m} × {w}, rate 2^-{rate}");
            assert!(
                got.values == expected.values,
                "2^{log_m} × {w}, rate 2^-{rate}"
            );
        }
    }
}
