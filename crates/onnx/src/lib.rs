//! ONNX → zkgrad's typed graph IR. The only crate where op names appear as strings.
//!
//! Parses the protobuf with `onnx-protobuf` (which ships the ONNX schema) and maps each node to
//! a typed [`zkgrad_model::Op`]. Supported: Gemm, MatMul (by a constant), Add, Sub, Mul and Div
//! by a scalar constant, Relu, Sigmoid, Tanh, Flatten, Reshape, Identity, Constant. An `Add` of a
//! constant right after a MatMul/Gemm becomes that layer's bias. Anything else is refused with
//! its op type and node name.

use std::collections::HashMap;

use onnx_protobuf::{Message, ModelProto, NodeProto, TensorProto};
use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::table::ActKind;
use zkgrad_model::build::{self, push as push_node, reduce_axes, Window};
use zkgrad_model::graph::{matrix_dims, Graph, Node, Op};

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

/// The op types this importer accepts.
pub const SUPPORTED_OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Flatten",
    "Reshape",
    "Identity",
    "Constant",
    "Transpose",
    "Greater",
    "Cast",
    "Slice",
    "Concat",
    "Squeeze",
    "Unsqueeze",
    "ReduceSum",
    "ReduceMean",
    "Reciprocal",
    "Neg",
    "Conv",
    "BatchNormalization",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Pad",
    "LeakyRelu",
    "Clip",
    "Erf",
    "Gelu",
    "Sqrt",
    "Pow",
    "Softmax",
    "LayerNormalization",
    "ConstantOfShape",
];

/// One node as written in the file, for `zkgrad inspect`.
#[derive(Clone, Debug)]
pub struct RawNode {
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub supported: bool,
}

/// A constant tensor (initializer or Constant node).
#[derive(Clone, Debug)]
struct Const {
    dims: Vec<usize>,
    data: Vec<f64>,
}

fn parse_model(bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    let m = ModelProto::parse_from_bytes(bytes).map_err(|e| OnnxError::Parse(e.to_string()))?;
    if m.graph.0.is_none() {
        return Err(OnnxError::Parse("the file holds no graph".into()));
    }
    Ok(m)
}

/// Lists the nodes of an ONNX file with whether each op type is supported.
pub fn raw_nodes(bytes: &[u8]) -> Result<Vec<RawNode>, OnnxError> {
    let m = parse_model(bytes)?;
    Ok(m.graph
        .node
        .iter()
        .enumerate()
        .map(|(i, n)| RawNode {
            name: node_name(n, i),
            op_type: n.op_type.clone(),
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            supported: SUPPORTED_OPS.contains(&n.op_type.as_str()),
        })
        .collect())
}

fn node_name(n: &NodeProto, i: usize) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else if let Some(o) = n.output.first() {
        format!("{}({o})", n.op_type)
    } else {
        format!("{}#{i}", n.op_type)
    }
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

fn to_const(t: &TensorProto) -> Result<Const, String> {
    Ok(Const {
        dims: t.dims.iter().map(|&d| d as usize).collect(),
        data: tensor_data(t)?,
    })
}

/// What a name in the graph refers to.
#[derive(Clone, Debug)]
enum Val {
    Value(usize),
    Const(Const),
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

/// Imports an ONNX model into the float graph IR.
pub fn import(bytes: &[u8]) -> Result<Graph, OnnxError> {
    import_with_sources(bytes).map(|(g, _)| g)
}

/// Imports, and says for each Linear node (by node index) where its parameters came from.
pub fn import_with_sources(
    bytes: &[u8],
) -> Result<(Graph, HashMap<usize, LinearSource>), OnnxError> {
    let mut sources: HashMap<usize, LinearSource> = HashMap::new();
    let graph = import_inner(bytes, &mut sources)?;
    Ok((graph, sources))
}

fn import_inner(
    bytes: &[u8],
    sources: &mut HashMap<usize, LinearSource>,
) -> Result<Graph, OnnxError> {
    let m = parse_model(bytes)?;
    let g = &m.graph;
    let mut names: HashMap<String, Val> = HashMap::new();
    for init in &g.initializer {
        let c = to_const(init).map_err(OnnxError::Graph)?;
        names.insert(init.name.clone(), Val::Const(c));
    }
    let inputs: Vec<_> = g
        .input
        .iter()
        .filter(|i| !names.contains_key(&i.name))
        .collect();
    let Some(input) = inputs.first() else {
        return Err(OnnxError::Graph("the model has no graph input".into()));
    };
    let shape_of = |i: &onnx_protobuf::ValueInfoProto| -> Result<Vec<usize>, OnnxError> {
        let shape: Vec<usize> = i
            .type_
            .tensor_type()
            .shape
            .dim
            .iter()
            .map(|d| {
                if d.has_dim_value() && d.dim_value() > 0 {
                    d.dim_value() as usize
                } else {
                    1
                }
            })
            .collect();
        if shape.is_empty() {
            return Err(OnnxError::Graph(format!("input {} has no shape", i.name)));
        }
        Ok(shape)
    };
    let mut graph = Graph {
        input_name: input.name.clone(),
        input_shape: shape_of(input)?,
        nodes: Vec::new(),
        output: 0,
        output_parts: Vec::new(),
    };
    names.insert(input.name.clone(), Val::Value(0));
    // Further graph inputs become Input nodes; the public input is all of them, in order.
    for (index, extra) in inputs.iter().enumerate().skip(1) {
        graph.nodes.push(Node {
            name: extra.name.clone(),
            op: Op::Input { index },
            shape: shape_of(extra)?,
        });
        names.insert(extra.name.clone(), Val::Value(graph.nodes.len()));
    }
    // How many nodes read each name (to know when a bias may be fused).
    let mut readers: HashMap<&str, usize> = HashMap::new();
    for n in &g.node {
        for i in &n.input {
            *readers.entry(i.as_str()).or_default() += 1;
        }
    }
    for o in &g.output {
        *readers.entry(o.name.as_str()).or_default() += 1;
    }

    for (idx, n) in g.node.iter().enumerate() {
        let name = node_name(n, idx);
        let invalid = |why: String| OnnxError::Invalid {
            op_type: n.op_type.clone(),
            node: name.clone(),
            why,
        };
        let get = |i: usize| -> Result<Val, OnnxError> {
            let key = n
                .input
                .get(i)
                .ok_or_else(|| invalid(format!("missing input {i}")))?;
            names
                .get(key)
                .cloned()
                .ok_or_else(|| invalid(format!("input {key} is not defined before use")))
        };
        let value = |i: usize| -> Result<usize, OnnxError> {
            match get(i)? {
                Val::Value(v) => Ok(v),
                Val::Const(_) => Err(invalid(format!(
                    "input {i} must be computed, not a constant"
                ))),
            }
        };
        let constant = |i: usize| -> Result<Const, OnnxError> {
            match get(i)? {
                Val::Const(c) => Ok(c),
                Val::Value(_) => Err(invalid(format!(
                    "input {i} must be a constant (an initializer); two computed operands are not supported yet"
                ))),
            }
        };
        let attr_f = |k: &str, d: f64| {
            n.attribute
                .iter()
                .find(|a| a.name == k)
                .map_or(d, |a| a.f as f64)
        };
        let attr_i = |k: &str, d: i64| n.attribute.iter().find(|a| a.name == k).map_or(d, |a| a.i);
        let attr_ints = |k: &str| {
            n.attribute
                .iter()
                .find(|a| a.name == k)
                .map(|a| a.ints.clone())
        };
        // An optional constant input of integers (absent or named "").
        let ints_input = |i: usize| -> Result<Option<Vec<i64>>, OnnxError> {
            match n.input.get(i) {
                None => Ok(None),
                Some(k) if k.is_empty() => Ok(None),
                Some(_) => Ok(Some(constant(i)?.data.iter().map(|&v| v as i64).collect())),
            }
        };
        // Normalizes an axis against a rank.
        let axis_of = |a: i64, rank: usize| norm_axis(a, rank).map_err(&invalid);
        let out_name = n
            .output
            .first()
            .cloned()
            .ok_or_else(|| invalid("no output".into()))?;
        let push = |graph: &mut Graph, op: Op, shape: Vec<usize>| -> Val {
            graph.nodes.push(Node {
                name: name.clone(),
                op,
                shape,
            });
            Val::Value(graph.nodes.len())
        };
        // Shape arithmetic on constants (as the TorchScript exporter writes a Pad's pads:
        // ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast) is folded.
        let all_const = !n.input.is_empty()
            && n.input
                .iter()
                .all(|i| i.is_empty() || matches!(names.get(i), Some(Val::Const(_))));
        if all_const || (n.op_type == "ConstantOfShape" && n.input.len() == 1) {
            let consts: Vec<Option<Const>> = n
                .input
                .iter()
                .map(|i| match names.get(i) {
                    Some(Val::Const(c)) => Some(c.clone()),
                    _ => None,
                })
                .collect();
            if let Some(c) = fold_const(n, &consts).map_err(&invalid)? {
                names.insert(out_name, Val::Const(c));
                continue;
            }
        }
        let result: Val = match n.op_type.as_str() {
            "Constant" => {
                let a = n
                    .attribute
                    .first()
                    .ok_or_else(|| invalid("Constant without a value".into()))?;
                let c = match a.name.as_str() {
                    "value" => to_const(&a.t).map_err(invalid)?,
                    "value_float" => Const {
                        dims: vec![],
                        data: vec![a.f as f64],
                    },
                    "value_floats" => Const {
                        dims: vec![a.floats.len()],
                        data: a.floats.iter().map(|&v| v as f64).collect(),
                    },
                    "value_int" => Const {
                        dims: vec![],
                        data: vec![a.i as f64],
                    },
                    "value_ints" => Const {
                        dims: vec![a.ints.len()],
                        data: a.ints.iter().map(|&v| v as f64).collect(),
                    },
                    other => {
                        return Err(invalid(format!(
                            "Constant attribute {other} is not supported"
                        )))
                    }
                };
                Val::Const(c)
            }
            "MatMul" if matches!(get(1)?, Val::Value(_)) => {
                let (a, b) = (value(0)?, value(1)?);
                let (sa, sb) = (graph.shape(a).to_vec(), graph.shape(b).to_vec());
                let lead = |s: &[usize]| s.iter().rev().skip(2).product::<usize>();
                if sa.len() < 2
                    || sb.len() < 2
                    || lead(&sa) != 1
                    || lead(&sb) != 1
                    || sa[sa.len() - 1] != sb[sb.len() - 2]
                {
                    return Err(invalid(format!(
                        "only 2-D products of computed matrices are supported ({sa:?} × {sb:?})"
                    )));
                }
                let shape = vec![sa[sa.len() - 2], sb[sb.len() - 1]];
                push(&mut graph, Op::MatMul { a, b }, shape)
            }
            "Gemm" | "MatMul" => {
                let x = value(0)?;
                let b = constant(1)?;
                let is_gemm = n.op_type == "Gemm";
                if is_gemm && attr_i("transA", 0) != 0 {
                    return Err(invalid("transA = 1 is not supported".into()));
                }
                let [r, c] = b.dims[..] else {
                    return Err(invalid(format!(
                        "weight must be 2-D, found shape {:?}",
                        b.dims
                    )));
                };
                let trans_b = is_gemm && attr_i("transB", 0) != 0;
                let (inf, outf) = if trans_b { (c, r) } else { (r, c) };
                let alpha = if is_gemm { attr_f("alpha", 1.0) } else { 1.0 };
                let mut w = vec![0.0; inf * outf];
                for o in 0..outf {
                    for i in 0..inf {
                        let v = if trans_b {
                            b.data[o * inf + i]
                        } else {
                            b.data[i * outf + o]
                        };
                        w[o * inf + i] = alpha * v;
                    }
                }
                let xs = graph.shape(x).to_vec();
                if xs.last() != Some(&inf) {
                    return Err(invalid(format!("input shape {xs:?} does not end in {inf}")));
                }
                let bias = if is_gemm && n.input.len() > 2 && !n.input[2].is_empty() {
                    let c = constant(2)?;
                    let beta = attr_f("beta", 1.0);
                    Some(
                        broadcast_bias(&c, outf)
                            .map_err(invalid)?
                            .into_iter()
                            .map(|v| v * beta)
                            .collect(),
                    )
                } else {
                    None
                };
                let mut shape = xs;
                if let Some(l) = shape.last_mut() {
                    *l = outf;
                }
                let bias_src = (bias.is_some()).then(|| (n.input[2].clone(), attr_f("beta", 1.0)));
                sources.insert(
                    graph.nodes.len(),
                    LinearSource {
                        weight: n.input[1].clone(),
                        trans_b,
                        alpha,
                        bias: bias_src,
                    },
                );
                push(
                    &mut graph,
                    Op::Linear {
                        x,
                        w,
                        bias,
                        in_features: inf,
                        out_features: outf,
                    },
                    shape,
                )
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let (a, b) = (get(0)?, get(1)?);
                match (a, b) {
                    (Val::Value(a), Val::Value(b)) => {
                        // a / b = a · (1/b) through a reciprocal table; a / √z = a · rsqrt(z).
                        let b = if n.op_type == "Div" {
                            let sb = graph.shape(b).to_vec();
                            let (x, kind) = match graph.nodes.get(b.wrapping_sub(1)).map(|n| &n.op)
                            {
                                Some(Op::Act {
                                    x,
                                    kind: ActKind::Sqrt,
                                }) => (*x, ActKind::Rsqrt),
                                _ => (b, ActKind::Reciprocal),
                            };
                            push_node(
                                &mut graph,
                                &format!("{name}/reciprocal"),
                                Op::Act { x, kind },
                                sb,
                            )
                        } else {
                            b
                        };
                        let (sa, sb) = (graph.shape(a).to_vec(), graph.shape(b).to_vec());
                        // Shapes that differ only in leading 1s ([8] and [1, 8]) are the same
                        // matrix; otherwise numpy broadcasting through index maps.
                        let (a, b, shape) = if matrix_dims(&sa) == matrix_dims(&sb) {
                            (a, b, if sa.len() >= sb.len() { sa } else { sb })
                        } else {
                            let shape = broadcast_shape(&sa, &sb).ok_or_else(|| {
                                invalid(format!(
                                    "operand shapes {sa:?} and {sb:?} do not broadcast"
                                ))
                            })?;
                            let widen = |v: usize, s: &[usize], graph: &mut Graph| -> usize {
                                if matrix_dims(s) == matrix_dims(&shape) {
                                    return v;
                                }
                                let padded: Vec<usize> =
                                    if s.is_empty() { vec![1] } else { s.to_vec() };
                                let out = if shape.is_empty() {
                                    vec![1]
                                } else {
                                    shape.clone()
                                };
                                match IndexMap::broadcast(&padded, &out) {
                                    Some(map) => push_node(
                                        graph,
                                        &format!("{name}/broadcast{v}"),
                                        Op::Gather { x: v, map },
                                        shape.clone(),
                                    ),
                                    None => v,
                                }
                            };
                            let a = widen(a, &sa, &mut graph);
                            let b = widen(b, &sb, &mut graph);
                            (a, b, shape)
                        };
                        let op = match n.op_type.as_str() {
                            "Add" => Op::Add { a, b },
                            "Sub" => Op::Sub { a, b },
                            _ => Op::Mul { a, b },
                        };
                        push(&mut graph, op, shape)
                    }
                    (Val::Value(a), Val::Const(c)) | (Val::Const(c), Val::Value(a))
                        if n.op_type == "Add" =>
                    {
                        // Fuse a bias into the MatMul/Gemm that produced `a`, if nothing else reads it.
                        let producer_name = n
                            .input
                            .iter()
                            .find(|i| matches!(names.get(*i), Some(Val::Value(_))))
                            .cloned()
                            .unwrap_or_default();
                        let only_reader = readers.get(producer_name.as_str()).copied() == Some(1);
                        match graph.nodes.get_mut(a.wrapping_sub(1)) {
                            Some(Node {
                                op:
                                    Op::Linear {
                                        bias: bias @ None,
                                        out_features,
                                        ..
                                    },
                                ..
                            }) if only_reader => {
                                *bias = Some(broadcast_bias(&c, *out_features).map_err(invalid)?);
                                let const_name = n
                                    .input
                                    .iter()
                                    .find(|i| matches!(names.get(*i), Some(Val::Const(_))))
                                    .cloned()
                                    .unwrap_or_default();
                                if let Some(s) = sources.get_mut(&(a - 1)) {
                                    s.bias = Some((const_name, 1.0));
                                }
                                Val::Value(a)
                            }
                            _ => {
                                let [c] = c.data[..] else {
                                    return Err(invalid(
                                        "adding a non-scalar constant is supported only as the bias of the MatMul/Gemm right before it".into(),
                                    ));
                                };
                                let shape = graph.shape(a).to_vec();
                                push(&mut graph, Op::AddConst { x: a, c }, shape)
                            }
                        }
                    }
                    (Val::Value(a), Val::Const(c)) if n.op_type == "Sub" => {
                        let [c] = c.data[..] else {
                            return Err(invalid(
                                "subtracting a non-scalar constant is not supported".into(),
                            ));
                        };
                        let shape = graph.shape(a).to_vec();
                        push(&mut graph, Op::AddConst { x: a, c: -c }, shape)
                    }
                    (Val::Const(c), Val::Value(a)) if n.op_type == "Sub" => {
                        // c − a = (−1)·a + c.
                        let [c] = c.data[..] else {
                            return Err(invalid(
                                "subtracting from a non-scalar constant is not supported".into(),
                            ));
                        };
                        let shape = graph.shape(a).to_vec();
                        let neg = push_node(
                            &mut graph,
                            &format!("{name}/neg"),
                            Op::Scale { x: a, c: -1.0 },
                            shape.clone(),
                        );
                        push(&mut graph, Op::AddConst { x: neg, c }, shape)
                    }
                    (Val::Value(a), Val::Const(c))
                        if (n.op_type == "Mul" || n.op_type == "Div")
                            && c.data.len() > 1
                            && graph.shape(a).last() == Some(&c.data.len())
                            && c.dims.iter().rev().skip(1).all(|&d| d == 1) =>
                    {
                        // A per-feature scale (LayerNorm's γ): a Linear layer with a diagonal
                        // weight (a following Add of a constant becomes its bias).
                        let d = c.data.len();
                        let mut w = vec![0.0; d * d];
                        for k in 0..d {
                            let v = c.data[k];
                            w[k * d + k] = if n.op_type == "Mul" { v } else { 1.0 / v };
                        }
                        if w.iter().any(|v| !v.is_finite()) {
                            return Err(invalid("division by zero".into()));
                        }
                        let shape = graph.shape(a).to_vec();
                        sources.insert(
                            graph.nodes.len(),
                            LinearSource {
                                weight: n.input[1].clone(),
                                trans_b: false,
                                alpha: 1.0,
                                bias: None,
                            },
                        );
                        push(
                            &mut graph,
                            Op::Linear {
                                x: a,
                                w,
                                bias: None,
                                in_features: d,
                                out_features: d,
                            },
                            shape,
                        )
                    }
                    (Val::Value(a), Val::Const(c)) if n.op_type == "Mul" || n.op_type == "Div" => {
                        let [s] = c.data[..] else {
                            return Err(invalid(format!(
                                "{} by a constant of shape {:?}: only scalar constants are supported",
                                n.op_type, c.dims
                            )));
                        };
                        let factor = if n.op_type == "Mul" {
                            s
                        } else if s == 0.0 {
                            return Err(invalid("division by zero".into()));
                        } else {
                            1.0 / s
                        };
                        let shape = graph.shape(a).to_vec();
                        push(&mut graph, Op::Scale { x: a, c: factor }, shape)
                    }
                    (Val::Const(c), Val::Value(a)) if n.op_type == "Mul" => {
                        let [s] = c.data[..] else {
                            return Err(invalid(
                                "Mul by a non-scalar constant is not supported".into(),
                            ));
                        };
                        let shape = graph.shape(a).to_vec();
                        push(&mut graph, Op::Scale { x: a, c: s }, shape)
                    }
                    (Val::Const(x), Val::Const(y)) => {
                        let f = match n.op_type.as_str() {
                            "Add" => |a: f64, b: f64| a + b,
                            "Sub" => |a: f64, b: f64| a - b,
                            "Mul" => |a: f64, b: f64| a * b,
                            _ => |a: f64, b: f64| a / b,
                        };
                        Val::Const(fold2(&x, &y, f).map_err(invalid)?)
                    }
                    _ => {
                        return Err(invalid(format!(
                            "{} with these operands is not supported yet",
                            n.op_type
                        )))
                    }
                }
            }
            "Relu" | "Sigmoid" | "Tanh" | "LeakyRelu" | "Clip" | "Erf" | "Gelu" | "Sqrt"
            | "Reciprocal"
                if matches!(get(0)?, Val::Value(_)) =>
            {
                let x = value(0)?;
                let f32_bits = |v: f64| (v as f32).to_bits();
                let kind = match n.op_type.as_str() {
                    "Relu" => ActKind::Relu,
                    "Sigmoid" => ActKind::Sigmoid,
                    "Tanh" => ActKind::Tanh,
                    "LeakyRelu" => ActKind::LeakyRelu {
                        alpha: f32_bits(attr_f("alpha", 0.01)),
                    },
                    "Clip" => {
                        // Opset ≥ 11: min and max are optional constant inputs; before, attributes.
                        let bound = |i: usize, attr: &str, d: f64| -> Result<f64, OnnxError> {
                            match n.input.get(i) {
                                Some(k) if !k.is_empty() => constant(i)?
                                    .data
                                    .first()
                                    .copied()
                                    .ok_or_else(|| invalid(format!("empty {attr}"))),
                                _ => Ok(attr_f(attr, d)),
                            }
                        };
                        let lo = bound(1, "min", f32::MIN as f64)?;
                        let hi = bound(2, "max", f32::MAX as f64)?;
                        if lo == 0.0 && hi >= f32::MAX as f64 {
                            ActKind::Relu
                        } else {
                            ActKind::Clip {
                                lo: f32_bits(lo),
                                hi: f32_bits(hi),
                            }
                        }
                    }
                    "Erf" => ActKind::Erf,
                    "Gelu" => {
                        let approx = n
                            .attribute
                            .iter()
                            .find(|a| a.name == "approximate")
                            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
                            .unwrap_or_default();
                        if approx == "tanh" {
                            ActKind::GeluTanh
                        } else {
                            ActKind::Gelu
                        }
                    }
                    "Sqrt" => ActKind::Sqrt,
                    _ => ActKind::Reciprocal,
                };
                let shape = graph.shape(x).to_vec();
                push(&mut graph, Op::Act { x, kind }, shape)
            }
            "Greater" => {
                // Greater(x, 0) is the ReLU mask [x > 0] (a backward pass's ReLU derivative).
                let x = value(0)?;
                let c = constant(1)?;
                if c.data.len() != 1 || c.data[0] != 0.0 {
                    return Err(invalid(
                        "only Greater(x, 0), the ReLU mask, is supported".into(),
                    ));
                }
                let shape = graph.shape(x).to_vec();
                push(
                    &mut graph,
                    Op::Act {
                        x,
                        kind: ActKind::ReluGrad,
                    },
                    shape,
                )
            }
            "Cast" => {
                // Values are numbers already (a mask is 0.0/1.0): a cast to a float type is the
                // identity; any other target type is refused.
                let x = value(0)?;
                let to = attr_i("to", 0);
                if to != 1 && to != 11 {
                    return Err(invalid(format!(
                        "Cast to data type {to}: only float and double are supported"
                    )));
                }
                let shape = graph.shape(x).to_vec();
                push(&mut graph, Op::View { x }, shape)
            }
            "Reciprocal" | "Neg" => {
                let Val::Const(c) = get(0)? else {
                    return Err(invalid(format!(
                        "{} of a computed tensor is not supported",
                        n.op_type
                    )));
                };
                let data: Vec<f64> = if n.op_type == "Neg" {
                    c.data.iter().map(|v| -v).collect()
                } else {
                    c.data.iter().map(|v| 1.0 / v).collect()
                };
                if data.iter().any(|v| !v.is_finite()) {
                    return Err(invalid("reciprocal of zero".into()));
                }
                Val::Const(Const { dims: c.dims, data })
            }
            "Slice" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                // Opset ≥ 10: starts, ends, axes, steps are inputs; before, attributes.
                let (starts, ends, axes, steps) = if n.input.len() > 1 {
                    let need = |i: usize, what: &str| -> Result<Vec<i64>, OnnxError> {
                        ints_input(i)?.ok_or_else(|| invalid(format!("missing {what}")))
                    };
                    (
                        need(1, "starts")?,
                        need(2, "ends")?,
                        ints_input(3)?,
                        ints_input(4)?,
                    )
                } else {
                    (
                        attr_ints("starts").unwrap_or_default(),
                        attr_ints("ends").unwrap_or_default(),
                        attr_ints("axes"),
                        None,
                    )
                };
                let map = slice_map(&xs, &starts, &ends, axes, steps).map_err(&invalid)?;
                let out = map.out_shape.clone();
                if out == xs {
                    push(&mut graph, Op::View { x }, out)
                } else {
                    push(&mut graph, Op::Gather { x, map }, out)
                }
            }
            "Concat" => {
                let parts: Vec<usize> = (0..n.input.len()).map(value).collect::<Result<_, _>>()?;
                let Some(&first) = parts.first() else {
                    return Err(invalid("Concat of nothing".into()));
                };
                let s0 = graph.shape(first).to_vec();
                let ax = axis_of(attr_i("axis", 0), s0.len())?;
                let mut shape = s0.clone();
                shape[ax] = 0;
                for &p in &parts {
                    let sp = graph.shape(p);
                    let agrees = sp.len() == s0.len()
                        && sp
                            .iter()
                            .zip(&s0)
                            .enumerate()
                            .all(|(k, (a, b))| k == ax || a == b);
                    if !agrees {
                        return Err(invalid(format!(
                            "part shapes {s0:?} and {sp:?} differ off axis {ax}"
                        )));
                    }
                    shape[ax] += sp[ax];
                }
                if parts.len() == 1 {
                    push(&mut graph, Op::View { x: first }, shape)
                } else {
                    // Each part moves to its place (zeros elsewhere); the parts are added.
                    let mut acc: Option<usize> = None;
                    let mut offset = 0i64;
                    for (k, &p) in parts.iter().enumerate() {
                        let sp = graph.shape(p).to_vec();
                        let mut offs = vec![0i64; sp.len()];
                        offs[ax] = -offset;
                        offset += sp[ax] as i64;
                        let map = IndexMap::aligned(&sp, &shape, &vec![1; sp.len()], &offs);
                        let placed = push_node(
                            &mut graph,
                            &format!("{name}/part{k}"),
                            Op::Gather { x: p, map },
                            shape.clone(),
                        );
                        acc = Some(match acc {
                            None => placed,
                            Some(a) => push_node(
                                &mut graph,
                                &format!("{name}/sum{k}"),
                                Op::Add { a, b: placed },
                                shape.clone(),
                            ),
                        });
                    }
                    Val::Value(acc.unwrap_or(first))
                }
            }
            "Squeeze" | "Unsqueeze" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let axes = match ints_input(1)? {
                    Some(a) => Some(a),
                    None => attr_ints("axes"),
                };
                let shape = if n.op_type == "Squeeze" {
                    squeeze_dims(&xs, axes.as_deref())
                } else {
                    unsqueeze_dims(
                        &xs,
                        &axes.ok_or_else(|| invalid("Unsqueeze without axes".into()))?,
                    )
                }
                .map_err(&invalid)?;
                push(&mut graph, Op::View { x }, shape)
            }
            "ReduceSum" | "ReduceMean" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let rank = xs.len();
                let axes = match ints_input(1)? {
                    Some(a) => Some(a),
                    None => attr_ints("axes"),
                };
                let keep = attr_i("keepdims", 1) != 0;
                let reduced: Vec<usize> = match axes {
                    Some(a) if !a.is_empty() => {
                        let mut v: Vec<usize> = a
                            .iter()
                            .map(|&a| axis_of(a, rank))
                            .collect::<Result<_, _>>()?;
                        v.sort_unstable();
                        v.dedup();
                        v
                    }
                    _ if attr_i("noop_with_empty_axes", 0) != 0 => vec![],
                    _ => (0..rank).collect(),
                };
                let kept: Vec<usize> = (0..rank).filter(|k| !reduced.contains(k)).collect();
                let out_shape: Vec<usize> = if keep {
                    (0..rank)
                        .map(|k| if reduced.contains(&k) { 1 } else { xs[k] })
                        .collect()
                } else {
                    kept.iter().map(|&k| xs[k]).collect()
                };
                if reduced.is_empty() {
                    push(&mut graph, Op::View { x }, xs)
                } else {
                    let sum =
                        reduce_axes(&mut graph, &name, x, &reduced, n.op_type == "ReduceMean");
                    push(&mut graph, Op::View { x: sum }, out_shape)
                }
            }
            "Pow" => {
                let x = value(0)?;
                let e = constant(1)?;
                let [e] = e.data[..] else {
                    return Err(invalid("Pow needs a scalar constant exponent".into()));
                };
                let shape = graph.shape(x).to_vec();
                let act = |graph: &mut Graph, kind| {
                    push_node(
                        graph,
                        &format!("{name}/{kind:?}"),
                        Op::Act { x, kind },
                        shape.clone(),
                    )
                };
                let v = match e {
                    1.0 => x,
                    2.0 | 3.0 | 4.0 => {
                        let mut acc = x;
                        for k in 1..e as usize {
                            acc = push_node(
                                &mut graph,
                                &format!("{name}/mul{k}"),
                                Op::Mul { a: acc, b: x },
                                shape.clone(),
                            );
                        }
                        acc
                    }
                    0.5 => act(&mut graph, ActKind::Sqrt),
                    -0.5 => act(&mut graph, ActKind::Rsqrt),
                    -1.0 => act(&mut graph, ActKind::Reciprocal),
                    _ => {
                        return Err(invalid(format!(
                            "Pow with exponent {e}: only 0.5, −0.5, −1, 1, 2, 3, 4 are supported"
                        )))
                    }
                };
                push(&mut graph, Op::View { x: v }, shape)
            }
            "Softmax" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let axis = axis_of(attr_i("axis", -1), xs.len().max(1))?;
                if axis + 1 != xs.len() || xs.len() == 4 {
                    return Err(invalid(format!(
                        "Softmax over axis {axis} of {xs:?}: only the last axis (rank ≤ 3) is supported"
                    )));
                }
                push(&mut graph, Op::Softmax { x }, xs)
            }
            "LayerNormalization" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let axis = axis_of(attr_i("axis", -1), xs.len().max(1))?;
                if axis + 1 != xs.len() || xs.len() == 4 {
                    return Err(invalid(format!(
                        "LayerNormalization over axis {axis} of {xs:?}: only the last axis (rank ≤ 3) is supported"
                    )));
                }
                let d = xs[axis];
                let eps = attr_f("epsilon", 1e-5);
                let gamma = constant(1)?;
                let beta = if n.input.len() > 2 && !n.input[2].is_empty() {
                    Some(broadcast_bias(&constant(2)?, d).map_err(invalid)?)
                } else {
                    None
                };
                let gamma = broadcast_bias(&gamma, d).map_err(invalid)?;
                Val::Value(build::layer_norm(&mut graph, &name, x, &gamma, beta, eps))
            }
            "Conv" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let wc = constant(1)?;
                let [n0, c_in, h, w] = xs[..] else {
                    return Err(invalid(format!(
                        "input shape {xs:?}: only 2-D convolutions (NCHW) are supported"
                    )));
                };
                if n0 != 1 {
                    return Err(invalid(format!(
                        "batch {n0}: convolutions are supported at batch 1"
                    )));
                }
                let [c_out, cig, kh, kw] = wc.dims[..] else {
                    return Err(invalid(format!(
                        "weight shape {:?} is not [C_out, C_in/group, kH, kW]",
                        wc.dims
                    )));
                };
                let groups = attr_i("group", 1).max(1) as usize;
                if cig * groups != c_in || c_out % groups != 0 {
                    return Err(invalid(format!(
                        "group {groups} does not divide {c_in} input and {c_out} output channels (weight {:?})",
                        wc.dims
                    )));
                }
                let win = window(n, Some([kh, kw]), [h, w]).map_err(invalid)?;
                let bias = if n.input.len() > 2 && !n.input[2].is_empty() {
                    Some(broadcast_bias(&constant(2)?, c_out).map_err(invalid)?)
                } else {
                    None
                };
                Val::Value(
                    build::conv(&mut graph, &name, x, &wc.data, bias, c_out, groups, &win)
                        .map_err(invalid)?,
                )
            }
            "BatchNormalization" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let c = *xs
                    .get(1)
                    .ok_or_else(|| invalid(format!("input shape {xs:?} has no channel axis")))?;
                let p: Vec<Const> = (1..5).map(constant).collect::<Result<_, _>>()?;
                if p.iter().any(|t| t.data.len() != c) {
                    return Err(invalid(format!(
                        "scale, bias, mean and variance must hold {c} values"
                    )));
                }
                let eps = attr_f("epsilon", 1e-5);
                // y = s·x + t per channel, s = γ/√(var + ε), t = β − mean·s.
                let s: Vec<f64> = (0..c)
                    .map(|k| p[0].data[k] / (p[3].data[k] + eps).sqrt())
                    .collect();
                let t: Vec<f64> = (0..c).map(|k| p[1].data[k] - p[2].data[k] * s[k]).collect();
                // Folded into the convolution before it when this is that convolution's only
                // reader.
                let only_reader = readers.get(n.input[0].as_str()).copied() == Some(1);
                Val::Value(
                    build::batch_norm(&mut graph, &name, x, &s, t, only_reader).map_err(invalid)?,
                )
            }
            "MaxPool" | "AveragePool" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let [_, _, h, w] = xs[..] else {
                    return Err(invalid(format!(
                        "input shape {xs:?}: only 2-D pooling (NCHW) is supported"
                    )));
                };
                if n.output.len() > 1 && n.output.get(1).is_some_and(|o| !o.is_empty()) {
                    return Err(invalid("MaxPool indices output is not supported".into()));
                }
                if attr_i("ceil_mode", 0) != 0 {
                    return Err(invalid("ceil_mode = 1 is not supported".into()));
                }
                let win = window(n, None, [h, w]).map_err(invalid)?;
                let padded = win.pads.iter().any(|&p| p > 0);
                let is_max = n.op_type == "MaxPool";
                if padded && is_max {
                    // Zero padding equals −∞ padding only for non-negative inputs.
                    let relu_input = matches!(
                        graph.nodes.get(x.wrapping_sub(1)).map(|n| &n.op),
                        Some(Op::Act {
                            kind: ActKind::Relu,
                            ..
                        })
                    );
                    if !relu_input {
                        return Err(invalid(
                            "padded MaxPool is supported only after a Relu".into(),
                        ));
                    }
                }
                if padded && !is_max && attr_i("count_include_pad", 0) == 0 {
                    return Err(invalid(
                        "padded AveragePool needs count_include_pad = 1 (a divisor that varies at the borders is not supported)".into(),
                    ));
                }
                Val::Value(build::pool(&mut graph, &name, x, &win, is_max))
            }
            "GlobalAveragePool" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                if xs.len() < 3 {
                    return Err(invalid(format!("input shape {xs:?} has no spatial axes")));
                }
                Val::Value(build::global_avg_pool(&mut graph, &name, x))
            }
            "Pad" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let mode = n
                    .attribute
                    .iter()
                    .find(|a| a.name == "mode")
                    .map(|a| String::from_utf8_lossy(&a.s).into_owned())
                    .unwrap_or_else(|| "constant".into());
                if mode != "constant" {
                    return Err(invalid(format!("Pad mode {mode} is not supported")));
                }
                let pads = match ints_input(1)? {
                    Some(p) => p,
                    None => attr_ints("pads").unwrap_or_default(),
                };
                if n.input.len() > 2 && !n.input[2].is_empty() {
                    let v = constant(2)?;
                    if v.data.iter().any(|&c| c != 0.0) {
                        return Err(invalid(
                            "Pad with a nonzero constant is not supported".into(),
                        ));
                    }
                }
                if n.input.len() > 3 && !n.input[3].is_empty() {
                    return Err(invalid("Pad with axes is not supported".into()));
                }
                let r = xs.len();
                if pads.len() != 2 * r {
                    return Err(invalid(format!("pads {pads:?} do not match rank {r}")));
                }
                let mut out = Vec::with_capacity(r);
                for k in 0..r {
                    let d = xs[k] as i64 + pads[k] + pads[k + r];
                    if d <= 0 {
                        return Err(invalid(format!("pads {pads:?} empty axis {k}")));
                    }
                    out.push(d as usize);
                }
                let offs: Vec<i64> = pads[..r].iter().map(|p| -p).collect();
                let map = IndexMap::aligned(&xs, &out, &vec![1; r], &offs);
                push(&mut graph, Op::Gather { x, map }, out)
            }
            "Transpose" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let perm = n
                    .attribute
                    .iter()
                    .find(|a| a.name == "perm")
                    .map(|a| a.ints.clone());
                let swaps_last_two = match &perm {
                    None => xs.len() == 2,
                    Some(p) => {
                        let r = p.len();
                        r == xs.len()
                            && r >= 2
                            && p[..r - 2].iter().enumerate().all(|(i, &v)| v == i as i64)
                            && p[r - 2] == r as i64 - 1
                            && p[r - 1] == r as i64 - 2
                    }
                };
                let leading: usize = xs.iter().rev().skip(2).product();
                if swaps_last_two && leading == 1 {
                    let mut shape = xs.clone();
                    let r = shape.len();
                    shape.swap(r - 2, r - 1);
                    push(&mut graph, Op::Transpose { x }, shape)
                } else {
                    let perm: Vec<usize> = match perm {
                        Some(p) => p
                            .iter()
                            .map(|&a| axis_of(a, xs.len()))
                            .collect::<Result<_, _>>()?,
                        None => (0..xs.len()).rev().collect(),
                    };
                    check_perm(&perm, xs.len()).map_err(&invalid)?;
                    let map = IndexMap::transpose(&xs, &perm);
                    let shape = map.out_shape.clone();
                    push(&mut graph, Op::Gather { x, map }, shape)
                }
            }
            "Identity" => {
                let x = value(0)?;
                let shape = graph.shape(x).to_vec();
                push(&mut graph, Op::View { x }, shape)
            }
            "Flatten" => {
                let x = value(0)?;
                let xs = graph.shape(x).to_vec();
                let axis = attr_i("axis", 1);
                let axis = if axis < 0 {
                    axis + xs.len() as i64
                } else {
                    axis
                };
                if axis < 0 || axis as usize > xs.len() {
                    return Err(invalid(format!(
                        "axis {axis} out of range for shape {xs:?}"
                    )));
                }
                let (a, b) = xs.split_at(axis as usize);
                let shape = vec![a.iter().product::<usize>(), b.iter().product::<usize>()];
                push(&mut graph, Op::View { x }, shape)
            }
            "Reshape" => {
                let x = value(0)?;
                let spec: Vec<i64> = constant(1)?.data.iter().map(|&v| v as i64).collect();
                let xs = graph.shape(x).to_vec();
                let shape =
                    reshape_dims(&xs, &spec, attr_i("allowzero", 0) != 0).map_err(&invalid)?;
                push(&mut graph, Op::View { x }, shape)
            }
            other => {
                return Err(OnnxError::Unsupported {
                    op_type: other.to_string(),
                    node: name,
                });
            }
        };
        names.insert(out_name, result);
    }
    let mut outs = Vec::with_capacity(g.output.len());
    for out in &g.output {
        match names.get(&out.name) {
            Some(Val::Value(v)) => outs.push((out.name.clone(), *v)),
            _ => {
                return Err(OnnxError::Graph(format!(
                    "output {} is not computed by the graph",
                    out.name
                )))
            }
        }
    }
    match outs.as_slice() {
        [] => return Err(OnnxError::Graph("the model has no output".into())),
        [(_, v)] => graph.output = *v,
        _ => {
            // Several outputs: their concatenation, each flattened, is the proven output.
            let total: usize = outs
                .iter()
                .map(|(_, v)| graph.shape(*v).iter().product::<usize>())
                .sum();
            let mut acc: Option<usize> = None;
            let mut offset = 0i64;
            for (k, (out_name, v)) in outs.iter().enumerate() {
                let shape = graph.shape(*v).to_vec();
                let len: usize = shape.iter().product();
                graph.output_parts.push((out_name.clone(), shape));
                let map = IndexMap::aligned(&[len], &[total], &[1], &[-offset]);
                offset += len as i64;
                let placed = push_node(
                    &mut graph,
                    &format!("outputs/{out_name}"),
                    Op::Gather { x: *v, map },
                    vec![1, total],
                );
                acc = Some(match acc {
                    None => placed,
                    Some(a) => push_node(
                        &mut graph,
                        &format!("outputs/sum{k}"),
                        Op::Add { a, b: placed },
                        vec![1, total],
                    ),
                });
            }
            graph.output = acc.unwrap_or(0);
        }
    }
    Ok(graph)
}

/// Writes the Linear layers' weights of `graph` back into the ONNX model `bytes` (same graph,
/// new initializers, stored as float32). Every layer must come from initializers of its own.
pub fn export_weights(
    bytes: &[u8],
    graph: &Graph,
    sources: &HashMap<usize, LinearSource>,
) -> Result<Vec<u8>, OnnxError> {
    let mut m = parse_model(bytes)?;
    let mut new: HashMap<String, Vec<f32>> = HashMap::new();
    for (ni, node) in graph.nodes.iter().enumerate() {
        let Op::Linear {
            w,
            bias,
            in_features,
            out_features,
            ..
        } = &node.op
        else {
            continue;
        };
        let src = sources.get(&ni).ok_or_else(|| {
            OnnxError::Graph(format!("node {}: no source initializers", node.name))
        })?;
        let (inf, outf) = (*in_features, *out_features);
        let mut stored = vec![0f32; inf * outf];
        for o in 0..outf {
            for i in 0..inf {
                let v = (w[o * inf + i] / src.alpha) as f32;
                if src.trans_b {
                    stored[o * inf + i] = v;
                } else {
                    stored[i * outf + o] = v;
                }
            }
        }
        if new.insert(src.weight.clone(), stored).is_some() {
            return Err(OnnxError::Graph(format!(
                "initializer {} is shared by two layers; cannot write trained weights",
                src.weight
            )));
        }
        if let (Some(b), Some((name, beta))) = (bias, &src.bias) {
            let vals: Vec<f32> = b.iter().map(|v| (v / beta) as f32).collect();
            if new.insert(name.clone(), vals).is_some() {
                return Err(OnnxError::Graph(format!(
                    "initializer {name} is shared; cannot write trained weights"
                )));
            }
        }
    }
    let g = m.graph.mut_or_insert_default();
    for init in g.initializer.iter_mut() {
        if let Some(vals) = new.remove(&init.name) {
            let expected: i64 = init.dims.iter().product();
            if expected as usize != vals.len() {
                return Err(OnnxError::Graph(format!(
                    "initializer {}: {} values for shape {:?}",
                    init.name,
                    vals.len(),
                    init.dims
                )));
            }
            init.data_type = 1; // FLOAT
            init.float_data.clear();
            init.double_data.clear();
            init.raw_data = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        }
    }
    if let Some(name) = new.keys().next() {
        return Err(OnnxError::Graph(format!(
            "{name} is not an initializer (a Constant node?); cannot write trained weights"
        )));
    }
    m.write_to_bytes()
        .map_err(|e| OnnxError::Parse(e.to_string()))
}

fn broadcast_bias(c: &Const, outf: usize) -> Result<Vec<f64>, String> {
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

/// The input positions a pooling or convolution window reads, per spatial axis: kernel,
/// strides, dilations, pads (begin, end) from the node's attributes (ONNX defaults), with
/// `auto_pad` resolved.
fn window(n: &NodeProto, kernel: Option<[usize; 2]>, hw: [usize; 2]) -> Result<Window, String> {
    let ints = |k: &str| {
        n.attribute
            .iter()
            .find(|a| a.name == k)
            .map(|a| a.ints.clone())
    };
    let two = |v: Option<Vec<i64>>, d: usize, what: &str| -> Result<[usize; 2], String> {
        match v.as_deref() {
            None => Ok([d, d]),
            Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
            Some(v) => Err(format!("{what} {v:?}: only 2-D windows are supported")),
        }
    };
    let kernel = match kernel {
        Some(k) => k,
        None => two(ints("kernel_shape"), 0, "kernel_shape")?,
    };
    if kernel.contains(&0) {
        return Err("missing kernel_shape".into());
    }
    let strides = two(ints("strides"), 1, "strides")?;
    let dilations = two(ints("dilations"), 1, "dilations")?;
    if strides.contains(&0) || dilations.contains(&0) {
        return Err("strides and dilations must be positive".into());
    }
    let auto_pad = n
        .attribute
        .iter()
        .find(|a| a.name == "auto_pad")
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
        .unwrap_or_default();
    let mut pads = match ints("pads").as_deref() {
        None => [0; 4],
        Some([t, l, b, r]) if [t, l, b, r].iter().all(|v| **v >= 0) => {
            [*t as usize, *l as usize, *b as usize, *r as usize]
        }
        Some(v) => return Err(format!("pads {v:?}: expected 4 non-negative values")),
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

/// Whether `perm` is a permutation of `0..rank`.
fn check_perm(perm: &[usize], rank: usize) -> Result<(), String> {
    let mut seen = perm.to_vec();
    seen.sort_unstable();
    if perm.len() != rank || seen.iter().enumerate().any(|(k, &p)| k != p) {
        return Err(format!("perm {perm:?} is not a permutation of {rank} axes"));
    }
    Ok(())
}

fn norm_axis(a: i64, rank: usize) -> Result<usize, String> {
    usize::try_from(if a < 0 { a + rank as i64 } else { a })
        .ok()
        .filter(|&v| v < rank)
        .ok_or_else(|| format!("axis {a} out of range for rank {rank}"))
}

/// ONNX Squeeze: the given axes (which must have size 1) removed, or every axis of size 1.
fn squeeze_dims(xs: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>, String> {
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
fn unsqueeze_dims(xs: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
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
fn reshape_dims(xs: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>, String> {
    let total: usize = xs.iter().product();
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
            d if d > 0 => shape.push(d as usize),
            _ => return Err(format!("invalid target shape {spec:?}")),
        }
    }
    if let Some(i) = infer {
        let known: usize = shape.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {xs:?} to {spec:?}"));
        }
        shape[i] = total / known;
    }
    if shape.iter().product::<usize>() != total {
        return Err(format!(
            "cannot reshape {xs:?} ({total} values) to {shape:?}"
        ));
    }
    Ok(shape)
}

/// ONNX Slice (starts, ends, optional axes and steps; negative indices count from the end,
/// bounds clamped as the operator defines) as an index map over `dims`.
fn slice_map(
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
        if step == 0 {
            return Err("slice step 0".into());
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (start, end) = (norm(starts[k]), norm(ends[k]));
        let (start, end) = if step > 0 {
            (start.clamp(0, d), end.clamp(0, d))
        } else {
            (start.clamp(0, d - 1), end.clamp(-1, d - 1))
        };
        let len = if step > 0 {
            (end - start + step - 1).div_euclid(step).max(0)
        } else {
            (start - end - step - 1).div_euclid(-step).max(0)
        };
        if len == 0 {
            return Err(format!("slice of axis {ax} is empty"));
        }
        out[ax] = len as usize;
        st[ax] = step;
        off[ax] = start;
    }
    Ok(IndexMap::aligned(dims, &out, &st, &off))
}

/// Folds an op whose inputs are all constants, for the shape-arithmetic ops exporters emit;
/// `None` for any other op (the caller then treats it as usual).
fn fold_const(n: &NodeProto, ins: &[Option<Const>]) -> Result<Option<Const>, String> {
    let ints = |k: &str| {
        n.attribute
            .iter()
            .find(|a| a.name == k)
            .map(|a| a.ints.clone())
    };
    let int = |k: &str, d: i64| n.attribute.iter().find(|a| a.name == k).map_or(d, |a| a.i);
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
            let fill = match n.attribute.iter().find(|a| a.name == "value") {
                Some(a) => to_const(&a.t)?.data.first().copied().unwrap_or(0.0),
                None => 0.0,
            };
            let len: usize = dims.iter().product();
            if len > 1 << 24 {
                return Err(format!("ConstantOfShape of {len} values"));
            }
            Const {
                dims,
                data: vec![fill; len],
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
            map.validate(1 << 24)?;
            Const {
                dims: map.out_shape.clone(),
                data: map.apply(&x.data),
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
            out[ax] = parts
                .iter()
                .map(|c| dims_of(c).get(ax).copied().unwrap_or(1))
                .sum();
            let mut data = vec![0.0; out.iter().product()];
            let mut offset = 0i64;
            for c in &parts {
                let d = dims_of(c);
                let mut offs = vec![0i64; d.len()];
                offs[ax] = -offset;
                offset += d[ax] as i64;
                let map = IndexMap::aligned(&d, &out, &vec![1; d.len()], &offs);
                map.validate(1 << 24)?;
                for (o, v) in data.iter_mut().zip(map.apply(&c.data)) {
                    *o += v;
                }
            }
            Const { dims: out, data }
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
                map.validate(1 << 24)?;
            }
            Const {
                dims: map.out_shape.clone(),
                data: map.apply(&x.data),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(c))
}

/// Numpy broadcasting of two shapes (trailing axes aligned).
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
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

/// An element-wise op on two constants, one of them possibly a scalar (constant folding).
fn fold2(x: &Const, y: &Const, f: impl Fn(f64, f64) -> f64) -> Result<Const, String> {
    let (dims, data) = if x.data.len() == y.data.len() {
        let dims = if x.dims.len() >= y.dims.len() {
            &x.dims
        } else {
            &y.dims
        };
        (
            dims.clone(),
            x.data.iter().zip(&y.data).map(|(a, b)| f(*a, *b)).collect(),
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
    Ok(Const { dims, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../examples/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn seed_mlp_imports() {
        let g = import(&example("mlp/mlp.onnx")).unwrap();
        assert_eq!(g.n_params(), 138);
        assert_eq!(g.input_shape, vec![1, 5]);
        assert_eq!(g.nodes.len(), 5);
        assert_eq!(g.shape(g.output), &[1, 2]);
    }

    #[test]
    fn matmul_variant_imports_and_agrees_with_gemm_variant_where_it_should() {
        let g = import(&example("mlp/mlp_matmul.onnx")).unwrap();
        assert_eq!(g.n_params(), 138);
        let out = g.forward_f64(&[0.1, 0.2, -0.3, 0.4, 0.5]);
        assert_eq!(out[g.output].len(), 2);
    }

    #[test]
    fn exported_weights_import_back() {
        let b = example("mlp/mlp.onnx");
        let (mut g, src) = import_with_sources(&b).unwrap();
        if let Op::Linear { w, bias, .. } = &mut g.nodes[0].op {
            w[3] += 0.5;
            bias.as_mut().unwrap()[1] -= 0.25;
        }
        let out = export_weights(&b, &g, &src).unwrap();
        let g2 = import(&out).unwrap();
        for (a, b) in g.nodes.iter().zip(&g2.nodes) {
            match (&a.op, &b.op) {
                (
                    Op::Linear {
                        w: w1, bias: b1, ..
                    },
                    Op::Linear {
                        w: w2, bias: b2, ..
                    },
                ) => {
                    for (x, y) in w1
                        .iter()
                        .zip(w2)
                        .chain(b1.as_ref().unwrap().iter().zip(b2.as_ref().unwrap()))
                    {
                        assert!((x - y).abs() < 1e-6);
                    }
                }
                _ => assert_eq!(a.op, b.op),
            }
        }
        // The MatMul + Add form writes back too.
        let b = example("mlp/mlp_matmul.onnx");
        let (g, src) = import_with_sources(&b).unwrap();
        let g2 = import(&export_weights(&b, &g, &src).unwrap()).unwrap();
        assert_eq!(g.n_params(), g2.n_params());
    }

    #[test]
    fn greater_is_the_relu_mask_only_against_zero_and_cast_only_to_floats() {
        use onnx_protobuf::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
        let model = |threshold: f32, to: i64| -> Vec<u8> {
            let mut m = ModelProto::new();
            let mut g = GraphProto::new();
            let mut vi = ValueInfoProto::new();
            vi.name = "x".into();
            let dim = |v: i64| {
                let mut d = onnx_protobuf::tensor_shape_proto::Dimension::new();
                d.set_dim_value(v);
                d
            };
            let tt = vi.type_.mut_or_insert_default().mut_tensor_type();
            tt.elem_type = 1;
            tt.shape.mut_or_insert_default().dim = vec![dim(1), dim(4)];
            g.input.push(vi);
            let mut c = TensorProto::new();
            c.name = "zero".into();
            c.data_type = 1;
            c.float_data = vec![threshold];
            g.initializer.push(c);
            let mut gt = NodeProto::new();
            gt.op_type = "Greater".into();
            gt.name = "gt".into();
            gt.input = vec!["x".into(), "zero".into()];
            gt.output = vec!["m".into()];
            let mut cast = NodeProto::new();
            cast.op_type = "Cast".into();
            cast.name = "cast".into();
            cast.input = vec!["m".into()];
            cast.output = vec!["y".into()];
            let mut a = onnx_protobuf::AttributeProto::new();
            a.name = "to".into();
            a.i = to;
            cast.attribute.push(a);
            g.node = vec![gt, cast];
            let mut out = ValueInfoProto::new();
            out.name = "y".into();
            g.output.push(out);
            m.graph = protobuf::MessageField::some(g);
            m.write_to_bytes().unwrap()
        };
        let g = import(&model(0.0, 1)).unwrap();
        assert_eq!(
            g.forward_f64(&[-1.0, 0.0, 0.5, 2.0])[g.output],
            vec![0.0, 0.0, 1.0, 1.0]
        );
        assert!(matches!(
            import(&model(0.5, 1)),
            Err(OnnxError::Invalid { .. })
        ));
        assert!(matches!(
            import(&model(0.0, 7)),
            Err(OnnxError::Invalid { .. })
        ));
    }

    #[test]
    fn layout_ops_agree_with_onnx_runtime() {
        // examples/gen_examples.py layout: Slice (negative step), 3-D Transpose, Squeeze,
        // Unsqueeze, Concat, broadcasting, ReduceSum/ReduceMean, folded constants, two outputs.
        let g = import(&example("layout/layout.onnx")).unwrap();
        let read = |f: &str, k: &str| -> Vec<f64> {
            let v: serde_json::Value =
                serde_json::from_slice(&example(&format!("layout/{f}"))).unwrap();
            v[k].as_array()
                .unwrap()
                .iter()
                .flat_map(|a| a.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect()
        };
        let x = read("input.json", "input_data");
        let expect = read("onnxruntime_output.json", "output_data");
        let got = &g.forward_f64(&x)[g.output];
        assert_eq!(got.len(), expect.len());
        for (a, b) in got.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(g.output_parts.len(), 2);
        assert_eq!(g.output_parts[0].1, vec![2, 8]);
        assert_eq!(g.output_parts[1].1, vec![3]);
    }

    #[test]
    fn cnn_layers_and_pointwise_ops_agree_with_onnx_runtime() {
        // examples/gen_cnn.py. mixed: Conv (padding, stride, dilation, groups, depthwise),
        // BatchNorm (folded and standalone), MaxPool, AveragePool, SiLU, GlobalAveragePool, Gemm.
        // pointwise: LayerNormalization, LeakyRelu, Clip, Erf, Pow, Sqrt, Div, Softmax.
        // mixed_torchscript: the same CNN from the TorchScript exporter at opset 13, whose Pad
        // reads pads computed by shape arithmetic on constants (folded at import).
        for (model, prefix) in [
            ("mixed", ""),
            ("mixed_torchscript", ""),
            ("pointwise", "pointwise_"),
        ] {
            let g = import(&example(&format!("cnn/{model}.onnx"))).unwrap();
            let read = |f: &str, k: &str| -> Vec<f64> {
                let v: serde_json::Value =
                    serde_json::from_slice(&example(&format!("cnn/{prefix}{f}"))).unwrap();
                v[k][0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            };
            let got = &g.forward_f64(&read("input.json", "input_data"))[g.output];
            let expect = read("onnxruntime_output.json", "output_data");
            assert_eq!(got.len(), expect.len());
            for (a, b) in got.iter().zip(&expect) {
                assert!((a - b).abs() < 1e-6, "{model}: {a} vs {b}");
            }
        }
    }

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
            data: vec![1.0; dims.iter().product::<usize>().max(1)],
            dims,
        };
        // Parts of different ranks, or different sizes off the axis.
        let concat = node("Concat", Some(("axis", vec![], 1)));
        assert!(fold_const(&concat, &[Some(c(vec![2, 3])), Some(c(vec![2, 3, 1]))]).is_err());
        assert!(fold_const(&concat, &[Some(c(vec![2, 3])), Some(c(vec![4, 3]))]).is_err());
        let ok = fold_const(&concat, &[Some(c(vec![2, 3])), Some(c(vec![2, 1]))]).unwrap();
        assert_eq!(ok.map(|k| k.dims), Some(vec![2, 4]));
        // A perm that repeats an axis, or has the wrong length.
        for perm in [vec![0, 0], vec![1, 0, 2]] {
            let t = node("Transpose", Some(("perm", perm, 0)));
            assert!(fold_const(&t, &[Some(c(vec![2, 3]))]).is_err());
        }
    }

    #[test]
    fn unsupported_op_names_op_and_node() {
        let e = import(&example("unsupported/softsign.onnx")).unwrap_err();
        assert_eq!(
            e,
            OnnxError::Unsupported {
                op_type: "Softsign".into(),
                node: "/act/Softsign".into()
            }
        );
    }

    #[test]
    fn truncated_and_garbage_files_are_parse_errors() {
        let b = example("mlp/mlp.onnx");
        for n in [0usize, 10, 200, b.len() - 1] {
            assert!(import(&b[..n]).is_err(), "prefix {n} accepted");
        }
        assert!(matches!(import(b"hello world"), Err(OnnxError::Parse(_))));
    }
}
