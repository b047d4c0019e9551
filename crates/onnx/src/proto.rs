//! Reading the protobuf: the model, a node's display name and its attributes.

use onnx_protobuf::{AttributeProto, Message, ModelProto, NodeProto};

use crate::OnnxError;

pub(crate) fn parse_model(bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    let m = ModelProto::parse_from_bytes(bytes).map_err(|e| OnnxError::Parse(e.to_string()))?;
    if m.graph.0.is_none() {
        return Err(OnnxError::Parse("the file holds no graph".into()));
    }
    Ok(m)
}

pub(crate) fn node_name(n: &NodeProto, i: usize) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else if let Some(o) = n.output.first() {
        format!("{}({o})", n.op_type)
    } else {
        format!("{}#{i}", n.op_type)
    }
}

/// The node's attribute `k`, if it has one.
pub(crate) fn attr<'n>(n: &'n NodeProto, k: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name == k)
}

/// The integers of the node's attribute `k`, if it has one.
pub(crate) fn attr_ints(n: &NodeProto, k: &str) -> Option<Vec<i64>> {
    attr(n, k).map(|a| a.ints.clone())
}

/// The string of the node's attribute `k` (lossily decoded), if it has one.
pub(crate) fn attr_str(n: &NodeProto, k: &str) -> Option<String> {
    attr(n, k).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}
