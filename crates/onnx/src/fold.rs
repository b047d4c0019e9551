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
        // A perm that repeats an axis, or has the wrong length.
        for perm in [vec![0, 0], vec![1, 0, 2]] {
            let t = node("Transpose", Some(("perm", perm, 0)));
            assert!(fold_const(&t, &[Some(c(vec![2, 3]))], l).is_err());
        }
    }
}
