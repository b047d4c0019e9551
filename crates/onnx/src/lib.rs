//! ONNX → zkgrad's typed graph IR. The only crate where op names appear as strings.
//!
//! Parses the protobuf with `onnx-protobuf` (which ships the ONNX schema) and maps each node to
//! a typed [`zkgrad_model::Op`]; the op types it imports are [`SUPPORTED_OPS`] (one
//! table, `registry.rs`). Constants are folded, and an `Add` of a constant right after a
//! MatMul/Gemm becomes that layer's bias. Anything else is refused with its op type and node
//! name.
//!
//! Where a change goes: `registry.rs` maps each op type to its import function, which lives in
//! the module of its family under `ops/` (`linear`, `elementwise`, `activation`, `conv`, `pool`,
//! `norm`, `reduce`, `layout`, `constant`); `importer.rs` walks the graph (inputs, the nodes in
//! order, outputs) and `node.rs` is what an import function sees of its node. Reading the
//! protobuf is in `proto.rs` and `tensor.rs`, initializers in external files in `external.rs`,
//! ONNX's shape rules in `shape.rs`, constant folding in `fold.rs`, and writing trained weights
//! back in `export.rs`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::collections::HashMap;

use zkgrad_model::graph::Graph;

mod export;
mod external;
mod fold;
mod importer;
mod node;
mod ops;
mod proto;
mod registry;
mod shape;
mod tensor;
#[cfg(test)]
mod tests;

pub use export::export_weights;
pub use external::inline_external_data;
pub use registry::SUPPORTED_OPS;

/// Why an ONNX file could not be imported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnnxError {
    #[error("not a valid ONNX model: {0}")]
    Parse(String),
    #[error("unsupported op {op_type} at node {node}")]
    Unsupported { op_type: String, node: String },
    #[error("node {node} ({op_type}): {why}")]
    Invalid {
        op_type: String,
        node: String,
        why: String,
    },
    #[error("graph: {0}")]
    Graph(String),
}

/// One node as written in the file, for `zkgrad inspect`.
#[derive(Clone, Debug)]
pub struct RawNode {
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub supported: bool,
}

/// Lists the nodes of an ONNX file with whether each op type is supported.
pub fn raw_nodes(bytes: &[u8]) -> Result<Vec<RawNode>, OnnxError> {
    let m = proto::parse_model(bytes)?;
    Ok(m.graph
        .node
        .iter()
        .enumerate()
        .map(|(i, n)| RawNode {
            name: proto::node_name(n, i),
            op_type: n.op_type.clone(),
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            supported: SUPPORTED_OPS.contains(&n.op_type.as_str()),
        })
        .collect())
}

/// Where a Linear layer's parameters live in the ONNX file (for writing trained weights back).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearSource {
    /// The weight initializer, stored `[out, in]` if `trans_b` else `[in, out]`, scaled by `alpha`.
    pub weight: String,
    pub trans_b: bool,
    pub alpha: f64,
    /// The bias initializer and its scale `beta`.
    pub bias: Option<(String, f64)>,
}

/// Imports an ONNX model into the float graph IR.
pub fn import(bytes: &[u8]) -> Result<Graph, OnnxError> {
    import_with_sources(bytes).map(|(g, _)| g)
}

/// Imports, and says for each Linear node (by node index) where its parameters came from.
pub fn import_with_sources(
    bytes: &[u8],
) -> Result<(Graph, HashMap<usize, LinearSource>), OnnxError> {
    let mut sources: HashMap<usize, LinearSource> = HashMap::new();
    let graph = importer::import_inner(bytes, &mut sources)?;
    Ok((graph, sources))
}
