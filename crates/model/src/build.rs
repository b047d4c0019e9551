//! Layers built from the graph's primitive ops, shared by the ONNX importer and the built-in
//! benchmark models: convolutions (dense weights from ONNX's grouped layout), pooling windows
//! (index maps; maxima by proven comparisons), reductions, layer normalization.

use crate::graph::{matrix_dims, Graph, Node, Op};
use zkgrad_circuit::conv::ConvGeom;
use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::table::ActKind;

/// Appends a node; returns its value.
pub fn push(g: &mut Graph, name: &str, op: Op, shape: Vec<usize>) -> usize {
    g.nodes.push(Node {
        name: name.to_string(),
        op,
        shape,
    });
    g.nodes.len()
}

/// A 2-D window (convolution or pooling): kernel, strides, dilations, pads (top, left,
/// bottom, right) and the output side lengths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub pads: [usize; 4],
    pub out: [usize; 2],
}

impl Window {
    /// A window over an `h × w` image; `None` if it does not fit.
    pub fn new(
        hw: [usize; 2],
        kernel: [usize; 2],
        strides: [usize; 2],
        dilations: [usize; 2],
        pads: [usize; 4],
    ) -> Option<Self> {
        if kernel.contains(&0) || strides.contains(&0) || dilations.contains(&0) {
            return None;
        }
        let out = [0, 1].map(|k| {
            ConvGeom::out_side(
                hw[k],
                kernel[k],
                strides[k],
                dilations[k],
                pads[k],
                pads[k + 2],
            )
        });
        (!out.contains(&0)).then_some(Self {
            kernel,
            strides,
            dilations,
            pads,
            out,
        })
    }

    /// A square window with equal strides and padding on every side.
    pub fn square(hw: [usize; 2], k: usize, stride: usize, pad: usize) -> Option<Self> {
        Self::new(hw, [k, k], [stride, stride], [1, 1], [pad; 4])
    }

    /// The index map reading window offset `(a, b)` at every output position of an
    /// `[n, c, h, w]` tensor (0 in the padding).
    pub fn tap(&self, shape: &[usize], a: usize, b: usize) -> IndexMap {
        let out = [shape[0], shape[1], self.out[0], self.out[1]];
        IndexMap::aligned(
            shape,
            &out,
            &[1, 1, self.strides[0] as i64, self.strides[1] as i64],
            &[
                0,
                0,
                (a * self.dilations[0]) as i64 - self.pads[0] as i64,
                (b * self.dilations[1]) as i64 - self.pads[1] as i64,
            ],
        )
    }
}

/// A convolution of `x` (`[1, c_in, h, w]`) with ONNX-layout weights `[c_out, c_in/groups, kh,
/// kw]` (row-major in `weight`): the dense weight is zero outside each group's block.
pub fn conv(
    g: &mut Graph,
    name: &str,
    x: usize,
    weight: &[f64],
    bias: Option<Vec<f64>>,
    c_out: usize,
    groups: usize,
    win: &Window,
) -> Result<usize, String> {
    let xs = g.shape(x).to_vec();
    let [1, c_in, h, w] = xs[..] else {
        return Err(format!(
            "input shape {xs:?}: convolutions take NCHW at batch 1"
        ));
    };
    let groups = groups.max(1);
    let (kh, kw) = (win.kernel[0], win.kernel[1]);
    if !c_in.is_multiple_of(groups) || !c_out.is_multiple_of(groups) {
        return Err(format!(
            "group {groups} does not divide {c_in} input and {c_out} output channels"
        ));
    }
    let (cig, cog, kk) = (c_in / groups, c_out / groups, kh * kw);
    if weight.len() != c_out * cig * kk {
        return Err(format!(
            "{} weights for [{c_out}, {cig}, {kh}, {kw}]",
            weight.len()
        ));
    }
    let geom = ConvGeom {
        c_in,
        h,
        w,
        c_out,
        kh,
        kw,
        stride: win.strides,
        dilation: win.dilations,
        pad: [win.pads[0], win.pads[1]],
        oh: win.out[0],
        ow: win.out[1],
    };
    let j_len = geom.j_len();
    let mut wd = vec![0.0; c_out * j_len];
    for co in 0..c_out {
        let g0 = (co / cog) * cig;
        for ci in 0..cig {
            for k in 0..kk {
                wd[co * j_len + (g0 + ci) * kk + k] = weight[(co * cig + ci) * kk + k];
            }
        }
    }
    if bias.as_ref().is_some_and(|b| b.len() != c_out) {
        return Err(format!("bias does not hold {c_out} values"));
    }
    let shape = vec![1, c_out, geom.oh, geom.ow];
    Ok(push(
        g,
        name,
        Op::Conv {
            x,
            w: wd,
            bias,
            geom,
        },
        shape,
    ))
}

/// Max or average pooling of an `[n, c, h, w]` value over `win`: one index map per window
/// offset, combined by proven maxima (`Op::Max`) or summed and scaled.
pub fn pool(g: &mut Graph, name: &str, x: usize, win: &Window, max: bool) -> usize {
    let xs = g.shape(x).to_vec();
    let shape = vec![xs[0], xs[1], win.out[0], win.out[1]];
    let mut acc: Option<usize> = None;
    for a in 0..win.kernel[0] {
        for b in 0..win.kernel[1] {
            let tap = push(
                g,
                &format!("{name}/tap{a}_{b}"),
                Op::Gather {
                    x,
                    map: win.tap(&xs, a, b),
                },
                shape.clone(),
            );
            acc = Some(match acc {
                None => tap,
                Some(m) => {
                    let op = if max {
                        Op::Max { a: m, b: tap }
                    } else {
                        Op::Add { a: m, b: tap }
                    };
                    push(g, &format!("{name}/acc{a}_{b}"), op, shape.clone())
                }
            });
        }
    }
    let acc = acc.unwrap_or(x);
    let op = if max {
        Op::View { x: acc }
    } else {
        Op::Scale {
            x: acc,
            c: 1.0 / (win.kernel[0] * win.kernel[1]) as f64,
        }
    };
    push(g, name, op, shape)
}

/// Sums (or averages) `x` over the axes `reduced` (sorted): an index map bringing them first,
/// then a row sum of the `[count, rest]` matrix. Returns the `[1, rest]` value.
pub fn reduce_axes(g: &mut Graph, name: &str, x: usize, reduced: &[usize], mean: bool) -> usize {
    let xs = g.shape(x).to_vec();
    let kept: Vec<usize> = (0..xs.len()).filter(|k| !reduced.contains(k)).collect();
    let count: usize = reduced.iter().map(|&k| xs[k]).product();
    let rest: usize = kept.iter().map(|&k| xs[k]).product();
    let perm: Vec<usize> = reduced.iter().chain(&kept).copied().collect();
    let mut cur = x;
    if perm.iter().enumerate().any(|(k, &p)| k != p) {
        let map = IndexMap::transpose(&xs, &perm);
        let shape = map.out_shape.clone();
        cur = push(
            g,
            &format!("{name}/order"),
            Op::Gather { x: cur, map },
            shape,
        );
    }
    let cur = push(
        g,
        &format!("{name}/rows"),
        Op::View { x: cur },
        vec![count, rest],
    );
    let mut sum = push(
        g,
        &format!("{name}/sum"),
        Op::RowSum { x: cur },
        vec![1, rest],
    );
    if mean {
        sum = push(
            g,
            &format!("{name}/mean"),
            Op::Scale {
                x: sum,
                c: 1.0 / count as f64,
            },
            vec![1, rest],
        );
    }
    sum
}

/// Global average pooling of an `[n, c, h, w]` value: `[n, c, 1, 1]`.
pub fn global_avg_pool(g: &mut Graph, name: &str, x: usize) -> usize {
    let xs = g.shape(x).to_vec();
    let spatial: Vec<usize> = (2..xs.len()).collect();
    let sum = reduce_axes(g, name, x, &spatial, true);
    let shape: Vec<usize> = xs
        .iter()
        .enumerate()
        .map(|(k, &d)| if k < 2 { d } else { 1 })
        .collect();
    push(g, &format!("{name}/out"), Op::View { x: sum }, shape)
}

/// Layer normalization over the last axis: `(x − mean)·rsqrt(var + ε)` (the reciprocal square
/// root by a table), then `γ·y + β` as a Linear layer with a diagonal weight.
pub fn layer_norm(
    g: &mut Graph,
    name: &str,
    x: usize,
    gamma: &[f64],
    beta: Option<Vec<f64>>,
    eps: f64,
) -> usize {
    let xs = g.shape(x).to_vec();
    let axis = xs.len().saturating_sub(1);
    let d = xs.last().copied().unwrap_or(1);
    let (rows, _) = matrix_dims(&xs);
    let col = vec![rows, 1];
    let col_mean = |g: &mut Graph, v: usize, tag: &str| {
        let sum = reduce_axes(g, &format!("{name}/{tag}"), v, &[axis], true);
        push(
            g,
            &format!("{name}/{tag}/col"),
            Op::View { x: sum },
            col.clone(),
        )
    };
    let spread = |g: &mut Graph, v: usize, tag: &str| {
        let map = IndexMap::broadcast(&col, &[rows, d]).unwrap_or_else(|| IndexMap::reshape(rows));
        push(
            g,
            &format!("{name}/{tag}/broadcast"),
            Op::Gather { x: v, map },
            xs.clone(),
        )
    };
    let mean = col_mean(g, x, "mean");
    let mean = spread(g, mean, "mean");
    let dev = push(
        g,
        &format!("{name}/centered"),
        Op::Sub { a: x, b: mean },
        xs.clone(),
    );
    let sq = push(
        g,
        &format!("{name}/square"),
        Op::Mul { a: dev, b: dev },
        xs.clone(),
    );
    let var = col_mean(g, sq, "var");
    let var = push(
        g,
        &format!("{name}/var+eps"),
        Op::AddConst { x: var, c: eps },
        col.clone(),
    );
    let inv = push(
        g,
        &format!("{name}/rsqrt"),
        Op::Act {
            x: var,
            kind: ActKind::Rsqrt,
        },
        col.clone(),
    );
    let inv = spread(g, inv, "rsqrt");
    let normed = push(
        g,
        &format!("{name}/normalized"),
        Op::Mul { a: dev, b: inv },
        xs.clone(),
    );
    let mut w = vec![0.0; d * d];
    for k in 0..d {
        w[k * d + k] = gamma.get(k).copied().unwrap_or(1.0);
    }
    push(
        g,
        name,
        Op::Linear {
            x: normed,
            w,
            bias: beta,
            in_features: d,
            out_features: d,
        },
        xs,
    )
}

/// Inference batch normalization `s·x + t` per channel of `x`: folded into the convolution
/// that produced `x` when `fold` allows it (the convolution's only reader, as exporters fold
/// it) and that convolution has `c = s.len()` output channels, else [`channel_affine`].
/// Returns the tensor holding the result.
pub fn batch_norm(
    g: &mut Graph,
    name: &str,
    x: usize,
    s: &[f64],
    t: Vec<f64>,
    fold: bool,
) -> Result<usize, String> {
    let c = s.len();
    if fold {
        if let Some(Node {
            op: Op::Conv { w, bias, geom, .. },
            ..
        }) = g.nodes.get_mut(x.wrapping_sub(1))
        {
            if geom.c_out == c {
                let j = geom.j_len();
                for (co, sc) in s.iter().enumerate() {
                    if let Some(row) = w.get_mut(co * j..(co + 1) * j) {
                        row.iter_mut().for_each(|v| *v *= sc);
                    }
                }
                let b = bias.get_or_insert_with(|| vec![0.0; c]);
                for ((b, sc), tc) in b.iter_mut().zip(s).zip(&t) {
                    *b = *b * sc + tc;
                }
                return Ok(x);
            }
        }
    }
    channel_affine(g, name, x, s, t)
}

/// Inference batch normalization `s·x + t` per channel of an `[1, c, h, w]` value, as a 1×1
/// depthwise convolution.
pub fn channel_affine(
    g: &mut Graph,
    name: &str,
    x: usize,
    s: &[f64],
    t: Vec<f64>,
) -> Result<usize, String> {
    let xs = g.shape(x).to_vec();
    let [1, c, h, w] = xs[..] else {
        return Err(format!(
            "input shape {xs:?}: a per-channel affine map needs NCHW at batch 1"
        ));
    };
    let win = Window::square([h, w], 1, 1, 0).ok_or("empty image")?;
    conv(g, name, x, s, Some(t), c, c, &win)
}
