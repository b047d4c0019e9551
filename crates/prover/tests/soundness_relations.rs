//! The attacks of the soundness audit (issue 11), each carried out by a cheating prover written
//! against the crates' own APIs, and rejected: a rounding that wraps around p, planted padding,
//! a softmax scaled by its hint, a reshape-only model with a foreign output, descriptions that
//! are not functions. Plus a walk of every rounding and range check of a set of circuits that
//! checks the integer bounds docs/SECURITY.md states ("Uniqueness").

mod common;
use common::*;
use zkgrad_circuit::layout::Operand;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_circuit::{QOp, TensorKind};
use zkgrad_field::f_from_i64;
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_model::{quantize_input, Witness};
use zkgrad_prover::{prove, prove_witness, CommittedModel};
use zkgrad_verifier::protocol::weight_values;
use zkgrad_verifier::{verify, VerifyError};

fn check(
    q: &QGraph,
    root: &[u8; 32],
    p: &zkgrad_verifier::ProofFile,
) -> Result<zkgrad_verifier::Verified, VerifyError> {
    verify(q, root, &p.input, &p.output, &p.body, &small_params())
}

/// The forward pass with every committed range widened to 62 bits, so that a cheating hook's
/// values are not refused by the honest prover's own range checks (the values are the same;
/// the proof is then made against the real circuit).
fn lenient_forward(
    q: &QGraph,
    input: &[i64],
    hook: impl FnMut(usize, &mut Vec<i64>, &mut Option<Vec<i64>>),
) -> Witness {
    zkgrad_model::forward_with(&loosened(q), input, hook).unwrap()
}

fn quantized(xs: &[f64], frac: u32) -> Vec<i64> {
    xs.iter()
        .map(|&v| quantize_input(v, frac).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Finding 1: an update's rounding wrapping around p.

/// Carries out, on every update of `q`, a wrap-around substitution that satisfies the rounding
/// identity `x + 2^(s−1) = 2^s·u + rem` mod p — for `s ≥ 33`, `u → u + 2^(64−s)`,
/// `rem → rem − (2^32 − 1)` (as `2^64 ≡ 2^32 − 1`); for `s ≤ 32`, `u → u + 2^(64−s) − 2^(32−s)`,
/// `rem → rem + 1` (as `2^64 − 2^32 ≡ −1`) — with `W' → W' − Δu`, and checks that the verifier
/// rejects it: by `u`'s own range check where `u` is committed (the substitution is chosen to
/// keep `W'` in its range), by `W'`'s range where `u` is virtual (`s + wbits ≤ 62` leaves no
/// substitution inside it). Returns how many were carried out on committed and on virtual
/// roundings.
fn wraparound_substitutions_rejected(q: &QGraph, public: &[i64], what: &str) -> (usize, usize) {
    let params = small_params();
    let model = CommittedModel::new(q, &params);
    let honest = zkgrad_model::forward(q, public).unwrap();
    let (mut committed, mut virtual_u) = (0, 0);
    for (ni, wi) in q.updates() {
        let QOp::Update { u, bits: wbits, .. } = q.nodes[ni].op else {
            unreachable!()
        };
        let rn = u - 1;
        let QOp::Requant { x, shift: s } = q.nodes[rn].op else {
            panic!("{what}: an update's u is not a rounding")
        };
        let is_virtual = q.tensors[u].kind == TensorKind::Virtual;
        if is_virtual {
            assert!(s + wbits <= 62, "{what}: a virtual u needs s + wbits ≤ 62");
        }
        if s < 2 {
            continue;
        }
        let (delta, d_rem) = if s >= 33 {
            (1i64 << (64 - s), -((1i64 << 32) - 1))
        } else {
            ((1i64 << (64 - s)) - (1i64 << (32 - s)), 1)
        };
        let half_w = 1i64 << (wbits - 1);
        let rems = honest.rems[rn].as_ref().unwrap();
        let Some(i) = (0..rems.len()).find(|&i| {
            (0..1i64 << s).contains(&(rems[i] + d_rem))
                && (is_virtual || (-half_w..half_w).contains(&(honest.values[ni + 1][i] - delta)))
        }) else {
            continue;
        };
        let mut w = honest.clone();
        w.values[u][i] += delta;
        w.rems[rn].as_mut().unwrap()[i] += d_rem;
        w.values[ni + 1][i] -= delta;
        // The substituted values satisfy the rounding identity in the field: the attack is the
        // real one, not a mere wrong value.
        let lhs = f_from_i64(w.values[x][i]) + f_from_i64(1i64 << (s - 1));
        let rhs = f_from_i64(1i64 << s) * f_from_i64(w.values[u][i])
            + f_from_i64(w.rems[rn].as_ref().unwrap()[i]);
        assert_eq!(lhs, rhs, "{what}: the substitution must hold mod p");
        assert_eq!(
            w.values[ni + 1][i] - q.weights[wi].data[i] + w.values[u][i],
            0,
            "{what}: W' = W − u"
        );
        let p = prove_witness(q, &model, w, &params).proof;
        assert!(
            check(q, &model.root(), &p).is_err(),
            "{what}: update {} moved by {delta} through a wrap-around accepted",
            q.nodes[ni].name
        );
        if is_virtual {
            virtual_u += 1;
        } else {
            committed += 1;
        }
    }
    (committed, virtual_u)
}

/// The same substitutions on every other rounding of a circuit — forward requantizations,
/// gradients, softmax's — made in place on the honest witness (its output entry and remainder;
/// nothing else moved): every one is rejected. Returns how many were carried out.
fn rounding_substitutions_rejected(q: &QGraph, public: &[i64], what: &str) -> usize {
    let params = small_params();
    let model = CommittedModel::new(q, &params);
    let honest = zkgrad_model::forward(q, public).unwrap();
    let updates: Vec<usize> = q
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            QOp::Update { u, .. } => Some(u),
            _ => None,
        })
        .collect();
    let mut cases = 0;
    for (ni, node) in q.nodes.iter().enumerate() {
        let QOp::Requant { shift: s, .. } = node.op else {
            continue;
        };
        if s < 2 || updates.contains(&(ni + 1)) {
            continue;
        }
        let (delta, d_rem) = if s >= 33 {
            (1i64 << (64 - s), -((1i64 << 32) - 1))
        } else {
            ((1i64 << (64 - s)) - (1i64 << (32 - s)), 1)
        };
        let rems = honest.rems[ni].as_ref().unwrap();
        let Some(i) = (0..rems.len()).find(|&i| (0..1i64 << s).contains(&(rems[i] + d_rem))) else {
            continue;
        };
        let mut w = honest.clone();
        w.values[ni + 1][i] += delta;
        w.rems[ni].as_mut().unwrap()[i] += d_rem;
        let p = prove_witness(q, &model, w, &params).proof;
        assert!(
            check(q, &model.root(), &p).is_err(),
            "{what}: rounding {} moved by {delta} through a wrap-around accepted",
            node.name
        );
        cases += 1;
    }
    cases
}

#[test]
fn every_rounding_wraparound_rejected_in_inference_training_and_softmax_circuits() {
    let base = seed_mlp();
    let x = rnd(31, 5);
    let cfg = zkgrad_model::calibrate(&base, std::slice::from_ref(&x), 20);
    let q = zkgrad_model::quantize(&base, cfg).unwrap();
    let mut cases = rounding_substitutions_rejected(&q, &quantized(&x, cfg.act_frac), "seed MLP");
    for loss in [Loss::Mse, Loss::SoftmaxCrossEntropy] {
        let spec = SgdSpec {
            batch: 3,
            lr: 1e-3,
            loss,
        };
        let tc = TrainConfig::calibrate(&base, std::slice::from_ref(&x), 0);
        let xs = rnd(32, 15);
        let ys = match loss {
            Loss::Mse => rnd(33, 6).iter().map(|v| v * 0.5).collect(),
            Loss::SoftmaxCrossEntropy => one_hot(3, 2, 34),
        };
        let public = quantized(&[xs, ys].concat(), tc.act_frac);
        let q = sgd_step(&base, &spec, tc).unwrap();
        cases += rounding_substitutions_rejected(&q, &public, &format!("SGD {loss:?}"));
        let lora = LoraSpec {
            rank: 2,
            alpha: 4.0,
            targets: vec![],
        };
        let (adapted, ads) = with_adapters(&base, &lora, 5, 0.2).unwrap();
        let q = lora_step(&adapted, &ads, &lora, &spec, tc).unwrap();
        cases += rounding_substitutions_rejected(&q, &public, &format!("LoRA {loss:?}"));
    }
    let (_, q, input) = softmax_layer(600);
    cases += rounding_substitutions_rejected(&q, &input, "softmax 600");
    assert!(cases >= 40, "only {cases} roundings substituted");
}

fn one_hot(rows: usize, n: usize, seed: u64) -> Vec<f64> {
    let r = rnd(seed, rows);
    (0..rows)
        .flat_map(|k| {
            let hot = ((r[k] + 1.0) * n as f64 / 2.0) as usize % n;
            (0..n).map(move |c| if c == hot { 1.0 } else { 0.0 })
        })
        .collect()
}

#[test]
fn update_rounding_wraparound_rejected_for_sgd_and_lora_across_learning_rates_batches_and_scales() {
    let base = seed_mlp();
    let lora = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: vec![],
    };
    let (adapted, adapters) = with_adapters(&base, &lora, 5, 0.2).unwrap();
    let (mut cases, mut virtual_cases) = (0, 0);
    let mut shifts = std::collections::BTreeSet::new();
    for lr in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7] {
        for batch in [1usize, 3, 8] {
            for act_frac in [8u32, 12, 18] {
                let cfg = TrainConfig {
                    table_bits: 20,
                    act_frac,
                    weight_frac: TrainConfig::WEIGHT_FRAC,
                };
                let x = rnd(17 + batch as u64, 5 * batch);
                for loss in [Loss::Mse, Loss::SoftmaxCrossEntropy] {
                    let spec = SgdSpec { batch, lr, loss };
                    let y = match loss {
                        Loss::Mse => rnd(23, 2 * batch).iter().map(|v| v * 0.5).collect(),
                        Loss::SoftmaxCrossEntropy => one_hot(batch, 2, 29),
                    };
                    let public: Vec<i64> = quantized(&[x.clone(), y].concat(), act_frac);
                    let sgd = sgd_step(&base, &spec, cfg).unwrap();
                    let what = format!("SGD lr {lr} batch {batch} 2^-{act_frac} {loss:?}");
                    let (c, v) = wraparound_substitutions_rejected(&sgd, &public, &what);
                    (cases, virtual_cases) = (cases + c, virtual_cases + v);
                    let l = lora_step(&adapted, &adapters, &lora, &spec, cfg).unwrap();
                    let what = format!("LoRA lr {lr} batch {batch} 2^-{act_frac} {loss:?}");
                    let (c, v) = wraparound_substitutions_rejected(&l, &public, &what);
                    (cases, virtual_cases) = (cases + c, virtual_cases + v);
                    for q in [&sgd, &l] {
                        for (ni, _) in q.updates() {
                            let QOp::Update { u, .. } = q.nodes[ni].op else {
                                unreachable!()
                            };
                            if let QOp::Requant { shift, .. } = q.nodes[u - 1].op {
                                shifts.insert(shift);
                            }
                        }
                    }
                }
            }
        }
    }
    // The grid reaches the shifts the audit exploited (36 at lr 0.01) and far beyond.
    assert!(shifts.contains(&35) || shifts.contains(&36), "{shifts:?}");
    assert!(*shifts.last().unwrap() >= 50, "{shifts:?}");
    assert!(
        cases >= 50 && virtual_cases >= 50,
        "only {cases} substitutions on committed and {virtual_cases} on virtual roundings"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 2: padding planted in a committed weight and in a committed activation.

/// Linear(5,6) → ReLU → Linear(6,3): the second layer contracts over 6 columns padded to 8.
fn padded_mlp() -> Graph {
    zkgrad_model::zoo::mlp(&[5, 6, 3], ActKind::Relu, 3)
}

/// The weight tensor read by the Gemm that writes (before its rounding) tensor `t`, and that
/// Gemm's input.
fn gemm_feeding(q: &QGraph, node_name_prefix: &str) -> (usize, usize, usize) {
    q.nodes
        .iter()
        .enumerate()
        .find_map(|(ni, n)| match n.op {
            QOp::Gemm { x, w, .. } if n.name.starts_with(node_name_prefix) => Some((ni, x, w)),
            _ => None,
        })
        .unwrap()
}

#[test]
fn planted_weight_padding_in_a_committed_model_is_rejected() {
    // A model published by commitment only: its owner committed fc2's weight with a value in
    // its padding (row 0, column 6), and a prover plants a value in the padding of fc2's input
    // (the ReLU output, column 6): unmasked, their product adds 0.5 to output 0.
    let g = padded_mlp();
    let x = rnd(41, 5);
    let cfg = zkgrad_model::calibrate(&g, std::slice::from_ref(&x), 20);
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    let (gemm, relu_t, w2) = gemm_feeding(&q, "fc2");
    let params = small_params();
    let (fa, fw) = (cfg.act_frac, cfg.weight_frac);
    let (p_w, p_x) = (1i64 << (fw - 1), 1i64 << fa); // 0.5 and 1.0
    let w_cols = 1 << q.weights[w2].as_tensor().log_cols();
    assert_eq!(w_cols, 8);
    let model = CommittedModel::from_padded(&q, &params, &|wi| {
        let mut v = weight_values(&q, wi).0;
        if wi == w2 {
            v[6] = f_from_i64(p_w);
        }
        v
    });
    let input = quantized(&x, fa);
    let mut w = lenient_forward(&q, &input, |ni, out, _| {
        if ni == gemm {
            out[0] += p_x * p_w;
        }
    });
    w.padding.push((Operand::Tensor(relu_t), 6, p_x));
    let honest = zkgrad_model::forward(&q, &input).unwrap();
    assert_ne!(
        w.values[q.output], honest.values[q.output],
        "the plant moves the output"
    );
    let p = prove_witness(&q, &model, w, &params).proof;
    assert!(
        check(&q, &model.root(), &p).is_err(),
        "an output steered through planted padding was accepted"
    );
    // The same model with its planted padding proves honest outputs: padding itself is harmless.
    let honest_proof = prove(&q, &model, &input, &params).unwrap().proof;
    check(&q, &model.root(), &honest_proof).unwrap();
}

#[test]
fn planted_padding_in_updated_weights_cannot_steer_the_chained_step() {
    let g = padded_mlp();
    let x = rnd(43, 5);
    let y = vec![0.1, -0.2, 0.3];
    let spec = SgdSpec {
        batch: 1,
        lr: 0.01,
        loss: Loss::Mse,
    };
    let cfg = TrainConfig::calibrate(&g, std::slice::from_ref(&x), 0);
    let q = sgd_step(&g, &spec, cfg).unwrap();
    let params = small_params();
    let public = quantized(&[x.clone(), y].concat(), cfg.act_frac);
    let (_, relu_t, w2) = gemm_feeding(&q, "fc2");
    let (upd, u) = q
        .updates()
        .into_iter()
        .find(|&(_, wi)| wi == w2)
        .map(|(ni, _)| match q.nodes[ni].op {
            QOp::Update { u, .. } => (ni, u),
            _ => unreachable!(),
        })
        .unwrap();
    let QOp::Requant { shift: s, .. } = q.nodes[u - 1].op else {
        unreachable!()
    };
    // Step 1 commits W2' with c in its padding (row 0, column 6): u's padding is c, its
    // remainder's −2^s·c (the rounding identity holds there, as x's padding is 0), W2''s −c.
    let c = 1i64 << (62 - s).min(cfg.weight_frac - 2);
    let model1 = CommittedModel::new(&q, &params);
    let mut w1 = zkgrad_model::forward(&q, &public).unwrap();
    w1.padding.push((Operand::Tensor(u), 6, c));
    w1.padding.push((Operand::Rem(u - 1), 6, -(c << s)));
    w1.padding.push((Operand::Tensor(upd + 1), 6, -c));
    let after: Vec<Vec<i64>> = q
        .weights
        .iter()
        .enumerate()
        .map(|(wi, wt)| {
            q.updates()
                .iter()
                .find(|&&(_, w)| w == wi)
                .map_or(wt.data.clone(), |&(ni, _)| w1.values[ni + 1].clone())
        })
        .collect();
    let out1 = prove_witness(&q, &model1, w1, &params);
    // Padding is not constrained: the step verifies, and its root commits the planted padding.
    let v1 = check(&q, &model1.root(), &out1.proof).unwrap();
    let mut q2 = q.clone();
    for (wt, vals) in q2.weights.iter_mut().zip(&after) {
        wt.data = vals.clone();
    }
    let model2 = CommittedModel::from_padded(&q2, &params, &|wi| {
        let mut v = weight_values(&q2, wi).0;
        if wi == w2 {
            v[6] = f_from_i64(-c);
        }
        v
    });
    assert_eq!(model2.root(), v1.weight_root_after, "the chain holds");
    // Step 2 plants a value in the padding of fc2's input: unmasked, output 0 moves by
    // p_x·c (−0.5 at the default precision).
    let (gemm2, _, _) = gemm_feeding(&q2, "fc2");
    let p_x = (1i64 << (cfg.act_frac + cfg.weight_frac - 1)) / c;
    let mut w2w = lenient_forward(&q2, &public, |ni, out, _| {
        if ni == gemm2 {
            out[0] += p_x * -c;
        }
    });
    w2w.padding.push((Operand::Tensor(relu_t), 6, p_x));
    // The backward pass's G·W2 carries W2's padded column into the padded column of its
    // output: the cheater absorbs it in that rounding's (unconstrained) padded remainder, so
    // that only the forward plant remains to be caught.
    let dx = q2.nodes.iter().position(|n| n.name == "layer2/dX").unwrap();
    let QOp::MatMul { a: grad, .. } = q2.nodes[dx].op else {
        unreachable!()
    };
    assert_eq!(q2.nodes[dx + 1].name, "layer2/dX/requant");
    let carried = w2w.values[grad][0] * -c;
    w2w.padding.push((Operand::Rem(dx + 1), 6, carried));
    // Likewise the update's Gᵀ·A carries A's planted column into the padded column of W2's
    // rounding (absorbed by its remainder, u's padding left 0), and W2'' = W2 − u keeps W2's
    // padding.
    let (upd2, u2) = q2
        .updates()
        .into_iter()
        .find(|&(_, wi)| wi == w2)
        .map(|(ni, _)| match q2.nodes[ni].op {
            QOp::Update { u, .. } => (ni, u),
            _ => unreachable!(),
        })
        .unwrap();
    let QOp::Scale { c: lr_q, .. } = q2.nodes[u2 - 2].op else {
        unreachable!()
    };
    for o in 0..3 {
        let raw = w2w.values[grad][o] * p_x;
        w2w.padding
            .push((Operand::Rem(u2 - 1), o * 8 + 6, lr_q * raw));
    }
    w2w.padding.push((Operand::Tensor(upd2 + 1), 6, -c));
    let p2 = prove_witness(&q2, &model2, w2w, &params).proof;
    assert!(
        check(&q2, &model2.root(), &p2).is_err(),
        "a chained step steered through planted padding was accepted"
    );
    // (An honest prover does not prove against such weights: its integer forward pass leaves
    // the padded column of G·W2 at 0. Only padding is ever affected, never a real entry.)
}

// ---------------------------------------------------------------------------------------------
// Finding 4: softmax's normalization slack must not grow with the row length.

fn softmax_layer(n: usize) -> (Graph, QGraph, Vec<i64>) {
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

/// A proof whose log-sum-exp hint is moved by `delta` (at 2^-fa) and everything after it
/// recomputed: the softmax scaled by `e^(−delta/2^fa)`. Returns whether it verifies and the
/// row's sum of exp values (the normalization the check reads), relative to 1.
fn shifted_softmax_verifies(q: &QGraph, input: &[i64], delta: i64) -> (bool, f64) {
    let lse = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::LogSumExp { .. }))
        .unwrap();
    let w = lenient_forward(q, input, |ni, out, _| {
        if ni == lse {
            for v in out.iter_mut() {
                *v += delta;
            }
        }
    });
    let exp = q
        .tensors
        .iter()
        .position(|t| t.name == "softmax/exp")
        .unwrap();
    let sum = w.values[exp].iter().sum::<i64>() as f64 / (1u64 << q.tensors[exp].frac) as f64;
    let model = CommittedModel::new(q, &small_params());
    let p = prove_witness(q, &model, w, &small_params()).proof;
    (check(q, &model.root(), &p).is_ok(), sum)
}

#[test]
fn all_zero_softmax_rejected_at_n_600_and_4096() {
    for n in [600, 4096] {
        let (_, q, input) = softmax_layer(n);
        let model = CommittedModel::new(&q, &small_params());
        let honest = prove(&q, &model, &input, &small_params()).unwrap().proof;
        check(&q, &model.root(), &honest).unwrap();
        // The hint 24 above log-sum-exp: every probability rounds to 0.
        let (ok, sum) = shifted_softmax_verifies(&q, &input, 24 << 10);
        assert_eq!(sum, 0.0, "the cheat is an all-zero softmax");
        assert!(!ok, "an all-zero softmax of {n} values was accepted");
    }
}

#[test]
fn scaled_softmax_rejected_at_n_600_and_4096() {
    for n in [600, 4096] {
        let (_, q, input) = softmax_layer(n);
        for scale in [0.5f64, 0.99, 1.01, 2.0] {
            // L − ln(scale): every probability times `scale`.
            let delta = -(scale.ln() * 1024.0).round() as i64;
            let (ok, sum) = shifted_softmax_verifies(&q, &input, delta);
            assert!(
                (sum / scale - 1.0).abs() < 2e-3,
                "the cheat scales by {scale}: {sum}"
            );
            assert!(
                !ok,
                "a softmax of {n} values scaled by {scale} was accepted"
            );
        }
    }
}

/// The normalizer moved by one or two units (at the exp input's scale): the smallest moves the
/// hint can make, which a slack would let through, are all rejected — the softmax is a function.
#[test]
fn softmax_normalizer_moved_by_one_unit_rejected() {
    for n in [4, 600] {
        let (_, q, input) = softmax_layer(n);
        for delta in [-2i64, -1, 1, 2] {
            let (ok, _) = shifted_softmax_verifies(&q, &input, delta);
            assert!(!ok, "normalizer moved by {delta} accepted at n = {n}");
        }
    }
}

// (Two softmaxes of the same logits, and a product of wide values wrapping past p: the second
// adversarial review's attacks, kept in attack_softmax.rs and attack_wraparound.rs.)

// ---------------------------------------------------------------------------------------------
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
    check(&q, &model.root(), &p).unwrap();
    p.output = vec![1, 2, 3, 4];
    assert!(matches!(
        check(&q, &model.root(), &p),
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
// The integer bounds of every rounding and range check, walked.

/// Every value below 2^62 (so its field element is the integer), every rounding with
/// `shift + bits ≤ 62`, every range check at most 62 bits wide.
fn assert_integer_bounds(q: &QGraph, what: &str) {
    q.check_relations().unwrap();
    // The validator accepts what the builders build (with the weights unknown).
    QGraph::from_description(&q.describe()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let bounds = q.value_bounds();
    for (t, b) in bounds.iter().enumerate() {
        let b = b.unwrap_or_else(|| panic!("{what}: tensor {t} has no bound"));
        assert!(
            b < 1u128 << 62,
            "{what}: tensor {t} ({}) may reach {b}",
            q.tensors[t].name
        );
    }
    let mut roundings = 0;
    for (ni, n) in q.nodes.iter().enumerate() {
        if let QOp::Requant { shift, .. } = n.op {
            if q.tensors[ni + 1].kind != TensorKind::Virtual {
                let bits = q.proven_bits(ni + 1).unwrap();
                assert!(
                    shift + bits <= 62,
                    "{what}: {} by {shift} of {bits} bits",
                    n.name
                );
            }
            roundings += 1;
        }
        if let QOp::Update { u, bits, .. } = n.op {
            assert!(bits <= 62);
            let QOp::Requant { shift, .. } = q.nodes[u - 1].op else {
                panic!("{what}: u is not a rounding")
            };
            match q.tensors[u].kind {
                TensorKind::Committed => assert!(shift + q.tensors[u].bits <= 62),
                TensorKind::Virtual => assert!(shift + bits <= 62, "{what}: virtual u"),
                k => panic!("{what}: u is {k:?}"),
            }
        }
    }
    for l in q.lookups() {
        let table = q.used_tables()[l.table].1;
        assert!(table.log_size(q.config.table_bits) <= 62);
    }
    for d in q.decompositions() {
        assert!(d.bits <= 62);
    }
    assert!(roundings > 0, "{what}: no rounding walked");
}

#[test]
fn every_rounding_and_range_check_holds_over_the_integers() {
    let base = seed_mlp();
    let x = rnd(7, 5);
    let cfg = zkgrad_model::calibrate(&base, std::slice::from_ref(&x), 20);
    assert_integer_bounds(&zkgrad_model::quantize(&base, cfg).unwrap(), "seed MLP");
    for lr in [0.1, 1e-4, 1e-7] {
        for loss in [Loss::Mse, Loss::SoftmaxCrossEntropy] {
            let spec = SgdSpec { batch: 4, lr, loss };
            let tc = TrainConfig::calibrate(&base, std::slice::from_ref(&x), 0);
            let q = sgd_step(&base, &spec, tc).unwrap();
            assert_integer_bounds(&q, &format!("SGD {lr} {loss:?}"));
            let lora = LoraSpec {
                rank: 2,
                alpha: 4.0,
                targets: vec![],
            };
            let (adapted, ads) = with_adapters(&base, &lora, 5, 0.2).unwrap();
            let q = lora_step(&adapted, &ads, &lora, &spec, tc).unwrap();
            assert_integer_bounds(&q, &format!("LoRA {lr} {loss:?}"));
        }
    }
    let lenet = zkgrad_model::zoo_cnn::lenet5();
    let samples = vec![rnd(9, lenet.n_inputs())];
    let cfg = zkgrad_model::calibrate(&lenet, &samples, 12);
    assert_integer_bounds(&zkgrad_model::quantize(&lenet, cfg).unwrap(), "LeNet-5");
    let (_, q, _) = softmax_layer(600);
    assert_integer_bounds(&q, "softmax 600");
}

// ---------------------------------------------------------------------------------------------
// Finding 9: at least 100 bits for the whole proof.

/// The union bound of every circuit of the benchmark suites — inference, training, LoRA and
/// the CNNs under both schemes — reaches 100 bits (`zkgrad_verifier::soundness`).
#[test]
fn every_suite_circuit_reaches_100_bits_for_the_whole_proof() {
    use zkgrad_pcs::{PcsParams, Scheme};
    use zkgrad_verifier::soundness::budget;
    let report = |what: &str, q: &QGraph, params: &PcsParams| {
        QGraph::from_description(&q.describe()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let b = budget(q, params);
        eprintln!(
            "{what:<34} {:>6.1} bits  (ligero 2^{:.1}, whir 2^{:.1}, algebraic 2^{:.1})",
            b.bits(),
            b.ligero.log2(),
            b.whir.log2(),
            b.algebraic.log2()
        );
        assert!(b.bits() >= 100.0, "{what}: {:.1} bits", b.bits());
    };
    let at = |act_frac, weight_frac, table_bits| QConfig {
        act_frac,
        weight_frac,
        table_bits,
    };
    let ligero = PcsParams::for_scheme(Scheme::Ligero);
    let whir = PcsParams::for_scheme(Scheme::Whir);
    let seed = zkgrad_model::quantize(&seed_mlp(), at(12, 20, 20)).unwrap();
    report("seed MLP", &seed, &ligero);
    let tc = TrainConfig {
        table_bits: 20,
        act_frac: 16,
        weight_frac: 28,
    };
    let mnist = zkgrad_model::zoo::mlp(&[784, 256, 256, 10], ActKind::Relu, 6);
    for loss in [Loss::Mse, Loss::SoftmaxCrossEntropy] {
        let spec = SgdSpec {
            batch: 32,
            lr: 0.01,
            loss,
        };
        let q = sgd_step(&mnist, &spec, tc).unwrap();
        report(&format!("784-256-256-10 SGD b32 {loss:?}"), &q, &ligero);
    }
    let wide = zkgrad_model::zoo::mlp(&[4096, 4096], ActKind::Relu, 40);
    let lora = LoraSpec {
        rank: 64,
        alpha: 128.0,
        targets: vec![],
    };
    let (adapted, ads) = with_adapters(&wide, &lora, 5, 0.0).unwrap();
    let spec = SgdSpec {
        batch: 16,
        lr: 0.01,
        loss: Loss::Mse,
    };
    let q = lora_step(&adapted, &ads, &lora, &spec, tc).unwrap();
    report("LoRA 4096x4096 r64 b16", &q, &ligero);
    let tc17 = TrainConfig { act_frac: 17, ..tc };
    let q = sgd_step(&wide, &spec, tc17).unwrap();
    report("SGD 4096x4096 b16", &q, &ligero);
    for (name, _, build) in zkgrad_model::zoo_cnn::real_models() {
        let q = zkgrad_model::quantize(&build(), at(8, 12, 12)).unwrap();
        report(&format!("{name} (ligero)"), &q, &ligero);
        report(&format!("{name} (whir)"), &q, &whir);
    }
    let (_, q, _) = softmax_layer(4096);
    report("softmax 4096", &q, &ligero);
}

/// Parameters that leave a proof below 100 bits (Ligero with 100 queries: (5/8)^100 ≈ 2^-68)
/// are refused by the prover and, for a proof made anyway, by the verifier.
#[test]
fn circuit_below_100_bits_is_refused_by_prover_and_verifier() {
    use zkgrad_pcs::PcsParams;
    let weak = PcsParams {
        n_queries: 100,
        ..PcsParams::default()
    };
    let g = zkgrad_model::zoo::mlp(&[512, 256], ActKind::Relu, 1);
    let x = rnd(3, 512);
    let cfg = zkgrad_model::calibrate(&g, std::slice::from_ref(&x), 20);
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    let input = quantized(&x, cfg.act_frac);
    let model = CommittedModel::new(&q, &weak);
    assert!(zkgrad_verifier::soundness::budget(&q, &weak).bits() < 100.0);
    assert!(matches!(
        prove(&q, &model, &input, &weak),
        Err(zkgrad_prover::ProveError::Soundness { .. })
    ));
    let w = zkgrad_model::forward(&q, &input).unwrap();
    let p = prove_witness(&q, &model, w, &weak).proof;
    let r = verify(&q, &model.root(), &p.input, &p.output, &p.body, &weak);
    assert!(matches!(r, Err(VerifyError::Soundness { .. })), "{r:?}");
    // The default parameters pass.
    assert!(zkgrad_verifier::soundness::check(&q, &PcsParams::default()).is_ok());
}
