//! Shape and layout ops, views or index maps of their input: Identity, Cast, Flatten, Reshape,
//! Squeeze, Unsqueeze, Transpose, Slice, Concat, Pad.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_model::build::push as push_node;
use zkgrad_model::graph::{Graph, Op};

use crate::node::{Imported, NodeCx, Sources, Val};
use crate::proto::attr_str;
use crate::shape::{check_perm, reshape_dims, slice_map, squeeze_dims, unsqueeze_dims};
use crate::OnnxError;

/// Identity: a view.
pub(crate) fn identity(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let shape = graph.shape(x).to_vec();
    Ok(cx.push(graph, Op::View { x }, shape))
}

/// Cast to a float type: a view.
pub(crate) fn cast(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    // Values are numbers already (a mask is 0.0/1.0): a cast to a float type is the
    // identity; any other target type is refused.
    let x = cx.value(0)?;
    let to = cx.attr_i("to", 0);
    if to == 9 {
        // To bool: [x ≠ 0] = [x > 0] + [−x > 0], two proven comparisons through the
        // ReLU-gradient table (a padding mask from the input, as exporters write it).
        let shape = graph.shape(x).to_vec();
        let name = &cx.name;
        let step = |x: usize, tag: &str, graph: &mut Graph| {
            zkgrad_model::build::push(
                graph,
                &format!("{name}/{tag}"),
                Op::Act {
                    x,
                    kind: zkgrad_circuit::table::ActKind::ReluGrad,
                },
                shape.clone(),
            )
        };
        let pos = step(x, "positive", graph);
        let neg_x = zkgrad_model::build::push(
            graph,
            &format!("{name}/negated"),
            Op::Scale { x, c: -1.0 },
            shape.clone(),
        );
        let neg = step(neg_x, "negative", graph);
        return Ok(cx.push(graph, Op::Add { a: pos, b: neg }, shape));
    }
    // An ArgMax's labels are integers already: a cast to int64 is the identity too.
    let label = to == 7 && crate::ops::gather::source_argmax(graph, x).is_some();
    if to != 1 && to != 11 && !label {
        return Err(cx.invalid(format!(
            "Cast to data type {to}: only float, double and bool are supported (and int64 of \
             an ArgMax's labels)"
        )));
    }
    let shape = graph.shape(x).to_vec();
    Ok(cx.push(graph, Op::View { x }, shape))
}

/// Flatten to 2-D at an axis: a view.
pub(crate) fn flatten(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let axis = cx.attr_i("axis", 1);
    let axis = if axis < 0 {
        axis + xs.len() as i64
    } else {
        axis
    };
    if axis < 0 || axis as usize > xs.len() {
        return Err(cx.invalid(format!("axis {axis} out of range for shape {xs:?}")));
    }
    let (a, b) = xs.split_at(axis as usize);
    let shape = vec![a.iter().product::<usize>(), b.iter().product::<usize>()];
    Ok(cx.push(graph, Op::View { x }, shape))
}

/// Reshape to a constant shape: a view.
pub(crate) fn reshape(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let spec: Vec<i64> = cx.constant(1)?.data.iter().map(|&v| v as i64).collect();
    let xs = graph.shape(x).to_vec();
    let shape =
        reshape_dims(&xs, &spec, cx.attr_i("allowzero", 0) != 0).map_err(|e| cx.invalid(e))?;
    Ok(cx.push(graph, Op::View { x }, shape))
}

/// Squeeze and Unsqueeze: views.
pub(crate) fn squeeze(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let axes = match cx.ints_input(1)? {
        Some(a) => Some(a),
        None => cx.attr_ints("axes"),
    };
    let shape = if n.op_type == "Squeeze" {
        squeeze_dims(&xs, axes.as_deref())
    } else {
        unsqueeze_dims(
            &xs,
            &axes.ok_or_else(|| cx.invalid("Unsqueeze without axes".into()))?,
        )
    }
    .map_err(|e| cx.invalid(e))?;
    Ok(cx.push(graph, Op::View { x }, shape))
}

/// Transpose: of the last two axes, or any permutation as an index map.
pub(crate) fn transpose(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let perm = cx.attr_ints("perm");
    let swaps_last_two = match &perm {
        None => xs.len() == 2,
        Some(p) => {
            let r = p.len();
            r == xs.len()
                && r >= 2
                && p[..r - 2].iter().enumerate().all(|(i, &v)| v == i as i64)
                && p[r - 2] == r as i64 - 1
                && p[r - 1] == r as i64 - 2
        }
    };
    let leading: usize = xs.iter().rev().skip(2).product();
    Ok(if swaps_last_two && leading == 1 {
        let mut shape = xs.clone();
        let r = shape.len();
        shape.swap(r - 2, r - 1);
        cx.push(graph, Op::Transpose { x }, shape)
    } else {
        let perm: Vec<usize> = match perm {
            Some(p) => p
                .iter()
                .map(|&a| cx.axis_of(a, xs.len()))
                .collect::<Result<_, _>>()?,
            None => (0..xs.len()).rev().collect(),
        };
        check_perm(&perm, xs.len()).map_err(|e| cx.invalid(e))?;
        let map = IndexMap::transpose(&xs, &perm);
        let shape = map.out_shape.clone();
        cx.push(graph, Op::Gather { x, map }, shape)
    })
}

/// Slice: an index map (a view if it keeps everything).
pub(crate) fn slice(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    // Opset ≥ 10: starts, ends, axes, steps are inputs; before, attributes.
    let (starts, ends, axes, steps) = if n.input.len() > 1 {
        let need = |i: usize, what: &str| -> Result<Vec<i64>, OnnxError> {
            cx.ints_input(i)?
                .ok_or_else(|| cx.invalid(format!("missing {what}")))
        };
        (
            need(1, "starts")?,
            need(2, "ends")?,
            cx.ints_input(3)?,
            cx.ints_input(4)?,
        )
    } else {
        (
            cx.attr_ints("starts").unwrap_or_default(),
            cx.attr_ints("ends").unwrap_or_default(),
            cx.attr_ints("axes"),
            None,
        )
    };
    let map = slice_map(&xs, &starts, &ends, axes, steps).map_err(|e| cx.invalid(e))?;
    let out = map.out_shape.clone();
    Ok(if out == xs {
        cx.push(graph, Op::View { x }, out)
    } else {
        cx.push(graph, Op::Gather { x, map }, out)
    })
}

/// Concat: each part placed by an index map, the parts added.
pub(crate) fn concat(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let name = &cx.name;
    let parts: Vec<usize> = (0..cx.n.input.len())
        .map(|i| cx.value(i))
        .collect::<Result<_, _>>()?;
    let Some(&first) = parts.first() else {
        return Err(cx.invalid("Concat of nothing".into()));
    };
    let s0 = graph.shape(first).to_vec();
    let ax = cx.axis_of(cx.attr_i("axis", 0), s0.len())?;
    let mut shape = s0.clone();
    shape[ax] = 0;
    for &p in &parts {
        let sp = graph.shape(p);
        let agrees = sp.len() == s0.len()
            && sp
                .iter()
                .zip(&s0)
                .enumerate()
                .all(|(k, (a, b))| k == ax || a == b);
        if !agrees {
            return Err(cx.invalid(format!(
                "part shapes {s0:?} and {sp:?} differ off axis {ax}"
            )));
        }
        shape[ax] += sp[ax];
    }
    Ok(if parts.len() == 1 {
        cx.push(graph, Op::View { x: first }, shape)
    } else {
        // Each part moves to its place (zeros elsewhere); the parts are added.
        let mut acc: Option<usize> = None;
        let mut offset = 0i64;
        for (k, &p) in parts.iter().enumerate() {
            let sp = graph.shape(p).to_vec();
            let mut offs = vec![0i64; sp.len()];
            offs[ax] = -offset;
            offset += sp[ax] as i64;
            let map = IndexMap::aligned(&sp, &shape, &vec![1; sp.len()], &offs);
            let placed = push_node(
                graph,
                &format!("{name}/part{k}"),
                Op::Gather { x: p, map },
                shape.clone(),
            );
            acc = Some(match acc {
                None => placed,
                Some(a) => push_node(
                    graph,
                    &format!("{name}/sum{k}"),
                    Op::Add { a, b: placed },
                    shape.clone(),
                ),
            });
        }
        Val::Value(acc.unwrap_or(first))
    })
}

/// Pad with zeros: an index map.
pub(crate) fn pad(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let mode = attr_str(n, "mode").unwrap_or_else(|| "constant".into());
    if mode != "constant" {
        return Err(cx.invalid(format!("Pad mode {mode} is not supported")));
    }
    let pads = match cx.ints_input(1)? {
        Some(p) => p,
        None => cx.attr_ints("pads").unwrap_or_default(),
    };
    if n.input.len() > 2 && !n.input[2].is_empty() {
        let v = cx.constant(2)?;
        if v.data.iter().any(|&c| c != 0.0) {
            return Err(cx.invalid("Pad with a nonzero constant is not supported".into()));
        }
    }
    if n.input.len() > 3 && !n.input[3].is_empty() {
        return Err(cx.invalid("Pad with axes is not supported".into()));
    }
    // Before opset 11 the constant is the attribute `value`.
    if let Some(a) = crate::proto::attr(n, "value") {
        if a.f != 0.0 {
            return Err(cx.invalid(format!(
                "Pad with a nonzero constant (value {}) is not supported",
                a.f
            )));
        }
    }
    let r = xs.len();
    if pads.len() != 2 * r {
        return Err(cx.invalid(format!("pads {pads:?} do not match rank {r}")));
    }
    let max = cx.limits.max_tensor_elements as i64;
    if let Some(p) = pads.iter().find(|p| p.unsigned_abs() > max as u64) {
        return Err(cx.invalid(format!(
            "pad {p} is larger than the limit on a tensor ({max} elements)"
        )));
    }
    let mut out = Vec::with_capacity(r);
    for k in 0..r {
        let d = (xs[k] as i64)
            .checked_add(pads[k])
            .and_then(|d| d.checked_add(pads[k + r]))
            .ok_or_else(|| cx.invalid(format!("pads {pads:?} overflow axis {k}")))?;
        if d <= 0 {
            return Err(cx.invalid(format!("pads {pads:?} empty axis {k}")));
        }
        out.push(usize::try_from(d).unwrap_or(usize::MAX));
    }
    cx.elements(&out)?;
    // Bounded by the check above: |pad| ≤ the padded size or the input's size.
    let offs: Vec<i64> = pads[..r].iter().map(|p| -p).collect();
    let map = IndexMap::aligned(&xs, &out, &vec![1; r], &offs);
    Ok(cx.push(graph, Op::Gather { x, map }, out))
}
