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
//!
//! # Hostile files
//!
//! A model file is untrusted input. Importing never panics, and refuses — with an error that
//! names the node or tensor and what is wrong — anything malformed: sizes whose product
//! overflows, a tensor whose stored bytes are not exactly its shape's, duplicate initializer or
//! output names, ops of a custom domain, an opset newer than [`MAX_OPSET`] (or an op used below
//! the opset that introduced it), attributes of the wrong type or non-finite floats, and
//! parameters out of range. Every size read from the file is checked against [`Limits`]
//! *before* anything of that size is allocated:
//!
//! - [`Limits::max_tensor_elements`] (default 2^28): the most elements of any one tensor — an
//!   initializer or constant, a graph input, the output of any node, a layer's weight matrix.
//!   VGG-16's largest (its first fully connected layer's 25088 × 4096 weight, about 2^26.6)
//!   fits.
//! - [`Limits::max_nodes`] (default 1,000,000): the most nodes (and initializers) in the graph.
//!
//! [`import`] and [`import_with_sources`] use [`Limits::default`]; [`import_with_limits`] and
//! [`import_with_sources_and_limits`] take others. Import is linear in the number of nodes.
//! External data ([`inline_external_data_in_dir`]) is read only from regular files inside the
//! model's directory, and only the bytes each tensor needs.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::collections::HashMap;

use zkgrad_model::graph::Graph;

mod export;
mod external;
mod fold;
mod fuse;
#[cfg(test)]
mod hostile_tests;
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
pub use external::{
    inline_external_data, inline_external_data_in_dir, inline_external_data_in_dir_parsed,
    InlinedModel,
};
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

/// The newest opset of the default ONNX domain this importer knows the semantics of; a model
/// importing a newer one is refused.
pub const MAX_OPSET: i64 = 28;

/// Bounds on what a model file may make the importer allocate (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most elements of any one tensor: initializer, constant, graph input, node output,
    /// weight matrix.
    pub max_tensor_elements: usize,
    /// The most nodes in the graph (and the most initializers).
    pub max_nodes: usize,
}

impl Default for Limits {
    /// 2^28 elements per tensor, 1,000,000 nodes.
    fn default() -> Self {
        Self {
            max_tensor_elements: 1 << 28,
            max_nodes: 1_000_000,
        }
    }
}

/// Imports an ONNX model into the float graph IR (with [`Limits::default`]).
pub fn import(bytes: &[u8]) -> Result<Graph, OnnxError> {
    import_with_limits(bytes, &Limits::default())
}

/// Imports an ONNX model into the float graph IR, within `limits`.
pub fn import_with_limits(bytes: &[u8], limits: &Limits) -> Result<Graph, OnnxError> {
    import_with_sources_and_limits(bytes, limits).map(|(g, _)| g)
}

/// Imports, and says for each Linear node (by node index) where its parameters came from (with
/// [`Limits::default`]).
pub fn import_with_sources(
    bytes: &[u8],
) -> Result<(Graph, HashMap<usize, LinearSource>), OnnxError> {
    import_with_sources_and_limits(bytes, &Limits::default())
}

/// [`import_with_sources`] within `limits`.
pub fn import_with_sources_and_limits(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Graph, HashMap<usize, LinearSource>), OnnxError> {
    let mut sources: HashMap<usize, LinearSource> = HashMap::new();
    let graph = importer::import_inner(bytes, limits, &mut sources, &[])?;
    Ok((graph, sources))
}

/// Imports a model exported with symbolic dimensions (a dynamic sequence axis), specialized:
/// each graph-input dimension named in `dims` takes that size (others read as 1, as
/// [`import`] reads them), and the shape arithmetic that follows from it is folded.
pub fn import_specialized(
    bytes: &[u8],
    limits: &Limits,
    dims: &[(String, usize)],
) -> Result<Graph, OnnxError> {
    let mut sources: HashMap<usize, LinearSource> = HashMap::new();
    importer::import_inner(bytes, limits, &mut sources, dims)
}

/// [`import_specialized`] of a model read with [`inline_external_data_in_dir_parsed`]: the
/// same graph as from the bytes [`inline_external_data_in_dir`] returns, without encoding and
/// parsing them.
pub fn import_inlined(
    m: &InlinedModel,
    limits: &Limits,
    dims: &[(String, usize)],
) -> Result<Graph, OnnxError> {
    let mut sources: HashMap<usize, LinearSource> = HashMap::new();
    importer::import_model(&m.proto, limits, &mut sources, dims)
}

/// The symbolic dimensions (`dim_param`) of the first graph input, in order, with their axes,
/// and the product of its other dimensions.
pub fn symbolic_input_dims(bytes: &[u8]) -> Result<(Vec<(usize, String)>, usize), OnnxError> {
    importer::symbolic_input_dims(bytes)
}
