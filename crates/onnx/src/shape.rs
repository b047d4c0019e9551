//! ONNX's shape rules: axes, broadcasting, the shapes Squeeze, Unsqueeze and Reshape produce,
//! Slice as an index map, and the window a convolution or pooling node reads.

use onnx_protobuf::NodeProto;
use zkgrad_circuit::index_map::IndexMap;
use zkgrad_model::build::Window;

use crate::proto::{attr_ints, attr_str};

/// Numpy broadcasting of two shapes (trailing axes aligned).
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], k: usize| {
        let lead = rank - s.len();
        if k < lead {
            1
        } else {
            s[k - lead]
        }
    };
    (0..rank)
        .map(|k| match (dim(a, k), dim(b, k)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

pub(crate) fn norm_axis(a: i64, rank: usize) -> Result<usize, String> {
    usize::try_from(if a < 0 { a + rank as i64 } else { a })
        .ok()
        .filter(|&v| v < rank)
        .ok_or_else(|| format!("axis {a} out of range for rank {rank}"))
}

/// Whether `perm` is a permutation of `0..rank`.
pub(crate) fn check_perm(perm: &[usize], rank: usize) -> Result<(), String> {
    let mut seen = perm.to_vec();
    seen.sort_unstable();
    if perm.len() != rank || seen.iter().enumerate().any(|(k, &p)| k != p) {
        return Err(format!("perm {perm:?} is not a permutation of {rank} axes"));
    }
    Ok(())
}

/// ONNX Squeeze: the given axes (which must have size 1) removed, or every axis of size 1.
pub(crate) fn squeeze_dims(xs: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>, String> {
    match axes {
        None => Ok(xs.iter().copied().filter(|&d| d != 1).collect()),
        Some(axes) => {
            let drop: Vec<usize> = axes
                .iter()
                .map(|&a| norm_axis(a, xs.len()))
                .collect::<Result<_, _>>()?;
            if drop.iter().any(|&a| xs[a] != 1) {
                return Err(format!("cannot squeeze {xs:?} at {axes:?}"));
            }
            Ok(xs
                .iter()
                .enumerate()
                .filter(|(k, _)| !drop.contains(k))
                .map(|(_, &d)| d)
                .collect())
        }
    }
}

/// ONNX Unsqueeze: axes of size 1 inserted at the given positions of the output.
pub(crate) fn unsqueeze_dims(xs: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let rank = xs.len() + axes.len();
    let add: Vec<usize> = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Result<_, _>>()?;
    let mut rest = xs.iter();
    Ok((0..rank)
        .map(|k| {
            if add.contains(&k) {
                1
            } else {
                rest.next().copied().unwrap_or(1)
            }
        })
        .collect())
}

/// ONNX Reshape's target shape: `-1` inferred (once), `0` copies the input's dimension unless
/// `allowzero` (dimensions of size 0 are not supported).
pub(crate) fn reshape_dims(
    xs: &[usize],
    spec: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, String> {
    let product = |s: &[usize]| {
        s.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("target shape {spec:?} overflows"))
    };
    let total: usize = product(xs)?;
    let mut shape = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            0 if allowzero => return Err("a dimension of size 0 is not supported".into()),
            0 => shape.push(*xs.get(i).ok_or("0 in shape refers past the input's rank")?),
            d if d > 0 => shape.push(usize::try_from(d).map_err(|_| format!("dimension {d}"))?),
            _ => return Err(format!("invalid target shape {spec:?}")),
        }
    }
    if let Some(i) = infer {
        let known: usize = product(&shape)?;
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {xs:?} to {spec:?}"));
        }
        shape[i] = total / known;
    }
    if product(&shape)? != total {
        return Err(format!(
            "cannot reshape {xs:?} ({total} values) to {shape:?}"
        ));
    }
    Ok(shape)
}

/// ONNX Slice (starts, ends, optional axes and steps; negative indices count from the end,
/// bounds clamped as the operator defines) as an index map over `dims`.
pub(crate) fn slice_map(
    dims: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<Vec<i64>>,
    steps: Option<Vec<i64>>,
) -> Result<IndexMap, String> {
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts, ends, axes and steps differ in length".into());
    }
    let rank = dims.len();
    let (mut out, mut st, mut off) = (dims.to_vec(), vec![1i64; rank], vec![0i64; rank]);
    for k in 0..starts.len() {
        let ax = norm_axis(axes[k], rank)?;
        let (d, step) = (dims[ax] as i64, steps[k]);
        if step == 0 || step == i64::MIN {
            return Err(format!("slice step {step}"));
        }
        if d == 0 {
            return Err(format!("slice of axis {ax}, which is empty"));
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (start, end) = (norm(starts[k]), norm(ends[k]));
        let (start, end) = if step > 0 {
            (start.clamp(0, d), end.clamp(0, d))
        } else {
            (start.clamp(0, d - 1), end.clamp(-1, d - 1))
        };
        // In i128: `end − start + step − 1` overflows i64 for a step near i64::MAX.
        let (s128, e128, st128) = (start as i128, end as i128, step as i128);
        let len = if step > 0 {
            (e128 - s128 + st128 - 1).div_euclid(st128).max(0)
        } else {
            (s128 - e128 - st128 - 1).div_euclid(-st128).max(0)
        };
        let len = len as i64; // ≤ d
        if len == 0 {
            return Err(format!("slice of axis {ax} is empty"));
        }
        out[ax] = len as usize;
        st[ax] = step;
        off[ax] = start;
    }
    Ok(IndexMap::aligned(dims, &out, &st, &off))
}

/// The input positions a pooling or convolution window reads, per spatial axis: kernel,
/// strides, dilations, pads (begin, end) from the node's attributes (ONNX defaults), with
/// `auto_pad` resolved.
pub(crate) fn window(
    n: &NodeProto,
    kernel: Option<[usize; 2]>,
    hw: [usize; 2],
    max: usize,
) -> Result<Window, String> {
    let ints = |k: &str| attr_ints(n, k);
    // Every size at most `max` (the limit on one tensor's elements): sums and products of a
    // few of them then fit in a usize.
    let in_range = |v: i64| v >= 0 && (v as u64) <= max as u64;
    let two = |v: Option<Vec<i64>>, d: usize, what: &str| -> Result<[usize; 2], String> {
        match v.as_deref() {
            None => Ok([d, d]),
            Some([a, b]) if in_range(*a) && in_range(*b) => Ok([*a as usize, *b as usize]),
            Some([_, _]) => Err(format!("{what} {v:?}: out of range (0..={max})")),
            Some(v) => Err(format!("{what} {v:?}: only 2-D windows are supported")),
        }
    };
    let kernel = match (kernel, ints("kernel_shape")) {
        (Some(k), None) => k,
        (Some(k), Some(given)) => {
            if given.len() != 2 || given.iter().zip(k).any(|(&g, w)| g != w as i64) {
                return Err(format!(
                    "kernel_shape {given:?} disagrees with the weight's spatial dimensions {k:?}"
                ));
            }
            k
        }
        (None, given) => two(given, 0, "kernel_shape")?,
    };
    if kernel.iter().chain(&hw).any(|&v| v > max) {
        return Err(format!("kernel {kernel:?} or input {hw:?} out of range"));
    }
    if kernel.contains(&0) {
        return Err("missing kernel_shape".into());
    }
    let strides = two(ints("strides"), 1, "strides")?;
    let dilations = two(ints("dilations"), 1, "dilations")?;
    if strides.contains(&0) || dilations.contains(&0) {
        return Err("strides and dilations must be positive".into());
    }
    let auto_pad = attr_str(n, "auto_pad").unwrap_or_default();
    let mut pads = match ints("pads").as_deref() {
        None => [0; 4],
        Some([t, l, b, r]) if [t, l, b, r].iter().all(|v| in_range(**v)) => {
            [*t as usize, *l as usize, *b as usize, *r as usize]
        }
        Some(v) => {
            return Err(format!(
                "pads {v:?}: expected 4 values within 0..={max} (non-negative, at most the limit on a tensor)"
            ))
        }
    };
    match auto_pad.as_str() {
        "" | "NOTSET" | "VALID" => {}
        "SAME_UPPER" | "SAME_LOWER" => {
            for k in 0..2 {
                let out = hw[k].div_ceil(strides[k]);
                let span = dilations[k] * (kernel[k] - 1) + 1;
                let total = ((out - 1) * strides[k] + span).saturating_sub(hw[k]);
                let (small, big) = (total / 2, total - total / 2);
                (pads[k], pads[k + 2]) = if auto_pad == "SAME_UPPER" {
                    (small, big)
                } else {
                    (big, small)
                };
            }
        }
        other => return Err(format!("auto_pad {other} is not supported")),
    }
    Window::new(hw, kernel, strides, dilations, pads).ok_or_else(|| {
        format!(
            "the window is larger than the padded {}×{} input",
            hw[0], hw[1]
        )
    })
}
