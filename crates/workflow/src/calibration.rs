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

/// The default samples with every token-id input (read by an embedding) drawn as ids inside
/// its vocabulary instead: calibrating on ids outside it would measure nothing.
fn token_ids_in_range(graph: &Graph, mut samples: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let sizes = input_sizes(graph);
    // The value index of each graph input, in order.
    let mut inputs = vec![0usize];
    inputs.extend(
        graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, zkgrad_model::Op::Input { .. }))
            .map(|(i, _)| i + 1),
    );
    for n in &graph.nodes {
        let zkgrad_model::Op::Embed { ids, vocab, .. } = n.op else {
            continue;
        };
        let Some(k) = inputs.iter().position(|&v| v == ids) else {
            continue;
        };
        let start: usize = sizes[..k].iter().sum();
        for (si, s) in samples.iter_mut().enumerate() {
            for (j, v) in s[start..start + sizes[k]].iter_mut().enumerate() {
                // A deterministic spread over the vocabulary.
                *v = ((si * 7919 + j * 104_729 + 13) % vocab.max(1)) as f64;
            }
        }
    }
    samples
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
        return Ok(token_ids_in_range(graph, default_samples(n)));
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
