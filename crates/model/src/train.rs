//! One SGD training step as a circuit: forward, MSE loss gradient, backward, update.
//!
//! For an MLP of Linear layers (each optionally followed by ReLU, Sigmoid or Tanh), a batch
//! `X` (`B × in`, public input 0) and targets `Y` (`B × out`, public input 1), the loss is the
//! mean over the batch of `½‖out − y‖²` (PyTorch's convention), so with `G = out − Y`:
//!
//! ```text
//! ∇W_l = (1/B)·G_lᵀ·A_l        ∇b_l = (1/B)·Σ_rows G_l       G_{l−1} = (G_l·W_l) ⊙ f'(H_{l−1})
//! W_l' = W_l − lr·∇W_l         b_l' = b_l − lr·∇b_l
//! ```
//! where `A_l` is layer l's input and `H_{l−1}` the pre-activation of the layer before. `1/B` is
//! folded into the learning rate. The circuit's public output is the forward output (the
//! predictions); the updated weights are committed (`QOp::Update`), range-checked, and form
//! the weight root after the step.
//!
//! Precision: activations and backpropagated gradients at `2^-act_frac` (calibrated), weights
//! at `2^-weight_frac` (28 by default: updates down to 3.7e-9 survive). Each update is rounded
//! once, `u = round(lr/B · Gᵀ·A)`, with `lr/B` at the finest scale that keeps the product below
//! 2^61 (15–18 significant bits). Every product's operands are range-checked so that no
//! accumulator reaches 2^62 (see docs/SECURITY.md, "No wrap-around").

use crate::graph::{Graph, Node, Op};
use zkgrad_circuit::table::{ActKind, TableKind};
use zkgrad_circuit::{MatRhs, QConfig, QGraph, QOp, QuantError, TensorKind};

/// The loss of a step (PyTorch's conventions, averaged over the batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Loss {
    /// `½‖out − y‖²`.
    #[default]
    Mse,
    /// `−Σ_c y_c·log softmax(out)_c`, for targets that sum to 1 (one-hot or probabilities);
    /// its gradient is `softmax(out) − y`.
    SoftmaxCrossEntropy,
}

/// The loss and optimizer of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdSpec {
    pub batch: usize,
    pub lr: f64,
    pub loss: Loss,
}

/// Precision of a training circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainConfig {
    pub table_bits: u32,
    pub act_frac: u32,
    pub weight_frac: u32,
}

impl TrainConfig {
    /// Weights at 2^-28: updates down to 3.7e-9 survive.
    pub const WEIGHT_FRAC: u32 = 28;
    /// Headroom of activations, over what the initial weights produce, for runs of several
    /// steps: training moves the weights, and the logits of a classifier grow as it learns.
    pub const RUN_HEADROOM_BITS: u32 = 3;

    /// Activations calibrated on the samples like inference, less `headroom_bits` (0 for a
    /// single step, [`Self::RUN_HEADROOM_BITS`] for a run); weights at the default scale.
    pub fn calibrate(graph: &Graph, samples: &[Vec<f64>], headroom_bits: u32) -> Self {
        let q = crate::calibrate(graph, samples, QConfig::DEFAULT_TABLE_BITS);
        Self {
            table_bits: q.table_bits,
            act_frac: q.act_frac.saturating_sub(headroom_bits),
            weight_frac: Self::WEIGHT_FRAC,
        }
    }
}

/// Where each Linear layer sits in the quantized forward circuit.
struct Layer {
    x: usize,
    w: usize,
    bias: Option<usize>,
    /// The requantized pre-activation, and the activation applied to it (if any).
    pre: usize,
    act: Option<ActKind>,
}

fn log2_ceil(n: usize) -> u32 {
    zkgrad_poly::log2_ceil(n) as u32
}

/// The forward graph at batch size `b` (the input's leading dimension becomes `b`).
pub fn batched(graph: &Graph, b: usize) -> Graph {
    let mut g = graph.clone();
    let set = |shape: &mut Vec<usize>| match shape.len() {
        0 | 1 => shape.insert(0, b),
        _ => shape[0] = b,
    };
    set(&mut g.input_shape);
    for n in g.nodes.iter_mut() {
        set(&mut n.shape);
    }
    g
}

/// Builds the circuit of one SGD step of `graph` (an MLP) on a batch of `spec.batch` samples.
pub fn sgd_step(graph: &Graph, spec: &SgdSpec, cfg: TrainConfig) -> Result<QGraph, QuantError> {
    let unsupported = |node: &str, why: &str| QuantError::Unsupported {
        node: node.into(),
        why: why.into(),
    };
    for n in &graph.nodes {
        if !matches!(
            n.op,
            Op::Linear { .. }
                | Op::Act {
                    kind: ActKind::Relu | ActKind::Sigmoid | ActKind::Tanh,
                    ..
                }
                | Op::View { .. }
        ) {
            return Err(unsupported(
                &n.name,
                "training supports Linear layers with ReLU, Sigmoid or Tanh",
            ));
        }
    }
    if !(spec.lr.is_finite() && spec.lr > 0.0) {
        return Err(QuantError::Config(format!(
            "the learning rate must be a positive number, got {}",
            spec.lr
        )));
    }
    if spec.batch == 0 {
        return Err(QuantError::Config(
            "the batch must hold at least one sample".into(),
        ));
    }
    let (k, fa, fw) = (cfg.table_bits, cfg.act_frac, cfg.weight_frac);
    let gb = batched(graph, spec.batch);
    let max_dim = graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Linear {
                in_features,
                out_features,
                ..
            } => Some((*in_features).max(*out_features)),
            _ => None,
        })
        .max()
        .unwrap_or(1)
        .max(spec.batch);
    // Weights (before and after) are range-checked to `wbits` signed bits, small enough that a
    // product with a gradient (range-checked to K+1 bits), summed over any dimension, stays
    // below 2^59.
    let wbits = (60 - (k + 1) - log2_ceil(max_dim)).min(40);
    let mut g = crate::quantize(
        &gb,
        QConfig {
            act_frac: fa,
            weight_frac: fw,
            table_bits: k,
        },
    )?;
    let half_w = 1i64 << (wbits - 1);
    for w in &g.weights {
        if let Some(v) = w.data.iter().find(|v| !(-half_w..half_w).contains(*v)) {
            return Err(QuantError::Unsupported {
                node: w.name.clone(),
                why: format!("weight {v} at 2^-{fw} exceeds the {wbits}-bit range training keeps"),
            });
        }
    }
    let (lr_q, fl) = update_scale(
        spec.lr / spec.batch as f64,
        spec.lr,
        spec.batch,
        (k, fa, fw, wbits),
    )?;
    // The layers of the forward circuit.
    let mut layers = Vec::new();
    for (ni, n) in g.nodes.iter().enumerate() {
        if let QOp::Gemm { x, w, bias, .. } = n.op {
            let pre = ni + 2; // Gemm → Requant
            let act = g.nodes.get(pre).and_then(|m| match m.op {
                QOp::Act { x, kind, .. } if x == pre => Some(kind),
                _ => None,
            });
            layers.push(Layer {
                x,
                w,
                bias,
                pre,
                act,
            });
        }
    }
    let rows = g.tensors[g.output].rows;
    let mut grad = loss_gradient(&mut g, spec.loss)?;
    let gbits = g.tensors[grad].bits;
    for (li, layer) in layers.iter().enumerate().rev() {
        let name = format!("layer{}", li + 1);
        let (wr, wc) = (g.weights[layer.w].rows, g.weights[layer.w].cols);
        push_update(
            &mut g,
            &format!("{name}.weight"),
            grad,
            layer.x,
            layer.w,
            lr_q,
            fl,
            wbits,
        );
        if let Some(b) = layer.bias {
            let db = g.push_node(&format!("{name}/db"), QOp::RowSum { x: grad }, 1, wr, fa);
            let scaled = g.push_node(
                &format!("{name}/db/lr"),
                QOp::Scale { x: db, c: lr_q },
                1,
                wr,
                fa + fl,
            );
            let shift = (fa + fl).checked_sub(fw).ok_or_else(|| {
                QuantError::Config("learning-rate precision below the weights'".into())
            })?;
            let u = g.push_node(
                &format!("{name}/db/update"),
                QOp::Requant { x: scaled, shift },
                1,
                wr,
                fw,
            );
            push_update_node(&mut g, &format!("{name}.bias'"), b, u, wbits);
        }
        if li == 0 {
            break;
        }
        // G_in = G·W, back to 2^-fa, then through the previous layer's activation derivative.
        let gin = g.push_rounded(
            &format!("{name}/dX"),
            QOp::MatMul {
                a: grad,
                b: MatRhs::Weight(layer.w),
            },
            rows,
            wc,
            fa,
            fw,
        );
        g.tensors[gin].bits = gbits;
        grad = match layers[li - 1].act {
            None => gin,
            Some(kind) => {
                act_backward(&mut g, &format!("layer{li}"), gin, layers[li - 1].pre, kind)?
            }
        };
    }
    debug_assert!(g
        .tensors
        .iter()
        .all(|t| t.kind != TensorKind::After || t.frac == fw));
    g.check_relations().map_err(QuantError::Config)?;
    Ok(g)
}

/// The largest rounding shift of an update: `u = round(x / 2^s)`, when it is committed, is
/// range-checked to `62 − s` signed bits (at least 2), so that `s + bits ≤ 62` ([`crate::bounds`]).
pub const MAX_UPDATE_SHIFT: u32 = 60;

/// The fewest significant bits `lr_q` keeps when [`update_scale`] coarsens the learning rate so
/// that an update's rounding needs no range check of its own.
pub const MIN_LR_BITS: u32 = 12;

/// The learning-rate factor of an update, `c` (lr/B; lr·s/B for LoRA), as `lr_q` at `2^-fl`:
/// one rounding per update, `u = round(lr_q·Pᵀ·Q / 2^s)` with `s = 2fa + fl − fw`, and
/// `W' = W − u` range-checked to `wbits`.
///
/// Bounds (docs/SECURITY.md, "Uniqueness", R1 and R5): `|Pᵀ·Q| < B·2^K·2^(K−1)` (`P`
/// range-checked to K+1 bits, `Q` to K), so `lr_q < 2^(62 − (K+1) − K − ⌈log₂ B⌉)` keeps
/// `x = lr_q·Pᵀ·Q` below `2^60`, and `u` below `2^(60−s)`. The prover's unknowns in the
/// update's identity `x + 2^(s−1) = 2^s·(W − W') + rem` are `W'` and `rem` (`W` is committed
/// before), so it is unique mod p when `s + wbits ≤ 62`: then `u = W − W'` needs no range check
/// of its own. `fl` is the finest scale that keeps `lr_q` in range and `s ≤` [`MAX_UPDATE_SHIFT`],
/// coarsened to `s ≤ 62 − wbits` when `lr_q` keeps at least [`MIN_LR_BITS`] significant bits
/// that way (otherwise `u` is committed and range-checked to `62 − s` bits, [`push_update`]).
pub(crate) fn update_scale(
    c: f64,
    lr: f64,
    batch: usize,
    (k, fa, fw, wbits): (u32, u32, u32, u32),
) -> Result<(i64, u32), QuantError> {
    let lr_bits = 62u32
        .checked_sub((k + 1).min(62) + k + log2_ceil(batch))
        .filter(|b| *b >= 8)
        .ok_or_else(|| {
            QuantError::Config(format!("batch {batch} is too large for exact updates"))
        })?;
    let mut fl = 60u32.min((MAX_UPDATE_SHIFT + fw).saturating_sub(2 * fa));
    while fl > 0 && c * ((1u64 << fl) as f64) >= (1u64 << lr_bits) as f64 {
        fl -= 1;
    }
    // The coarser scale at which the rounding needs no range check of its own, if lr_q keeps
    // enough bits there.
    let coarse = (zkgrad_circuit::bounds::MAX_ROUNDING_BITS + fw).saturating_sub(2 * fa + wbits);
    if coarse < fl && c * ((1u64 << coarse) as f64) >= (1u64 << MIN_LR_BITS) as f64 {
        fl = coarse;
    }
    let lr_q = (c * (1u64 << fl) as f64).round() as i64;
    if lr_q == 0 || 2 * fa + fl < fw || fa + fl < fw {
        return Err(QuantError::Config(format!(
            "learning rate {lr} is too small to represent"
        )));
    }
    if lr_q >= 1 << lr_bits {
        return Err(QuantError::Config(format!(
            "learning rate {lr} is too large for exact updates"
        )));
    }
    Ok((lr_q, fl))
}

/// Appends the targets (public input 1) and the loss gradient `G = pred − Y` (`pred` the output,
/// or its softmax for cross-entropy), committed and range-checked to K+1 bits; returns `G`.
pub(crate) fn loss_gradient(g: &mut QGraph, loss: Loss) -> Result<usize, QuantError> {
    let (out, fa, k) = (g.output, g.config.act_frac, g.config.table_bits);
    let (rows, n_out) = (g.tensors[out].rows, g.tensors[out].cols);
    let y = g.push_node("targets", QOp::Input { index: 1 }, rows, n_out, fa);
    let pred = match loss {
        Loss::Mse => out,
        Loss::SoftmaxCrossEntropy => zkgrad_circuit::softmax::softmax(g, out, rows, n_out)?,
    };
    let diff = g.push_node("loss/grad", QOp::Sub { a: pred, b: y }, rows, n_out, fa);
    let grad = g.push_node(
        "loss/grad/commit",
        QOp::Requant { x: diff, shift: 0 },
        rows,
        n_out,
        fa,
    );
    g.tensors[grad].bits = (k + 1).min(62); // out − y spans twice the activation range
    Ok(grad)
}

/// `W' = W[wi] − u` with `u = round(lr_q·Pᵀ·Q / 2^(2fa+fl−fw))` ([`update_scale`]): the SGD
/// update of a weight `W[wi]` (`rows × cols`) from `P` (`B × rows`) and `Q` (`B × cols`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_update(
    g: &mut QGraph,
    name: &str,
    p: usize,
    q: usize,
    wi: usize,
    lr_q: i64,
    fl: u32,
    wbits: u32,
) {
    let (fa, fw) = (g.config.act_frac, g.config.weight_frac);
    let (wr, wc) = (g.weights[wi].rows, g.weights[wi].cols);
    let pr = g.tensors[p].rows;
    let pt = g.push_node(
        &format!("{name}/grad_t"),
        QOp::Transpose { x: p },
        wr,
        pr,
        fa,
    );
    let raw = g.push_node(
        &format!("{name}/grad"),
        QOp::MatMul {
            a: pt,
            b: MatRhs::Tensor(q),
        },
        wr,
        wc,
        2 * fa,
    );
    let scaled = g.push_node(
        &format!("{name}/lr"),
        QOp::Scale { x: raw, c: lr_q },
        wr,
        wc,
        2 * fa + fl,
    );
    let u = g.push_node(
        &format!("{name}/update"),
        QOp::Requant {
            x: scaled,
            shift: 2 * fa + fl - fw,
        },
        wr,
        wc,
        fw,
    );
    push_update_node(g, &format!("{name}'"), wi, u, wbits);
}

/// `W_after = W − u` for the weight `wi` and its rounded update `u` (a requantization by `s`
/// bits), `W_after` range-checked to `wbits` for the next step's products. When
/// `s + wbits ≤ 62` the identity `x + 2^(s−1) = 2^s·(W − W_after) + rem` is unique mod p by
/// `W_after`'s and `rem`'s ranges alone, and `u` stays virtual (`W − W_after` defines it; its
/// rounding is checked at the update's point). Otherwise `u` is committed and range-checked to
/// `62 − s` signed bits, which makes its rounding unique (docs/SECURITY.md, R1 and R5).
fn push_update_node(g: &mut QGraph, name: &str, wi: usize, u: usize, wbits: u32) {
    let (rows, cols, fw) = (g.tensors[u].rows, g.tensors[u].cols, g.tensors[u].frac);
    if let Some(QOp::Requant { shift, .. }) =
        u.checked_sub(1).and_then(|n| g.nodes.get(n)).map(|n| &n.op)
    {
        let max = zkgrad_circuit::bounds::MAX_ROUNDING_BITS;
        if shift + wbits <= max {
            g.tensors[u].kind = TensorKind::Virtual;
        } else {
            g.tensors[u].bits = max - shift;
        }
    }
    g.push_node(
        name,
        QOp::Update {
            w: wi,
            u,
            bits: wbits,
        },
        rows,
        cols,
        fw,
    );
}

/// `round(G_in ⊙ f'(pre))`: a gradient through the activation `kind` that read `pre`.
pub(crate) fn act_backward(
    g: &mut QGraph,
    name: &str,
    gin: usize,
    pre: usize,
    kind: ActKind,
) -> Result<usize, QuantError> {
    let (fa, k) = (g.config.act_frac, g.config.table_bits);
    let (rows, cols) = (g.tensors[gin].rows, g.tensors[gin].cols);
    let grad_kind = kind.grad().ok_or_else(|| QuantError::Unsupported {
        node: name.into(),
        why: "activation without a derivative".into(),
    })?;
    let out_frac = if grad_kind == ActKind::ReluGrad {
        0
    } else {
        fa
    };
    let table = g.table_index(TableKind::Act {
        kind: grad_kind,
        in_frac: fa,
        out_frac,
    });
    let d = g.push_node(
        &format!("{name}/act'"),
        QOp::Act {
            x: pre,
            kind: grad_kind,
            table,
        },
        rows,
        cols,
        out_frac,
    );
    let p = g.push_node(
        &format!("{name}/dH"),
        QOp::Mul { a: gin, b: d },
        rows,
        cols,
        fa + out_frac,
    );
    let h = g.push_node(
        &format!("{name}/dH/round"),
        QOp::Requant {
            x: p,
            shift: out_frac,
        },
        rows,
        cols,
        fa,
    );
    g.tensors[h].bits = (k + 1).min(62);
    Ok(h)
}

/// The batch-mean loss and its gradient with respect to the output (f64 references).
pub(crate) fn loss_and_grad_f64(out: &[f64], y: &[f64], spec: &SgdSpec) -> (f64, Vec<f64>) {
    let b = spec.batch as f64;
    match spec.loss {
        Loss::Mse => (
            out.iter()
                .zip(y)
                .map(|(o, t)| 0.5 * (o - t) * (o - t))
                .sum::<f64>()
                / b,
            out.iter().zip(y).map(|(o, t)| (o - t) / b).collect(),
        ),
        Loss::SoftmaxCrossEntropy => {
            let n = out.len() / spec.batch.max(1);
            let mut loss = 0.0;
            let mut grad = Vec::with_capacity(out.len());
            for (o, t) in out.chunks(n.max(1)).zip(y.chunks(n.max(1))) {
                let m = o.iter().copied().fold(f64::MIN, f64::max);
                let lse = m + o.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                loss -= o.iter().zip(t).map(|(v, y)| y * (v - lse)).sum::<f64>();
                grad.extend(o.iter().zip(t).map(|(v, y)| ((v - lse).exp() - y) / b));
            }
            (loss / b, grad)
        }
    }
}

/// One SGD step in f64 (the reference): returns the updated float graph and the loss.
pub fn sgd_step_f64(graph: &Graph, x: &[f64], y: &[f64], spec: &SgdSpec) -> (Graph, f64) {
    let gb = batched(graph, spec.batch);
    let vals = gb.forward_f64(x);
    let out = &vals[gb.output];
    let (loss, mut grad) = loss_and_grad_f64(out, y, spec);
    let mut new = graph.clone();
    // Walk the nodes backwards, carrying the gradient with respect to the current value.
    let mut cur = gb.output;
    while cur > 0 {
        let node: &Node = &gb.nodes[cur - 1];
        match &node.op {
            Op::Linear {
                x,
                w,
                in_features,
                out_features,
                ..
            } => {
                let a = &vals[*x];
                let (i_n, o_n) = (*in_features, *out_features);
                let rows = a.len() / i_n;
                let mut gx = vec![0.0; rows * i_n];
                if let Some(Node {
                    op:
                        Op::Linear {
                            w: nw, bias: nb, ..
                        },
                    ..
                }) = new.nodes.get_mut(cur - 1)
                {
                    for o in 0..o_n {
                        for i in 0..i_n {
                            let gw: f64 =
                                (0..rows).map(|r| grad[r * o_n + o] * a[r * i_n + i]).sum();
                            nw[o * i_n + i] -= spec.lr * gw;
                        }
                        if let Some(nb) = nb {
                            let gbias: f64 = (0..rows).map(|r| grad[r * o_n + o]).sum();
                            nb[o] -= spec.lr * gbias;
                        }
                    }
                }
                for r in 0..rows {
                    for i in 0..i_n {
                        gx[r * i_n + i] =
                            (0..o_n).map(|o| grad[r * o_n + o] * w[o * i_n + i]).sum();
                    }
                }
                grad = gx;
                cur = *x;
            }
            Op::Act { x, kind } => {
                let h = &vals[*x];
                let d = kind.grad().map_or(ActKind::ReluGrad, |k| k);
                grad = grad
                    .iter()
                    .zip(h)
                    .map(|(g, h)| g * d.eval_f64(*h))
                    .collect();
                cur = *x;
            }
            Op::View { x } => cur = *x,
            _ => break,
        }
    }
    (new, loss)
}

/// One parameter before and after a step: in f64 SGD, and as the circuit computed it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamUpdate {
    pub float_before: f64,
    pub float_after: f64,
    /// At 2^-weight_frac.
    pub quant_before: i64,
    pub quant_after: i64,
}

/// Pairs every parameter of the step circuit `q` (run as `witness`) with the same parameter of
/// f64 SGD (`before` → `after`, from [`sgd_step_f64`]), in weight order: each Linear layer's
/// weights, then its bias.
pub fn parameter_updates(
    before: &Graph,
    after: &Graph,
    q: &QGraph,
    witness: &crate::forward::Witness,
) -> Vec<ParamUpdate> {
    let updated: std::collections::HashMap<usize, usize> =
        q.updates().into_iter().map(|(n, w)| (w, n)).collect();
    let mut out = Vec::new();
    let mut wi = 0;
    for (n0, n1) in before.nodes.iter().zip(&after.nodes) {
        let (
            Op::Linear {
                w: w0, bias: b0, ..
            },
            Op::Linear {
                w: w1, bias: b1, ..
            },
        ) = (&n0.op, &n1.op)
        else {
            continue;
        };
        let mut tensors = vec![(w0, w1)];
        if let (Some(b0), Some(b1)) = (b0, b1) {
            tensors.push((b0, b1));
        }
        for (f0, f1) in tensors {
            let (Some(&node), Some(wt)) = (updated.get(&wi), q.weights.get(wi)) else {
                wi += 1;
                continue;
            };
            let q_after = &witness.values[node + 1];
            for i in 0..f0.len() {
                out.push(ParamUpdate {
                    float_before: f0[i],
                    float_after: f1[i],
                    quant_before: wt.data[i],
                    quant_after: q_after[i],
                });
            }
            wi += 1;
        }
    }
    out
}
