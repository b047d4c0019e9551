//! Tensors as the file stores them: initializers and Constant values read into [`Const`].

use onnx_protobuf::TensorProto;

/// A constant tensor (initializer or Constant node).
#[derive(Clone, Debug)]
pub(crate) struct Const {
    pub dims: Vec<usize>,
    pub data: Vec<f64>,
}

fn tensor_data(t: &TensorProto) -> Result<Vec<f64>, String> {
    const FLOAT: i32 = 1;
    const INT32: i32 = 6;
    const INT64: i32 = 7;
    const DOUBLE: i32 = 11;
    let raw = &t.raw_data;
    let out: Vec<f64> = match t.data_type {
        FLOAT if !raw.is_empty() => raw
            .chunks_exact(4)
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
        INT32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        INT32 => t.int32_data.iter().map(|&v| v as f64).collect(),
        other => {
            return Err(format!(
                "tensor {} has unsupported data type {other}",
                t.name
            ))
        }
    };
    if !t.external_data.is_empty() {
        return Err(format!(
            "tensor {} stores its data in an external file (load the model from its file so the data can be read)",
            t.name
        ));
    }
    let expected: i64 = t.dims.iter().product();
    if t.dims.iter().any(|&d| d < 0)
        || out.len() as i64 != expected.max(if t.dims.is_empty() { 1 } else { 0 })
    {
        return Err(format!(
            "tensor {} holds {} values for shape {:?}",
            t.name,
            out.len(),
            t.dims
        ));
    }
    if let Some(v) = out.iter().find(|v| !v.is_finite()) {
        return Err(format!("tensor {} holds a non-finite value {v}", t.name));
    }
    Ok(out)
}

pub(crate) fn to_const(t: &TensorProto) -> Result<Const, String> {
    Ok(Const {
        dims: t.dims.iter().map(|&d| d as usize).collect(),
        data: tensor_data(t)?,
    })
}

/// A bias (or per-channel parameter) of `outf` values: `outf` values along the last axis, or one
/// value repeated.
pub(crate) fn broadcast_bias(c: &Const, outf: usize) -> Result<Vec<f64>, String> {
    if c.data.len() == outf && c.dims.iter().rev().skip(1).all(|&d| d == 1) {
        Ok(c.data.clone())
    } else if c.data.len() == 1 {
        Ok(vec![c.data[0]; outf])
    } else {
        Err(format!(
            "bias of shape {:?} does not broadcast to [{outf}]",
            c.dims
        ))
    }
}
