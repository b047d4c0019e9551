//! Shared fixtures: small float graphs built in code.
#![allow(dead_code)]

use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::{quantize_input, Witness};
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{prove, CommittedModel, ProveOutput};
use zkgrad_verifier::{verify, VerifyError};

/// Deterministic pseudo-random numbers in (-1, 1).
pub fn rnd(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn linear(name: &str, x: usize, inf: usize, outf: usize, seed: u64) -> Node {
    linear_with(name, x, inf, outf, seed, true)
}

/// A Linear `inf → outf` of random weights scaled by `1/√inf`, with or without a bias.
pub fn linear_with(name: &str, x: usize, inf: usize, outf: usize, seed: u64, bias: bool) -> Node {
    let scale = 1.0 / (inf as f64).sqrt();
    Node {
        name: name.into(),
        op: Op::Linear {
            x,
            w: rnd(seed, inf * outf)
                .into_iter()
                .map(|v| v * scale)
                .collect(),
            bias: bias.then(|| {
                rnd(seed + 100, outf)
                    .into_iter()
                    .map(|v| v * scale)
                    .collect()
            }),
            in_features: inf,
            out_features: outf,
        },
        shape: vec![1, outf],
    }
}

fn act(name: &str, x: usize, kind: ActKind, n: usize) -> Node {
    Node {
        name: name.into(),
        op: Op::Act { x, kind },
        shape: vec![1, n],
    }
}

/// The seed MLP: Linear(5,8) → ReLU → Linear(8,8) → Sigmoid → Linear(8,2).
pub fn seed_mlp() -> Graph {
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, 5],
        nodes: vec![
            linear("fc1", 0, 5, 8, 1),
            act("relu", 1, ActKind::Relu, 8),
            linear("fc2", 2, 8, 8, 2),
            act("sigmoid", 3, ActKind::Sigmoid, 8),
            linear("fc3", 4, 8, 2, 3),
        ],
        output: 5,
        output_parts: Vec::new(),
    }
}

/// Every op kind: Linear, Tanh, Add, Sub, Scale, View, a Linear without activation after it.
pub fn all_ops() -> Graph {
    let n = |name: &str, op: Op| Node {
        name: name.into(),
        op,
        shape: vec![1, 4],
    };
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, 6],
        nodes: vec![
            linear("fc1", 0, 6, 4, 7),              // 1
            act("tanh", 1, ActKind::Tanh, 4),       // 2
            linear("fc2", 2, 4, 4, 8),              // 3
            n("add", Op::Add { a: 2, b: 3 }),       // 4
            n("scale", Op::Scale { x: 4, c: 0.5 }), // 5
            n("sub", Op::Sub { a: 5, b: 2 }),       // 6
            act("relu", 6, ActKind::Relu, 4),       // 7
            n("mul", Op::Mul { a: 7, b: 2 }),       // 8
            n("square", Op::Mul { a: 8, b: 8 }),    // 9
            Node {
                name: "view".into(),
                op: Op::View { x: 9 },
                shape: vec![4],
            }, // 10
            linear("fc3", 10, 4, 3, 9),             // 11
        ],
        output: 11,
        output_parts: Vec::new(),
    }
}

/// Two public inputs, a transpose, products of computed matrices, row sums.
pub fn matrix_ops() -> Graph {
    let n = |name: &str, op: Op, shape: Vec<usize>| Node {
        name: name.into(),
        op,
        shape,
    };
    Graph {
        input_name: "x".into(),
        input_shape: vec![4, 3],
        nodes: vec![
            n("y", Op::Input { index: 1 }, vec![4, 3]),      // 1
            n("xt", Op::Transpose { x: 0 }, vec![3, 4]),     // 2
            n("xty", Op::MatMul { a: 2, b: 1 }, vec![3, 3]), // 3
            n("ysum", Op::RowSum { x: 1 }, vec![1, 3]),      // 4
            n(
                "t",
                Op::Act {
                    x: 3,
                    kind: ActKind::Tanh,
                },
                vec![3, 3],
            ), // 5
            n("tt", Op::MatMul { a: 5, b: 3 }, vec![3, 3]),  // 6
            n("tsum", Op::RowSum { x: 6 }, vec![1, 3]),      // 7
            n("out", Op::Add { a: 7, b: 4 }, vec![1, 3]),    // 8
        ],
        output: 8,
        output_parts: Vec::new(),
    }
}

pub fn small_params() -> PcsParams {
    PcsParams::default()
}

/// The WHIR scheme on small proofs: WHIR for every batched table of 2^8 values or more and
/// committed multiplicities from 2^4 entries read of a table at most 2^8 times its reads, so
/// that tests reach every succinct path.
pub fn whir_small() -> PcsParams {
    PcsParams {
        whir: Some(zkgrad_pcs::whir::WhirParams {
            from_log_n: 8,
            commit_mults_from: 4,
            commit_mults_ratio: 8,
            ..Default::default()
        }),
        ..PcsParams::default()
    }
}

pub struct Setup {
    pub params: PcsParams,
    pub graph: Graph,
    pub q: QGraph,
    pub model: CommittedModel,
    pub input: Vec<i64>,
    pub input_f: Vec<f64>,
}

pub fn setup(graph: Graph, table_bits: u32, seed: u64) -> Setup {
    setup_with(graph, table_bits, seed, small_params())
}

/// [`setup`] with other commitment parameters.
pub fn setup_with(graph: Graph, table_bits: u32, seed: u64, params: PcsParams) -> Setup {
    let input_f = rnd(seed, graph.n_inputs());
    let cfg = zkgrad_model::calibrate(&graph, std::slice::from_ref(&input_f), table_bits);
    let q = zkgrad_model::quantize(&graph, cfg).unwrap();
    let model = CommittedModel::new(&q, &params);
    let input = input_f
        .iter()
        .map(|&v| zkgrad_model::quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    Setup {
        params,
        graph,
        q,
        model,
        input,
        input_f,
    }
}

/// Verifies a proof against the setup's circuit.
pub fn check(
    s: &Setup,
    p: &zkgrad_verifier::ProofFile,
) -> Result<zkgrad_verifier::Verified, zkgrad_verifier::VerifyError> {
    zkgrad_verifier::verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &s.params,
    )
}

/// Largest |proven output − f64 output| of a proof of the setup's input.
pub fn max_output_error(s: &Setup, p: &zkgrad_verifier::ProofFile) -> f64 {
    let float = s.graph.forward_f64(&s.input_f);
    let scale = (1u64 << s.q.output_tensor().frac) as f64;
    p.output
        .iter()
        .zip(&float[s.graph.output])
        .map(|(q, f)| (*q as f64 / scale - f).abs())
        .fold(0.0, f64::max)
}

pub fn prove_ok(s: &Setup) -> ProveOutput {
    prove(&s.q, &s.model, &s.input, &s.params).unwrap()
}

/// Every committed or public value (and every remainder) of `s.q`'s witness changed by ±1 —
/// alone, or with every later value recomputed — is rejected by the verifier.
pub fn perturbations_rejected_public(s: &Setup) {
    use zkgrad_circuit::{QOp, TensorKind};
    let honest = zkgrad_model::forward(&s.q, &s.input).unwrap();
    let mut cases = 0;
    for (ni, node) in s.q.nodes.iter().enumerate() {
        let t = ni + 1;
        let mut targets = vec![];
        if s.q.tensors[t].kind != TensorKind::Virtual {
            targets.push(false);
        }
        if honest.rems[ni].is_some() {
            targets.push(true);
        }
        for rem in targets {
            for delta in [-1i64, 1] {
                for propagate in [false, true] {
                    // Recomputing everything after a changed input is an honest proof about
                    // another input. (A softmax's normalizer is unique: moving it is a cheat.)
                    if propagate && matches!(node.op, QOp::Input { .. }) {
                        continue;
                    }
                    let w = if propagate {
                        zkgrad_model::forward_with(&s.q, &s.input, |n, out, r| {
                            if n == ni {
                                if rem {
                                    if let Some(r) = r.as_mut() {
                                        r[0] += delta;
                                    }
                                } else {
                                    out[0] += delta;
                                }
                            }
                        })
                    } else {
                        let mut w = honest.clone();
                        if rem {
                            w.rems[ni].as_mut().unwrap()[0] += delta;
                        } else {
                            w.values[t][0] += delta;
                        }
                        Ok(w)
                    };
                    let Ok(w) = w else { continue };
                    let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &s.params).proof;
                    let ok = check(s, &p).is_ok();
                    assert!(
                        !ok,
                        "cheating prover accepted: {} {delta:+} rem={rem} propagate={propagate}",
                        node.name
                    );
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 0);
}

/// Layout ops through index maps: Slice (with a step), Pad, an N-D Transpose, a reshape that
/// moves the last dimension, broadcasting, and a Concat of two parts (one reading the input).
pub fn layout_ops() -> Graph {
    use zkgrad_circuit::index_map::{AxisMap, IndexMap};
    let n = |name: &str, op: Op, shape: Vec<usize>| Node {
        name: name.into(),
        op,
        shape,
    };
    let gather = |x: usize, map: IndexMap| Op::Gather { x, map };
    // x[:, 0, :] placed at columns 8..12 of a [2, 12] output.
    let x_part = IndexMap {
        in_shape: vec![2, 3, 4],
        out_shape: vec![2, 12],
        axes: vec![
            AxisMap {
                out_axis: 0,
                step: 1,
                offset: 0,
            },
            AxisMap {
                out_axis: 0,
                step: 0,
                offset: 0,
            },
            AxisMap {
                out_axis: 1,
                step: 1,
                offset: -8,
            },
        ],
    };
    Graph {
        input_name: "x".into(),
        input_shape: vec![2, 3, 4],
        nodes: vec![
            n(
                "slice",
                gather(
                    0,
                    IndexMap::aligned(&[2, 3, 4], &[2, 2, 2], &[1, 1, 2], &[0, 1, 0]),
                ),
                vec![2, 2, 2],
            ), // 1
            n(
                "pad",
                gather(
                    1,
                    IndexMap::aligned(&[2, 2, 2], &[2, 2, 4], &[1, 1, 1], &[0, 0, -1]),
                ),
                vec![2, 2, 4],
            ), // 2
            n(
                "transpose",
                gather(2, IndexMap::transpose(&[2, 2, 4], &[2, 0, 1])),
                vec![4, 2, 2],
            ), // 3
            n(
                "tanh",
                Op::Act {
                    x: 3,
                    kind: ActKind::Tanh,
                },
                vec![4, 2, 2],
            ), // 4
            n("reshape", Op::View { x: 4 }, vec![2, 8]), // 5
            n("y", Op::Input { index: 1 }, vec![8]),     // 6
            n(
                "expand",
                gather(6, IndexMap::broadcast(&[8], &[2, 8]).unwrap()),
                vec![2, 8],
            ), // 7
            n("add", Op::Add { a: 5, b: 7 }, vec![2, 8]), // 8
            n(
                "relu",
                Op::Act {
                    x: 8,
                    kind: ActKind::Relu,
                },
                vec![2, 8],
            ), // 9
            n(
                "concat/0",
                gather(9, IndexMap::aligned(&[2, 8], &[2, 12], &[1, 1], &[0, 0])),
                vec![2, 12],
            ), // 10
            n("concat/1", gather(0, x_part), vec![2, 12]), // 11
            n("concat", Op::Add { a: 10, b: 11 }, vec![2, 12]), // 12
        ],
        output: 12,
        output_parts: Vec::new(),
    }
}

/// A convolution (`c_in → c_out`, square kernel `k`), its dense weight zero outside each of
/// `groups` blocks.
pub fn conv_node(
    name: &str,
    x: usize,
    (c_in, h, w): (usize, usize, usize),
    (c_out, k, stride, pad, dilation, groups): (usize, usize, usize, usize, usize, usize),
    seed: u64,
) -> Node {
    use zkgrad_circuit::conv::ConvGeom;
    let oh = ConvGeom::out_side(h, k, stride, dilation, pad, pad);
    let ow = ConvGeom::out_side(w, k, stride, dilation, pad, pad);
    let geom = ConvGeom {
        c_in,
        h,
        w,
        c_out,
        kh: k,
        kw: k,
        stride: [stride, stride],
        dilation: [dilation, dilation],
        pad: [pad, pad],
        oh,
        ow,
    };
    let (cig, cog) = (c_in / groups, c_out / groups);
    let scale = 1.0 / ((cig * k * k) as f64).sqrt();
    let r = rnd(seed, c_out * geom.j_len());
    let wd: Vec<f64> = (0..c_out * geom.j_len())
        .map(|q| {
            let (co, ci) = (q / geom.j_len(), q % geom.j_len() / (k * k));
            if ci / cig == co / cog {
                r[q] * scale
            } else {
                0.0
            }
        })
        .collect();
    Node {
        name: name.into(),
        op: Op::Conv {
            x,
            w: wd,
            bias: Some(rnd(seed + 1, c_out).into_iter().map(|v| v * 0.1).collect()),
            geom,
        },
        shape: vec![1, c_out, oh, ow],
    }
}

/// Convolutions (padding, stride, dilation, groups), ReLU, flatten, a dense head.
pub fn conv_ops() -> Graph {
    let c1 = conv_node("conv1", 0, (3, 6, 6), (4, 3, 1, 1, 1, 1), 21); // [1,4,6,6]
    let c2 = conv_node("conv2", 2, (4, 6, 6), (4, 3, 2, 1, 1, 2), 22); // [1,4,3,3]
    let c3 = conv_node("conv3", 3, (4, 3, 3), (2, 2, 1, 1, 2, 1), 23); // dilated
    let s3 = c3.shape.clone();
    let flat: usize = s3.iter().product();
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, 3, 6, 6],
        nodes: vec![
            c1, // 1
            Node {
                name: "relu".into(),
                op: Op::Act {
                    x: 1,
                    kind: ActKind::Relu,
                },
                shape: vec![1, 4, 6, 6],
            }, // 2
            c2, // 3
            c3, // 4
            Node {
                name: "flatten".into(),
                op: Op::View { x: 4 },
                shape: vec![1, flat],
            }, // 5
            linear("fc", 5, flat, 3, 24), // 6
        ],
        output: 6,
        output_parts: Vec::new(),
    }
}

/// `q` with every committed range widened to 62 bits: its forward pass computes the same values
/// but does not refuse a cheating hook's, so cheating provers take their witness from it and
/// prove it against `q` itself.
pub fn loosened(q: &QGraph) -> QGraph {
    let mut loose = q.clone();
    for t in loose.tensors.iter_mut() {
        if t.kind == zkgrad_circuit::TensorKind::Committed {
            t.bits = 62;
        }
    }
    loose
}

/// Verifies a proof of `q` against the weight root `root` at the small test parameters.
pub fn verify_against(
    q: &QGraph,
    root: &[u8; 32],
    p: &zkgrad_verifier::ProofFile,
) -> Result<zkgrad_verifier::Verified, VerifyError> {
    verify(q, root, &p.input, &p.output, &p.body, &small_params())
}

/// The forward pass with every committed range widened to 62 bits, so that a cheating hook's
/// values are not refused by the honest prover's own range checks (the values are the same;
/// the proof is then made against the real circuit).
pub fn lenient_forward(
    q: &QGraph,
    input: &[i64],
    hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
) -> Witness {
    zkgrad_model::forward_with(&loosened(q), input, hook).unwrap()
}

/// Quantizes inputs at `frac` bits.
pub fn quantized(xs: &[f64], frac: u32) -> Vec<i64> {
    xs.iter()
        .map(|&v| quantize_input(v, frac).unwrap())
        .collect()
}

/// A softmax layer over `n` logits, quantized, and its public input.
pub fn softmax_layer(n: usize) -> (Graph, QGraph, Vec<i64>) {
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![1, n],
        nodes: vec![Node {
            name: "softmax".into(),
            op: Op::Softmax { x: 0 },
            shape: vec![1, n],
        }],
        output: 1,
        output_parts: Vec::new(),
    };
    let cfg = QConfig {
        act_frac: 10,
        weight_frac: 20,
        table_bits: 20,
    };
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    let input = quantized(&rnd(n as u64, n), cfg.act_frac);
    (g, q, input)
}

pub mod transformer;
