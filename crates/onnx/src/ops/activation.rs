//! Activations, each a lookup table: Relu, Sigmoid, Tanh, LeakyRelu, Clip, Erf, Gelu, Sqrt,
//! Reciprocal; Greater against zero (the ReLU mask); and Softmax.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::table::ActKind;
use zkgrad_model::build::push as push_node;
use zkgrad_model::graph::{Graph, Op};

use super::constant::neg_or_reciprocal;
use crate::node::{Imported, NodeCx, Sources, Val};
use crate::proto::attr_str;
use crate::OnnxError;

/// Relu, Sigmoid, Tanh, LeakyRelu, Clip, Erf, Gelu, Sqrt and Reciprocal of a computed tensor
/// (Reciprocal of a constant is computed at import; the others of a constant are not supported).
pub(crate) fn activation(cx: &NodeCx, graph: &mut Graph, sources: &mut Sources) -> Imported {
    if !matches!(cx.get(0)?, Val::Value(_)) {
        return if cx.n.op_type == "Reciprocal" {
            neg_or_reciprocal(cx, graph, sources)
        } else {
            Err(cx.unsupported())
        };
    }
    table(cx, graph)
}

/// The activation of a computed tensor.
fn table(cx: &NodeCx, graph: &mut Graph) -> Imported {
    let n = cx.n;
    let x = cx.value(0)?;
    let f32_bits = |v: f64| (v as f32).to_bits();
    let kind = match n.op_type.as_str() {
        "Relu" => ActKind::Relu,
        "Sigmoid" => ActKind::Sigmoid,
        "Tanh" => ActKind::Tanh,
        "LeakyRelu" => ActKind::LeakyRelu {
            alpha: f32_bits(cx.attr_f("alpha", 0.01)),
        },
        "Clip" => {
            // Opset ≥ 11: min and max are optional constant inputs; before, attributes.
            let bound = |i: usize, attr: &str, d: f64| -> Result<f64, OnnxError> {
                match n.input.get(i) {
                    Some(k) if !k.is_empty() => cx
                        .constant(i)?
                        .data
                        .first()
                        .copied()
                        .ok_or_else(|| cx.invalid(format!("empty {attr}"))),
                    _ => Ok(cx.attr_f(attr, d)),
                }
            };
            let lo = bound(1, "min", f32::MIN as f64)?;
            let hi = bound(2, "max", f32::MAX as f64)?;
            if lo > hi || lo.is_nan() || hi.is_nan() {
                return Err(cx.invalid(format!("min {lo} is greater than max {hi}")));
            }
            if lo == 0.0 && hi >= f32::MAX as f64 {
                ActKind::Relu
            } else {
                ActKind::Clip {
                    lo: f32_bits(lo),
                    hi: f32_bits(hi),
                }
            }
        }
        "Erf" => ActKind::Erf,
        "Gelu" => {
            let approx = attr_str(n, "approximate").unwrap_or_default();
            if approx == "tanh" {
                ActKind::GeluTanh
            } else {
                ActKind::Gelu
            }
        }
        "Sqrt" => ActKind::Sqrt,
        _ => ActKind::Reciprocal,
    };
    let shape = graph.shape(x).to_vec();
    Ok(cx.push(graph, Op::Act { x, kind }, shape))
}

/// Greater(x, 0): the ReLU mask.
pub(crate) fn relu_mask(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    // Greater(x, 0) is the ReLU mask [x > 0] (a backward pass's ReLU derivative).
    let x = cx.value(0)?;
    let c = cx.constant(1)?;
    if c.data.len() != 1 || c.data[0] != 0.0 {
        return Err(cx.invalid("only Greater(x, 0), the ReLU mask, is supported".into()));
    }
    let shape = graph.shape(x).to_vec();
    Ok(cx.push(
        graph,
        Op::Act {
            x,
            kind: ActKind::ReluGrad,
        },
        shape,
    ))
}

/// Softmax over the last axis.
pub(crate) fn softmax(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    // Before opset 13 Softmax flattens to 2-D at `axis` (default 1) and normalizes over
    // everything after it: the same as over the last axis only when `axis` is the last.
    let default_axis = if cx.opset < 13 { 1 } else { -1 };
    let axis = cx.axis_of(cx.attr_i("axis", default_axis), xs.len().max(1))?;
    if cx.opset < 13 && axis + 1 != xs.len() {
        return Err(cx.invalid(format!(
            "Softmax at opset {} over axis {axis} of {xs:?} normalizes the axes from {axis} on together (coerced to 2-D): not supported; only the last axis is",
            cx.opset
        )));
    }
    if xs.len() == 4 && cx.image_layout {
        return Err(cx.invalid(format!(
            "Softmax over {xs:?} in a graph with image ops (NCHW tensors) is not supported"
        )));
    }
    if axis + 1 != xs.len() {
        // Over another axis: that axis moved last, the softmax, and moved back.
        let mut perm: Vec<usize> = (0..xs.len()).collect();
        perm.swap(axis, xs.len() - 1);
        let there = IndexMap::transpose(&xs, &perm);
        let ts = there.out_shape.clone();
        let moved = push_node(
            graph,
            &format!("{}/axis_last", cx.name),
            Op::Gather { x, map: there },
            ts.clone(),
        );
        let s = push_node(
            graph,
            &format!("{}/softmax", cx.name),
            Op::Softmax { x: moved },
            ts.clone(),
        );
        let back = IndexMap::transpose(&ts, &perm);
        return Ok(cx.push(graph, Op::Gather { x: s, map: back }, xs));
    }
    Ok(cx.push(graph, Op::Softmax { x }, xs))
}
