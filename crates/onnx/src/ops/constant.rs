//! Ops whose result is a constant known at import: Constant, ConstantOfShape, and Neg and
//! Reciprocal, which are supported only of constants.

use zkgrad_model::graph::Graph;

use crate::node::{Imported, NodeCx, Sources, Val};
use crate::tensor::{to_const, Const};

/// Constant: its `value*` attribute.
pub(crate) fn constant(cx: &NodeCx, _: &mut Graph, _: &mut Sources) -> Imported {
    let a =
        cx.n.attribute
            .first()
            .ok_or_else(|| cx.invalid("Constant without a value".into()))?;
    let c = match a.name.as_str() {
        "value" => to_const(&a.t, cx.limits).map_err(|e| cx.invalid(e))?,
        "value_float" => Const {
            dims: vec![],
            data: vec![a.f as f64].into(),
        },
        "value_floats" => Const {
            dims: vec![a.floats.len()],
            data: a
                .floats
                .iter()
                .map(|&v| v as f64)
                .collect::<Vec<_>>()
                .into(),
        },
        "value_int" => Const {
            dims: vec![],
            data: vec![a.i as f64].into(),
        },
        "value_ints" => Const {
            dims: vec![a.ints.len()],
            data: a.ints.iter().map(|&v| v as f64).collect::<Vec<_>>().into(),
        },
        other => return Err(cx.invalid(format!("Constant attribute {other} is not supported"))),
    };
    Ok(Val::Const(c))
}

/// Neg, and Reciprocal of a constant (Reciprocal of a computed tensor is an activation).
pub(crate) fn neg_or_reciprocal(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let n = cx.n;
    if let (Val::Value(x), "Neg") = (cx.get(0)?, n.op_type.as_str()) {
        // −x of a computed tensor: a product with the integer −1 (exact, no rounding).
        let shape = graph.shape(x).to_vec();
        return Ok(cx.push(graph, zkgrad_model::graph::Op::Scale { x, c: -1.0 }, shape));
    }
    let Val::Const(c) = cx.get(0)? else {
        return Err(cx.invalid(format!(
            "{} of a computed tensor is not supported",
            n.op_type
        )));
    };
    let data: Vec<f64> = if n.op_type == "Neg" {
        c.data.iter().map(|v| -v).collect()
    } else {
        c.data.iter().map(|v| 1.0 / v).collect()
    };
    if data.iter().any(|v| !v.is_finite()) {
        return Err(cx.invalid("reciprocal of zero".into()));
    }
    Ok(Val::Const(Const {
        dims: c.dims,
        data: data.into(),
    }))
}

/// ConstantOfShape of a constant shape is folded (`fold.rs`); of a computed shape it is not
/// supported.
pub(crate) fn constant_of_shape(cx: &NodeCx, _: &mut Graph, _: &mut Sources) -> Imported {
    Err(cx.unsupported())
}
