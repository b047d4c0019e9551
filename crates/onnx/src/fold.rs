//! Constant folding: ops whose inputs are all constants (the shape arithmetic exporters write,
//! element-wise arithmetic on constants) evaluated at import.

use onnx_protobuf::NodeProto;
use zkgrad_circuit::index_map::IndexMap;

use crate::proto::{attr, attr_ints};
use crate::shape::{check_perm, norm_axis, reshape_dims, slice_map, squeeze_dims, unsqueeze_dims};
use crate::tensor::{elements, to_const, Const};
use crate::Limits;

/// Folds an op whose inputs are all constants, for the shape-arithmetic ops exporters emit;
/// `None` for any other op (the caller then treats it as usual). Every result is checked against
/// `limits` before it is allocated.
pub(crate) fn fold_const(
    n: &NodeProto,
    ins: &[Option<Const>],
    limits: &Limits,
) -> Result<Option<Const>, String> {
    let max = limits.max_tensor_elements;
    let ints = |k: &str| attr_ints(n, k);
    let int = |k: &str, d: i64| attr(n, k).map_or(d, |a| a.i);
    let input = |i: usize| ins.get(i).cloned().flatten();
    let first = || input(0).ok_or_else(|| "missing input 0".to_string());
    let as_ints = |c: &Const| c.data.iter().map(|&v| v as i64).collect::<Vec<i64>>();
    let axis = norm_axis;
    let c = match n.op_type.as_str() {
        "Identity" | "Cast" => first()?,
        "ConstantOfShape" => {
            let shape = input(0).ok_or("ConstantOfShape of a computed shape")?;
            let dims: Vec<usize> = as_ints(&shape)
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
                .collect::<Result<_, _>>()?;
            let fill = match attr(n, "value") {
                Some(a) => to_const(&a.t, limits)?.data.first().copied().unwrap_or(0.0),
                None => 0.0,
            };
            let len = elements(&dims, limits)?;
            let len = if dims.contains(&0) { 0 } else { len };
            Const {
                dims,
                data: vec![fill; len].into(),
            }
        }
        "Reshape" | "Squeeze" | "Unsqueeze" | "Flatten" => {
            let x = first()?;
            let total = x.data.len();
            let dims = match n.op_type.as_str() {
                "Reshape" => {
                    let spec = as_ints(&input(1).ok_or("Reshape without a shape")?);
                    reshape_dims(&x.dims, &spec, int("allowzero", 0) != 0)?
                }
                "Flatten" => {
                    let a = int("axis", 1).clamp(0, x.dims.len() as i64) as usize;
                    // Bounded: the constant's dims passed `elements`.
                    vec![x.dims[..a].iter().product(), x.dims[a..].iter().product()]
                }
                _ => {
                    let axes = input(1).map(|c| as_ints(&c)).or_else(|| ints("axes"));
                    if n.op_type == "Squeeze" {
                        squeeze_dims(&x.dims, axes.as_deref())?
                    } else {
                        unsqueeze_dims(&x.dims, &axes.ok_or("Unsqueeze without axes")?)?
                    }
                }
            };
            if dims.iter().product::<usize>() != total {
                return Err(format!("cannot reshape {:?} to {dims:?}", x.dims));
            }
            Const { dims, data: x.data }
        }
        "Transpose" => {
            let x = first()?;
            let perm: Vec<usize> = match ints("perm") {
                Some(p) => p
                    .iter()
                    .map(|&a| axis(a, x.dims.len()))
                    .collect::<Result<_, _>>()?,
                None => (0..x.dims.len()).rev().collect(),
            };
            check_perm(&perm, x.dims.len())?;
            let map = IndexMap::transpose(&x.dims, &perm);
            map.validate(max)?;
            Const {
                dims: map.out_shape.clone(),
                data: map.apply(&x.data).into(),
            }
        }
        "Concat" => {
            let parts: Vec<Const> = ins.iter().flatten().cloned().collect();
            let Some(p0) = parts.first() else {
                return Err("Concat of nothing".into());
            };
            let rank = p0.dims.len().max(1);
            let ax = axis(int("axis", 0), rank)?;
            let dims_of = |c: &Const| {
                if c.dims.is_empty() {
                    vec![1]
                } else {
                    c.dims.clone()
                }
            };
            let mut out = dims_of(p0);
            for c in &parts {
                let d = dims_of(c);
                let agrees = d.len() == out.len()
                    && d.iter()
                        .zip(&out)
                        .enumerate()
                        .all(|(k, (a, b))| k == ax || a == b);
                if !agrees {
                    return Err(format!(
                        "constant parts {:?} and {d:?} differ off axis {ax}",
                        out
                    ));
                }
            }
            let mut sum: usize = 0;
            for c in &parts {
                sum = sum
                    .checked_add(dims_of(c).get(ax).copied().unwrap_or(1))
                    .ok_or("Concat: the parts' sizes overflow")?;
            }
            out[ax] = sum;
            let len = elements(&out, limits)?;
            let mut data = vec![0.0; if out.contains(&0) { 0 } else { len }];
            let mut offset = 0i64;
            for c in &parts {
                let d = dims_of(c);
                let mut offs = vec![0i64; d.len()];
                offs[ax] = -offset;
                offset += d[ax] as i64;
                let map = IndexMap::aligned(&d, &out, &vec![1; d.len()], &offs);
                map.validate(max)?;
                for (o, v) in data.iter_mut().zip(map.apply(&c.data)) {
                    *o += v;
                }
            }
            Const {
                dims: out,
                data: data.into(),
            }
        }
        "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "And" | "Or" | "Xor" => {
            let (x, y) = (first()?, input(1).ok_or("missing input 1")?);
            let f: fn(f64, f64) -> bool = match n.op_type.as_str() {
                "Equal" => |a, b| a == b,
                "Less" => |a, b| a < b,
                "LessOrEqual" => |a, b| a <= b,
                "Greater" => |a, b| a > b,
                "GreaterOrEqual" => |a, b| a >= b,
                "And" => |a, b| a != 0.0 && b != 0.0,
                "Or" => |a, b| a != 0.0 || b != 0.0,
                _ => |a, b| (a != 0.0) != (b != 0.0),
            };
            broadcast_fold(&[&x, &y], limits, |v| f64::from(u8::from(f(v[0], v[1]))))?
        }
        "Max" | "Min" if !ins.is_empty() => {
            let all: Vec<Const> = (0..ins.len())
                .map(|i| input(i).ok_or_else(|| format!("missing input {i}")))
                .collect::<Result<_, _>>()?;
            let refs: Vec<&Const> = all.iter().collect();
            let max = n.op_type == "Max";
            broadcast_fold(&refs, limits, |v| {
                v.iter()
                    .copied()
                    .reduce(|a, b| if (b > a) == max { b } else { a })
                    .unwrap_or(0.0)
            })?
        }
        "GatherND" => {
            // batch_dims = 0: out[i…] = data[indices[i…, 0], …, indices[i…, k−1], …].
            if int("batch_dims", 0) != 0 {
                return Err("GatherND with batch_dims ≠ 0 is not folded".into());
            }
            let (x, idx) = (first()?, input(1).ok_or("missing indices")?);
            let k = *idx.dims.last().ok_or("GatherND indices of rank 0")?;
            if k == 0 || k > x.dims.len() {
                return Err(format!(
                    "GatherND index tuples of {k} into rank {}",
                    x.dims.len()
                ));
            }
            let inner: usize = x.dims[k..].iter().product();
            let mut out_dims = idx.dims[..idx.dims.len() - 1].to_vec();
            out_dims.extend(&x.dims[k..]);
            elements(&out_dims, limits)?;
            let mut data = Vec::new();
            for tuple in idx.data.chunks(k) {
                let mut flat = 0usize;
                for (axis, &v) in tuple.iter().enumerate() {
                    let d = x.dims[axis];
                    let i = if v < 0.0 { v + d as f64 } else { v };
                    if !(i >= 0.0 && i < d as f64 && i.fract() == 0.0) {
                        return Err(format!(
                            "GatherND index {v} outside axis {axis} of size {d}"
                        ));
                    }
                    flat = flat * d + i as usize;
                }
                let base = flat * inner;
                data.extend_from_slice(
                    x.data
                        .get(base..base + inner)
                        .ok_or("GatherND index past the data")?,
                );
            }
            Const {
                dims: out_dims,
                data: data.into(),
            }
        }
        "Trilu" => {
            // The upper (upper = 1) or lower triangle of each trailing matrix, from diagonal k.
            let x = first()?;
            let k = input(1)
                .and_then(|c| c.data.first().copied())
                .unwrap_or(0.0) as i64;
            let upper = int("upper", 1) != 0;
            let [.., r, c] = x.dims[..] else {
                return Err("Trilu of a tensor of rank < 2".into());
            };
            let data: Vec<f64> = x
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let (row, col) = (((i / c.max(1)) % r.max(1)) as i64, (i % c.max(1)) as i64);
                    let keep = if upper {
                        col - row >= k
                    } else {
                        col - row <= k
                    };
                    if keep {
                        v
                    } else {
                        0.0
                    }
                })
                .collect();
            Const {
                dims: x.dims.clone(),
                data: data.into(),
            }
        }
        "Shape" => {
            let x = first()?;
            let r = x.dims.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let (s, e) = (clamp(int("start", 0)), clamp(int("end", r)));
            let data: Vec<f64> = x.dims[s..e.max(s)].iter().map(|&d| d as f64).collect();
            Const {
                dims: vec![data.len()],
                data: data.into(),
            }
        }
        "Not" => {
            let x = first()?;
            Const {
                dims: x.dims.clone(),
                data: x
                    .data
                    .iter()
                    .map(|&v| f64::from(u8::from(v == 0.0)))
                    .collect::<Vec<_>>()
                    .into(),
            }
        }
        "Where" => {
            let (c, x, y) = (
                first()?,
                input(1).ok_or("missing input 1")?,
                input(2).ok_or("missing input 2")?,
            );
            broadcast_fold(
                &[&c, &x, &y],
                limits,
                |v| if v[0] != 0.0 { v[1] } else { v[2] },
            )?
        }
        "Expand" => {
            let x = first()?;
            let shape: Vec<usize> = as_ints(&input(1).ok_or("Expand without a shape")?)
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
                .collect::<Result<_, _>>()?;
            let ones = Const {
                data: vec![0.0; elements(&shape, limits)?].into(),
                dims: shape,
            };
            broadcast_fold(&[&x, &ones], limits, |v| v[0])?
        }
        "Range" => {
            let (start, limit, delta) = (
                first()?,
                input(1).ok_or("missing limit")?,
                input(2).ok_or("missing delta")?,
            );
            let scalar = |c: &Const, what: &str| {
                c.data
                    .first()
                    .copied()
                    .ok_or_else(|| format!("Range's {what} is empty"))
            };
            let (a, b, d) = (
                scalar(&start, "start")?,
                scalar(&limit, "limit")?,
                scalar(&delta, "delta")?,
            );
            if d == 0.0 || !(a.is_finite() && b.is_finite() && d.is_finite()) {
                return Err(format!("Range({a}, {b}, {d})"));
            }
            let n = ((b - a) / d).ceil().max(0.0);
            if n > max as f64 {
                return Err(format!("Range of {n} values is over the limit"));
            }
            let n = n as usize;
            Const {
                dims: vec![n],
                data: (0..n).map(|i| a + i as f64 * d).collect::<Vec<_>>().into(),
            }
        }
        "Gather" | "GatherElements" => {
            let (x, idx) = (first()?, input(1).ok_or("missing indices")?);
            let rank = x.dims.len().max(1);
            let ax = axis(int("axis", 0), rank)?;
            let dims = if x.dims.is_empty() {
                vec![1]
            } else {
                x.dims.clone()
            };
            let d = dims[ax];
            let outer: usize = dims[..ax].iter().product();
            let inner: usize = dims[ax + 1..].iter().product();
            let norm = |v: f64| -> Result<usize, String> {
                let i = if v < 0.0 { v + d as f64 } else { v };
                if i >= 0.0 && i < d as f64 && i.fract() == 0.0 {
                    Ok(i as usize)
                } else {
                    Err(format!("index {v} outside axis {ax} of size {d}"))
                }
            };
            if n.op_type == "Gather" {
                let mut out_dims = dims[..ax].to_vec();
                out_dims.extend(&idx.dims);
                out_dims.extend(&dims[ax + 1..]);
                elements(&out_dims, limits)?;
                let mut data = Vec::new();
                for o in 0..outer {
                    for &v in idx.data.iter() {
                        let i = norm(v)?;
                        let base = (o * d + i) * inner;
                        data.extend_from_slice(&x.data[base..base + inner]);
                    }
                }
                Const {
                    dims: out_dims,
                    data: data.into(),
                }
            } else {
                // GatherElements: out[…, j, …] = x[…, idx[…, j, …], …], idx of x's rank.
                if idx.dims.len() != dims.len() {
                    return Err("GatherElements indices of another rank".into());
                }
                let id = &idx.dims;
                let (i_outer, i_d, i_inner): (usize, usize, usize) = (
                    id[..ax].iter().product(),
                    id[ax],
                    id[ax + 1..].iter().product(),
                );
                if i_outer > outer || i_inner > inner {
                    return Err("GatherElements indices larger than the data".into());
                }
                let mut data = Vec::with_capacity(idx.data.len());
                for o in 0..i_outer {
                    for j in 0..i_d {
                        for k in 0..i_inner {
                            let i = norm(idx.data[(o * i_d + j) * i_inner + k])?;
                            data.push(x.data[(o * d + i) * inner + k]);
                        }
                    }
                }
                Const {
                    dims: id.clone(),
                    data: data.into(),
                }
            }
        }
        "Slice" => {
            let x = first()?;
            let req = |i: usize| input(i).map(|c| as_ints(&c));
            let (starts, ends) = (
                req(1).ok_or("Slice without starts")?,
                req(2).ok_or("Slice without ends")?,
            );
            let map = slice_map(&x.dims, &starts, &ends, req(3), req(4))?;
            if !x.dims.is_empty() {
                map.validate(max)?;
            }
            Const {
                dims: map.out_shape.clone(),
                data: map.apply(&x.data).into(),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(c))
}

/// An element-wise op on constants with numpy broadcasting (mask logic on constants).
fn broadcast_fold(
    xs: &[&Const],
    limits: &Limits,
    f: impl Fn(&[f64]) -> f64,
) -> Result<Const, String> {
    let mut shape: Vec<usize> = Vec::new();
    for x in xs {
        shape = crate::shape::broadcast_shape(&shape, &x.dims)
            .ok_or_else(|| format!("shapes {:?} and {:?} do not broadcast", shape, x.dims))?;
    }
    let len = elements(&shape, limits)?;
    let out = if shape.is_empty() {
        vec![1]
    } else {
        shape.clone()
    };
    let spread: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| {
            let d = if x.dims.is_empty() {
                vec![1]
            } else {
                x.dims.clone()
            };
            IndexMap::broadcast(&d, &out)
                .map(|m| m.apply(&x.data))
                .ok_or_else(|| format!("shape {:?} does not broadcast to {out:?}", x.dims))
        })
        .collect::<Result<_, _>>()?;
    let data: Vec<f64> = (0..len)
        .map(|i| f(&spread.iter().map(|v| v[i]).collect::<Vec<_>>()))
        .collect();
    Ok(Const {
        dims: shape,
        data: data.into(),
    })
}

/// An element-wise op on two constants, one of them possibly a scalar (constant folding).
pub(crate) fn fold2(x: &Const, y: &Const, f: impl Fn(f64, f64) -> f64) -> Result<Const, String> {
    let (dims, data) = if x.data.len() == y.data.len() {
        let dims = if x.dims.len() >= y.dims.len() {
            &x.dims
        } else {
            &y.dims
        };
        (
            dims.clone(),
            x.data
                .iter()
                .zip(y.data.iter())
                .map(|(a, b)| f(*a, *b))
                .collect(),
        )
    } else if let [s] = y.data[..] {
        (x.dims.clone(), x.data.iter().map(|a| f(*a, s)).collect())
    } else if let [s] = x.data[..] {
        (y.dims.clone(), y.data.iter().map(|b| f(s, *b)).collect())
    } else {
        return Err(format!(
            "constant shapes {:?} and {:?} differ (only scalars broadcast when folding)",
            x.dims, y.dims
        ));
    };
    let data: Vec<f64> = data;
    if data.iter().any(|v| !v.is_finite()) {
        return Err("constant folding produced a non-finite value".into());
    }
    Ok(Const {
        dims,
        data: data.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_malformed_constants_is_an_error_not_a_panic() {
        let node = |op: &str, attr: Option<(&str, Vec<i64>, i64)>| {
            let mut n = NodeProto::new();
            n.op_type = op.into();
            if let Some((name, ints, i)) = attr {
                let mut a = onnx_protobuf::AttributeProto::new();
                a.name = name.into();
                a.ints = ints;
                a.i = i;
                n.attribute.push(a);
            }
            n
        };
        let c = |dims: Vec<usize>| Const {
            data: vec![1.0; dims.iter().product::<usize>().max(1)].into(),
            dims,
        };
        let l = &Limits::default();
        // Parts of different ranks, or different sizes off the axis.
        let concat = node("Concat", Some(("axis", vec![], 1)));
        assert!(fold_const(&concat, &[Some(c(vec![2, 3])), Some(c(vec![2, 3, 1]))], l).is_err());
        assert!(fold_const(&concat, &[Some(c(vec![2, 3])), Some(c(vec![4, 3]))], l).is_err());
        let ok = fold_const(&concat, &[Some(c(vec![2, 3])), Some(c(vec![2, 1]))], l).unwrap();
        assert_eq!(ok.map(|k| k.dims), Some(vec![2, 4]));
        // A Range whose bounds are empty tensors.
        let empty = Const {
            dims: vec![0],
            data: vec![].into(),
        };
        let range = node("Range", None);
        assert!(fold_const(
            &range,
            &[Some(empty.clone()), Some(c(vec![1])), Some(c(vec![1]))],
            l
        )
        .is_err());
        // Trilu: the lower triangle (upper = 0) of a 3×3 matrix of ones, and the strict upper
        // one (k = 1): a causal mask and its complement.
        let ones = c(vec![3, 3]);
        let lower = fold_const(
            &node("Trilu", Some(("upper", vec![], 0))),
            &[Some(ones.clone())],
            l,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            lower.data.to_vec(),
            vec![1., 0., 0., 1., 1., 0., 1., 1., 1.]
        );
        let k1 = Const {
            dims: vec![],
            data: vec![1.0].into(),
        };
        let upper = fold_const(
            &node("Trilu", Some(("upper", vec![], 1))),
            &[Some(ones), Some(k1)],
            l,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            upper.data.to_vec(),
            vec![0., 1., 1., 0., 0., 1., 0., 0., 0.]
        );
        // A perm that repeats an axis, or has the wrong length.
        for perm in [vec![0, 0], vec![1, 0, 2]] {
            let t = node("Transpose", Some(("perm", perm, 0)));
            assert!(fold_const(&t, &[Some(c(vec![2, 3]))], l).is_err());
        }
    }
}
