//! 2-D convolution (NCHW, batch 1, groups).

use zkgrad_model::build;
use zkgrad_model::graph::Graph;

use crate::node::{Imported, NodeCx, Sources, Val};
use crate::shape::window;
use crate::tensor::broadcast_bias;

/// Conv with a constant weight and optional bias.
pub(crate) fn conv(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let wc = cx.constant(1)?;
    let [n0, c_in, h, w] = xs[..] else {
        return Err(cx.invalid(format!(
            "input shape {xs:?}: only 2-D convolutions (NCHW) are supported"
        )));
    };
    if n0 != 1 {
        return Err(cx.invalid(format!("batch {n0}: convolutions are supported at batch 1")));
    }
    let [c_out, cig, kh, kw] = wc.dims[..] else {
        return Err(cx.invalid(format!(
            "weight shape {:?} is not [C_out, C_in/group, kH, kW]",
            wc.dims
        )));
    };
    let group = cx.attr_i("group", 1);
    let groups = usize::try_from(group)
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| cx.invalid(format!("group {group} must be positive")))?;
    if cig.checked_mul(groups) != Some(c_in) || c_out % groups != 0 {
        return Err(cx.invalid(format!(
            "group {groups} does not divide {c_in} input and {c_out} output channels (weight {:?})",
            wc.dims
        )));
    }
    let win = window(n, Some([kh, kw]), [h, w], cx.limits.max_tensor_elements)
        .map_err(|e| cx.invalid(e))?;
    // The output, and the im2col matrix the layer's proof works on, within the limits.
    cx.elements(&[c_out, win.out[0], win.out[1]])?;
    cx.elements(&[win.out[0], win.out[1], cig, kh, kw])?;
    let bias = if n.input.len() > 2 && !n.input[2].is_empty() {
        Some(broadcast_bias(&cx.constant(2)?, c_out).map_err(|e| cx.invalid(e))?)
    } else {
        None
    };
    Ok(Val::Value(
        build::conv(graph, name, x, &wc.data, bias, c_out, groups, &win)
            .map_err(|e| cx.invalid(e))?,
    ))
}
