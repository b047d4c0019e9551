//! A proof's public values as numbers: fixed-point integers dequantized, and the output split
//! into one array per graph output.

use zkgrad_model::Graph;

/// `vals` at 2^-`frac` as floats.
pub fn dequantize(vals: &[i64], frac: u32) -> Vec<f64> {
    vals.iter()
        .map(|&v| v as f64 / (1u64 << frac) as f64)
        .collect()
}

/// The output as one array per graph output (a model with several outputs proves their
/// concatenation).
pub fn split_outputs(graph: &Graph, y: &[f64]) -> Vec<Vec<f64>> {
    if graph.output_parts.is_empty() {
        return vec![y.to_vec()];
    }
    let mut rest = y;
    let mut out = Vec::with_capacity(graph.output_parts.len());
    for (_, shape) in &graph.output_parts {
        let (part, tail) = rest.split_at(shape.iter().product::<usize>().min(rest.len()));
        out.push(part.to_vec());
        rest = tail;
    }
    out
}
