//! A training step's public data: which samples each step takes, where its targets sit in the
//! public input, and its loss as `train` records it and `verify-run` recomputes it.

use zkgrad_circuit::QGraph;
use zkgrad_model::train::Loss;

/// A step's loss, as `train` records it and `verify-run` recomputes it from the proof's public
/// data: the predictions `pred` (the step's public output, at 2^-`pred_frac`) against the
/// targets `y` (the public input's, at 2^-`y_frac`), averaged over the batch.
pub fn step_loss(
    loss: Loss,
    pred: &[i64],
    pred_frac: u32,
    y: &[i64],
    y_frac: u32,
    batch: usize,
) -> f64 {
    let (sp, sy) = ((1u64 << pred_frac) as f64, (1u64 << y_frac) as f64);
    let batch = batch.max(1);
    match loss {
        Loss::Mse => {
            pred.iter()
                .zip(y)
                .map(|(p, y)| 0.5 * (*p as f64 / sp - *y as f64 / sy).powi(2))
                .sum::<f64>()
                / batch as f64
        }
        Loss::SoftmaxCrossEntropy => {
            let n = (y.len() / batch).max(1);
            pred.chunks(n)
                .zip(y.chunks(n))
                .map(|(o, t)| {
                    let o: Vec<f64> = o.iter().map(|v| *v as f64 / sp).collect();
                    let m = o.iter().copied().fold(f64::MIN, f64::max);
                    let lse = m + o.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    -o.iter()
                        .zip(t)
                        .map(|(v, y)| *y as f64 / sy * (v - lse))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / batch as f64
        }
    }
}

/// The targets in a step's public input (public input 1, after the batch), with their scale.
pub fn public_targets<'a>(q: &QGraph, public: &'a [i64]) -> Option<(&'a [i64], u32)> {
    let t = *q.input_tensors().get(1)?;
    let off = q.public_offset(t)?;
    let tensor = q.tensors.get(t)?;
    Some((public.get(off..off + tensor.len())?, tensor.frac))
}

/// The sample of every position of the run: data order wrapping around, or a fresh seeded
/// permutation per epoch (SplitMix64 + Fisher–Yates, so every platform draws the same). With
/// no samples (`n` = 0) there is no order: empty.
pub fn sample_order(n: usize, len: usize, shuffle: Option<u64>) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(len);
    let mut state = shuffle.unwrap_or(0);
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    while out.len() < len {
        let mut epoch: Vec<usize> = (0..n).collect();
        if shuffle.is_some() {
            for i in (1..n).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                epoch.swap(i, j);
            }
        }
        out.extend(epoch);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_samples_no_order_and_no_hang() {
        assert!(super::sample_order(0, 5, None).is_empty());
        assert!(super::sample_order(0, 5, Some(1)).is_empty());
        assert_eq!(super::sample_order(2, 5, None), [0, 1, 0, 1, 0]);
    }
}
