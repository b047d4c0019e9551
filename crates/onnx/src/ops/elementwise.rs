//! Element-wise arithmetic: Add, Sub, Mul, Div (of two computed tensors, broadcast, or by a
//! constant: a bias, a scalar, a per-feature scale) and Pow by a constant exponent.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::table::ActKind;
use zkgrad_model::build::push as push_node;
use zkgrad_model::graph::{matrix_dims, Graph, Node, Op};

use crate::fold::fold2;
use crate::node::{Imported, NodeCx, Sources, Val};
use crate::shape::broadcast_shape;
use crate::tensor::{broadcast_bias, Const};
use crate::LinearSource;

/// Add, Sub, Mul and Div.
pub(crate) fn arithmetic(cx: &NodeCx, graph: &mut Graph, sources: &mut Sources) -> Imported {
    let n = cx.n;
    let name = &cx.name;
    let (a, b) = (cx.get(0)?, cx.get(1)?);
    Ok(match (a, b) {
        (Val::Value(a), Val::Value(b)) => binary(cx, graph, a, b, &n.op_type)?,
        (Val::Value(a), Val::Const(c)) | (Val::Const(c), Val::Value(a)) if n.op_type == "Add" => {
            // Fuse a bias into the MatMul/Gemm that produced `a`, if nothing else reads it.
            let producer_name = n
                .input
                .iter()
                .find(|i| matches!(cx.names.get(*i), Some(Val::Value(_))))
                .cloned()
                .unwrap_or_default();
            let only_reader = cx.readers.get(producer_name.as_str()).copied() == Some(1);
            match graph.nodes.get_mut(a.wrapping_sub(1)) {
                Some(Node {
                    op:
                        Op::Linear {
                            bias: bias @ None,
                            out_features,
                            ..
                        },
                    ..
                }) if only_reader => {
                    *bias = Some(broadcast_bias(&c, *out_features).map_err(|e| cx.invalid(e))?);
                    let const_name = n
                        .input
                        .iter()
                        .find(|i| matches!(cx.names.get(*i), Some(Val::Const(_))))
                        .cloned()
                        .unwrap_or_default();
                    if let Some(s) = sources.get_mut(&(a - 1)) {
                        s.bias = Some((const_name, 1.0));
                    }
                    Val::Value(a)
                }
                _ => {
                    let [c] = c.data[..] else {
                        let k = const_value(cx, graph, &c, 1);
                        return binary(cx, graph, a, k, "Add");
                    };
                    let shape = graph.shape(a).to_vec();
                    cx.push(graph, Op::AddConst { x: a, c }, shape)
                }
            }
        }
        (Val::Value(a), Val::Const(c)) if n.op_type == "Sub" => {
            let [c] = c.data[..] else {
                let k = const_value(cx, graph, &c, 1);
                return binary(cx, graph, a, k, "Sub");
            };
            let shape = graph.shape(a).to_vec();
            cx.push(graph, Op::AddConst { x: a, c: -c }, shape)
        }
        (Val::Const(c), Val::Value(a)) if n.op_type == "Sub" => {
            // c − a = (−1)·a + c.
            let [c] = c.data[..] else {
                let k = const_value(cx, graph, &c, 0);
                return binary(cx, graph, k, a, "Sub");
            };
            let shape = graph.shape(a).to_vec();
            let neg = push_node(
                graph,
                &format!("{name}/neg"),
                Op::Scale { x: a, c: -1.0 },
                shape.clone(),
            );
            cx.push(graph, Op::AddConst { x: neg, c }, shape)
        }
        (Val::Value(a), Val::Const(c))
            if (n.op_type == "Mul" || n.op_type == "Div")
                && c.data.len() > 1
                && graph.shape(a).last() == Some(&c.data.len())
                && c.dims.iter().rev().skip(1).all(|&d| d == 1) =>
        {
            // A per-feature scale (LayerNorm's γ): a Linear layer with a diagonal
            // weight (a following Add of a constant becomes its bias).
            let d = c.data.len();
            // The diagonal weight is d × d values.
            cx.elements(&[d, d])?;
            let mut w = vec![0.0; d * d];
            for k in 0..d {
                let v = c.data[k];
                w[k * d + k] = if n.op_type == "Mul" { v } else { 1.0 / v };
            }
            if w.iter().any(|v| !v.is_finite()) {
                return Err(cx.invalid("division by zero".into()));
            }
            let shape = graph.shape(a).to_vec();
            sources.insert(
                graph.nodes.len(),
                LinearSource {
                    weight: n.input[1].clone(),
                    trans_b: false,
                    alpha: 1.0,
                    bias: None,
                },
            );
            cx.push(
                graph,
                Op::Linear {
                    x: a,
                    w,
                    bias: None,
                    in_features: d,
                    out_features: d,
                },
                shape,
            )
        }
        (Val::Value(a), Val::Const(c)) if n.op_type == "Mul" || n.op_type == "Div" => {
            let [s] = c.data[..] else {
                let c = if n.op_type == "Div" {
                    if c.data.contains(&0.0) {
                        return Err(cx.invalid("division by zero".into()));
                    }
                    Const {
                        dims: c.dims.clone(),
                        data: std::rc::Rc::new(c.data.iter().map(|v| 1.0 / v).collect()),
                    }
                } else {
                    c
                };
                let k = const_value(cx, graph, &c, 1);
                return binary(cx, graph, a, k, "Mul");
            };
            let factor = if n.op_type == "Mul" {
                s
            } else if s == 0.0 {
                return Err(cx.invalid("division by zero".into()));
            } else {
                1.0 / s
            };
            let shape = graph.shape(a).to_vec();
            cx.push(graph, Op::Scale { x: a, c: factor }, shape)
        }
        (Val::Const(c), Val::Value(a)) if n.op_type == "Mul" => {
            let [s] = c.data[..] else {
                let k = const_value(cx, graph, &c, 0);
                return binary(cx, graph, k, a, "Mul");
            };
            let shape = graph.shape(a).to_vec();
            cx.push(graph, Op::Scale { x: a, c: s }, shape)
        }
        (Val::Const(x), Val::Const(y)) => {
            let f = match n.op_type.as_str() {
                "Add" => |a: f64, b: f64| a + b,
                "Sub" => |a: f64, b: f64| a - b,
                "Mul" => |a: f64, b: f64| a * b,
                _ => |a: f64, b: f64| a / b,
            };
            Val::Const(fold2(&x, &y, f).map_err(|e| cx.invalid(e))?)
        }
        _ => {
            return Err(cx.invalid(format!(
                "{} with these operands is not supported yet",
                n.op_type
            )))
        }
    })
}

/// Pow by a scalar constant exponent: products, or a square root, rsqrt or reciprocal table.
pub(crate) fn pow(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let name = &cx.name;
    let x = cx.value(0)?;
    let e = cx.constant(1)?;
    let [e] = e.data[..] else {
        return Err(cx.invalid("Pow needs a scalar constant exponent".into()));
    };
    let shape = graph.shape(x).to_vec();
    let act = |graph: &mut Graph, kind| {
        push_node(
            graph,
            &format!("{name}/{kind:?}"),
            Op::Act { x, kind },
            shape.clone(),
        )
    };
    let v = match e {
        1.0 => x,
        2.0 | 3.0 | 4.0 => {
            let mut acc = x;
            for k in 1..e as usize {
                acc = push_node(
                    graph,
                    &format!("{name}/mul{k}"),
                    Op::Mul { a: acc, b: x },
                    shape.clone(),
                );
            }
            acc
        }
        0.5 => act(graph, ActKind::Sqrt),
        -0.5 => act(graph, ActKind::Rsqrt),
        -1.0 => act(graph, ActKind::Reciprocal),
        _ => {
            return Err(cx.invalid(format!(
                "Pow with exponent {e}: only 0.5, −0.5, −1, 1, 2, 3, 4 are supported"
            )))
        }
    };
    Ok(cx.push(graph, Op::View { x: v }, shape))
}

/// Add, Sub, Mul or Div (`op`) of two computed values, broadcast through index maps.
fn binary(cx: &NodeCx, graph: &mut Graph, a: usize, b: usize, op: &str) -> Imported {
    let name = &cx.name;
    // a / b = a · (1/b) through a reciprocal table; a / √z = a · rsqrt(z).
    let b = if op == "Div" {
        let sb = graph.shape(b).to_vec();
        let (x, kind) = match graph.nodes.get(b.wrapping_sub(1)).map(|n| &n.op) {
            Some(Op::Act {
                x,
                kind: ActKind::Sqrt,
            }) => (*x, ActKind::Rsqrt),
            _ => (b, ActKind::Reciprocal),
        };
        push_node(
            graph,
            &format!("{name}/reciprocal"),
            Op::Act { x, kind },
            sb,
        )
    } else {
        b
    };
    let (sa, sb) = (graph.shape(a).to_vec(), graph.shape(b).to_vec());
    // Shapes that differ only in leading 1s ([8] and [1, 8]) are the same
    // matrix; otherwise numpy broadcasting through index maps.
    // The matrix view the graph will have: NCHW images only in a graph with image ops, else
    // every rank-4 tensor as rows of its last axis (`importer::view_heads_as_rows`).
    let view = |s: &[usize]| match s {
        [a, b, c, d] if !cx.image_layout => ((a * b * c).max(1), (*d).max(1)),
        _ => matrix_dims(s),
    };
    let (a, b, shape) = if view(&sa) == view(&sb) {
        (a, b, if sa.len() >= sb.len() { sa } else { sb })
    } else {
        let shape = broadcast_shape(&sa, &sb).ok_or_else(|| {
            cx.invalid(format!("operand shapes {sa:?} and {sb:?} do not broadcast"))
        })?;
        let widen = |v: usize, s: &[usize], graph: &mut Graph| -> usize {
            if view(s) == view(&shape) {
                return v;
            }
            let padded: Vec<usize> = if s.is_empty() { vec![1] } else { s.to_vec() };
            let out = if shape.is_empty() {
                vec![1]
            } else {
                shape.clone()
            };
            match IndexMap::broadcast(&padded, &out) {
                Some(map) => push_node(
                    graph,
                    &format!("{name}/broadcast{v}"),
                    Op::Gather { x: v, map },
                    shape.clone(),
                ),
                None => v,
            }
        };
        let a = widen(a, &sa, graph);
        let b = widen(b, &sb, graph);
        (a, b, shape)
    };
    let op = match op {
        "Add" => Op::Add { a, b },
        "Sub" => Op::Sub { a, b },
        _ => Op::Mul { a, b },
    };
    Ok(cx.push(graph, op, shape))
}

/// A constant operand as a value of the circuit (a mask, a position embedding): its values are
/// part of the circuit, which the verifier builds from the model itself.
fn const_value(cx: &NodeCx, graph: &mut Graph, c: &Const, which: usize) -> usize {
    let shape = if c.dims.is_empty() {
        vec![1]
    } else {
        c.dims.clone()
    };
    push_node(
        graph,
        &format!("{}/const{which}", cx.name),
        Op::Const {
            data: c.data.to_vec(),
        },
        shape,
    )
}

/// Where with a constant condition (a causal mask built from shapes): `cond·x + (1 − cond)·y`,
/// each part a product with a constant of the circuit, so which positions are masked is fixed
/// by the model the verifier holds. A condition computed from the input is not supported.
pub(crate) fn where_(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    // A condition that is the same everywhere picks one branch (SDPA exports guard their
    // softmax with Where(IsNaN(p), 0, p), and a proven value is never NaN).
    if let Val::Const(c) = cx.get(0)? {
        let (x, y) = (cx.get(1)?, cx.get(2)?);
        let pick = if c.data.iter().all(|&v| v != 0.0) {
            Some(x)
        } else if c.data.iter().all(|&v| v == 0.0) {
            Some(y)
        } else {
            None
        };
        if let Some(Val::Value(v)) = pick {
            let shape = crate::shape::broadcast_shape(&c.dims, graph.shape(v)).filter(|s| {
                s.iter().product::<usize>() == graph.shape(v).iter().product::<usize>()
            });
            if let Some(shape) = shape {
                return Ok(cx.push(graph, Op::View { x: v }, shape));
            }
        }
    }
    let cond = match cx.get(0)? {
        Val::Const(c) => c,
        Val::Value(c) => {
            // A condition computed from the input (0/1: a padding mask, proven so by the
            // comparisons it comes from): b + (a − b)·cond — a product with a constant of the
            // circuit between two constants, else a proven element-wise product (masked_fill
            // of attention scores: Where(mask, −∞, scores)).
            let as_value = |v: Val, which: usize, graph: &mut Graph| match v {
                Val::Const(k) => const_value(cx, graph, &k, which),
                Val::Value(x) => x,
            };
            let (a, b) = (cx.get(1)?, cx.get(2)?);
            let d = match (&a, &b) {
                (Val::Const(a), Val::Const(b)) => {
                    let diff = fold2(a, b, |x, y| x - y).map_err(|e| cx.invalid(e))?;
                    const_value(cx, graph, &diff, 1)
                }
                _ => {
                    let (av, bv) = (as_value(a.clone(), 1, graph), as_value(b.clone(), 2, graph));
                    let Val::Value(d) = binary(cx, graph, av, bv, "Sub")? else {
                        return Err(cx.invalid("Where did not compute".into()));
                    };
                    d
                }
            };
            let picked = binary(cx, graph, c, d, "Mul")?;
            let Val::Value(picked) = picked else {
                return Err(cx.invalid("Where did not compute".into()));
            };
            let base = as_value(b, 3, graph);
            return binary(cx, graph, picked, base, "Add");
        }
    };
    // `c` where the condition is `keep`, 0 elsewhere, at the broadcast shape of both.
    let pick = |c: &Const, keep: bool| -> Result<Const, crate::OnnxError> {
        let shape = crate::shape::broadcast_shape(&cond.dims, &c.dims).ok_or_else(|| {
            cx.invalid(format!(
                "condition {:?} and operand {:?} do not broadcast",
                cond.dims, c.dims
            ))
        })?;
        let out = if shape.is_empty() {
            vec![1]
        } else {
            shape.clone()
        };
        let spread = |k: &Const| {
            let d = if k.dims.is_empty() {
                vec![1]
            } else {
                k.dims.clone()
            };
            IndexMap::broadcast(&d, &out).map(|m| m.apply(&k.data))
        };
        let (Some(cv), Some(kv)) = (spread(&cond), spread(c)) else {
            return Err(cx.invalid(format!("{:?} does not broadcast to {out:?}", c.dims)));
        };
        Ok(Const {
            dims: shape,
            data: std::rc::Rc::new(
                cv.iter()
                    .zip(&kv)
                    .map(|(&m, &v)| if (m != 0.0) == keep { v } else { 0.0 })
                    .collect(),
            ),
        })
    };
    let one = Const {
        dims: vec![],
        data: std::rc::Rc::new(vec![1.0]),
    };
    // The part of one branch: a masked constant, or a computed value times its 0/1 mask.
    let part = |v: Val, keep: bool, which: usize, graph: &mut Graph| -> Imported {
        Ok(match v {
            Val::Const(c) => Val::Value(const_value(cx, graph, &pick(&c, keep)?, which)),
            Val::Value(x) => {
                let m = const_value(cx, graph, &pick(&one, keep)?, which);
                binary(cx, graph, x, m, "Mul")?
            }
        })
    };
    let a = part(cx.get(1)?, true, 1, graph)?;
    let b = part(cx.get(2)?, false, 2, graph)?;
    match (a, b) {
        (Val::Value(a), Val::Value(b)) => binary(cx, graph, a, b, "Add"),
        _ => Err(cx.invalid("Where of constants was not folded".into())),
    }
}

/// And of two 0/1 tensors (one may be constant): their product.
pub(crate) fn and(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let value = |i: usize, graph: &mut Graph| -> Result<usize, crate::OnnxError> {
        Ok(match cx.get(i)? {
            Val::Value(v) => v,
            Val::Const(c) => const_value(cx, graph, &c, i),
        })
    };
    let (a, b) = (value(0, graph)?, value(1, graph)?);
    binary(cx, graph, a, b, "Mul")
}
