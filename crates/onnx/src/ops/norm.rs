//! Normalizations: BatchNormalization (folded into the convolution before it where it can be)
//! and LayerNormalization.

use zkgrad_model::build;
use zkgrad_model::graph::Graph;

use crate::node::{Imported, NodeCx, Sources, Val};
use crate::tensor::{broadcast_bias, Const};

/// BatchNormalization with constant parameters: a per-channel affine map.
pub(crate) fn batch_norm(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let c = *xs
        .get(1)
        .ok_or_else(|| cx.invalid(format!("input shape {xs:?} has no channel axis")))?;
    let p: Vec<Const> = (1..5).map(|i| cx.constant(i)).collect::<Result<_, _>>()?;
    if p.iter().any(|t| t.data.len() != c) {
        return Err(cx.invalid(format!(
            "scale, bias, mean and variance must hold {c} values"
        )));
    }
    let eps = cx.attr_f("epsilon", 1e-5);
    if let Some(k) = (0..c).find(|&k| {
        let v = p[3].data[k] + eps;
        !(v.is_finite() && v > 0.0)
    }) {
        return Err(cx.invalid(format!(
            "variance + epsilon of channel {k} is {}: must be positive",
            p[3].data[k] + eps
        )));
    }
    // y = s·x + t per channel, s = γ/√(var + ε), t = β − mean·s.
    let s: Vec<f64> = (0..c)
        .map(|k| p[0].data[k] / (p[3].data[k] + eps).sqrt())
        .collect();
    let t: Vec<f64> = (0..c).map(|k| p[1].data[k] - p[2].data[k] * s[k]).collect();
    if s.iter().chain(&t).any(|v| !v.is_finite()) {
        return Err(cx.invalid("the folded scale or shift is not finite".into()));
    }
    // Folded into the convolution before it when this is that convolution's only
    // reader.
    let only_reader = cx.readers.get(n.input[0].as_str()).copied() == Some(1);
    Ok(Val::Value(
        build::batch_norm(graph, name, x, &s, t, only_reader).map_err(|e| cx.invalid(e))?,
    ))
}

/// LayerNormalization over the last axis.
pub(crate) fn layer_norm(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let axis = cx.axis_of(cx.attr_i("axis", -1), xs.len().max(1))?;
    if axis + 1 != xs.len() || (xs.len() == 4 && cx.image_layout) {
        return Err(cx.invalid(format!(
            "LayerNormalization over axis {axis} of {xs:?}: only the last axis is supported (and not on NCHW tensors of a graph with image ops)"
        )));
    }
    let d = xs[axis];
    let eps = cx.attr_f("epsilon", 1e-5);
    if !(eps.is_finite() && eps > 0.0) {
        return Err(cx.invalid(format!("epsilon {eps}: must be finite and positive")));
    }
    let gamma = cx.constant(1)?;
    let beta = if n.input.len() > 2 && !n.input[2].is_empty() {
        Some(broadcast_bias(&cx.constant(2)?, d).map_err(|e| cx.invalid(e))?)
    } else {
        None
    };
    let gamma = broadcast_bias(&gamma, d).map_err(|e| cx.invalid(e))?;
    Ok(Val::Value(build::layer_norm(
        graph, name, x, &gamma, beta, eps,
    )))
}
