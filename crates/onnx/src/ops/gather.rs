//! Gather, Split and the ops that are the identity at inference (Dropout).
//!
//! Gather of a constant table by computed indices is an embedding lookup: the indices must be
//! token ids from a graph input (public integers), and the verifier derives the lookup's wiring
//! from those ids itself (`QOp::Embed`). Gather of a computed tensor by constant indices is an
//! index map (a slice along the axis when the indices step evenly).

use zkgrad_circuit::index_map::{AxisMap, IndexMap};
use zkgrad_model::build::push as push_node;
use zkgrad_model::graph::{Graph, Op};

use crate::node::{Imported, NodeCx, Sources, Val};

/// The graph input a value is a reshaped view of, if it is one.
fn source_input(graph: &Graph, mut v: usize) -> Option<usize> {
    loop {
        if v == 0 {
            return Some(0);
        }
        match graph.nodes.get(v - 1).map(|n| &n.op) {
            Some(Op::Input { .. }) => return Some(v),
            Some(Op::View { x }) => v = *x,
            _ => return None,
        }
    }
}

/// The ArgMax node a value is a reshaped view of, if it is one.
pub(crate) fn source_argmax(graph: &Graph, mut v: usize) -> Option<usize> {
    loop {
        match graph.nodes.get(v.checked_sub(1)?).map(|n| &n.op) {
            Some(Op::ArgMax { .. }) => return Some(v - 1),
            Some(Op::View { x }) => v = *x,
            _ => return None,
        }
    }
}

/// ai.onnx.ml's ArrayFeatureExtractor as scikit-learn exports a classifier's label,
/// `classes[argmax]`: with the classes `0, 1, …, C−1` (integer labels) it is the argmax itself,
/// a view. Other classes, and indices that are not an ArgMax's, are refused.
pub(crate) fn array_feature_extractor(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let Val::Const(classes) = cx.get(0)? else {
        return Err(cx.invalid("the array must be a constant (a classifier's classes)".into()));
    };
    let idx = cx.value(1)?;
    let Some(am) = source_argmax(graph, idx) else {
        return Err(cx.invalid(
            "only the label of an ArgMax is supported (indices computed otherwise are not)".into(),
        ));
    };
    let cols = graph
        .nodes
        .get(am)
        .and_then(|n| match n.op {
            Op::ArgMax { x, .. } => graph.shape(x).last().copied(),
            _ => None,
        })
        .unwrap_or(0);
    let identity = classes.dims.len() == 1
        && classes.data.len() >= cols
        && classes.data.iter().enumerate().all(|(i, &c)| c == i as f64);
    if !identity {
        return Err(cx.invalid(format!(
            "classes {:?}: only the classes 0, 1, …, C−1 (integer labels) are supported",
            &classes.data[..classes.data.len().min(8)]
        )));
    }
    let n: usize = graph.shape(idx).iter().product();
    Ok(cx.push(graph, Op::View { x: idx }, vec![1, n]))
}

/// Gather (`axis` attribute, default 0).
pub(crate) fn gather(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    match (cx.get(0)?, cx.get(1)?) {
        (Val::Const(table), Val::Value(ids)) => {
            let axis = cx.axis_of(cx.attr_i("axis", 0), table.dims.len().max(1))?;
            let [vocab, dim] = table.dims[..] else {
                return Err(cx.invalid(format!(
                    "an embedding table must be 2-D, found shape {:?}",
                    table.dims
                )));
            };
            if axis != 0 {
                return Err(cx.invalid("an embedding lookup gathers rows (axis 0) only".into()));
            }
            let src = source_input(graph, ids).ok_or_else(|| {
                cx.invalid(
                    "the indices of an embedding lookup must be token ids from a graph input \
                     (public integers); computed indices are not supported"
                        .into(),
                )
            })?;
            let mut shape = graph.shape(ids).to_vec();
            let t: usize = shape.iter().product();
            shape.push(dim);
            cx.elements(&shape)?;
            Ok(cx.push(
                graph,
                Op::Embed {
                    ids: src,
                    // Copied on both threads: the copy's fresh pages (GPT-2 124M's table,
                    // 309 MB) are faulted in by both.
                    table: {
                        use rayon::prelude::*;
                        table.data.par_iter().copied().collect()
                    },
                    vocab,
                    dim,
                },
                if t == 0 { vec![1, dim] } else { shape },
            ))
        }
        (Val::Value(x), Val::Const(idx)) => {
            let xs = graph.shape(x).to_vec();
            let axis = cx.axis_of(cx.attr_i("axis", 0), xs.len().max(1))?;
            let d = *xs
                .get(axis)
                .ok_or_else(|| cx.invalid(format!("Gather on axis {axis} of {xs:?}")))?
                as i64;
            let ids: Vec<i64> = idx
                .data
                .iter()
                .map(|&v| {
                    let i = v as i64;
                    let i = if i < 0 { i + d } else { i };
                    if (0..d).contains(&i) && v.fract() == 0.0 {
                        Ok(i)
                    } else {
                        Err(cx.invalid(format!("index {v} is outside axis {axis} of size {d}")))
                    }
                })
                .collect::<Result<_, _>>()?;
            // Indices that step evenly (a scalar, a range, a strided range) are a slice.
            let step = if ids.len() > 1 { ids[1] - ids[0] } else { 1 };
            if ids.is_empty() || ids.windows(2).any(|w| w[1] - w[0] != step) {
                return Err(cx.invalid(
                    "Gather by constant indices that do not step evenly is not supported".into(),
                ));
            }
            let scalar = idx.dims.is_empty();
            let idx_dims: Vec<usize> = if scalar { vec![] } else { idx.dims.clone() };
            if idx_dims.len() > 1 {
                return Err(cx.invalid("Gather by a constant index tensor of rank > 1".into()));
            }
            let mut out: Vec<usize> = xs[..axis].to_vec();
            out.extend(&idx_dims);
            out.extend(&xs[axis + 1..]);
            let axes = (0..xs.len())
                .map(|k| {
                    if k < axis {
                        AxisMap {
                            out_axis: k,
                            step: 1,
                            offset: 0,
                        }
                    } else if k == axis {
                        AxisMap {
                            out_axis: if scalar { 0 } else { axis },
                            step: if scalar { 0 } else { step },
                            offset: ids[0],
                        }
                    } else {
                        AxisMap {
                            out_axis: k - 1 + idx_dims.len(),
                            step: 1,
                            offset: 0,
                        }
                    }
                })
                .collect();
            let out_shape = if out.is_empty() { vec![1] } else { out };
            let map = IndexMap {
                in_shape: xs,
                out_shape: out_shape.clone(),
                axes,
            };
            Ok(cx.push(graph, Op::Gather { x, map }, out_shape))
        }
        (Val::Value(_), Val::Value(_)) => {
            Err(cx
                .invalid("Gather of a computed tensor by computed indices is not supported".into()))
        }
        (Val::Const(_), Val::Const(_)) => {
            Err(cx.invalid("Gather of constants was not folded".into()))
        }
    }
}

/// Split along `axis` into the sizes of the `split` input (or attribute), or into
/// `num_outputs` (equal parts, the last smaller): each part a slice. The first part is the
/// node's result; the others are given back in `cx.extra`.
pub(crate) fn split(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let axis = cx.axis_of(cx.attr_i("axis", 0), xs.len().max(1))?;
    let d = *xs
        .get(axis)
        .ok_or_else(|| cx.invalid(format!("Split on axis {axis} of {xs:?}")))?;
    let n_out = cx.n.output.len().max(1);
    let sizes: Vec<usize> = match cx.ints_input(1)?.or_else(|| cx.attr_ints("split")) {
        Some(s) => s
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| cx.invalid(format!("split size {v}"))))
            .collect::<Result<_, _>>()?,
        None => {
            let part = d.div_ceil(n_out);
            (0..n_out)
                .map(|i| part.min(d.saturating_sub(i * part)))
                .collect()
        }
    };
    if sizes.contains(&0) {
        return Err(cx.invalid(format!(
            "Split into a part of size 0 ({sizes:?}) is not supported"
        )));
    }
    if sizes.len() != n_out || sizes.iter().sum::<usize>() != d {
        return Err(cx.invalid(format!(
            "split sizes {sizes:?} do not cover axis {axis} of size {d} in {n_out} outputs"
        )));
    }
    let mut vals = Vec::with_capacity(n_out);
    let mut offset = 0usize;
    for (i, &len) in sizes.iter().enumerate() {
        let mut out = xs.clone();
        out[axis] = len;
        let mut offsets = vec![0i64; xs.len()];
        offsets[axis] = offset as i64;
        let map = IndexMap::aligned(&xs, &out, &vec![1; xs.len()], &offsets);
        let name = cx.n.output.get(i).cloned().unwrap_or_default();
        let v = push_node(
            graph,
            &format!("{}/{name}", cx.name),
            Op::Gather { x, map },
            out,
        );
        vals.push(Val::Value(v));
        offset += len;
    }
    let first = vals.remove(0);
    cx.extra.borrow_mut().extend(vals);
    Ok(first)
}

/// Dropout at inference: the identity (its optional mask output is not supported, nor
/// training mode, which drops values at random).
pub(crate) fn dropout(cx: &NodeCx, _: &mut Graph, _: &mut Sources) -> Imported {
    let given = |i: usize| cx.n.input.get(i).is_some_and(|n| !n.is_empty());
    let training = given(2)
        && matches!(cx.get(2)?, Val::Const(t) if t.data.first().is_some_and(|&v| v != 0.0));
    let ratio = match given(1).then(|| cx.get(1)).transpose()? {
        Some(Val::Const(r)) => r.data.first().copied().unwrap_or(0.5),
        Some(Val::Value(_)) | None => 0.5,
    };
    if training && ratio != 0.0 {
        return Err(cx.invalid(format!(
            "Dropout in training mode (ratio {ratio}) drops values at random: not supported"
        )));
    }
    if cx
        .n
        .output
        .iter()
        .skip(1)
        .any(|o| !o.is_empty() && cx.readers.contains_key(o.as_str()))
    {
        return Err(cx.invalid("Dropout's mask output is not supported".into()));
    }
    cx.get(0)
}

/// Shape of a computed tensor: a constant (shapes are static once a model is imported).
pub(crate) fn shape(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let dims: Vec<f64> = graph.shape(x).iter().map(|&d| d as f64).collect();
    let r = dims.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(cx.attr_i("start", 0));
    let end = clamp(cx.attr_i("end", r));
    let data = dims.get(start..end.max(start)).unwrap_or(&[]).to_vec();
    Ok(Val::Const(crate::tensor::Const {
        dims: vec![data.len()],
        data: data.into(),
    }))
}

/// Expand of a computed tensor to a constant shape: numpy broadcasting by an index map.
pub(crate) fn expand(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let target: Vec<usize> = cx
        .ints_input(1)?
        .ok_or_else(|| cx.invalid("Expand without a shape".into()))?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| cx.invalid(format!("negative dimension {d}"))))
        .collect::<Result<_, _>>()?;
    let out = crate::shape::broadcast_shape(&xs, &target)
        .ok_or_else(|| cx.invalid(format!("{xs:?} does not expand to {target:?}")))?;
    cx.elements(&out)?;
    if out == xs {
        return Ok(cx.push(graph, Op::View { x }, out));
    }
    let map = IndexMap::broadcast(&xs, &out)
        .ok_or_else(|| cx.invalid(format!("{xs:?} does not expand to {target:?}")))?;
    Ok(cx.push(graph, Op::Gather { x, map }, out))
}

/// IsNaN and IsInf of a computed tensor: all false. Every value the circuit proves is an
/// integer at a finite scale, never NaN or infinite (exporters guard softmax rows with
/// `Where(IsNaN(p), 0, p)`, which then keeps `p`).
pub(crate) fn never_non_finite(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let dims = graph.shape(x).to_vec();
    let n = cx.elements(&dims)?;
    Ok(Val::Const(crate::tensor::Const {
        dims,
        data: vec![0.0; n].into(),
    }))
}

/// GatherND (batch_dims 0) of a computed tensor by constant indices whose picks, flattened,
/// step evenly (a reshape or a strided slice): an index map. Other index patterns are refused.
pub(crate) fn gather_nd(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let x = cx.value(0)?;
    let Val::Const(idx) = cx.get(1)? else {
        return Err(cx.invalid("GatherND by computed indices is not supported".into()));
    };
    if cx.attr_i("batch_dims", 0) != 0 {
        return Err(cx.invalid("GatherND with batch_dims ≠ 0 is not supported".into()));
    }
    let xs = graph.shape(x).to_vec();
    let k = *idx
        .dims
        .last()
        .ok_or_else(|| cx.invalid("indices of rank 0".into()))?;
    if k == 0 || k > xs.len() {
        return Err(cx.invalid(format!("index tuples of {k} into {xs:?}")));
    }
    let inner: usize = xs[k..].iter().product();
    let mut flat = Vec::new();
    for tuple in idx.data.chunks(k) {
        let mut f = 0usize;
        for (axis, &v) in tuple.iter().enumerate() {
            let d = xs[axis];
            let i = if v < 0.0 { v + d as f64 } else { v };
            if !(i >= 0.0 && i < d as f64 && i.fract() == 0.0) {
                return Err(cx.invalid(format!("index {v} outside axis {axis} of size {d}")));
            }
            f = f * d + i as usize;
        }
        flat.extend((0..inner).map(|j| f * inner + j));
    }
    let step = if flat.len() > 1 {
        flat[1] as i64 - flat[0] as i64
    } else {
        1
    };
    if flat.is_empty() || flat.windows(2).any(|w| w[1] as i64 - w[0] as i64 != step) {
        return Err(
            cx.invalid("GatherND by indices that do not step evenly is not supported".into())
        );
    }
    let mut out: Vec<usize> = idx.dims[..idx.dims.len() - 1].to_vec();
    out.extend(&xs[k..]);
    let map = IndexMap {
        in_shape: vec![xs.iter().product()],
        out_shape: vec![flat.len()],
        axes: vec![AxisMap {
            out_axis: 0,
            step,
            offset: flat[0] as i64,
        }],
    };
    Ok(cx.push(graph, Op::Gather { x, map }, out))
}
