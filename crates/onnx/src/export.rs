//! Writing trained Linear weights back into the ONNX model they were imported from.

use std::collections::HashMap;

use onnx_protobuf::Message;
use zkgrad_model::graph::{Graph, Op};

use crate::proto::parse_model;
use crate::{LinearSource, OnnxError};

/// Writes the Linear layers' weights of `graph` back into the ONNX model `bytes` (same graph,
/// new initializers, stored as float32). Every layer must come from initializers of its own.
pub fn export_weights(
    bytes: &[u8],
    graph: &Graph,
    sources: &HashMap<usize, LinearSource>,
) -> Result<Vec<u8>, OnnxError> {
    let mut m = parse_model(bytes)?;
    let mut new: HashMap<String, Vec<f32>> = HashMap::new();
    for (ni, node) in graph.nodes.iter().enumerate() {
        let Op::Linear {
            w,
            bias,
            in_features,
            out_features,
            ..
        } = &node.op
        else {
            continue;
        };
        let src = sources.get(&ni).ok_or_else(|| {
            OnnxError::Graph(format!("node {}: no source initializers", node.name))
        })?;
        let (inf, outf) = (*in_features, *out_features);
        let mut stored = vec![0f32; inf * outf];
        for o in 0..outf {
            for i in 0..inf {
                let v = (w[o * inf + i] / src.alpha) as f32;
                if src.trans_b {
                    stored[o * inf + i] = v;
                } else {
                    stored[i * outf + o] = v;
                }
            }
        }
        if new.insert(src.weight.clone(), stored).is_some() {
            return Err(OnnxError::Graph(format!(
                "initializer {} is shared by two layers; cannot write trained weights",
                src.weight
            )));
        }
        if let (Some(b), Some((name, beta))) = (bias, &src.bias) {
            let vals: Vec<f32> = b.iter().map(|v| (v / beta) as f32).collect();
            if new.insert(name.clone(), vals).is_some() {
                return Err(OnnxError::Graph(format!(
                    "initializer {name} is shared; cannot write trained weights"
                )));
            }
        }
    }
    let g = m.graph.mut_or_insert_default();
    for init in g.initializer.iter_mut() {
        if let Some(vals) = new.remove(&init.name) {
            let expected =
                init.dims.iter().try_fold(
                    1i64,
                    |acc, &d| if d < 0 { None } else { acc.checked_mul(d) },
                );
            if expected != i64::try_from(vals.len()).ok() {
                return Err(OnnxError::Graph(format!(
                    "initializer {}: {} values for shape {:?}",
                    init.name,
                    vals.len(),
                    init.dims
                )));
            }
            init.data_type = 1; // FLOAT
            init.float_data.clear();
            init.double_data.clear();
            init.raw_data = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        }
    }
    if let Some(name) = new.keys().next() {
        return Err(OnnxError::Graph(format!(
            "{name} is not an initializer (a Constant node?); cannot write trained weights"
        )));
    }
    m.write_to_bytes()
        .map_err(|e| OnnxError::Parse(e.to_string()))
}
