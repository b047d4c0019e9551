//! What an import function sees of the node it imports: its inputs (computed values or
//! constants), its attributes, and how it adds nodes to the graph under its name.

use std::collections::HashMap;

use onnx_protobuf::NodeProto;
use zkgrad_model::graph::{Graph, Node, Op};

use crate::proto::{attr, attr_ints};
use crate::shape::norm_axis;
use crate::tensor::{elements, Const};
use crate::{Limits, LinearSource, OnnxError};

/// What a name in the graph refers to.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Value(usize),
    Const(Const),
}

/// Where each Linear node's parameters came from, by node index.
pub(crate) type Sources = HashMap<usize, LinearSource>;

/// What importing a node gives: what the node's output refers to.
pub(crate) type Imported = Result<Val, OnnxError>;

/// One ONNX node being imported, with what the graph defined before it.
pub(crate) struct NodeCx<'a> {
    /// The node as the file writes it.
    pub n: &'a NodeProto,
    /// The node's name as errors and the graph's nodes give it.
    pub name: String,
    /// What each name defined so far refers to.
    pub names: &'a HashMap<String, Val>,
    /// How many nodes (and graph outputs) read each name (to know when a bias may be fused).
    pub readers: &'a HashMap<&'a str, usize>,
    /// What the file may make the importer allocate.
    pub limits: &'a Limits,
    /// The model's opset of the default ONNX domain.
    pub opset: i64,
    /// What the node's outputs after the first refer to (Split).
    pub extra: std::cell::RefCell<Vec<Val>>,
    /// Whether the graph holds image ops (convolutions, pooling, batch norms): its rank-4
    /// tensors are then NCHW images, viewed as `[N·C, H·W]`; otherwise every tensor is viewed
    /// as `[leading dims, last dim]` and rank-4 tensors are attention heads.
    pub image_layout: bool,
}

impl NodeCx<'_> {
    /// The error for this node.
    pub fn invalid(&self, why: String) -> OnnxError {
        OnnxError::Invalid {
            op_type: self.n.op_type.clone(),
            node: self.name.clone(),
            why,
        }
    }

    /// The error for an op type (or a form of it) the importer does not support.
    pub fn unsupported(&self) -> OnnxError {
        OnnxError::Unsupported {
            op_type: self.n.op_type.clone(),
            node: self.name.clone(),
        }
    }

    /// Input `i`.
    pub fn get(&self, i: usize) -> Result<Val, OnnxError> {
        let key = self
            .n
            .input
            .get(i)
            .ok_or_else(|| self.invalid(format!("missing input {i}")))?;
        self.names
            .get(key)
            .cloned()
            .ok_or_else(|| self.invalid(format!("input {key} is not defined before use")))
    }

    /// Input `i`, which must be computed.
    pub fn value(&self, i: usize) -> Result<usize, OnnxError> {
        match self.get(i)? {
            Val::Value(v) => Ok(v),
            Val::Const(_) => {
                Err(self.invalid(format!("input {i} must be computed, not a constant")))
            }
        }
    }

    /// Input `i`, which must be a constant.
    pub fn constant(&self, i: usize) -> Result<Const, OnnxError> {
        match self.get(i)? {
            Val::Const(c) => Ok(c),
            Val::Value(_) => Err(self.invalid(format!(
                "input {i} must be a constant (an initializer); two computed operands are not supported yet"
            ))),
        }
    }

    /// A float attribute, `d` if absent.
    pub fn attr_f(&self, k: &str, d: f64) -> f64 {
        attr(self.n, k).map_or(d, |a| a.f as f64)
    }

    /// An integer attribute, `d` if absent.
    pub fn attr_i(&self, k: &str, d: i64) -> i64 {
        attr(self.n, k).map_or(d, |a| a.i)
    }

    /// An attribute of integers.
    pub fn attr_ints(&self, k: &str) -> Option<Vec<i64>> {
        attr_ints(self.n, k)
    }

    /// An optional constant input of integers (absent or named "").
    pub fn ints_input(&self, i: usize) -> Result<Option<Vec<i64>>, OnnxError> {
        match self.n.input.get(i) {
            None => Ok(None),
            Some(k) if k.is_empty() => Ok(None),
            Some(_) => Ok(Some(
                self.constant(i)?.data.iter().map(|&v| v as i64).collect(),
            )),
        }
    }

    /// The number of elements of a tensor of `shape`, refused past the limit on one tensor.
    pub fn elements(&self, shape: &[usize]) -> Result<usize, OnnxError> {
        elements(shape, self.limits).map_err(|e| self.invalid(e))
    }

    /// Normalizes an axis against a rank.
    pub fn axis_of(&self, a: i64, rank: usize) -> Result<usize, OnnxError> {
        norm_axis(a, rank).map_err(|e| self.invalid(e))
    }

    /// Adds the node's result to the graph under the node's name.
    pub fn push(&self, graph: &mut Graph, op: Op, shape: Vec<usize>) -> Val {
        graph.nodes.push(Node {
            name: self.name.clone(),
            op,
            shape,
        });
        Val::Value(graph.nodes.len())
    }
}
