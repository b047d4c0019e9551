//! Calibration: the activation precision a float model needs on sample inputs.

use crate::graph::Graph;
use zkgrad_circuit::QConfig;

/// Picks `act_frac` from sample inputs: the largest number of fractional bits that keeps
/// every value a table or range check reads below `2^(table_bits−1)` with 25% headroom.
pub fn calibrate(graph: &Graph, samples: &[Vec<f64>], table_bits: u32) -> QConfig {
    let mut max_abs = 1e-9f64;
    for s in samples {
        for v in graph.forward_f64(s) {
            for x in v {
                if x.is_finite() {
                    max_abs = max_abs.max(x.abs());
                }
            }
        }
    }
    let limit = (1u64 << (table_bits - 1)) as f64;
    let mut act_frac = 0u32;
    while act_frac < table_bits.saturating_sub(2)
        && max_abs * 1.25 * ((1u64 << (act_frac + 1)) as f64) < limit
    {
        act_frac += 1;
    }
    QConfig {
        act_frac,
        weight_frac: QConfig::DEFAULT_WEIGHT_FRAC.min(table_bits),
        table_bits,
    }
}
