//! 2-D pooling: MaxPool, AveragePool, GlobalAveragePool.

use zkgrad_circuit::table::ActKind;
use zkgrad_model::build;
use zkgrad_model::graph::{Graph, Op};

use crate::node::{Imported, NodeCx, Sources, Val};
use crate::shape::window;

/// MaxPool and AveragePool over a window.
pub(crate) fn pool(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let [_, _, h, w] = xs[..] else {
        return Err(cx.invalid(format!(
            "input shape {xs:?}: only 2-D pooling (NCHW) is supported"
        )));
    };
    if n.output.len() > 1 && n.output.get(1).is_some_and(|o| !o.is_empty()) {
        return Err(cx.invalid("MaxPool indices output is not supported".into()));
    }
    if cx.attr_i("ceil_mode", 0) != 0 {
        return Err(cx.invalid("ceil_mode = 1 is not supported".into()));
    }
    let win = window(n, None, [h, w], cx.limits.max_tensor_elements).map_err(|e| cx.invalid(e))?;
    cx.elements(&[xs[1], win.out[0], win.out[1], win.kernel[0], win.kernel[1]])?;
    let padded = win.pads.iter().any(|&p| p > 0);
    let is_max = n.op_type == "MaxPool";
    if padded && is_max {
        // Zero padding equals −∞ padding only for non-negative inputs.
        let relu_input = matches!(
            graph.nodes.get(x.wrapping_sub(1)).map(|n| &n.op),
            Some(Op::Act {
                kind: ActKind::Relu,
                ..
            })
        );
        if !relu_input {
            return Err(cx.invalid("padded MaxPool is supported only after a Relu".into()));
        }
    }
    if padded && !is_max && cx.attr_i("count_include_pad", 0) == 0 {
        return Err(cx.invalid(
            "padded AveragePool needs count_include_pad = 1 (a divisor that varies at the borders is not supported)".into(),
        ));
    }
    Ok(Val::Value(build::pool(graph, name, x, &win, is_max)))
}

/// GlobalAveragePool: the mean over the spatial axes.
pub(crate) fn global_average_pool(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    if xs.len() < 3 {
        return Err(cx.invalid(format!("input shape {xs:?} has no spatial axes")));
    }
    Ok(Val::Value(build::global_avg_pool(graph, name, x)))
}
