//! One LoRA fine-tuning step as a circuit (Hu et al., "LoRA: Low-Rank Adaptation of Large
//! Language Models", ICLR 2022, §4.1).
//!
//! A target Linear layer `y = W·x + b` gets adapters `A` (`r × d_in`) and `B` (`d_out × r`) and
//! computes `y = W·x + b + s·B·(A·x)` with `s = α/r`; `B·A` is never formed. `W` and `b` are
//! frozen: they are never updated, so their commitments (and the weight root's part for them)
//! stay those of the base model. With `G = ∂L/∂y` (`B_s × d_out` for a batch of `B_s` samples) and
//! `a = A·x`:
//!
//! ```text
//! ∇B = s·Gᵀ·a        g_a = G·B        ∇A = s·g_aᵀ·X        G_x = G·W + s·g_a·A
//! A' = A − lr·∇A     B' = B − lr·∇B
//! ```
//! (`1/B_s` of the batch mean folded into the learning rate, as in `train`). Only `A'` and `B'`
//! are committed after the step; the proof binds the base weights, the adapters before and
//! after, the batch, the learning rate, and `r`, `α` (through the circuit description: the
//! scale `s` and the adapter shapes are part of it).

use crate::graph::{Graph, Node, Op};
use crate::train::{
    act_backward, batched, loss_and_grad_f64, loss_gradient, push_update, update_scale, SgdSpec,
    TrainConfig,
};
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::{MatRhs, QConfig, QGraph, QOp, QuantError};

/// Which layers get adapters, and their rank and scale numerator.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraSpec {
    pub rank: usize,
    pub alpha: f64,
    /// Names of the Linear nodes to adapt; empty: every Linear node.
    pub targets: Vec<String>,
}

impl LoraSpec {
    /// `s = α/r`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank.max(1) as f64
    }
}

/// Where an adapted layer's parts sit in the float graph (values, as in [`Graph`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// The base Linear node's name.
    pub name: String,
    /// Values: the base layer's output, `A·x`, `B·A·x`, `s·B·A·x`, and the layer's output
    /// `W·x + b + s·B·A·x`.
    pub base: usize,
    pub a: usize,
    pub b: usize,
    pub scaled: usize,
    pub out: usize,
}

/// Inserts adapters into every target Linear layer: `A` drawn from U(−1/√d_in, 1/√d_in) with
/// `seed`, `B` from U(−b_init, b_init) (0 is LoRA's own initialization: the adapted model starts
/// as the base model).
pub fn with_adapters(
    graph: &Graph,
    lora: &LoraSpec,
    seed: u64,
    b_init: f64,
) -> Result<(Graph, Vec<Adapter>), String> {
    if lora.rank == 0 || !(lora.alpha.is_finite() && lora.alpha > 0.0) {
        return Err(format!(
            "LoRA needs a positive rank and alpha, got rank {} and alpha {}",
            lora.rank, lora.alpha
        ));
    }
    for t in &lora.targets {
        if !graph
            .nodes
            .iter()
            .any(|n| &n.name == t && matches!(n.op, Op::Linear { .. }))
        {
            return Err(format!("--lora-targets: no Linear node named {t}"));
        }
    }
    let s = lora.scale();
    let mut g = Graph {
        input_name: graph.input_name.clone(),
        input_shape: graph.input_shape.clone(),
        nodes: Vec::new(),
        output: 0,
        output_parts: graph.output_parts.clone(),
    };
    let mut remap: Vec<usize> = vec![0];
    let mut adapters = Vec::new();
    let mut k = 0u64;
    for node in &graph.nodes {
        let mut op = node.op.clone();
        remap_inputs(&mut op, &remap);
        let target = match &op {
            Op::Linear { .. } => lora.targets.is_empty() || lora.targets.contains(&node.name),
            _ => false,
        };
        g.nodes.push(Node {
            name: node.name.clone(),
            op: op.clone(),
            shape: node.shape.clone(),
        });
        let base = g.nodes.len();
        if let (
            true,
            Op::Linear {
                x,
                in_features,
                out_features,
                ..
            },
        ) = (target, &op)
        {
            let (din, dout, r) = (*in_features, *out_features, lora.rank);
            k += 1;
            let bound = 1.0 / (din as f64).sqrt();
            let mut rows_shape = node.shape.clone();
            let push = |g: &mut Graph, name: String, op: Op, shape: Vec<usize>| {
                g.nodes.push(Node { name, op, shape });
                g.nodes.len()
            };
            if let Some(l) = rows_shape.last_mut() {
                *l = r;
            }
            let a = push(
                &mut g,
                format!("{}.lora_A", node.name),
                Op::Linear {
                    x: *x,
                    w: crate::zoo::uniform(seed.wrapping_add(2 * k), r * din)
                        .into_iter()
                        .map(|v| v * bound)
                        .collect(),
                    bias: None,
                    in_features: din,
                    out_features: r,
                },
                rows_shape,
            );
            let b = push(
                &mut g,
                format!("{}.lora_B", node.name),
                Op::Linear {
                    x: a,
                    w: crate::zoo::uniform(seed.wrapping_add(2 * k + 1), dout * r)
                        .into_iter()
                        .map(|v| v * b_init)
                        .collect(),
                    bias: None,
                    in_features: r,
                    out_features: dout,
                },
                node.shape.clone(),
            );
            let sb = push(
                &mut g,
                format!("{}.lora_scale", node.name),
                Op::Scale { x: b, c: s },
                node.shape.clone(),
            );
            let out = push(
                &mut g,
                format!("{}.lora", node.name),
                Op::Add { a: base, b: sb },
                node.shape.clone(),
            );
            adapters.push(Adapter {
                name: node.name.clone(),
                base,
                a,
                b,
                scaled: sb,
                out,
            });
            remap.push(out);
        } else {
            remap.push(base);
        }
    }
    g.output = remap.get(graph.output).copied().unwrap_or(0);
    if adapters.is_empty() {
        return Err("the model has no Linear layer to adapt".into());
    }
    Ok((g, adapters))
}

fn remap_inputs(op: &mut Op, remap: &[usize]) {
    for v in op.inputs_mut() {
        *v = remap.get(*v).copied().unwrap_or(*v);
    }
}

/// The base model with the adapters merged: `W + s·B·A` for every adapted layer.
pub fn merged(adapted: &Graph, adapters: &[Adapter], s: f64) -> Graph {
    let weight = |v: usize| match adapted.nodes.get(v.wrapping_sub(1)).map(|n| &n.op) {
        Some(Op::Linear { w, .. }) => w.clone(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut remap: Vec<usize> = vec![0];
    let skip: std::collections::HashSet<usize> = adapters
        .iter()
        .flat_map(|a| [a.a, a.b, a.scaled, a.out])
        .collect();
    for (i, node) in adapted.nodes.iter().enumerate() {
        let v = i + 1;
        if skip.contains(&v) {
            // The adapter's nodes disappear; its output is the merged layer's.
            let base = adapters.iter().find(|a| a.out == v).map(|a| a.base);
            remap.push(base.map_or(0, |b| remap.get(b).copied().unwrap_or(0)));
            continue;
        }
        let mut op = node.op.clone();
        remap_inputs(&mut op, &remap);
        if let (
            Some(ad),
            Op::Linear {
                w,
                in_features,
                out_features,
                ..
            },
        ) = (adapters.iter().find(|a| a.base == v), &mut op)
        {
            let (din, dout) = (*in_features, *out_features);
            let (a, b) = (weight(ad.a), weight(ad.b));
            let r = a.len() / din.max(1);
            for o in 0..dout {
                for i in 0..din {
                    let ba: f64 = (0..r).map(|k| b[o * r + k] * a[k * din + i]).sum();
                    w[o * din + i] += s * ba;
                }
            }
        }
        out.push(Node {
            name: node.name.clone(),
            op,
            shape: node.shape.clone(),
        });
        remap.push(out.len());
    }
    Graph {
        input_name: adapted.input_name.clone(),
        input_shape: adapted.input_shape.clone(),
        nodes: out,
        output: remap.get(adapted.output).copied().unwrap_or(0),
        output_parts: adapted.output_parts.clone(),
    }
}

/// One LoRA step in f64 (the reference): backpropagation through the adapted graph, updating
/// only the adapters; returns the updated graph and the loss.
pub fn lora_step_f64(
    adapted: &Graph,
    adapters: &[Adapter],
    x: &[f64],
    y: &[f64],
    spec: &SgdSpec,
) -> (Graph, f64) {
    let gb = batched(adapted, spec.batch);
    let vals = gb.forward_f64(x);
    let out = &vals[gb.output];
    let (loss, g_out) = loss_and_grad_f64(out, y, spec);
    let trainable: Vec<usize> = adapters.iter().flat_map(|a| [a.a, a.b]).collect();
    let mut grads: Vec<Option<Vec<f64>>> = vec![None; vals.len()];
    grads[gb.output] = Some(g_out);
    let add = |grads: &mut Vec<Option<Vec<f64>>>, v: usize, d: Vec<f64>| match &mut grads[v] {
        Some(g) => g.iter_mut().zip(&d).for_each(|(a, b)| *a += b),
        slot @ None => *slot = Some(d),
    };
    let mut new = adapted.clone();
    for i in (0..gb.nodes.len()).rev() {
        let v = i + 1;
        let Some(g) = grads[v].take() else { continue };
        match &gb.nodes[i].op {
            Op::Linear {
                x,
                w,
                in_features,
                out_features,
                ..
            } => {
                let (din, dout) = (*in_features, *out_features);
                let a = &vals[*x];
                let rows = a.len() / din.max(1);
                if trainable.contains(&v) {
                    if let Some(Node {
                        op: Op::Linear { w: nw, .. },
                        ..
                    }) = new.nodes.get_mut(i)
                    {
                        for o in 0..dout {
                            for k in 0..din {
                                let d: f64 =
                                    (0..rows).map(|r| g[r * dout + o] * a[r * din + k]).sum();
                                nw[o * din + k] -= spec.lr * d;
                            }
                        }
                    }
                }
                if *x == 0 {
                    continue; // the graph input needs no gradient
                }
                let gx: Vec<f64> = (0..rows * din)
                    .map(|q| {
                        let (r, k) = (q / din, q % din);
                        (0..dout).map(|o| g[r * dout + o] * w[o * din + k]).sum()
                    })
                    .collect();
                add(&mut grads, *x, gx);
            }
            Op::Act { x, kind } => {
                let d = kind.grad().map_or(ActKind::ReluGrad, |k| k);
                let gx = g
                    .iter()
                    .zip(&vals[*x])
                    .map(|(g, h)| g * d.eval_f64(*h))
                    .collect();
                add(&mut grads, *x, gx);
            }
            Op::Add { a, b } => {
                add(&mut grads, *a, g.clone());
                add(&mut grads, *b, g);
            }
            Op::Scale { x, c } => add(&mut grads, *x, g.iter().map(|v| v * c).collect()),
            Op::View { x } => add(&mut grads, *x, g),
            _ => {}
        }
    }
    (new, loss)
}

/// One layer of the chain, in the quantized circuit.
struct Layer {
    /// The committed input of the base Gemm, its weight and the Act that follows (if any), with
    /// the committed pre-activation it reads.
    x: usize,
    w: usize,
    pre: Option<(usize, ActKind)>,
    /// Adapters: the weights `A`, `B` and the committed `a = A·x`.
    lora: Option<(usize, usize, usize)>,
}

/// The quantized Gemm node behind a float Linear value: (input tensor, weight index).
fn gemm_of(q: &QGraph, tensor: usize) -> Option<(usize, usize)> {
    // A Linear lowers to Gemm then Requant: the Requant's input is the Gemm's output.
    let requant = q.nodes.get(tensor.checked_sub(1)?)?;
    let QOp::Requant { x: acc, .. } = requant.op else {
        return None;
    };
    match q.nodes.get(acc.checked_sub(1)?)?.op {
        QOp::Gemm { x, w, .. } => Some((x, w)),
        _ => None,
    }
}

/// Builds the circuit of one LoRA step of `adapted` (from [`with_adapters`]; an MLP of Linear
/// layers with ReLU, Sigmoid or Tanh between them) on a batch of `spec.batch` samples.
pub fn lora_step(
    adapted: &Graph,
    adapters: &[Adapter],
    lora: &LoraSpec,
    spec: &SgdSpec,
    cfg: TrainConfig,
) -> Result<QGraph, QuantError> {
    let bad = |why: String| QuantError::Config(why);
    if !(spec.lr.is_finite() && spec.lr > 0.0) {
        return Err(bad(format!(
            "the learning rate must be a positive number, got {}",
            spec.lr
        )));
    }
    if spec.batch == 0 {
        return Err(bad("the batch must hold at least one sample".into()));
    }
    let (k, fa, fw) = (cfg.table_bits, cfg.act_frac, cfg.weight_frac);
    let gb = batched(adapted, spec.batch);
    let (mut g, map) = crate::quantize_with_map(
        &gb,
        QConfig {
            act_frac: fa,
            weight_frac: fw,
            table_bits: k,
        },
    )?;
    let max_dim = g
        .weights
        .iter()
        .map(|w| w.rows.max(w.cols))
        .max()
        .unwrap_or(1)
        .max(spec.batch);
    let wbits = (60 - (k + 1) - zkgrad_poly::log2_ceil(max_dim) as u32).min(40);
    // The chain of layers: every Linear of the base model, in order.
    let adapter_values: Vec<usize> = adapters.iter().flat_map(|a| [a.a, a.b]).collect();
    let mut layers = Vec::new();
    for (i, node) in gb.nodes.iter().enumerate() {
        let v = i + 1;
        if !matches!(node.op, Op::Linear { .. }) || adapter_values.contains(&v) {
            continue;
        }
        let (x, w) = gemm_of(&g, map[v]).ok_or_else(|| bad(format!("{}: no Gemm", node.name)))?;
        let ad = adapters.iter().find(|a| a.base == v);
        let out_v = ad.map_or(v, |a| a.out);
        // The activation reading this layer's output, if any.
        let pre = gb.nodes.iter().enumerate().find_map(|(j, n)| match n.op {
            Op::Act { x, kind } if x == out_v => {
                let act_t = map[j + 1];
                match g.nodes.get(act_t - 1).map(|n| &n.op) {
                    Some(QOp::Act { x, .. }) => Some((*x, kind)),
                    _ => None,
                }
            }
            _ => None,
        });
        let lora_w = match ad {
            Some(a) => {
                let (_, wa) = gemm_of(&g, map[a.a]).ok_or_else(|| bad("adapter A".into()))?;
                let (_, wb) = gemm_of(&g, map[a.b]).ok_or_else(|| bad("adapter B".into()))?;
                Some((wa, wb, map[a.a]))
            }
            None => None,
        };
        layers.push(Layer {
            x,
            w,
            pre,
            lora: lora_w,
        });
    }
    if layers.iter().all(|l| l.lora.is_none()) {
        return Err(bad("no adapted layer".into()));
    }
    for (wa, wb) in layers.iter().filter_map(|l| l.lora.map(|(a, b, _)| (a, b))) {
        let half = 1i64 << (wbits - 1);
        for wi in [wa, wb] {
            if let Some(v) = g.weights[wi]
                .data
                .iter()
                .find(|v| !(-half..half).contains(*v))
            {
                return Err(QuantError::Unsupported {
                    node: g.weights[wi].name.clone(),
                    why: format!("adapter weight {v} exceeds the {wbits}-bit range training keeps"),
                });
            }
        }
    }
    let s = lora.scale();
    let (lr_q, fl) = update_scale(
        spec.lr * s / spec.batch as f64,
        spec.lr,
        spec.batch,
        (k, fa, fw, wbits),
    )?;
    const FS: u32 = 20;
    let s_q = (s * (1u64 << FS) as f64).round() as i64;
    let rows = g.tensors[g.output].rows;
    let mut grad = loss_gradient(&mut g, spec.loss)?;
    let gbits = g.tensors[grad].bits;
    let update = |g: &mut QGraph, name: &str, p: usize, q: usize, wi: usize| {
        push_update(g, name, p, q, wi, lr_q, fl, wbits);
    };
    for li in (0..layers.len()).rev() {
        let name = format!("layer{}", li + 1);
        let (x, w, lora_w) = (layers[li].x, layers[li].w, layers[li].lora);
        let din = g.weights[w].cols;
        let mut ga = None;
        if let Some((wa, wb, ta)) = lora_w {
            update(&mut g, &format!("{name}.lora_B"), grad, ta, wb);
            let r = g.weights[wa].rows;
            let p = g.push_rounded(
                &format!("{name}/g_a"),
                QOp::MatMul {
                    a: grad,
                    b: MatRhs::Weight(wb),
                },
                rows,
                r,
                fa,
                fw,
            );
            g.tensors[p].bits = gbits;
            update(&mut g, &format!("{name}.lora_A"), p, x, wa);
            ga = Some((p, wa));
        }
        if li == 0 {
            break;
        }
        let mut gin = g.push_rounded(
            &format!("{name}/dX"),
            QOp::MatMul {
                a: grad,
                b: MatRhs::Weight(w),
            },
            rows,
            din,
            fa,
            fw,
        );
        if let Some((p, wa)) = ga {
            let t = g.push_rounded(
                &format!("{name}/dX_lora"),
                QOp::MatMul {
                    a: p,
                    b: MatRhs::Weight(wa),
                },
                rows,
                din,
                fa,
                fw,
            );
            let t = g.push_rounded(
                &format!("{name}/dX_lora/s"),
                QOp::Scale { x: t, c: s_q },
                rows,
                din,
                fa,
                FS,
            );
            let sum = g.push_node(
                &format!("{name}/dX_total"),
                QOp::Add { a: gin, b: t },
                rows,
                din,
                fa,
            );
            gin = g.push_node(
                &format!("{name}/dX_total/commit"),
                QOp::Requant { x: sum, shift: 0 },
                rows,
                din,
                fa,
            );
        }
        g.tensors[gin].bits = gbits;
        grad = match layers[li - 1].pre {
            None => gin,
            Some((pre, kind)) => act_backward(&mut g, &format!("layer{li}"), gin, pre, kind)?,
        };
    }
    g.check_relations().map_err(QuantError::Config)?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_add_s_b_a_and_merge_back() {
        let base = crate::zoo::mlp(&[6, 5, 3], ActKind::Tanh, 3);
        let lora = LoraSpec {
            rank: 2,
            alpha: 4.0,
            targets: vec![],
        };
        let (adapted, ads) = with_adapters(&base, &lora, 9, 0.3).unwrap();
        assert_eq!(ads.len(), 2);
        let x = crate::zoo::uniform(5, 6);
        let ya = adapted.forward_f64(&x)[adapted.output].clone();
        let m = merged(&adapted, &ads, lora.scale());
        assert_eq!(m.nodes.len(), base.nodes.len());
        let ym = m.forward_f64(&x)[m.output].clone();
        for (a, b) in ya.iter().zip(&ym) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // B = 0: the adapted model is the base model.
        let (zero, _) = with_adapters(&base, &lora, 9, 0.0).unwrap();
        let yb = base.forward_f64(&x)[base.output].clone();
        assert_eq!(zero.forward_f64(&x)[zero.output], yb);
        assert!(with_adapters(
            &base,
            &LoraSpec {
                rank: 0,
                ..lora.clone()
            },
            1,
            0.0
        )
        .is_err());
        let missing = LoraSpec {
            targets: vec!["nope".into()],
            ..lora
        };
        assert!(with_adapters(&base, &missing, 1, 0.0).is_err());
    }
}
