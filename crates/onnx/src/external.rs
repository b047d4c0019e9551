//! Initializers whose data lies in external files (ONNX `external_data`), moved into the model.

use std::collections::HashMap;

use onnx_protobuf::Message;

use crate::proto::parse_model;
use crate::OnnxError;

/// Moves initializer data stored in external files (ONNX `external_data`: `location`, `offset`,
/// `length`) into the model, reading each file once through `read` (the caller decides where a
/// location may point). Returns the model's bytes with every initializer inline — the same
/// bytes if none was external.
pub fn inline_external_data(
    bytes: &[u8],
    mut read: impl FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, OnnxError> {
    let mut m = parse_model(bytes)?;
    let Some(g) = m.graph.as_mut() else {
        return Ok(bytes.to_vec());
    };
    if g.initializer.iter().all(|t| t.external_data.is_empty()) {
        return Ok(bytes.to_vec());
    }
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for t in g
        .initializer
        .iter_mut()
        .filter(|t| !t.external_data.is_empty())
    {
        let field = |k: &str| {
            t.external_data
                .iter()
                .find(|e| e.key == k)
                .map(|e| e.value.clone())
        };
        let bad = |why: String| OnnxError::Graph(format!("tensor {}: {why}", t.name));
        let location =
            field("location").ok_or_else(|| bad("external data without a location".into()))?;
        let num = |k: &str| -> Result<Option<usize>, OnnxError> {
            field(k)
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| bad(format!("external data {k} {v:?}")))
                })
                .transpose()
        };
        let (offset, length) = (num("offset")?.unwrap_or(0), num("length")?);
        if !files.contains_key(&location) {
            let d = read(&location).map_err(|e| bad(format!("external data {location}: {e}")))?;
            files.insert(location.clone(), d);
        }
        let data = files.get(&location).map(Vec::as_slice).unwrap_or_default();
        let end = match length {
            Some(n) => offset.checked_add(n),
            None => Some(data.len()),
        };
        let slice = end.and_then(|e| data.get(offset..e)).ok_or_else(|| {
            bad(format!(
                "external data {location} is shorter than offset + length"
            ))
        })?;
        t.raw_data = slice.to_vec();
        t.external_data.clear();
        t.data_location = onnx_protobuf::tensor_proto::DataLocation::DEFAULT.into();
    }
    m.write_to_bytes()
        .map_err(|e| OnnxError::Parse(format!("re-encoding the model: {e}")))
}
