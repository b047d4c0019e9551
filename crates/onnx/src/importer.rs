//! The walk over an ONNX graph: initializers and inputs, then each node in order (folded if its
//! inputs are constants, else imported by the function the registry names), then the outputs.

use std::collections::HashMap;

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_model::build::push as push_node;
use zkgrad_model::graph::{Graph, Node, Op};

use crate::fold::fold_const;
use crate::node::{NodeCx, Sources, Val};
use crate::proto::{node_name, parse_model};
use crate::registry::importer;
use crate::tensor::{to_const, Const};
use crate::OnnxError;

/// Imports the graph of the model `bytes`, recording in `sources` where each Linear node's
/// parameters came from.
pub(crate) fn import_inner(bytes: &[u8], sources: &mut Sources) -> Result<Graph, OnnxError> {
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
        let cx = NodeCx {
            n,
            name: node_name(n, idx),
            names: &names,
            readers: &readers,
        };
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
            if let Some(c) = fold_const(n, &consts).map_err(|e| cx.invalid(e))? {
                names.insert(out_name, Val::Const(c));
                continue;
            }
        }
        let import = importer(&n.op_type).ok_or_else(|| cx.unsupported())?;
        let result = import(&cx, &mut graph, sources)?;
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
