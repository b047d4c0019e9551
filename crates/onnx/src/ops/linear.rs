//! Matrix products: MatMul of two computed matrices, and Gemm and MatMul by a constant weight
//! (a Linear layer, whose source initializers are recorded for writing trained weights back).

use zkgrad_model::graph::{Graph, Op};

use crate::node::{Imported, NodeCx, Sources, Val};
use crate::tensor::broadcast_bias;
use crate::LinearSource;

/// MatMul: of two computed matrices, or by a constant weight as [`gemm`].
pub(crate) fn matmul(cx: &NodeCx, graph: &mut Graph, sources: &mut Sources) -> Imported {
    if matches!(cx.get(1)?, Val::Value(_)) {
        matmul_computed(cx, graph, sources)
    } else {
        gemm(cx, graph, sources)
    }
}

/// MatMul of two computed tensors: a 2-D product, or (rank ≥ 3 with the same leading
/// dimensions, as attention's per-head Q·Kᵀ and probabilities·V) a batched one.
fn matmul_computed(cx: &NodeCx, graph: &mut Graph, _: &mut Sources) -> Imported {
    let (a, b) = (cx.value(0)?, cx.value(1)?);
    let (sa, sb) = (graph.shape(a).to_vec(), graph.shape(b).to_vec());
    let lead = |s: &[usize]| s.iter().rev().skip(2).product::<usize>();
    if sa.len() >= 3 && sa.len() == sb.len() && sa[..sa.len() - 2] == sb[..sb.len() - 2] {
        let r = sa.len();
        if sa[r - 1] != sb[r - 2] {
            return Err(cx.invalid(format!(
                "batched product of {sa:?} and {sb:?}: inner sizes differ"
            )));
        }
        if cx.image_layout {
            return Err(cx.invalid(
                "a batched product in a graph with image ops (convolutions, pooling) is not supported".into(),
            ));
        }
        let mut shape = sa[..r - 1].to_vec();
        shape.push(sb[r - 1]);
        let batch = lead(&sa);
        return Ok(cx.push(graph, Op::BatchMatMul { a, b, batch }, shape));
    }
    if sa.len() < 2
        || sb.len() < 2
        || lead(&sa) != 1
        || lead(&sb) != 1
        || sa[sa.len() - 1] != sb[sb.len() - 2]
    {
        return Err(cx.invalid(format!(
            "only 2-D products of computed matrices are supported ({sa:?} × {sb:?})"
        )));
    }
    let shape = vec![sa[sa.len() - 2], sb[sb.len() - 1]];
    Ok(cx.push(graph, Op::MatMul { a, b }, shape))
}

/// Gemm, and MatMul by a constant: a Linear layer.
pub(crate) fn gemm(cx: &NodeCx, graph: &mut Graph, sources: &mut Sources) -> Imported {
    let n = cx.n;
    let x = cx.value(0)?;
    let b = cx.constant(1)?;
    let is_gemm = n.op_type == "Gemm";
    if is_gemm && cx.attr_i("transA", 0) != 0 {
        return Err(cx.invalid("transA = 1 is not supported".into()));
    }
    let [r, c] = b.dims[..] else {
        return Err(cx.invalid(format!("weight must be 2-D, found shape {:?}", b.dims)));
    };
    let trans_b = is_gemm && cx.attr_i("transB", 0) != 0;
    let (inf, outf) = if trans_b { (c, r) } else { (r, c) };
    let alpha = if is_gemm {
        cx.attr_f("alpha", 1.0)
    } else {
        1.0
    };
    let len = cx.elements(&[inf, outf])?;
    if b.data.len() != len {
        return Err(cx.invalid(format!(
            "weight of shape {:?} holds {} values",
            b.dims,
            b.data.len()
        )));
    }
    // The weight as `[outf, inf]`, row `o` the inputs of output `o`: `b` itself with transB,
    // else its transpose (in tiles: walking a whole column of `b` for each row missed the
    // cache at every read, ~1 s of GPT-2 124M's import), times alpha.
    use rayon::prelude::*;
    let src: &[f64] = &b.data;
    let mut w = if trans_b {
        src.to_vec()
    } else {
        zkgrad_circuit::index_map::transpose(src, inf, outf)
    };
    if alpha != 1.0 {
        w.par_iter_mut().for_each(|v| *v *= alpha);
    }
    let xs = graph.shape(x).to_vec();
    if xs.last() != Some(&inf) {
        return Err(cx.invalid(format!("input shape {xs:?} does not end in {inf}")));
    }
    let bias = if is_gemm && n.input.len() > 2 && !n.input[2].is_empty() {
        let c = cx.constant(2)?;
        let beta = cx.attr_f("beta", 1.0);
        Some(
            broadcast_bias(&c, outf)
                .map_err(|e| cx.invalid(e))?
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
    let bias_src = (bias.is_some()).then(|| (n.input[2].clone(), cx.attr_f("beta", 1.0)));
    sources.insert(
        graph.nodes.len(),
        LinearSource {
            weight: n.input[1].clone(),
            trans_b,
            alpha,
            bias: bias_src,
        },
    );
    Ok(cx.push(
        graph,
        Op::Linear {
            x,
            w,
            bias,
            in_features: inf,
            out_features: outf,
        },
        shape,
    ))
}
