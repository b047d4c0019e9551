//! Adversarial review of the audit fixes: softmax's normalizer hint.
//!
//! When these attacks were written the hint was pinned by one normalization check within a
//! slack (a relative `2^-(fz−2)`): every hint in an interval of a few dozen units verified, so a
//! circuit holding a softmax was a relation, not a function of its input, and a circuit could
//! turn the slack into an output the prover chose:
//!
//! - a description reading the broadcast hint itself (its parity: a free bit for every input);
//! - with exact templates only — even from the quantizer — two softmaxes of the same logits
//!   with independent hints: `Relu(softmax(x) − softmax(x))`, 0 for every input, proven nonzero.
//!
//! The normalizer is now unique (`zkgrad_circuit::softmax`: the least ℓ whose exp values sum to at most
//! 1, checked from both sides), so every move of a hint is rejected; these tests keep the
//! attacks as regressions.

mod common;
use common::*;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_circuit::{QOp, TensorKind};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::{quantize_input, Witness};
use zkgrad_prover::{prove, prove_witness, CommittedModel};
use zkgrad_verifier::{model_commitment, verify, verify_with_commitment};

const CFG: QConfig = QConfig {
    act_frac: 16,
    weight_frac: 20,
    table_bits: 20,
};

fn input(n: usize) -> Vec<i64> {
    rnd(11, n)
        .iter()
        .map(|&v| quantize_input(2.0 * v, CFG.act_frac).unwrap())
        .collect()
}

/// The forward pass with every log-sum-exp hint `k` (in node order) moved by `deltas[k]`,
/// everything after it recomputed.
fn with_hints_moved(q: &QGraph, x: &[i64], deltas: &[i64]) -> Option<Witness> {
    let hints: Vec<usize> = q
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.op, QOp::LogSumExp { .. }))
        .map(|(i, _)| i)
        .collect();
    let loose = loosened(q);
    zkgrad_model::forward_with(&loose, x, |ni, out, _| {
        if let Some(k) = hints.iter().position(|&h| h == ni) {
            for v in out.iter_mut() {
                *v += deltas[k];
            }
        }
    })
    .ok()
}

/// Proves `w` against `q` committed as a description, and verifies it against the published
/// commitment alone (what `zkgrad verify --commitment` runs): the output if it verifies.
fn verified_output(q: &QGraph, w: Witness) -> Option<Vec<i64>> {
    let params = small_params();
    let model = CommittedModel::new(q, &params);
    let p = prove_witness(q, &model, w, &params).proof;
    let c = model_commitment(&p.circuit, &p.weight_root);
    verify_with_commitment(&p, &c, &params).ok()?;
    verify(q, &model.root(), &p.input, &p.output, &p.body, &params).ok()?;
    Some(p.output)
}

// ---------------------------------------------------------------------------------------------
// The template's tensors read from outside it.

/// softmax(x) over a row of `n` values, then the parity of the broadcast hint:
/// `bit = L − 2·round(L/2)` (0 or −1), the public output. Every node is one the verifier knows;
/// only the broadcast `softmax/logsumexp/broadcast` is read outside the template.
fn hint_parity_circuit(n: usize) -> QGraph {
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
    let mut q = zkgrad_model::quantize(&g, CFG).unwrap();
    let fa = CFG.act_frac;
    let lse_b = q
        .tensors
        .iter()
        .position(|t| t.name == "softmax/logsumexp/broadcast")
        .unwrap();
    assert_eq!(q.tensors[lse_b].kind, TensorKind::Virtual);
    // The softmax's probabilities stop being the output.
    let s = q.output;
    q.tensors[s].kind = TensorKind::Committed;
    let half = q.push_node("half", QOp::Requant { x: lse_b, shift: 1 }, 1, n, fa - 1);
    let twice = q.push_node("twice", QOp::Scale { x: half, c: 2 }, 1, n, fa);
    let bit = q.push_node("parity", QOp::Sub { a: lse_b, b: twice }, 1, n, fa);
    q.output = bit;
    q.tensors[bit].kind = TensorKind::Public;
    // The description is accepted as it stands.
    let back = QGraph::from_description(&q.describe()).expect("the description validates");
    assert_eq!(back.describe(), q.describe());
    q
}

/// The same input, two different outputs (the hint's parity, 0 or −1), both verifying against
/// the model commitment. Asserts that this cannot happen: currently it does.
#[test]
fn hint_read_through_its_broadcast_outside_the_template_is_rejected() {
    let n = 4;
    let q = hint_parity_circuit(n);
    let x = input(n);
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let honest = prove(&q, &model, &x, &params).unwrap().proof;
    verify(
        &q,
        &model.root(),
        &honest.input,
        &honest.output,
        &honest.body,
        &params,
    )
    .unwrap();
    let mut outputs = std::collections::BTreeSet::new();
    for delta in [-2i64, -1, 1, 2] {
        if let Some(w) = with_hints_moved(&q, &x, &[delta]) {
            if let Some(out) = verified_output(&q, w) {
                outputs.insert(out);
            }
        }
    }
    outputs.insert(honest.output.clone());
    assert!(
        outputs.len() < 2,
        "NOT A FUNCTION: one input, verified outputs {outputs:?} (honest {:?})",
        honest.output
    );
}

// ---------------------------------------------------------------------------------------------
// Exact templates only: two softmaxes of the same logits.

/// `Relu(softmax(x) − softmax(x))`: 0 for every input, built by the quantizer from a float graph.
fn twin_softmax_circuit(n: usize) -> QGraph {
    let node = |name: &str, op: Op| Node {
        name: name.into(),
        op,
        shape: vec![1, n],
    };
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![1, n],
        nodes: vec![
            node("s1", Op::Softmax { x: 0 }),
            node("s2", Op::Softmax { x: 0 }),
            node("d", Op::Sub { a: 1, b: 2 }),
            node(
                "relu",
                Op::Act {
                    x: 3,
                    kind: ActKind::Relu,
                },
            ),
        ],
        output: 4,
        output_parts: Vec::new(),
    };
    let q = zkgrad_model::quantize(&g, CFG).unwrap();
    assert!(QGraph::from_description(&q.describe()).is_ok());
    q
}

#[test]
fn twin_softmaxes_of_the_same_logits_cannot_differ() {
    let n = 4;
    let q = twin_softmax_circuit(n);
    let x = input(n);
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let honest = prove(&q, &model, &x, &params).unwrap().proof;
    assert!(honest.output.iter().all(|&v| v == 0), "{:?}", honest.output);
    let mut forged = None;
    // The hints' slack here is about ±16 units at 2^-16: s1 scaled up, s2 down.
    'search: for d1 in [-16i64, -12, -8, -4] {
        for d2 in [0i64, 4, 8] {
            if let Some(w) = with_hints_moved(&q, &x, &[d1, d2]) {
                if let Some(out) = verified_output(&q, w) {
                    if out.iter().any(|&v| v != 0) {
                        forged = Some((d1, d2, out));
                        break 'search;
                    }
                }
            }
        }
    }
    assert!(
        forged.is_none(),
        "NOT A FUNCTION: Relu(softmax(x) − softmax(x)) proven to be {forged:?} (hint shifts, \
         output at 2^-{})",
        CFG.act_frac
    );
}

// ---------------------------------------------------------------------------------------------
// Padding planted in the exp values: the row sums read only real columns.

/// A softmax over rows of 5 values (padded to 8): the hint is raised so that each row's real
/// exp values sum to about one half, and the deficit is planted in the padded columns of the
/// committed exp values (and the rows' sums recomputed as if the padding counted). The row-sum
/// transposes and RowSum's mask must keep the padding out of the normalization check.
#[test]
fn softmax_deficit_planted_in_padded_exp_columns_is_rejected() {
    use zkgrad_circuit::layout::Operand;
    let (rows, n) = (3usize, 5usize);
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![rows, n],
        nodes: vec![Node {
            name: "softmax".into(),
            op: Op::Softmax { x: 0 },
            shape: vec![rows, n],
        }],
        output: 1,
        output_parts: Vec::new(),
    };
    let q = zkgrad_model::quantize(&g, CFG).unwrap();
    let x = input(rows * n);
    let find = |name: &str| q.tensors.iter().position(|t| t.name == name).unwrap();
    let (fine, sum_node) = (find("softmax/exp"), find("softmax/exp/sum_t") - 1);
    let (fine_up, sum_up_node) = (find("softmax/exp+1"), find("softmax/exp+1/sum_t") - 1);
    let fs = q.tensors[fine].frac;
    let lse = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::LogSumExp { .. }))
        .unwrap();
    // ln 2 at the normalizer's scale: every probability halved.
    let fz = q.tensors[lse + 1].frac;
    let delta = (std::f64::consts::LN_2 * (1u64 << fz) as f64).round() as i64;
    let mut w = None;
    let loose = loosened(&q);
    // Both normalization checks are met if the padding counted: the exp values' sum completed
    // to exactly 1, the shifted ones' to 1 + 1 ulp.
    let mut deficits = vec![0i64; rows];
    let mut deficits_up = vec![0i64; rows];
    let wit = zkgrad_model::forward_with(&loose, &x, |ni, out, _| {
        if ni == lse {
            for v in out.iter_mut() {
                *v += delta;
            }
        }
        if ni + 1 == fine {
            for (r, d) in deficits.iter_mut().enumerate() {
                *d = (1i64 << fs) - out[r * n..(r + 1) * n].iter().sum::<i64>();
            }
        }
        if ni + 1 == fine_up {
            for (r, d) in deficits_up.iter_mut().enumerate() {
                *d = (1i64 << fs) + 1 - out[r * n..(r + 1) * n].iter().sum::<i64>();
            }
        }
        if ni == sum_node {
            // The row sums as if the planted padding were summed.
            for (v, d) in out.iter_mut().zip(&deficits) {
                *v += d;
            }
        }
        if ni == sum_up_node {
            for (v, d) in out.iter_mut().zip(&deficits_up) {
                *v += d;
            }
        }
    })
    .unwrap();
    let mut wit = wit;
    for r in 0..rows {
        assert!(
            deficits[r] > 1 << (fs - 3),
            "the cheat needs the padding: {}",
            deficits[r]
        );
        // Row r, padded column 5 of the committed exp values (8 columns per padded row).
        wit.padding
            .push((Operand::Tensor(fine), r * 8 + 5, deficits[r]));
        wit.padding
            .push((Operand::Tensor(fine_up), r * 8 + 5, deficits_up[r]));
    }
    w.replace(wit);
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let p = prove_witness(&q, &model, w.unwrap(), &params).proof;
    let r = verify(&q, &model.root(), &p.input, &p.output, &p.body, &params);
    // Caught where the mask is: the row sum's sumcheck (summing the padding, it would close).
    assert!(
        matches!(&r, Err(zkgrad_verifier::VerifyError::NodeSumcheck { node, .. }
            | zkgrad_verifier::VerifyError::Node { node, .. }) if node.contains("sum")),
        "a halved softmax completed by planted padding: {r:?}"
    );
}
