//! Audit findings 5 and 6 (issue 11): a reshape-only model whose output is not its input, and
//! circuit descriptions that are not functions (a lone log-sum-exp hint, a wider softmax slack,
//! a rounding past 62 bits, an activation on a virtual input, two updates of one weight) —
//! refused when described and when proven against by commitment.

mod common;
use common::*;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_circuit::{QOp, TensorKind};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::VerifyError;

// Finding 5: a model whose output tensor is its input.

#[test]
fn reshape_only_model_with_a_foreign_output_rejected() {
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![1, 4],
        nodes: vec![Node {
            name: "identity".into(),
            op: Op::View { x: 0 },
            shape: vec![1, 4],
        }],
        output: 1,
        output_parts: Vec::new(),
    };
    let cfg = QConfig {
        act_frac: 8,
        weight_frac: 8,
        table_bits: 12,
    };
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    assert_eq!(q.output, 0, "the output is the input tensor itself");
    let model = CommittedModel::new(&q, &small_params());
    let input = vec![10, -20, 30, 40];
    let mut p = prove(&q, &model, &input, &small_params()).unwrap().proof;
    verify_against(&q, &model.root(), &p).unwrap();
    p.output = vec![1, 2, 3, 4];
    assert!(matches!(
        verify_against(&q, &model.root(), &p),
        Err(VerifyError::PublicMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Finding 6: circuit descriptions that are not functions.

fn tensor(
    rows: usize,
    cols: usize,
    frac: u32,
    kind: TensorKind,
    bits: u32,
) -> zkgrad_circuit::QTensor {
    zkgrad_circuit::QTensor {
        name: String::new(),
        rows,
        cols,
        frac,
        kind,
        bits,
    }
}

fn node(op: QOp) -> zkgrad_circuit::QNode {
    zkgrad_circuit::QNode {
        name: String::new(),
        op,
    }
}

fn described(q: &QGraph) -> Result<QGraph, zkgrad_circuit::describe::DescError> {
    QGraph::from_description(&q.describe())
}

fn bare(tensors: Vec<zkgrad_circuit::QTensor>, nodes: Vec<zkgrad_circuit::QNode>) -> QGraph {
    let output = tensors.len() - 1;
    QGraph {
        config: QConfig {
            act_frac: 8,
            weight_frac: 8,
            table_bits: 12,
        },
        tensors,
        nodes,
        weights: Vec::new(),
        tables: Vec::new(),
        output,
    }
}

#[test]
fn lone_logsumexp_hint_is_not_a_function_and_is_rejected() {
    use TensorKind::*;
    // The hint as the output: any value verifies.
    let q = bare(
        vec![tensor(2, 4, 8, Public, 12), tensor(2, 1, 8, Public, 16)],
        vec![node(QOp::LogSumExp { x: 0 })],
    );
    assert!(described(&q).is_err());
    // The hint committed and read by something other than its softmax.
    let q = bare(
        vec![
            tensor(2, 4, 8, Public, 12),
            tensor(2, 1, 8, Committed, 16),
            tensor(2, 4, 8, Virtual, 12),
            tensor(2, 4, 8, Public, 12),
        ],
        vec![
            node(QOp::LogSumExp { x: 0 }),
            node(QOp::Broadcast { x: 1 }),
            node(QOp::Add { a: 0, b: 2 }),
        ],
    );
    assert!(described(&q).is_err());
}

#[test]
fn softmax_with_a_wider_normalization_slack_is_rejected() {
    let (_, q, _) = softmax_layer(16);
    assert!(described(&q).is_ok());
    let check_t = q
        .tensors
        .iter()
        .position(|t| t.name == "softmax/normalized")
        .unwrap();
    let mut wide = q.clone();
    wide.tensors[check_t].bits += 4;
    let err = described(&wide).unwrap_err().to_string();
    assert!(err.contains("log-sum-exp"), "{err}");
}

#[test]
fn rounding_whose_shift_and_width_pass_62_bits_is_rejected() {
    use TensorKind::*;
    // A rounding by 40 bits of a value range-checked to 30 bits: 70 > 62.
    let q = bare(
        vec![
            tensor(1, 4, 8, Public, 12),
            tensor(1, 4, 48, Virtual, 12),
            tensor(1, 4, 8, Committed, 30),
            tensor(1, 4, 8, Public, 12),
        ],
        vec![
            node(QOp::Scale { x: 0, c: 1 << 40 }),
            node(QOp::Requant { x: 1, shift: 40 }),
            node(QOp::Add { a: 2, b: 2 }),
        ],
    );
    let err = described(&q).unwrap_err().to_string();
    assert!(err.contains("at most 62"), "{err}");
    // 32 + 30 = 62 is accepted.
    let mut ok = q.clone();
    ok.nodes[1].op = QOp::Requant { x: 1, shift: 32 };
    described(&ok).unwrap();
    // A rounding whose output is not committed (format v4's virtual update rounding).
    let mut virt = ok.clone();
    virt.tensors[2].kind = Virtual;
    assert!(described(&virt).is_err());
}

#[test]
fn activation_on_a_virtual_input_is_rejected() {
    use TensorKind::*;
    let mut q = bare(
        vec![
            tensor(1, 4, 8, Public, 12),
            tensor(1, 4, 8, Virtual, 12),
            tensor(1, 4, 8, Public, 12),
        ],
        vec![
            node(QOp::Add { a: 0, b: 0 }),
            node(QOp::Act {
                x: 1,
                kind: ActKind::Relu,
                table: 0,
            }),
        ],
    );
    q.tables.push(zkgrad_circuit::TableKind::Act {
        kind: ActKind::Relu,
        in_frac: 8,
        out_frac: 8,
    });
    let err = described(&q).unwrap_err().to_string();
    assert!(err.contains("activation"), "{err}");
}

#[test]
fn two_updates_of_one_weight_are_rejected() {
    let g = seed_mlp();
    let spec = SgdSpec {
        batch: 1,
        lr: 0.01,
        loss: Loss::Mse,
    };
    let cfg = TrainConfig::calibrate(&g, &[rnd(3, 5)], 0);
    let q = sgd_step(&g, &spec, cfg).unwrap();
    described(&q).unwrap();
    // A second update of the last updated weight, from the same rounding.
    let (ni, _) = *q.updates().last().unwrap();
    let mut twice = q.clone();
    let op = twice.nodes[ni].op.clone();
    let t = twice.tensors[ni + 1].clone();
    let out = twice.output;
    twice.nodes.push(node(op));
    twice.tensors.push(t);
    twice.output = out;
    // (Refused as a second reader of the rounding when that rounding is virtual, else as a
    // weight updated twice.)
    let err = described(&twice).unwrap_err().to_string();
    assert!(
        err.contains("updated twice") || err.contains("read by its update alone"),
        "{err}"
    );
}

#[test]
fn proof_of_a_description_that_is_not_a_function_is_rejected_by_commitment() {
    // An honest proof whose circuit is swapped for a lone hint and whose commitment is
    // recomputed to match: `verify --commitment` refuses the circuit itself.
    let s = setup(seed_mlp(), 12, 5);
    let mut p = prove_ok(&s).proof;
    use TensorKind::*;
    let lone = bare(
        vec![tensor(1, 5, 8, Public, 12), tensor(1, 1, 8, Public, 16)],
        vec![node(QOp::LogSumExp { x: 0 })],
    );
    p.circuit = lone.describe();
    let c = zkgrad_verifier::model_commitment(&p.circuit, &p.weight_root);
    let r = zkgrad_verifier::verify_with_commitment(&p, &c, &s.params);
    assert!(matches!(r, Err(VerifyError::Circuit(_))), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
