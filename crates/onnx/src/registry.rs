//! The one map from an ONNX op type to the function that imports it.
//!
//! Adding an op: write its import function in the family module under `ops/` and add one line
//! to [`TABLE`]; [`SUPPORTED_OPS`] follows from the table.

use zkgrad_model::graph::Graph;

use crate::node::{Imported, NodeCx, Sources};
use crate::ops::{
    activation, constant, conv, elementwise, gather, layout, linear, norm, pool, reduce,
};

/// Imports one node: adds what it computes to the graph (recording the sources of a Linear
/// layer) and returns what the node's output refers to.
pub(crate) type ImportFn = fn(&NodeCx, &mut Graph, &mut Sources) -> Imported;

/// Every supported op type and its import function.
const TABLE: &[(&str, ImportFn)] = &[
    ("Gemm", linear::gemm),
    ("MatMul", linear::matmul),
    ("Add", elementwise::arithmetic),
    ("Sub", elementwise::arithmetic),
    ("Mul", elementwise::arithmetic),
    ("Div", elementwise::arithmetic),
    ("Relu", activation::activation),
    ("Sigmoid", activation::activation),
    ("Tanh", activation::activation),
    ("Flatten", layout::flatten),
    ("Reshape", layout::reshape),
    ("Identity", layout::identity),
    ("Constant", constant::constant),
    ("Transpose", layout::transpose),
    ("Greater", activation::relu_mask),
    ("Cast", layout::cast),
    ("Slice", layout::slice),
    ("Concat", layout::concat),
    ("Squeeze", layout::squeeze),
    ("Unsqueeze", layout::squeeze),
    ("ReduceSum", reduce::reduce),
    ("ReduceMean", reduce::reduce),
    ("Reciprocal", activation::activation),
    ("Neg", constant::neg_or_reciprocal),
    ("Conv", conv::conv),
    ("BatchNormalization", norm::batch_norm),
    ("MaxPool", pool::pool),
    ("AveragePool", pool::pool),
    ("GlobalAveragePool", pool::global_average_pool),
    ("Pad", layout::pad),
    ("LeakyRelu", activation::activation),
    ("Clip", activation::activation),
    ("Erf", activation::activation),
    ("Gelu", activation::activation),
    ("Sqrt", activation::activation),
    ("Pow", elementwise::pow),
    ("Softmax", activation::softmax),
    ("LayerNormalization", norm::layer_norm),
    ("ConstantOfShape", constant::constant_of_shape),
    ("Gather", gather::gather),
    ("Split", gather::split),
    ("Dropout", gather::dropout),
    ("Where", elementwise::where_),
    ("Shape", gather::shape),
    ("Expand", gather::expand),
    ("ArgMax", reduce::argmax),
    ("IsNaN", gather::never_non_finite),
    ("And", elementwise::and),
    ("GatherND", gather::gather_nd),
    ("IsInf", gather::never_non_finite),
    ("ArrayFeatureExtractor", gather::array_feature_extractor),
];

/// The op types this importer accepts.
pub const SUPPORTED_OPS: &[&str] = &NAMES;

const NAMES: [&str; TABLE.len()] = {
    let mut names = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].0;
        i += 1;
    }
    names
};

/// The function that imports nodes of `op_type`, if the type is supported.
pub(crate) fn importer(op_type: &str) -> Option<ImportFn> {
    TABLE
        .iter()
        .find(|(op, _)| *op == op_type)
        .map(|&(_, import)| import)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_op_type_has_one_line() {
        for (k, op) in SUPPORTED_OPS.iter().enumerate() {
            assert!(
                !SUPPORTED_OPS[..k].contains(op),
                "{op} is in the table twice"
            );
            assert!(importer(op).is_some());
        }
        assert!(importer("Softsign").is_none());
    }
}
