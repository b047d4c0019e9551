//! The quantizer: a float [`Graph`] at a given precision becomes the integer circuit
//! ([`QGraph`]) a proof is about.
//!
//! The weights' quantization depends only on the model and `weight_frac`, so the model
//! commitment is a fingerprint of the model alone.

use crate::graph::{matrix_dims, Graph, Op};
use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::table::{ActKind, TableKind};
use zkgrad_circuit::{MatRhs, QConfig, QGraph, QOp, QTensor, QWeight, QuantError, TensorKind};

fn quantize_value(x: f64, frac: u32) -> Option<i64> {
    let v = (x * (1u64 << frac) as f64).round();
    if v.is_finite() && v.abs() < (1u64 << 40) as f64 {
        Some(v as i64)
    } else {
        None
    }
}

/// Quantizes an activation (input) value at `frac` bits; `None` for NaN, infinity or overflow.
pub fn quantize_input(x: f64, frac: u32) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    quantize_value(x, frac)
}

/// The public input `x` (every input tensor, concatenated) as the circuit's integers: each
/// input tensor at its own scale, token ids (the tensors an embedding reads) as integers
/// inside the vocabulary. `Err`: one line naming the value and what is wrong with it.
pub fn quantize_public_input(q: &QGraph, x: &[f64]) -> Result<Vec<i64>, String> {
    let n = q.public_input_len();
    if x.len() != n {
        return Err(format!(
            "input has {} values, the model expects {n}",
            x.len()
        ));
    }
    let mut vocab: std::collections::HashMap<usize, (usize, &str)> = Default::default();
    for node in &q.nodes {
        if let QOp::Embed { ids, w } = node.op {
            let rows = q.weights.get(w).map_or(0, |w| w.rows);
            vocab.insert(ids, (rows, node.name.as_str()));
        }
    }
    let mut out = Vec::with_capacity(n);
    for t in q.input_tensors() {
        let Some(tensor) = q.tensors.get(t) else {
            continue;
        };
        let start = out.len();
        for (pos, &v) in x.iter().skip(start).take(tensor.len()).enumerate() {
            let i = start + pos;
            if let Some(&(vocab, node)) = vocab.get(&t) {
                if !v.is_finite() || v.fract() != 0.0 {
                    return Err(format!("token id {v} at position {i} is not an integer"));
                }
                if !(0.0..vocab as f64).contains(&v) {
                    return Err(format!(
                        "token id {v} at position {i} is outside the vocabulary of {vocab} \
                         tokens (embedding {node})"
                    ));
                }
            }
            out.push(
                quantize_input(v, tensor.frac)
                    .ok_or_else(|| format!("input value {i} ({v}) cannot be represented"))?,
            );
        }
    }
    Ok(out)
}

/// Builds the quantized circuit for `graph` at the given precision.
pub fn quantize(graph: &Graph, config: QConfig) -> Result<QGraph, QuantError> {
    quantize_with_map(graph, config).map(|(g, _)| g)
}

/// Builds the circuit and says, for each float value (index as in [`Graph`]), the quantized
/// tensor that holds it.
pub fn quantize_with_map(
    graph: &Graph,
    config: QConfig,
) -> Result<(QGraph, Vec<usize>), QuantError> {
    quantize_scaled(graph, config, None)
}

/// [`quantize_with_map`] with a scale per float value (`fracs[v]`: its fractional bits, from
/// [`crate::calibrate::calibrate_per_tensor`]) instead of one for every activation: each op's
/// result is rounded to its own scale, and operands are brought to a common one where an op
/// needs it (the coarser of the two, by a proven rounding, so nothing overflows).
pub fn quantize_with_scales(
    graph: &Graph,
    config: QConfig,
    fracs: &[u32],
) -> Result<(QGraph, Vec<usize>), QuantError> {
    check_scales(graph, fracs)?;
    quantize_scaled(graph, config, Some(fracs))
}

/// [`quantize_with_scales`] that takes the float weights out of `graph` (Linear and Conv
/// weights, embedding tables) and quantizes each in its own memory: for a caller done with the
/// float model's weights (`generate`: GPT-2 124M's are 1 GB, which the quantized weights then
/// occupy instead of fresh pages). `graph` keeps its shapes; its forward pass is meaningless
/// after this, as after [`Graph::drop_weights`].
pub fn quantize_with_scales_consuming(
    graph: &mut Graph,
    config: QConfig,
    fracs: &[u32],
) -> Result<(QGraph, Vec<usize>), QuantError> {
    check_scales(graph, fracs)?;
    let mut taken = take_weights(graph);
    quantize_inner(graph, config, Some(fracs), Some(&mut taken))
}

/// [`quantize_with_map`] taking the float weights, as [`quantize_with_scales_consuming`].
pub fn quantize_with_map_consuming(
    graph: &mut Graph,
    config: QConfig,
) -> Result<(QGraph, Vec<usize>), QuantError> {
    let mut taken = take_weights(graph);
    quantize_inner(graph, config, None, Some(&mut taken))
}

/// One scale per float value of `graph` (its input and every node).
fn check_scales(graph: &Graph, fracs: &[u32]) -> Result<(), QuantError> {
    if fracs.len() != graph.nodes.len() + 1 {
        return Err(QuantError::Config(format!(
            "{} scales for a graph of {} values",
            fracs.len(),
            graph.nodes.len() + 1
        )));
    }
    Ok(())
}

/// Each node's weight matrix (Linear, Conv) or embedding table, taken out of `graph`.
fn take_weights(graph: &mut Graph) -> Vec<Option<Vec<f64>>> {
    graph
        .nodes
        .iter_mut()
        .map(|n| match &mut n.op {
            Op::Linear { w, .. } | Op::Conv { w, .. } => Some(std::mem::take(w)),
            Op::Embed { table, .. } => Some(std::mem::take(table)),
            _ => None,
        })
        .collect()
}

/// Node `vi`'s float weights: taken from the graph (`taken`, when given), or its own (`w`).
fn weights_of<'a>(
    taken: &mut Option<&mut Vec<Option<Vec<f64>>>>,
    vi: usize,
    w: &'a [f64],
) -> FloatWeights<'a> {
    match taken
        .as_mut()
        .and_then(|t| t.get_mut(vi))
        .and_then(Option::take)
    {
        Some(owned) => FloatWeights::Owned(owned),
        None => FloatWeights::Borrowed(w),
    }
}

/// Float weights to quantize: borrowed from the graph, or taken from it (and then quantized
/// in place).
enum FloatWeights<'a> {
    Borrowed(&'a [f64]),
    Owned(Vec<f64>),
}

fn quantize_scaled(
    graph: &Graph,
    config: QConfig,
    fracs: Option<&[u32]>,
) -> Result<(QGraph, Vec<usize>), QuantError> {
    quantize_inner(graph, config, fracs, None)
}

/// The quantizer: `taken[v]`, where given, holds node `v`'s float weights taken out of
/// `graph` ([`take_weights`]).
fn quantize_inner(
    graph: &Graph,
    config: QConfig,
    fracs: Option<&[u32]>,
    mut taken: Option<&mut Vec<Option<Vec<f64>>>>,
) -> Result<(QGraph, Vec<usize>), QuantError> {
    let k = config.table_bits;
    if !(4..=20).contains(&k) {
        return Err(QuantError::Config(format!("table bits {k} outside 4..=20")));
    }
    if config.weight_frac > 40 || config.act_frac.saturating_add(1) >= k {
        return Err(QuantError::Config(format!(
            "weight_frac {} must be ≤ 40 and act_frac {} < table bits ({k}) − 1",
            config.weight_frac, config.act_frac
        )));
    }
    let (fa, fw) = (config.act_frac, config.weight_frac);
    // Values read as token ids are public integers at scale 2^0.
    let ids: std::collections::HashSet<usize> = graph
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Embed { ids, .. } => Some(ids),
            _ => None,
        })
        .collect();
    // The scale of float value `v`'s result: token ids at 2^0, else its own (or the global).
    let frac_of = |v: usize| {
        if ids.contains(&v) {
            0
        } else {
            fracs
                .and_then(|f| f.get(v).copied())
                .map_or(fa, |f| f.min(config.table_bits - 2))
        }
    };
    let (r0, c0) = matrix_dims(&graph.input_shape);
    let mut g = QGraph {
        config,
        tensors: vec![QTensor {
            name: graph.input_name.clone(),
            rows: r0,
            cols: c0,
            frac: frac_of(0),
            kind: TensorKind::Public,
            bits: config.table_bits,
        }],
        nodes: Vec::new(),
        weights: Vec::new(),
        tables: Vec::new(),
        output: 0,
    };
    // float value -> quantized tensor
    let mut map: Vec<usize> = vec![0];
    // Value bounds of the tensors so far, extended where a product needs them (see
    // `QGraph::extend_value_bounds`).
    let mut bounds: Vec<Option<u128>> = Vec::new();
    // Tensors that hold an ArgMax's labels (the hint, index maps of it), with their bound:
    // exact integers, which an output assembly scales up rather than rounds the others down.
    let mut labels: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    for (vi, node) in graph.nodes.iter().enumerate() {
        let (rows, cols) = matrix_dims(&node.shape);
        let name = node.name.clone();
        // This node's result scale, and an operand's.
        let fo = frac_of(vi + 1);
        let fr = |g: &QGraph, t: usize| g.tensors[t].frac;
        let t = match &node.op {
            Op::Linear {
                x,
                w,
                bias,
                in_features,
                out_features,
            } => {
                let xt = g.committed(map[*x], &name);
                if g.tensors[xt].cols != *in_features {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: format!(
                            "input has {} columns, the layer expects {in_features}",
                            g.tensors[xt].cols
                        ),
                    });
                }
                let (wi, bi) = push_weights(
                    &mut g,
                    &name,
                    weights_of(&mut taken, vi, w),
                    *out_features,
                    *in_features,
                    bias.as_deref(),
                )?;
                let fx = fr(&g, xt);
                let fo = fo.min(fx + fw);
                g.push_rounded(
                    &name,
                    QOp::Gemm {
                        x: xt,
                        w: wi,
                        bias: bi,
                        bias_shift: fx,
                    },
                    rows,
                    cols,
                    fo,
                    fx + fw - fo,
                )
            }
            Op::Conv { x, w, bias, geom } => {
                let xt = g.committed(map[*x], &name);
                if g.tensors[xt].len() != geom.c_in * geom.h * geom.w
                    || (rows, cols) != (geom.c_out, geom.p_len())
                {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: format!(
                            "convolution of a {}-value input into [{rows}, {cols}] does not match its geometry",
                            g.tensors[xt].len()
                        ),
                    });
                }
                let (wi, bi) = push_weights(
                    &mut g,
                    &name,
                    weights_of(&mut taken, vi, w),
                    geom.c_out,
                    geom.j_len(),
                    bias.as_deref(),
                )?;
                let fx = fr(&g, xt);
                let fo = fo.min(fx + fw);
                g.push_rounded(
                    &name,
                    QOp::Conv {
                        x: xt,
                        w: wi,
                        bias: bi,
                        bias_shift: fx,
                        geom: geom.clone(),
                    },
                    rows,
                    cols,
                    fo,
                    fx + fw - fo,
                )
            }
            Op::Add { a, b } | Op::Sub { a, b } => {
                // Both operands at the coarser scale (a proven rounding of the finer one).
                let (ta, tb) = (map[*a], map[*b]);
                let (fa_, fb_) = (fr(&g, ta).min(fo), fr(&g, tb).min(fo));
                let (ta, tb) = match (labels.get(&ta), labels.get(&tb)) {
                    // A classifier's label beside its probabilities: the label, an integer
                    // below C, scaled up to the other part's scale, which stays.
                    (Some(&c), None) => (scale_label(&mut g, ta, c, fb_, &name), tb),
                    (None, Some(&c)) => (ta, scale_label(&mut g, tb, c, fa_, &name)),
                    _ => (ta, tb),
                };
                let fc = fr(&g, ta).min(fr(&g, tb)).min(fo);
                let (ta, tb) = (align(&mut g, ta, fc, &name), align(&mut g, tb, fc, &name));
                let same = |t: &QTensor| t.rows == rows && t.cols == cols;
                if !same(&g.tensors[ta]) || !same(&g.tensors[tb]) {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: "element-wise operands must have the output's shape (no broadcasting yet)"
                            .into(),
                    });
                }
                let op = if matches!(node.op, Op::Add { .. }) {
                    QOp::Add { a: ta, b: tb }
                } else {
                    QOp::Sub { a: ta, b: tb }
                };
                g.push_node(&name, op, rows, cols, fc)
            }
            Op::Softmax { x } => zkgrad_circuit::softmax::softmax(&mut g, map[*x], rows, cols)?,
            Op::Max { a, b } => {
                // max(a, b) = a + relu(b − a): a proven comparison through the ReLU table;
                // the result is committed so that claims on a chain of maxima stay few.
                let (ta, tb) = (map[*a], map[*b]);
                let fa = fr(&g, ta).min(fr(&g, tb)).min(fo);
                let (ta, tb) = (align(&mut g, ta, fa, &name), align(&mut g, tb, fa, &name));
                let same = |t: &QTensor| t.rows == rows && t.cols == cols;
                if !same(&g.tensors[ta]) || !same(&g.tensors[tb]) {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: "maximum operands must have the output's shape".into(),
                    });
                }
                let d = g.push_node(
                    &format!("{name}/diff"),
                    QOp::Sub { a: tb, b: ta },
                    rows,
                    cols,
                    fa,
                );
                let d = g.push_node(
                    &format!("{name}/diff/commit"),
                    QOp::Requant { x: d, shift: 0 },
                    rows,
                    cols,
                    fa,
                );
                let table = g.table_index(TableKind::Act {
                    kind: ActKind::Relu,
                    in_frac: fa,
                    out_frac: fa,
                });
                let r = g.push_node(
                    &format!("{name}/relu"),
                    QOp::Act {
                        x: d,
                        kind: ActKind::Relu,
                        table,
                    },
                    rows,
                    cols,
                    fa,
                );
                let m = g.push_node(&name, QOp::Add { a: ta, b: r }, rows, cols, fa);
                g.push_node(
                    &format!("{name}/commit"),
                    QOp::Requant { x: m, shift: 0 },
                    rows,
                    cols,
                    fa,
                )
            }
            Op::Mul { a, b } => {
                let (ta, tb) = (map[*a], map[*b]);
                let same = |t: &QTensor| t.rows == rows && t.cols == cols;
                if !same(&g.tensors[ta]) || !same(&g.tensors[tb]) {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: "element-wise operands must have the output's shape (no broadcasting yet)"
                            .into(),
                    });
                }
                // A product's operands are committed (range-checked to K bits) when their bounds would
                // let the product pass 2^61 (crate::bounds: nothing may wrap around p).
                g.extend_value_bounds(&mut bounds);
                let bound = |t: usize| bounds.get(t).copied().flatten().unwrap_or(u128::MAX);
                let (ta, tb) = if bound(ta).saturating_mul(bound(tb)) >= 1u128 << 61 {
                    let ca = g.committed(ta, &name);
                    let cb = if tb == ta { ca } else { g.committed(tb, &name) };
                    (ca, cb)
                } else {
                    (ta, tb)
                };
                let fp = fr(&g, ta) + fr(&g, tb);
                let fo = fo.min(fp);
                g.push_rounded(&name, QOp::Mul { a: ta, b: tb }, rows, cols, fo, fp - fo)
            }
            Op::Scale { x, c } if c.fract() == 0.0 && c.abs() < (1u64 << 20) as f64 => {
                // An integer factor keeps the scale: no rounding, no committed value (rounded
                // to a coarser result scale only where one is asked for).
                let fx = fr(&g, map[*x]);
                let t = g.push_node(
                    &name,
                    QOp::Scale {
                        x: map[*x],
                        c: *c as i64,
                    },
                    rows,
                    cols,
                    fx,
                );
                align(&mut g, t, fo, &name)
            }
            Op::AddConst { x, c } => {
                let fx = fr(&g, map[*x]);
                let cq = quantize_value(*c, fx)
                    .filter(|q| q.abs() < 1 << (config.table_bits - 1))
                    .ok_or(QuantError::WeightTooLarge {
                        node: name.clone(),
                        value: *c,
                        frac: fx,
                    })?;
                let t = g.push_node(&name, QOp::AddConst { x: map[*x], c: cq }, rows, cols, fx);
                align(&mut g, t, fo, &name)
            }
            Op::Scale { x, c } => {
                let cq = quantize_value(*c, fw).ok_or(QuantError::WeightTooLarge {
                    node: name.clone(),
                    value: *c,
                    frac: fw,
                })?;
                // The operand is committed (K-bit range) when its bound times the factor
                // could pass 2^61 (crate::bounds: nothing may wrap around p).
                let xt = map[*x];
                g.extend_value_bounds(&mut bounds);
                let bound = bounds.get(xt).copied().flatten().unwrap_or(u128::MAX);
                let wide = bound.saturating_mul(cq.unsigned_abs() as u128) >= 1u128 << 61;
                let xt = if wide { g.committed(xt, &name) } else { xt };
                let fp = fr(&g, xt) + fw;
                let fo = fo.min(fp);
                g.push_rounded(&name, QOp::Scale { x: xt, c: cq }, rows, cols, fo, fp - fo)
            }
            Op::Act { x, kind } => {
                let mut xt = map[*x];
                let fx = fr(&g, xt);
                if g.tensors[xt].kind == TensorKind::Virtual {
                    xt = g.push_node(
                        &format!("{name}/commit"),
                        QOp::Requant { x: xt, shift: 0 },
                        rows,
                        cols,
                        fx,
                    );
                }
                // ReLU's table keeps its input's scale.
                let fa = if matches!(kind, ActKind::Relu) {
                    fx
                } else {
                    fo
                };
                let tk = TableKind::Act {
                    kind: *kind,
                    in_frac: fx,
                    out_frac: fa,
                };
                let table = match g.tables.iter().position(|t| *t == tk) {
                    Some(i) => i,
                    None => {
                        g.tables.push(tk);
                        g.tables.len() - 1
                    }
                };
                g.push_node(
                    &name,
                    QOp::Act {
                        x: xt,
                        kind: *kind,
                        table,
                    },
                    rows,
                    cols,
                    fa,
                )
            }
            Op::Input { index } => g.push_node(
                &name,
                QOp::Input { index: *index },
                rows,
                cols,
                frac_of(vi + 1),
            ),
            Op::Embed {
                ids,
                table,
                vocab,
                dim,
            } => {
                let it = map[*ids];
                if g.tensors[it].frac != 0 || g.tensors[it].len() != rows || *dim != cols {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: "an embedding must read token ids that are a graph input, one per \
                              output row"
                            .into(),
                    });
                }
                let table = weights_of(&mut taken, vi, table);
                let (wi, _) = push_weights_as(&mut g, &name, table, *vocab, *dim, None, true)?;
                let e = g.push_node(&name, QOp::Embed { ids: it, w: wi }, rows, cols, fw);
                if fw >= fo {
                    g.push_node(
                        &format!("{name}/requant"),
                        QOp::Requant {
                            x: e,
                            shift: fw - fo,
                        },
                        rows,
                        cols,
                        fo,
                    )
                } else {
                    g.push_node(
                        &format!("{name}/scale"),
                        QOp::Scale {
                            x: e,
                            c: 1 << (fo - fw),
                        },
                        rows,
                        cols,
                        fo,
                    )
                }
            }
            Op::Const { data } => {
                // Mask sentinels become the mask fill; other values must be representable.
                let half = (1i64 << (k - 1)) - 1;
                let mut q = Vec::with_capacity(data.len());
                for &v in data {
                    let c = if v.abs() >= crate::calibrate::MASK_SENTINEL {
                        mask_fill(k).copysign(v) as i64
                    } else {
                        quantize_value(v, fo).filter(|c| c.abs() <= half).ok_or(
                            QuantError::WeightTooLarge {
                                node: name.clone(),
                                value: v,
                                frac: fo,
                            },
                        )?
                    };
                    q.push(c);
                }
                g.push_node(&name, QOp::Const { data: q }, rows, cols, fo)
            }
            Op::BatchMatMul { a, b, batch } => {
                batch_matmul(&mut g, &name, map[*a], map[*b], *batch, (rows, cols), fo)?
            }
            Op::ArgMax { x, at } => {
                let at = match (vi + 1 == graph.output, at) {
                    (true, _) => 0,
                    (false, Some(at)) => *at,
                    (false, None) => {
                        return Err(QuantError::Unsupported {
                            node: name,
                            why: "ArgMax is proven only as a model output (its values are \
                                  public and pin the comparisons)"
                                .into(),
                        })
                    }
                };
                let xt = g.committed(map[*x], &name);
                // One index per row of the operand (`rows` views a keepdims = 0 output as a row).
                let (r, c) = (g.tensors[xt].rows, g.tensors[xt].cols);
                let a = g.push_node(&name, QOp::ArgMax { x: xt, at }, r, 1, 0);
                zkgrad_circuit::argmax::check_rows(&mut g, &name, xt, a, 0);
                labels.insert(a, c as u64);
                a
            }
            Op::MatMul { a, b } => {
                let (ta, tb) = (map[*a], map[*b]);
                let (sa, sb) = (&g.tensors[ta], &g.tensors[tb]);
                if sa.cols != sb.rows || (sa.rows, sb.cols) != (rows, cols) {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: format!(
                            "matrix product of [{}, {}] and [{}, {}]: only 2-D products are supported",
                            sa.rows, sa.cols, sb.rows, sb.cols
                        ),
                    });
                }
                let (ta, tb) = (g.committed(ta, &name), g.committed(tb, &name));
                let fp = fr(&g, ta) + fr(&g, tb);
                let fo = fo.min(fp);
                g.push_rounded(
                    &name,
                    QOp::MatMul {
                        a: ta,
                        b: MatRhs::Tensor(tb),
                    },
                    rows,
                    cols,
                    fo,
                    fp - fo,
                )
            }
            Op::Transpose { x } => {
                let fx = fr(&g, map[*x]);
                g.push_node(&name, QOp::Transpose { x: map[*x] }, rows, cols, fx)
            }
            Op::Gather { x, map: im } => {
                let xt = map[*x];
                if im.in_len() != g.tensors[xt].len() || im.out_len() != rows * cols {
                    return Err(QuantError::Unsupported {
                        node: name,
                        why: "index map sizes do not match its tensors".into(),
                    });
                }
                let fx = fr(&g, xt);
                let t = g.push_node(
                    &name,
                    QOp::Gather {
                        x: xt,
                        map: im.clone(),
                    },
                    rows,
                    cols,
                    fx,
                );
                if let Some(&c) = labels.get(&xt) {
                    labels.insert(t, c);
                }
                t
            }
            Op::RowSum { x } => {
                // A sum may outgrow its terms' scale: rounded to its own where that is coarser.
                let fx = fr(&g, map[*x]);
                let t = g.push_node(&name, QOp::RowSum { x: map[*x] }, rows, cols, fx);
                align(&mut g, t, fo, &name)
            }
            Op::View { x } => {
                let xt = map[*x];
                let src = &g.tensors[xt];
                if (src.rows, src.cols) == (rows, cols) {
                    xt
                } else {
                    // The row-major values stay; their padded layout moves.
                    let im = IndexMap::reshape(rows * cols);
                    let fx = fr(&g, xt);
                    let t = g.push_node(&name, QOp::Gather { x: xt, map: im }, rows, cols, fx);
                    if let Some(&c) = labels.get(&xt) {
                        labels.insert(t, c);
                    }
                    t
                }
            }
        };
        map.push(t);
    }
    g.output = map[graph.output];
    if let Some(t) = g.tensors.get_mut(g.output) {
        t.kind = TensorKind::Public;
    }
    g.check_relations().map_err(QuantError::Config)?;
    Ok((g, map))
}

/// `batch` stacked products of `a` `[batch·M, K]` and `b` `[batch·K, N]` into `out`
/// (`[batch·M, N]`), rounded to the activations' scale. `QOp::BatchMatMul` needs `M` and `K`
/// powers of two (the head index is then the high row variables); other sizes (12 tokens, a
/// head of 48) are padded per head with zeros by index maps before the product, and the
/// product's real rows sliced back after it.
fn batch_matmul(
    g: &mut QGraph,
    name: &str,
    a: usize,
    b: usize,
    batch: usize,
    out: (usize, usize),
    fo: u32,
) -> Result<usize, QuantError> {
    let (ar, k) = (g.tensors[a].rows, g.tensors[a].cols);
    let (br, n) = (g.tensors[b].rows, g.tensors[b].cols);
    let fits = batch > 0 && ar.is_multiple_of(batch) && br == batch * k && out == (ar, n);
    if !fits {
        return Err(QuantError::Unsupported {
            node: name.to_string(),
            why: format!(
                "batched product of [{ar}, {k}] and [{br}, {n}] in {batch} batches: shapes do \
                 not agree"
            ),
        });
    }
    let m = ar / batch;
    let (mp, kp) = (m.next_power_of_two(), k.next_power_of_two());
    // Zero-padding per head: input coordinates past the real sizes read 0.
    let mut pad = |t: usize, from: [usize; 3], to: [usize; 3], what: &str| -> usize {
        if from == to {
            return t;
        }
        let map = IndexMap::aligned(&from, &to, &[1, 1, 1], &[0, 0, 0]);
        let (rows, f) = (to[0] * to[1], g.tensors[t].frac);
        g.push_node(
            &format!("{name}/pad_{what}"),
            QOp::Gather { x: t, map },
            rows,
            to[2],
            f,
        )
    };
    let a = pad(a, [batch, m, k], [batch, mp, kp], "a");
    let b = pad(b, [batch, k, n], [batch, kp, n], "b");
    let (ta, tb) = (g.committed(a, name), g.committed(b, name));
    let fp = g.tensors[ta].frac + g.tensors[tb].frac;
    let fo = fo.min(fp);
    let prod = g.push_rounded(
        name,
        QOp::BatchMatMul {
            a: ta,
            b: tb,
            batch,
        },
        batch * mp,
        n,
        fo,
        fp - fo,
    );
    if mp == m {
        return Ok(prod);
    }
    let map = IndexMap::aligned(&[batch, mp, n], &[batch, m, n], &[1, 1, 1], &[0, 0, 0]);
    Ok(g.push_node(
        &format!("{name}/rows"),
        QOp::Gather { x: prod, map },
        batch * m,
        n,
        fo,
    ))
}

/// Labels `t` (integers below `c`, at 2^0) at `2^-f`, or at the finest scale below that which
/// keeps `(c−1)·2^f` inside the public range `[−2^(K−1), 2^(K−1))` (the output is public; the
/// sum's other operand is then rounded down to it): `2^f·t`, exact.
fn scale_label(g: &mut QGraph, t: usize, c: u64, f: u32, name: &str) -> usize {
    let k = g.config.table_bits;
    let mut f = f;
    while f > 0 && u128::from(c.saturating_sub(1)) << f >= 1u128 << (k - 1) {
        f -= 1;
    }
    if f == 0 {
        return t;
    }
    let (rows, cols) = (g.tensors[t].rows, g.tensors[t].cols);
    g.push_node(
        &format!("{name}/label{t}"),
        QOp::Scale { x: t, c: 1 << f },
        rows,
        cols,
        f,
    )
}

/// Tensor `t` at `2^-f` for `f` at most its scale: itself, or its proven rounding by the
/// difference (committed).
fn align(g: &mut QGraph, t: usize, f: u32, name: &str) -> usize {
    let ft = g.tensors[t].frac;
    if ft <= f {
        return t;
    }
    let (rows, cols) = (g.tensors[t].rows, g.tensors[t].cols);
    g.push_node(
        &format!("{name}/rescale{t}"),
        QOp::Requant {
            x: t,
            shift: ft - f,
        },
        rows,
        cols,
        f,
    )
}

/// The integer an additive mask's "−∞" becomes: `−2^(K−2)` (half the public range), which
/// takes a masked logit far below the row's others, so that its softmax term is exactly 0
/// (`T(z) = 0` once `z < −(fs + 1)·ln 2`), while the row stays inside the exp table's domain.
pub fn mask_fill(table_bits: u32) -> f64 {
    (1u64 << (table_bits - 2)) as f64
}

/// Quantizes a layer's weight matrix (`rows × cols`, row-major) and bias, checks the row sums
/// for exact field arithmetic, and appends them; returns their indices.
fn push_weights(
    g: &mut QGraph,
    name: &str,
    w: FloatWeights<'_>,
    rows: usize,
    cols: usize,
    bias: Option<&[f64]>,
) -> Result<(usize, Option<usize>), QuantError> {
    push_weights_as(g, name, w, rows, cols, bias, false)
}

/// The name ending of an embedding table's weight.
const TABLE_SUFFIX: &str = ".table";

/// [`push_weights`], naming the weight an embedding table if `table`.
fn push_weights_as(
    g: &mut QGraph,
    name: &str,
    w: FloatWeights<'_>,
    rows: usize,
    cols: usize,
    bias: Option<&[f64]>,
    table: bool,
) -> Result<(usize, Option<usize>), QuantError> {
    let (fw, k) = (g.config.weight_frac, g.config.table_bits);
    let fits = |x: f64| quantize_value(x, fw).filter(|q| q.abs() < 1 << 31);
    let too_large = |value: f64, what: &str| QuantError::WeightTooLarge {
        node: format!("{name} ({what})"),
        value,
        frac: fw,
    };
    // In parallel, into a vector of the exact size (a `Result` collect grows its vector by
    // doubling: GPT-2 124M's weights were 40% of its loading, half of it reallocation).
    let q = |v: &[f64], what: &str| -> Result<Vec<i64>, QuantError> {
        use rayon::prelude::*;
        const TOO_LARGE: i64 = i64::MIN;
        let out: Vec<i64> = v
            .par_iter()
            .map(|&x| fits(x).unwrap_or(TOO_LARGE))
            .collect();
        match out.iter().position(|&q| q == TOO_LARGE) {
            Some(i) => Err(too_large(v[i], what)),
            None => Ok(out),
        }
    };
    let wq = match w {
        FloatWeights::Borrowed(w) => q(w, "weight")?,
        FloatWeights::Owned(mut w) => {
            // In the float weights' own memory: each value replaced by its quantized bits in
            // parallel, chunk by chunk (the first value that does not fit is kept, for the
            // error), then the vector reinterpreted (a same-size, in-place collect).
            use rayon::prelude::*;
            const CHUNK: usize = 1 << 14;
            let first_too_large = w
                .par_chunks_mut(CHUNK)
                .enumerate()
                .filter_map(|(ci, chunk)| {
                    let mut first = None;
                    for (j, x) in chunk.iter_mut().enumerate() {
                        match fits(*x) {
                            Some(q) => *x = f64::from_bits(q as u64),
                            None => {
                                first.get_or_insert((ci * CHUNK + j, *x));
                            }
                        }
                    }
                    first
                })
                .min_by_key(|&(i, _)| i);
            if let Some((_, value)) = first_too_large {
                return Err(too_large(value, "weight"));
            }
            w.into_iter().map(|x| x.to_bits() as i64).collect()
        }
    };
    // Inputs are below 2^(K-1), so Σ_j |W[o, j]| must stay below 2^(61-(K-1)) for every
    // accumulator to stay far below p/2 (the field identity is the integer one).
    let row_bound = {
        use rayon::prelude::*;
        wq.par_chunks(cols.max(1))
            .map(|r| r.iter().map(|v| v.unsigned_abs() as u128).sum::<u128>())
            .max()
            .unwrap_or(0)
    };
    if row_bound << (k - 1) >= 1u128 << 61 {
        return Err(QuantError::Unsupported {
            node: name.to_string(),
            why: format!(
                "the weights' row sums (up to {row_bound} at 2^-{fw}) are too large for \
                 exact field arithmetic; lower --weight-frac or --table-bits"
            ),
        });
    }
    // An embedding table that a layer reads too (tied input and output embeddings) is
    // committed once: the lookup and the LM head then read the same committed tensor.
    let wi = match g.weights.iter().position(|x| {
        x.name.ends_with(TABLE_SUFFIX) && x.rows == rows && x.cols == cols && x.data == wq
    }) {
        Some(i) => i,
        None => {
            g.weights.push(QWeight {
                name: format!("{name}{}", if table { TABLE_SUFFIX } else { ".weight" }),
                rows,
                cols,
                data: wq,
            });
            g.weights.len() - 1
        }
    };
    let bi = match bias {
        Some(b) => {
            let bq = q(b, "bias")?;
            g.weights.push(QWeight {
                name: format!("{name}.bias"),
                rows: 1,
                cols: rows,
                data: bq,
            });
            Some(g.weights.len() - 1)
        }
        None => None,
    };
    Ok((wi, bi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::mlp;
    use zkgrad_circuit::table::ActKind;

    /// Quantizing in the float weights' own memory gives the circuit quantizing a copy gives,
    /// and a weight too large for the fixed-point range is refused naming the same value.
    #[test]
    fn consuming_quantization_is_the_copying_one() {
        let config = QConfig {
            act_frac: 8,
            weight_frac: 10,
            table_bits: 16,
        };
        let g = mlp(&[24, 40, 10], ActKind::Relu, 7);
        let fracs = vec![8; g.nodes.len() + 1];
        let (want, _) = quantize_with_scales(&g, config, &fracs).unwrap();
        let mut taken = g.clone();
        let (got, _) = quantize_with_scales_consuming(&mut taken, config, &fracs).unwrap();
        assert_eq!(got, want);
        assert!(taken.nodes.iter().all(|n| match &n.op {
            Op::Linear { w, .. } => w.is_empty(),
            _ => true,
        }));
        let mut taken = g.clone();
        assert_eq!(
            quantize_with_map_consuming(&mut taken, config).unwrap(),
            quantize_with_map(&g, config).unwrap()
        );

        // Two weights too large; the first (in row-major order) is named by both.
        let mut big = g.clone();
        let second = big
            .nodes
            .iter_mut()
            .filter_map(|n| match &mut n.op {
                Op::Linear { w, .. } => Some(w),
                _ => None,
            })
            .nth(1);
        if let Some(w) = second {
            w[300] = 3.0e7;
            w[33] = -2.5e7;
        }
        let copied = quantize_with_scales(&big, config, &fracs).unwrap_err();
        let consumed =
            quantize_with_scales_consuming(&mut big.clone(), config, &fracs).unwrap_err();
        assert_eq!(copied, consumed);
        assert!(
            matches!(consumed, QuantError::WeightTooLarge { value, .. } if value == -2.5e7),
            "{consumed}"
        );
    }
}
