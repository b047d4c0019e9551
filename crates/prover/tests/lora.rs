//! Proven LoRA steps: faithful to the f64 LoRA update, base weights frozen, and sound against
//! cheats (a tampered adapter update, another base, another rank or α).

mod common;
use common::*;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QGraph;
use zkgrad_model::lora::{lora_step, with_adapters, Adapter, LoraSpec};
use zkgrad_model::quantize_input;
use zkgrad_model::train::{Loss, SgdSpec, TrainConfig};
use zkgrad_model::{Graph, Op};
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::verify;

struct LoraCase {
    adapted: Graph,
    adapters: Vec<Adapter>,
    lora: LoraSpec,
    spec: SgdSpec,
    cfg: TrainConfig,
    q: QGraph,
    model: CommittedModel,
    x: Vec<f64>,
    y: Vec<f64>,
    public: Vec<i64>,
}

fn case(base: Graph, lora: LoraSpec, batch: usize) -> LoraCase {
    let (adapted, adapters) = with_adapters(&base, &lora, 5, 0.2).unwrap();
    let n_in = base.n_inputs();
    let n_out: usize = base.shape(base.output).iter().product();
    let x = rnd(11, batch * n_in);
    let y: Vec<f64> = rnd(12, batch * n_out).iter().map(|v| v * 0.5).collect();
    let rows: Vec<Vec<f64>> = x.chunks(n_in).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&adapted, &rows, 0);
    let spec = SgdSpec {
        batch,
        lr: 0.05,
        loss: Loss::Mse,
    };
    let q = lora_step(&adapted, &adapters, &lora, &spec, cfg).unwrap();
    let model = CommittedModel::new(&q, &small_params());
    let public = x
        .iter()
        .chain(&y)
        .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    LoraCase {
        adapted,
        adapters,
        lora,
        spec,
        cfg,
        q,
        model,
        x,
        y,
        public,
    }
}

fn linear_weights(g: &Graph, v: usize) -> Vec<f64> {
    match &g.nodes[v - 1].op {
        Op::Linear { w, .. } => w.clone(),
        _ => panic!("not a Linear node"),
    }
}

#[test]
fn single_layer_lora_step_matches_the_f64_update_and_freezes_the_base() {
    let base = zkgrad_model::zoo::mlp(&[12, 10], ActKind::Relu, 4);
    let c = case(
        base,
        LoraSpec {
            rank: 3,
            alpha: 6.0,
            targets: vec![],
        },
        4,
    );
    let out = prove(&c.q, &c.model, &c.public, &small_params()).unwrap();
    verify(
        &c.q,
        &c.model.root(),
        &out.proof.input,
        &out.proof.output,
        &out.proof.body,
        &small_params(),
    )
    .unwrap();
    // Only the adapters are updated.
    let updated: Vec<String> =
        c.q.updates()
            .iter()
            .map(|&(_, wi)| c.q.weights[wi].name.clone())
            .collect();
    assert_eq!(updated.len(), 2, "{updated:?}");
    assert!(updated.iter().all(|n| n.contains("lora")), "{updated:?}");
    // f64 LoRA: y = W x + b + s B A x; G = (y − t)/B; ∇B = s Gᵀ (A x); ∇A = s (G B)ᵀ X.
    let ad = &c.adapters[0];
    let (a, b) = (
        linear_weights(&c.adapted, ad.a),
        linear_weights(&c.adapted, ad.b),
    );
    let (din, dout, r, bs) = (12, 10, 3, c.spec.batch);
    let s = c.lora.scale();
    let vals = zkgrad_model::train::batched(&c.adapted, bs).forward_f64(&c.x);
    let yv = &vals[c.adapted.output];
    let av = &vals[ad.a];
    let g: Vec<f64> = yv
        .iter()
        .zip(&c.y)
        .map(|(o, t)| (o - t) / bs as f64)
        .collect();
    let mut b_new = b.clone();
    for o in 0..dout {
        for k in 0..r {
            let d: f64 = (0..bs).map(|n| g[n * dout + o] * av[n * r + k]).sum();
            b_new[o * r + k] -= c.spec.lr * s * d;
        }
    }
    let mut a_new = a.clone();
    for k in 0..r {
        for i in 0..din {
            let d: f64 = (0..bs)
                .map(|n| {
                    let ga: f64 = (0..dout).map(|o| g[n * dout + o] * b[o * r + k]).sum();
                    ga * c.x[n * din + i]
                })
                .sum();
            a_new[k * din + i] -= c.spec.lr * s * d;
        }
    }
    // The generic f64 reference agrees with the hand-written update.
    let (after, _) =
        zkgrad_model::lora::lora_step_f64(&c.adapted, &c.adapters, &c.x, &c.y, &c.spec);
    for (v, want) in [(ad.a, &a_new), (ad.b, &b_new)] {
        for (p, q) in linear_weights(&after, v).iter().zip(want.iter()) {
            assert!((p - q).abs() < 1e-12);
        }
    }
    let scale = (1u64 << c.cfg.weight_frac) as f64;
    let mut max_err = 0.0f64;
    for &(node, wi) in &c.q.updates() {
        let want = if c.q.weights[wi].name.contains("lora_A") {
            &a_new
        } else {
            &b_new
        };
        for (q, f) in out.witness.values[node + 1].iter().zip(want) {
            max_err = max_err.max((*q as f64 / scale - f).abs());
        }
    }
    assert!(max_err < 1e-5, "adapter error {max_err}");
}

#[test]
fn cheating_lora_prover_off_by_one_anywhere_is_rejected() {
    // Adapters on both layers of an MLP: the backward pass goes through the frozen first layer's
    // activation derivative and the adapter path G·W + s·g_a·A.
    let base = zkgrad_model::zoo::mlp(&[5, 6, 3], ActKind::Tanh, 2);
    let c = case(
        base.clone(),
        LoraSpec {
            rank: 2,
            alpha: 3.0,
            targets: vec![],
        },
        2,
    );
    let setup = Setup {
        params: small_params(),
        graph: c.adapted.clone(),
        q: c.q.clone(),
        model: CommittedModel::new(&c.q, &small_params()),
        input: c.public.clone(),
        input_f: vec![],
    };
    perturbations_rejected_public(&setup);
}

#[test]
fn another_base_rank_or_alpha_is_rejected() {
    let base = zkgrad_model::zoo::mlp(&[8, 6], ActKind::Relu, 7);
    let lora = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: vec![],
    };
    let c = case(base.clone(), lora.clone(), 3);
    let p = prove(&c.q, &c.model, &c.public, &small_params())
        .unwrap()
        .proof;
    let check = |q: &QGraph, m: &CommittedModel| {
        verify(q, &m.root(), &p.input, &p.output, &p.body, &small_params())
    };
    assert!(check(&c.q, &c.model).is_ok());
    // The base W swapped for another (the adapters the same).
    let mut other = c.adapted.clone();
    if let Op::Linear { w, .. } = &mut other.nodes[c.adapters[0].base - 1].op {
        w[0] += 0.125;
    }
    let q2 = lora_step(&other, &c.adapters, &c.lora, &c.spec, c.cfg).unwrap();
    assert!(check(&q2, &CommittedModel::new(&q2, &small_params())).is_err());
    // Another α (same rank), another rank (an adapter with one more row of A / column of B).
    let alpha2 = LoraSpec {
        alpha: 5.0,
        ..lora.clone()
    };
    let q3 = lora_step(&c.adapted, &c.adapters, &alpha2, &c.spec, c.cfg).unwrap();
    assert!(check(&q3, &CommittedModel::new(&q3, &small_params())).is_err());
    let rank3 = LoraSpec { rank: 3, ..lora };
    let (adapted3, ads3) = with_adapters(&base, &rank3, 5, 0.2).unwrap();
    let q4 = lora_step(&adapted3, &ads3, &rank3, &c.spec, c.cfg).unwrap();
    assert!(check(&q4, &CommittedModel::new(&q4, &small_params())).is_err());
}
