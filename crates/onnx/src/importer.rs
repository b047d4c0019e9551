//! The walk over an ONNX graph: initializers and inputs, then each node in order (folded if its
//! inputs are constants, else imported by the function the registry names), then the outputs.

use std::collections::{HashMap, HashSet};

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::ModelProto;

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_model::build::push as push_node;
use zkgrad_model::graph::{Graph, Node, Op};

use crate::fold::fold_const;
use crate::node::{NodeCx, Sources, Val};
use crate::proto::{node_name, parse_model};
use crate::registry::importer;
use crate::tensor::{elements, to_const, Const};
use crate::{Limits, OnnxError, MAX_OPSET};

/// The opset of the default ONNX domain the model imports, within what this importer knows.
pub(crate) fn default_opset(m: &ModelProto) -> Result<i64, OnnxError> {
    let mut found = None;
    for o in &m.opset_import {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            if found.is_some() {
                return Err(OnnxError::Graph(
                    "the model imports the default ONNX domain twice".into(),
                ));
            }
            found = Some(o.version);
        }
    }
    match found {
        None => Err(OnnxError::Graph(
            "the model imports no opset of the default ONNX domain".into(),
        )),
        Some(v) if v > MAX_OPSET => Err(OnnxError::Graph(format!(
            "opset {v} is newer than the newest this importer supports ({MAX_OPSET})"
        ))),
        Some(v) if v < 1 => Err(OnnxError::Graph(format!("opset {v} is not an opset"))),
        Some(v) => Ok(v),
    }
}

/// The type an attribute of this name must have on a node of this op type, where the importer
/// reads it.
fn expected_type(op: &str, name: &str) -> Option<AttributeType> {
    use AttributeType::*;
    Some(match name {
        "alpha" | "beta" | "epsilon" | "min" | "max" | "value_float" => FLOAT,
        "value" if op == "Pad" => FLOAT,
        "value" => TENSOR,
        "axis"
        | "transA"
        | "transB"
        | "group"
        | "keepdims"
        | "allowzero"
        | "ceil_mode"
        | "count_include_pad"
        | "noop_with_empty_axes"
        | "to"
        | "value_int" => INT,
        "kernel_shape" | "pads" | "strides" | "dilations" | "perm" | "axes" | "starts" | "ends"
        | "value_ints" => INTS,
        "auto_pad" | "mode" | "approximate" => STRING,
        _ => return None,
    })
}

/// Refuses what no node may be, whatever its op: a custom domain, an op used below the opset
/// that introduced it, an attribute of the wrong type or a non-finite float attribute.
fn check_node(n: &onnx_protobuf::NodeProto, name: &str, opset: i64) -> Result<(), OnnxError> {
    let invalid = |why: String| OnnxError::Invalid {
        op_type: n.op_type.clone(),
        node: name.to_string(),
        why,
    };
    // ai.onnx.ml's ArrayFeatureExtractor (a scikit-learn classifier's label) is the one op of
    // another domain; it is in no other.
    let ml = n.op_type == "ArrayFeatureExtractor";
    if ml != (n.domain == "ai.onnx.ml") || !(ml || n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(invalid(format!(
            "domain {:?} is not ONNX's (only ops of the default domain are supported, and \
             ai.onnx.ml's ArrayFeatureExtractor)",
            n.domain
        )));
    }
    let since = match n.op_type.as_str() {
        "LayerNormalization" => 17,
        "Gelu" => 20,
        _ => 1,
    };
    if opset < since {
        return Err(invalid(format!(
            "{} does not exist at opset {opset} (introduced in opset {since})",
            n.op_type
        )));
    }
    for a in &n.attribute {
        let Some(want) = expected_type(&n.op_type, &a.name) else {
            continue;
        };
        let got = a.type_.enum_value();
        if got != Ok(want) {
            let got = match got {
                Ok(t) => format!("{t:?}"),
                Err(v) => format!("type {v}"),
            };
            return Err(invalid(format!(
                "attribute {} is {got}, must be {want:?}",
                a.name
            )));
        }
        if want == AttributeType::FLOAT && !a.f.is_finite() {
            return Err(invalid(format!(
                "attribute {} is {}, must be finite",
                a.name, a.f
            )));
        }
    }
    Ok(())
}

/// Refuses a graph larger than the limits, with duplicate initializer names, or a name that two
/// nodes (or a node and an initializer or graph input) define.
fn check_graph(g: &onnx_protobuf::GraphProto, limits: &Limits) -> Result<(), OnnxError> {
    if g.node.len() > limits.max_nodes || g.initializer.len() > limits.max_nodes {
        return Err(OnnxError::Graph(format!(
            "{} nodes and {} initializers: more than the limit of {}",
            g.node.len(),
            g.initializer.len(),
            limits.max_nodes
        )));
    }
    let mut defined: HashSet<&str> = HashSet::new();
    for init in &g.initializer {
        if !defined.insert(init.name.as_str()) {
            return Err(OnnxError::Graph(format!(
                "initializer {} is defined twice",
                init.name
            )));
        }
    }
    // A graph input may repeat an initializer (its default value) but not another input.
    let mut inputs: HashSet<&str> = HashSet::new();
    for i in &g.input {
        if !inputs.insert(i.name.as_str()) {
            return Err(OnnxError::Graph(format!(
                "graph input {} is declared twice",
                i.name
            )));
        }
    }
    defined.extend(inputs);
    for (idx, n) in g.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if !defined.insert(o.as_str()) {
                return Err(OnnxError::Invalid {
                    op_type: n.op_type.clone(),
                    node: node_name(n, idx),
                    why: format!("output {o} is already defined (by an initializer, a graph input or another node)"),
                });
            }
        }
    }
    Ok(())
}

/// Imports the graph of the model `bytes`, recording in `sources` where each Linear node's
/// parameters came from.
/// The `dim_param` dimensions of the first graph input that is not an initializer, and the
/// product of its other dimensions (each read as `import` reads it).
pub(crate) fn symbolic_input_dims(
    bytes: &[u8],
) -> Result<(Vec<(usize, String)>, usize), OnnxError> {
    let m = parse_model(bytes)?;
    let g = &m.graph;
    let inits: std::collections::HashSet<&str> =
        g.initializer.iter().map(|i| i.name.as_str()).collect();
    let Some(input) = g.input.iter().find(|i| !inits.contains(i.name.as_str())) else {
        return Ok((Vec::new(), 1));
    };
    let dims = &input.type_.tensor_type().shape.dim;
    let symbolic = dims
        .iter()
        .enumerate()
        .filter(|(_, d)| symbolic_dim(d))
        .map(|(k, d)| (k, d.dim_param().to_string()))
        .collect();
    let fixed = dims
        .iter()
        .filter(|d| !symbolic_dim(d))
        .map(|d| usize::try_from(d.dim_value()).unwrap_or(1).max(1))
        .fold(1usize, |a, b| a.saturating_mul(b));
    Ok((symbolic, fixed))
}

/// A dimension whose size is given per run: a named one (`dim_param`), or one with no size at
/// all (scikit-learn's exports leave the batch axis so), which takes the name "".
fn symbolic_dim(d: &onnx_protobuf::tensor_shape_proto::Dimension) -> bool {
    d.has_dim_param() || !d.has_dim_value()
}

pub(crate) fn import_inner(
    bytes: &[u8],
    limits: &Limits,
    sources: &mut Sources,
    dims: &[(String, usize)],
) -> Result<Graph, OnnxError> {
    import_model(&parse_model(bytes)?, limits, sources, dims)
}

/// [`import_inner`] of a parsed model.
pub(crate) fn import_model(
    m: &onnx_protobuf::ModelProto,
    limits: &Limits,
    sources: &mut Sources,
    dims: &[(String, usize)],
) -> Result<Graph, OnnxError> {
    if m.graph.0.is_none() {
        return Err(OnnxError::Parse("the file holds no graph".into()));
    }
    let opset = default_opset(m)?;
    let g = &m.graph;
    check_graph(g, limits)?;
    let mut names: HashMap<String, Val> = HashMap::new();
    for init in &g.initializer {
        let c = to_const(init, limits).map_err(OnnxError::Graph)?;
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
                    usize::try_from(d.dim_value()).unwrap_or(usize::MAX)
                } else if symbolic_dim(d) {
                    dims.iter()
                        .find(|(n, _)| n == d.dim_param())
                        .map_or(1, |&(_, v)| v.max(1))
                } else {
                    1
                }
            })
            .collect();
        // A declared scalar (a shape of rank 0) is held as one value; no shape at all is refused.
        if shape.is_empty() && i.type_.tensor_type().shape.is_none() {
            return Err(OnnxError::Graph(format!("input {} has no shape", i.name)));
        }
        let shape = if shape.is_empty() { vec![1] } else { shape };
        elements(&shape, limits).map_err(|e| OnnxError::Graph(format!("input {}: {e}", i.name)))?;
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

    // Reads left of each name: a constant is dropped after its last reader, so that the
    // weights a node copies out of it (a Gemm's, transposed) reuse its memory for the next
    // layer instead of fresh pages (GPT-2 124M: 1 GB of initializers held to the end).
    let mut unread = readers.clone();

    let image_layout = g
        .node
        .iter()
        .any(|n| IMAGE_OPS.contains(&n.op_type.as_str()));
    for (idx, n) in g.node.iter().enumerate() {
        drop_read_constants(
            &mut names,
            &mut unread,
            idx.checked_sub(1).and_then(|i| g.node.get(i)),
        );
        let cx = NodeCx {
            n,
            name: node_name(n, idx),
            names: &names,
            readers: &readers,
            limits,
            opset,
            extra: std::cell::RefCell::new(Vec::new()),
            image_layout,
        };
        check_node(n, &cx.name, opset)?;
        let out_name = n
            .output
            .first()
            .cloned()
            .ok_or_else(|| cx.invalid("no output".into()))?;
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
            if let Some(c) = fold_const(n, &consts, limits).map_err(|e| cx.invalid(e))? {
                names.insert(out_name, Val::Const(c));
                continue;
            }
        }
        let import = importer(&n.op_type).ok_or_else(|| cx.unsupported())?;
        let before = graph.nodes.len();
        let result = import(&cx, &mut graph, sources)?;
        for node in &graph.nodes[before..] {
            cx.elements(&node.shape)?;
        }
        let extra = cx.extra.take();
        for (o, v) in n.output.iter().skip(1).zip(extra) {
            names.insert(o.clone(), v);
        }
        names.insert(out_name, result);
    }
    drop_read_constants(&mut names, &mut unread, g.node.last());
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
        [(_, v)] => {
            graph.output = *v;
            // An ArgMax read through views (a Cast, a Reshape) is the whole output.
            if let Some(am) = crate::ops::gather::source_argmax(&graph, *v) {
                if let Some(Op::ArgMax { at, .. }) = graph.nodes.get_mut(am).map(|n| &mut n.op) {
                    *at = Some(0);
                }
            }
        }
        _ => {
            // Several outputs: their concatenation, each flattened, is the proven output.
            let mut total: usize = 0;
            for (_, v) in &outs {
                total = total
                    .checked_add(graph.shape(*v).iter().product::<usize>())
                    .filter(|&t| t <= limits.max_tensor_elements)
                    .ok_or_else(|| {
                        OnnxError::Graph(format!(
                            "the outputs hold more than {} values (the limit on one tensor)",
                            limits.max_tensor_elements
                        ))
                    })?;
            }
            let mut acc: Option<usize> = None;
            let mut offset = 0i64;
            for (k, (out_name, v)) in outs.iter().enumerate() {
                let shape = graph.shape(*v).to_vec();
                let len: usize = shape.iter().product();
                graph.output_parts.push((out_name.clone(), shape));
                let map = IndexMap::aligned(&[len], &[total], &[1], &[-offset]);
                // An ArgMax output beside others is proven as this slice of the output.
                if let Some(am) = crate::ops::gather::source_argmax(&graph, *v) {
                    if let Some(Op::ArgMax { at, .. }) = graph.nodes.get_mut(am).map(|n| &mut n.op)
                    {
                        *at = Some(offset as usize);
                    }
                }
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
    crate::fuse::fuse_gelu(&mut graph);
    crate::fuse::prune(&mut graph, sources);
    fold_diagonal_linears(&mut graph, sources);
    if !image_layout {
        view_heads_as_rows(&mut graph);
    }
    Ok(graph)
}

/// Counts node `n`'s reads off `unread` and drops from `names` every constant it read last.
fn drop_read_constants<'g>(
    names: &mut HashMap<String, Val>,
    unread: &mut HashMap<&'g str, usize>,
    n: Option<&'g onnx_protobuf::NodeProto>,
) {
    for i in n.map(|n| n.input.as_slice()).unwrap_or_default() {
        if let Some(left) = unread.get_mut(i.as_str()) {
            *left = left.saturating_sub(1);
            if *left == 0 && matches!(names.get(i), Some(Val::Const(_))) {
                names.remove(i);
            }
        }
    }
}

/// A LayerNormalization's scale and bias (`build::layer_norm`: a Linear with the diagonal
/// weight `diag(γ)` and bias `β`) read by one Linear only — as pre-LN transformers feed their
/// attention and MLP — are folded into that Linear: `(n·γ + β)·Wᵀ = n·(γ⊙W)ᵀ + β·Wᵀ`, so
/// the `d × d` diagonal is neither committed nor opened (GPT-2 124M: 24 of its 25 LayerNorms,
/// 14.2M of 138.4M committed values, which took the packed weights past 2^27). Not when the
/// reader's weight is an embedding table too (a tied LM head stays one committed tensor); the
/// folded Linear no longer has an ONNX source to export to.
fn fold_diagonal_linears(graph: &mut Graph, sources: &mut Sources) {
    // Who reads each value (`inputs_mut`: `inputs` would copy every weight).
    let mut readers = vec![0usize; graph.nodes.len() + 1];
    let mut reader_of: HashMap<usize, usize> = HashMap::new();
    for (j, n) in graph.nodes.iter_mut().enumerate() {
        for v in n.op.inputs_mut() {
            if let Some(r) = readers.get_mut(*v) {
                *r += 1;
            }
            reader_of.insert(*v, j);
        }
    }
    for k in 0..graph.nodes.len() {
        let v = k + 1;
        if v == graph.output || readers.get(v) != Some(&1) {
            continue;
        }
        let Some(Op::Linear {
            x: n,
            w: diag,
            bias: beta,
            in_features: d,
            out_features,
        }) = graph.nodes.get(k).map(|n| &n.op)
        else {
            continue;
        };
        let (n, d) = (*n, *d);
        let diagonal = *out_features == d
            && diag
                .iter()
                .enumerate()
                .all(|(i, &w)| w == 0.0 || i / d.max(1) == i % d.max(1));
        // The reader, through views that keep rows of `d` (a Reshape to `[tokens, d]`).
        let mut read = v;
        let Some(mut j) = reader_of.get(&v).copied() else {
            continue;
        };
        while let Some(Node {
            op: Op::View { .. },
            shape,
            ..
        }) = graph.nodes.get(j)
        {
            if shape.last() != Some(&d) || readers.get(j + 1) != Some(&1) {
                break;
            }
            read = j + 1;
            match reader_of.get(&read) {
                Some(&next) => j = next,
                None => break,
            }
        }
        let tied = |w: &[f64]| {
            graph.nodes.iter().any(|m| {
                matches!(&m.op, Op::Embed { table, .. } if table.len() == w.len() && table[..] == w[..])
            })
        };
        let fold = match graph.nodes.get(j).map(|m| &m.op) {
            Some(Op::Linear {
                x, w, in_features, ..
            }) => diagonal && *x == read && *in_features == d && !tied(w),
            _ => false,
        };
        if !fold {
            continue;
        }
        let gamma: Vec<f64> = (0..d).map(|i| diag[i * d + i]).collect();
        let beta = beta.clone();
        if let Some(Op::Linear {
            w,
            bias,
            out_features: o,
            ..
        }) = graph.nodes.get_mut(j).map(|m| &mut m.op)
        {
            let mut b = bias.take().unwrap_or_else(|| vec![0.0; *o]);
            for (row, bo) in w.chunks_mut(d).zip(b.iter_mut()) {
                if let Some(beta) = &beta {
                    *bo += row.iter().zip(beta).map(|(w, be)| w * be).sum::<f64>();
                }
                row.iter_mut().zip(&gamma).for_each(|(w, g)| *w *= g);
            }
            *bias = Some(b);
        }
        if let Some(node) = graph.nodes.get_mut(k) {
            node.op = Op::View { x: n };
        }
        sources.remove(&j);
    }
}

/// Op types whose rank-4 tensors are NCHW images (viewed as `[N·C, H·W]`).
const IMAGE_OPS: &[&str] = &[
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
];

/// In a graph without image ops, a rank-4 tensor `[a, b, c, d]` (attention's
/// `[batch, heads, tokens, head_dim]`) is held as `[a·b, c, d]`: the same row-major values,
/// viewed as `[a·b·c, d]` like every other tensor (one row per head and token), which the
/// batched products and the softmax over the last axis read. Index maps keep their own shapes.
fn view_heads_as_rows(graph: &mut Graph) {
    let merge = |s: &mut Vec<usize>| {
        if let [a, b, c, d] = s[..] {
            *s = vec![a * b, c, d];
        }
    };
    merge(&mut graph.input_shape);
    for n in &mut graph.nodes {
        merge(&mut n.shape);
    }
}
