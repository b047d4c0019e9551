//! One SGD step of the seed MLP, proven: faithful to f64 SGD, and sound against cheats.

mod common;
use common::*;
use zkgrad_model::quant::quantize_input;
use zkgrad_model::train::{sgd_step, sgd_step_f64, SgdSpec, TrainConfig};
use zkgrad_model::{Graph, Op, QGraph};
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::{verify, VerifyError};

struct Step {
    graph: Graph,
    q: QGraph,
    model: CommittedModel,
    x: Vec<f64>,
    y: Vec<f64>,
    public: Vec<i64>,
    spec: SgdSpec,
}

fn step(batch: usize, lr: f64, seed: u64) -> Step {
    let graph = seed_mlp();
    let x = rnd(seed, 5 * batch);
    let y = rnd(seed + 1, 2 * batch);
    let spec = SgdSpec {
        batch,
        lr,
        loss: Default::default(),
    };
    let samples: Vec<Vec<f64>> = x.chunks(5).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&graph, &samples, 0);
    let q = sgd_step(&graph, &spec, cfg).unwrap();
    let model = CommittedModel::new(&q, &small_params());
    let public: Vec<i64> = x
        .iter()
        .chain(&y)
        .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    Step {
        graph,
        q,
        model,
        x,
        y,
        public,
        spec,
    }
}

#[test]
fn seed_sgd_step_proves_verifies_and_keeps_every_update() {
    let s = step(1, 0.01, 11);
    let out = prove(&s.q, &s.model, &s.public, &small_params()).unwrap();
    let p = &out.proof;
    let v = verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
    assert_eq!(v.weight_root_after, out.weight_root_after);
    assert_ne!(v.weight_root_after, p.weight_root);

    // Against f64 SGD on the same (quantized) data.
    let fw = s.q.config.weight_frac;
    let scale = (1u64 << fw) as f64;
    let (after, _loss) = sgd_step_f64(&s.graph, &s.x, &s.y, &s.spec);
    let mut kept = 0;
    let mut moved = 0;
    let mut max_err: f64 = 0.0;
    let mut wi = 0;
    for (before_n, after_n) in s.graph.nodes.iter().zip(&after.nodes) {
        let (
            Op::Linear {
                w: w0, bias: b0, ..
            },
            Op::Linear {
                w: w1, bias: b1, ..
            },
        ) = (&before_n.op, &after_n.op)
        else {
            continue;
        };
        for (f0, f1, t) in [
            (w0, w1, wi),
            (b0.as_ref().unwrap(), b1.as_ref().unwrap(), wi + 1),
        ] {
            let (ni, _) = s.q.updates().into_iter().find(|&(_, w)| w == t).unwrap();
            let q_after = &out.witness.values[ni + 1];
            let q_before = &s.q.weights[t].data;
            for i in 0..f0.len() {
                let df = f1[i] - f0[i];
                let dq = (q_after[i] - q_before[i]) as f64 / scale;
                max_err = max_err.max((q_after[i] as f64 / scale - f1[i]).abs());
                if df.abs() > 1.0 / scale {
                    moved += 1;
                    if dq != 0.0 && (dq - df).abs() < 0.01 * df.abs() + 2.0 / scale {
                        kept += 1;
                    }
                }
            }
        }
        wi += 2;
    }
    eprintln!("updates kept {kept}/{moved}, max |W_after - f64| = {max_err:.3e}");
    assert!(moved > 60, "the seed step moves most parameters ({moved})");
    assert_eq!(kept, moved, "every update above one quantum survives");
    assert!(max_err < 1e-4, "{max_err}");
}

#[test]
fn batched_sgd_step_proves_and_verifies() {
    let s = step(8, 0.01, 12);
    let out = prove(&s.q, &s.model, &s.public, &small_params()).unwrap();
    let p = &out.proof;
    verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
}

#[test]
fn updated_weight_off_by_one_is_rejected() {
    let s = step(2, 0.01, 13);
    let honest = s.q.forward(&s.public).unwrap();
    for (ni, _) in s.q.updates() {
        for d in [-1i64, 1] {
            let mut w = honest.clone();
            w.values[ni + 1][0] += d;
            let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &small_params()).proof;
            assert!(verify(
                &s.q,
                &p.weight_root,
                &p.input,
                &p.output,
                &p.body,
                &small_params()
            )
            .is_err());
        }
    }
}

#[test]
fn cheating_prover_off_by_one_anywhere_in_the_step_is_rejected() {
    let s = step(2, 0.01, 14);
    let setup = Setup {
        graph: s.graph.clone(),
        q: s.q.clone(),
        model: CommittedModel::new(&s.q, &small_params()),
        input: s.public.clone(),
        input_f: vec![],
    };
    perturbations_rejected_public(&setup);
}

#[test]
fn wrong_learning_rate_and_swapped_sample_are_rejected() {
    let s = step(2, 0.01, 15);
    let p = prove(&s.q, &s.model, &s.public, &small_params())
        .unwrap()
        .proof;
    // A verifier expecting lr = 0.02 builds another circuit: the proof does not verify.
    let cfg = zkgrad_model::train::TrainConfig {
        ..TrainConfig::calibrate(&s.graph, &[s.x[..5].to_vec(), s.x[5..].to_vec()], 0)
    };
    let q2 = sgd_step(
        &s.graph,
        &SgdSpec {
            batch: 2,
            lr: 0.02,
            loss: Default::default(),
        },
        cfg,
    )
    .unwrap();
    assert!(verify(
        &q2,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params()
    )
    .is_err());
    // Samples swapped (rows of X exchanged): another public input.
    let mut swapped = p.input.clone();
    for i in 0..5 {
        swapped.swap(i, 5 + i);
    }
    assert!(matches!(
        verify(
            &s.q,
            &p.weight_root,
            &swapped,
            &p.output,
            &p.body,
            &small_params()
        ),
        Err(VerifyError::PublicMismatch { .. }) | Err(_)
    ));
    assert!(verify(
        &s.q,
        &p.weight_root,
        &swapped,
        &p.output,
        &p.body,
        &small_params()
    )
    .is_err());
}

#[test]
fn wide_range_checks_on_large_tensors_go_through_limbs_and_stay_sound() {
    use zkgrad_model::table::ActKind;
    let graph = zkgrad_model::zoo::mlp(&[64, 32, 4], ActKind::Relu, 3);
    let batch = 8;
    let x = rnd(21, 64 * batch);
    let y: Vec<f64> = rnd(22, 4 * batch).iter().map(|v| v * 0.5).collect();
    let rows: Vec<Vec<f64>> = x.chunks(64).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&graph, &rows, 0);
    let spec = SgdSpec {
        batch,
        lr: 0.01,
        loss: Default::default(),
    };
    let q = sgd_step(&graph, &spec, cfg).unwrap();
    assert!(
        !q.decompositions().is_empty(),
        "the 32x64 gradients are split into limbs"
    );
    let model = CommittedModel::new(&q, &small_params());
    let public: Vec<i64> = x
        .iter()
        .chain(&y)
        .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    let out = prove(&q, &model, &public, &small_params()).unwrap();
    let p = &out.proof;
    verify(
        &q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
    let setup = Setup {
        graph,
        q: q.clone(),
        model,
        input: public,
        input_f: vec![],
    };
    perturbations_rejected_public(&setup);
}

#[test]
fn softmax_cross_entropy_step_matches_f64_and_rejects_cheats() {
    use zkgrad_model::table::ActKind;
    use zkgrad_model::train::Loss;
    let graph = zkgrad_model::zoo::mlp(&[4, 8, 3], ActKind::Relu, 9);
    let batch = 4;
    let x = rnd(31, 4 * batch);
    // one-hot targets
    let y: Vec<f64> = (0..batch)
        .flat_map(|b| (0..3).map(move |c| if c == b % 3 { 1.0 } else { 0.0 }))
        .collect();
    let rows: Vec<Vec<f64>> = x.chunks(4).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&graph, &rows, 0);
    let spec = SgdSpec {
        batch,
        lr: 0.1,
        loss: Loss::SoftmaxCrossEntropy,
    };
    let q = sgd_step(&graph, &spec, cfg).unwrap();
    let model = CommittedModel::new(&q, &small_params());
    let public: Vec<i64> = x
        .iter()
        .chain(&y)
        .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    let out = prove(&q, &model, &public, &small_params()).unwrap();
    let p = &out.proof;
    verify(
        &q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
    // Against f64 SGD with cross-entropy.
    let (after, _) = sgd_step_f64(&graph, &x, &y, &spec);
    let scale = (1u64 << cfg.weight_frac) as f64;
    let mut wi = 0;
    let mut max_err: f64 = 0.0;
    for n in &after.nodes {
        let Op::Linear { w, bias, .. } = &n.op else {
            continue;
        };
        for f in [w, bias.as_ref().unwrap()] {
            let (ni, _) = q.updates().into_iter().find(|&(_, k)| k == wi).unwrap();
            for (qv, fv) in out.witness.values[ni + 1].iter().zip(f) {
                max_err = max_err.max((*qv as f64 / scale - fv).abs());
            }
            wi += 1;
        }
    }
    eprintln!("cross-entropy step: max |W_after - f64| = {max_err:.3e}");
    assert!(max_err < 1e-4, "{max_err}");
    let setup = Setup {
        graph,
        q: q.clone(),
        model,
        input: public,
        input_f: vec![],
    };
    perturbations_rejected_public(&setup);
}
