//! Tensors as the file stores them: initializers and Constant values read into [`Const`].

use std::rc::Rc;

use onnx_protobuf::TensorProto;

use crate::Limits;

/// A constant tensor (initializer or Constant node). Cloning it does not copy its data (a chain
/// of Identity or Reshape nodes on a large constant stays linear in time and memory).
#[derive(Clone, Debug)]
pub(crate) struct Const {
    pub dims: Vec<usize>,
    pub data: Rc<Vec<f64>>,
}

/// The number of elements of a tensor of shape `dims` (axes of size 0 counted as 1, so that no
/// partial product can overflow either), refused past `limits.max_tensor_elements`.
pub(crate) fn elements(dims: &[usize], limits: &Limits) -> Result<usize, String> {
    let mut n: usize = 1;
    for &d in dims {
        n = n
            .checked_mul(d.max(1))
            .filter(|&n| n <= limits.max_tensor_elements)
            .ok_or_else(|| {
                format!(
                    "shape {dims:?} has more than {} elements (the limit on one tensor)",
                    limits.max_tensor_elements
                )
            })?;
    }
    Ok(n)
}

/// A tensor's dimensions as the file writes them, each non-negative, and its element count
/// (0 if an axis is 0), within `limits`.
fn checked_dims(t: &TensorProto, limits: &Limits) -> Result<(Vec<usize>, usize), String> {
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| format!("tensor {} has a negative dimension {d}", t.name))
        })
        .collect::<Result<_, _>>()?;
    let n = elements(&dims, limits).map_err(|e| format!("tensor {}: {e}", t.name))?;
    let n = if dims.contains(&0) { 0 } else { n };
    Ok((dims, n))
}

/// The size in bytes of one element of an ONNX data type this importer reads.
pub(crate) fn element_size(data_type: i32) -> Option<usize> {
    match data_type {
        BOOL => Some(1),
        FLOAT | INT32 => Some(4),
        INT64 | DOUBLE => Some(8),
        _ => None,
    }
}

const FLOAT: i32 = 1;
const BOOL: i32 = 9;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

fn tensor_data(t: &TensorProto, n: usize) -> Result<Vec<f64>, String> {
    use rayon::prelude::*;
    if !t.external_data.is_empty() {
        return Err(format!(
            "tensor {} stores its data in an external file (load the model from its file so the data can be read)",
            t.name
        ));
    }
    let size = element_size(t.data_type).ok_or_else(|| {
        format!(
            "tensor {} has unsupported data type {}",
            t.name, t.data_type
        )
    })?;
    let raw = &t.raw_data;
    if !raw.is_empty() {
        // Exactly the shape's bytes: trailing bytes are not silently dropped.
        let want = n.checked_mul(size);
        if want != Some(raw.len()) {
            return Err(format!(
                "tensor {} stores {} bytes of raw data; its shape {:?} needs {} ({n} elements of {size} bytes)",
                t.name,
                raw.len(),
                t.dims,
                n.saturating_mul(size)
            ));
        }
    }
    let stored = if !raw.is_empty() {
        n
    } else {
        match t.data_type {
            FLOAT => t.float_data.len(),
            DOUBLE => t.double_data.len(),
            INT64 => t.int64_data.len(),
            _ => t.int32_data.len(),
        }
    };
    // A scalar (no dims) holds one value.
    let expected = if t.dims.is_empty() { 1 } else { n };
    if stored != expected {
        return Err(format!(
            "tensor {} holds {stored} values for shape {:?}",
            t.name, t.dims
        ));
    }
    let out: Vec<f64> = match t.data_type {
        // The weights' common case, in parallel (GPT-2 124M: 124M values).
        FLOAT if !raw.is_empty() => raw
            .par_chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
        DOUBLE if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        DOUBLE => t.double_data.clone(),
        INT64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64)
            .collect(),
        INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        BOOL if !raw.is_empty() => raw.iter().map(|&b| f64::from(u8::from(b != 0))).collect(),
        BOOL => t
            .int32_data
            .iter()
            .map(|&v| f64::from(u8::from(v != 0)))
            .collect(),
        INT32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        _ => t.int32_data.iter().map(|&v| v as f64).collect(),
    };
    // ±∞ is kept (an additive mask's −∞; every use that needs a finite value refuses it),
    // NaN is refused.
    if out.par_iter().any(|v| v.is_nan()) {
        return Err(format!("tensor {} holds NaN", t.name));
    }
    Ok(out)
}

/// Reads a stored tensor, its size checked against `limits` before its data is decoded.
pub(crate) fn to_const(t: &TensorProto, limits: &Limits) -> Result<Const, String> {
    let (dims, n) = checked_dims(t, limits)?;
    Ok(Const {
        data: tensor_data(t, n)?.into(),
        dims,
    })
}

/// A bias (or per-channel parameter) of `outf` values: `outf` values along the last axis, or one
/// value repeated.
pub(crate) fn broadcast_bias(c: &Const, outf: usize) -> Result<Vec<f64>, String> {
    if c.data.len() == outf && c.dims.iter().rev().skip(1).all(|&d| d == 1) {
        Ok(c.data.to_vec())
    } else if c.data.len() == 1 {
        Ok(vec![c.data[0]; outf])
    } else {
        Err(format!(
            "bias of shape {:?} does not broadcast to [{outf}]",
            c.dims
        ))
    }
}
