//! Reductions over axes: ReduceSum and ReduceMean, and ArgMax.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_model::build::{push as push_node, reduce_axes};
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

/// ArgMax over an axis (the last, or any other moved last by an index map), ties to the first
/// index: proven by comparisons against the public result, so it must be the model's single
/// output (the quantizer says so otherwise). `select_last_index = 1` is refused.
pub(crate) fn argmax(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    if cx.attr_i("select_last_index", 0) != 0 {
        return Err(cx.invalid(
            "ArgMax with select_last_index = 1 is not supported (ties go to the first index)"
                .into(),
        ));
    }
    let rank = xs.len().max(1);
    let axis = cx.axis_of(cx.attr_i("axis", 0), rank)?;
    let keepdims = cx.attr_i("keepdims", 1) != 0;
    let mut out = xs.clone();
    if let Some(d) = out.get_mut(axis) {
        *d = 1;
    }
    if !keepdims && out.len() > 1 {
        out.remove(axis);
    }
    let x = if axis + 1 == xs.len() || xs.len() <= 1 {
        x
    } else {
        let mut perm: Vec<usize> = (0..xs.len()).collect();
        perm.swap(axis, xs.len() - 1);
        let map = IndexMap::transpose(&xs, &perm);
        let shape = map.out_shape.clone();
        push_node(
            graph,
            &format!("{}/axis_last", cx.name),
            Op::Gather { x, map },
            shape,
        )
    };
    Ok(cx.push(graph, Op::ArgMax { x, at: None }, out))
}
