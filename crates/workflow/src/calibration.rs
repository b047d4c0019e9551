//! The samples a model's activation precision (`act_frac`) is calibrated on: a file's, or a
//! fixed deterministic set.

use std::path::Path;

use anyhow::{bail, Result};
use zkgrad_model::Graph;

/// Deterministic calibration samples: 64 draws from U(-1, 1)^n and the two corners ±1.
pub fn default_samples(n: usize) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = (0..64)
        .map(|k| zkgrad_model::zoo::uniform(0xca11b + k, n))
        .collect();
    out.push(vec![1.0; n]);
    out.push(vec![-1.0; n]);
    out
}

/// Values in each graph input, in the order the public input concatenates them.
fn input_sizes(graph: &Graph) -> Vec<usize> {
    let mut v = vec![graph.input_shape.iter().product::<usize>()];
    v.extend(
        graph
            .nodes
            .iter()
            .filter(|n| matches!(n.op, zkgrad_model::Op::Input { .. }))
            .map(|n| n.shape.iter().product::<usize>()),
    );
    v
}

/// The samples `act_frac` is calibrated on: those of `--calibration FILE`, else
/// [`default_samples`].
pub(crate) fn calibration_samples(graph: &Graph, file: Option<&Path>) -> Result<Vec<Vec<f64>>> {
    let n = graph.n_inputs();
    let Some(c) = file else {
        return Ok(default_samples(n));
    };
    let mut s = crate::input::read_input(c)?;
    // A model with several inputs: one sample may be written as one array per graph input, as
    // `prove --input` takes it.
    let sizes = input_sizes(graph);
    if sizes.len() > 1 && s.len() == sizes.len() && s.iter().zip(&sizes).all(|(a, n)| a.len() == *n)
    {
        s = vec![s.concat()];
    }
    if let Some(bad) = s.iter().find(|x| x.len() != n) {
        bail!(
            "calibration file {}: a sample has {} values, the model expects {n}",
            c.display(),
            bad.len()
        );
    }
    Ok(s)
}
