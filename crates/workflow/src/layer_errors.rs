//! How far each layer's proven (quantized) values lie from the float model's: `prove --report`.

use crate::model::LoadedModel;

/// One line of `prove --report`: a float value against the quantized tensor holding it.
#[derive(Debug, PartialEq)]
pub struct LayerError {
    pub node: String,
    pub op: &'static str,
    pub shape: Vec<usize>,
    pub scale_bits: u32,
    pub max_abs_error: f64,
    pub max_abs_value: f64,
}

impl LoadedModel {
    /// Per graph node: the largest |proven − float| over its values, beside the largest |float|.
    pub fn layer_errors(&self, float: &[Vec<f64>], witness: &[Vec<i64>]) -> Vec<LayerError> {
        let mut out = Vec::new();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            let v = i + 1;
            let (Some(&t), Some(f)) = (self.value_tensors.get(v), float.get(v)) else {
                continue;
            };
            let (Some(tensor), Some(q)) = (self.q.tensors.get(t), witness.get(t)) else {
                continue;
            };
            if q.len() != f.len() {
                continue;
            }
            let s = (1u64 << tensor.frac.min(62)) as f64;
            let max_abs_error = q
                .iter()
                .zip(f)
                .map(|(a, b)| (*a as f64 / s - b).abs())
                .fold(0.0, f64::max);
            let max_abs_value = f.iter().map(|b| b.abs()).fold(0.0, f64::max);
            out.push(LayerError {
                node: node.name.clone(),
                op: node.op.name(),
                shape: node.shape.clone(),
                scale_bits: tensor.frac,
                max_abs_error,
                max_abs_value,
            });
        }
        out
    }
}
