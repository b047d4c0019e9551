//! Normalizations: BatchNormalization (folded into the convolution before it where it can be)
//! and LayerNormalization.

use zkgrad_model::build;
use zkgrad_model::graph::{Graph, Op};

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

/// LayerNormalization over the axes from `axis` on (at any rank): the input viewed as
/// `[leading, trailing]` rows where that is not already its matrix view, normalized per row,
/// and viewed back.
pub(crate) fn layer_norm(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let x = cx.value(0)?;
    let xs = graph.shape(x).to_vec();
    let axis = cx.axis_of(cx.attr_i("axis", -1), xs.len().max(1))?;
    let d: usize = xs
        .get(axis..)
        .unwrap_or(&[])
        .iter()
        .product::<usize>()
        .max(1);
    let lead: usize = xs
        .get(..axis)
        .unwrap_or(&[])
        .iter()
        .product::<usize>()
        .max(1);
    let flatten = axis + 1 != xs.len() || (xs.len() == 4 && cx.image_layout);
    let x = if flatten {
        build::push(
            graph,
            &format!("{name}/rows"),
            Op::View { x },
            vec![lead, d],
        )
    } else {
        x
    };
    let eps = cx.attr_f("epsilon", 1e-5);
    if !(eps.is_finite() && eps > 0.0) {
        return Err(cx.invalid(format!("epsilon {eps}: must be finite and positive")));
    }
    // Scale and bias over the normalized axes (shape xs[axis..], flattened like the rows), or
    // broadcast to them.
    let per_row = |c: &Const| -> Result<Vec<f64>, crate::OnnxError> {
        if c.data.len() == d {
            Ok(c.data.to_vec())
        } else {
            broadcast_bias(c, d).map_err(|e| cx.invalid(e))
        }
    };
    let gamma = per_row(&cx.constant(1)?)?;
    let beta = if n.input.len() > 2 && !n.input[2].is_empty() {
        Some(per_row(&cx.constant(2)?)?)
    } else {
        None
    };
    let before = graph.nodes.len();
    let y = build::layer_norm(graph, name, x, &gamma, beta, eps);
    // The optional outputs Mean and InvStdDev: the normalization's own mean and 1/√(var + ε),
    // shaped as the input with the normalized axes of size 1.
    let wanted = |i: usize| cx.n.output.get(i).is_some_and(|o| !o.is_empty());
    if wanted(1) || wanted(2) {
        let mut stat_shape = xs.clone();
        for s in stat_shape.iter_mut().skip(axis) {
            *s = 1;
        }
        for (i, tag) in [(1, "mean/col"), (2, "rsqrt")] {
            if !wanted(i) {
                continue;
            }
            let node = format!("{name}/{tag}");
            let v = graph.nodes[before..]
                .iter()
                .position(|n| n.name == node)
                .map(|k| before + k + 1)
                .ok_or_else(|| cx.invalid(format!("no {tag} to return")))?;
            let out = build::push(
                graph,
                &format!("{name}/output{i}"),
                Op::View { x: v },
                stat_shape.clone(),
            );
            cx.extra.borrow_mut().push(Val::Value(out));
        }
        if wanted(2) && !wanted(1) {
            return Err(cx.invalid("InvStdDev without Mean is not supported".into()));
        }
    }
    Ok(if flatten {
        cx.push(graph, Op::View { x: y }, xs)
    } else {
        Val::Value(y)
    })
}
