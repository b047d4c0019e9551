//! Reductions over axes: ReduceSum and ReduceMean.

use zkgrad_model::build::reduce_axes;
use zkgrad_model::graph::{Graph, Op};

use crate::node::{Imported, NodeCx, Sources};

/// ReduceSum and ReduceMean.
pub(crate) fn reduce(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let rank = xs.len();
    let axes = match cx.ints_input(1)? {
        Some(a) => Some(a),
        None => cx.attr_ints("axes"),
    };
    let keep = cx.attr_i("keepdims", 1) != 0;
    let reduced: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => {
            let mut v: Vec<usize> = a
                .iter()
                .map(|&a| cx.axis_of(a, rank))
                .collect::<Result<_, _>>()?;
            v.sort_unstable();
            v.dedup();
            v
        }
        _ if cx.attr_i("noop_with_empty_axes", 0) != 0 => vec![],
        _ => (0..rank).collect(),
    };
    let kept: Vec<usize> = (0..rank).filter(|k| !reduced.contains(k)).collect();
    let out_shape: Vec<usize> = if keep {
        (0..rank)
            .map(|k| if reduced.contains(&k) { 1 } else { xs[k] })
            .collect()
    } else {
        kept.iter().map(|&k| xs[k]).collect()
    };
    Ok(if reduced.is_empty() {
        cx.push(graph, Op::View { x }, xs)
    } else {
        let sum = reduce_axes(graph, name, x, &reduced, n.op_type == "ReduceMean");
        cx.push(graph, Op::View { x: sum }, out_shape)
    })
}
