//! Calibration: the activation precision a float model needs on sample inputs.

use crate::graph::Graph;
use zkgrad_circuit::QConfig;

/// Values at or beyond this magnitude are mask sentinels (exporters write float32's
/// `finfo.min ≈ −3.4e38` for "−∞" in attention masks): calibration ignores them, and the
/// quantizer writes a constant's sentinels as the circuit's mask fill
/// ([`crate::quantizer::mask_fill`]).
pub const MASK_SENTINEL: f64 = 1e30;

/// The magnitude calibration gives a masked value, so that the mask fill (`−2^(K−2)` at the
/// activations' scale, at least `−2^(K−2)/2^act_frac ≤ −64` here at `K = 20`) takes a masked
/// logit far enough below its row that its exp-table entry is exactly 0.
pub const MASK_MAGNITUDE: f64 = 32.0;

/// Picks `act_frac` from sample inputs: the largest number of fractional bits that keeps
/// every value a table or range check reads below `2^(table_bits−1)` with 25% headroom
/// (the largest of [`value_ranges`]).
pub fn calibrate(graph: &Graph, samples: &[Vec<f64>], table_bits: u32) -> QConfig {
    let max_abs = value_ranges(graph, samples)
        .into_iter()
        .fold(1e-9f64, f64::max);
    QConfig {
        act_frac: frac_for(max_abs, table_bits),
        weight_frac: QConfig::DEFAULT_WEIGHT_FRAC.min(table_bits),
        table_bits,
    }
}

/// The fractional bits that keep `max_abs` below `2^(table_bits−1)` with 25% headroom, at most
/// `table_bits − 2`.
fn frac_for(max_abs: f64, table_bits: u32) -> u32 {
    let limit = (1u64 << (table_bits - 1)) as f64;
    let mut f = 0u32;
    while f < table_bits.saturating_sub(2) && max_abs * 1.25 * ((1u64 << (f + 1)) as f64) < limit {
        f += 1;
    }
    f
}

/// The largest magnitude of every float value (index as in `Graph`) over `samples`, and of
/// the values the circuit computes inside an op lowered to several steps: a maximum
/// `a + relu(b − a)` holds `b − a`. Mask sentinels count as [`MASK_MAGNITUDE`].
pub fn value_ranges(graph: &Graph, samples: &[Vec<f64>]) -> Vec<f64> {
    use rayon::prelude::*;
    // One float forward pass per sample, in parallel; the maxima combined.
    let floor = || vec![1e-9f64; graph.nodes.len() + 1];
    samples
        .par_iter()
        .map(|s| sample_ranges(graph, s))
        .reduce(floor, |mut a, b| {
            a.iter_mut().zip(b).for_each(|(x, y)| *x = x.max(y));
            a
        })
}

/// [`value_ranges`] of one sample.
fn sample_ranges(graph: &Graph, s: &[f64]) -> Vec<f64> {
    let mut max_abs = vec![1e-9f64; graph.nodes.len() + 1];
    {
        let values = graph.forward_f64(s);
        for (i, node) in graph.nodes.iter().enumerate() {
            if let crate::graph::Op::Max { a, b } = node.op {
                let d = values[a]
                    .iter()
                    .zip(&values[b])
                    .map(|(x, y)| (y - x).abs())
                    .filter(|d| d.is_finite())
                    .fold(0.0, f64::max);
                max_abs[i + 1] = max_abs[i + 1].max(d);
            }
        }
        for (m, v) in max_abs.iter_mut().zip(values) {
            for x in v {
                if x.abs() >= MASK_SENTINEL {
                    *m = m.max(MASK_MAGNITUDE);
                } else if x.is_finite() {
                    *m = m.max(x.abs());
                }
            }
        }
    }
    max_abs
}

/// Per-tensor calibration: for every float value of `graph` (index as in `Graph`), the
/// fractional bits that keep its largest magnitude over `samples` ([`value_ranges`]) below
/// `2^(table_bits−1)` with 25% headroom (as [`calibrate`] does for all of them at once), at
/// most `table_bits − 2`. Trained transformers' residual streams reach magnitudes in the
/// thousands while most values stay below 1: each tensor keeps the precision its own range
/// allows.
pub fn calibrate_per_tensor(graph: &Graph, samples: &[Vec<f64>], table_bits: u32) -> Vec<u32> {
    value_ranges(graph, samples)
        .into_iter()
        .map(|m| frac_for(m, table_bits))
        .collect()
}
