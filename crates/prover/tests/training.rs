//! Proven SGD steps: faithful to f64 SGD, and sound against cheats.

mod common;
use common::*;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QGraph;
use zkgrad_model::quantize_input;
use zkgrad_model::train::{parameter_updates, sgd_step, sgd_step_f64, Loss, SgdSpec, TrainConfig};
use zkgrad_model::Graph;
use zkgrad_prover::{prove, CommittedModel, ProveOutput};
use zkgrad_verifier::{verify, ProofFile, Verified, VerifyError};

/// One step's circuit, committed model and public data.
struct Step {
    graph: Graph,
    q: QGraph,
    model: CommittedModel,
    x: Vec<f64>,
    y: Vec<f64>,
    public: Vec<i64>,
    spec: SgdSpec,
}

impl Step {
    fn new(graph: Graph, x: Vec<f64>, y: Vec<f64>, spec: SgdSpec) -> Self {
        let n_in = graph.n_inputs();
        let rows: Vec<Vec<f64>> = x.chunks(n_in).map(|c| c.to_vec()).collect();
        let cfg = TrainConfig::calibrate(&graph, &rows, 0);
        let q = sgd_step(&graph, &spec, cfg).unwrap();
        let model = CommittedModel::new(&q, &small_params());
        let public = x
            .iter()
            .chain(&y)
            .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
            .collect();
        Self {
            graph,
            q,
            model,
            x,
            y,
            public,
            spec,
        }
    }

    fn check(&self, p: &ProofFile) -> Result<Verified, VerifyError> {
        verify(
            &self.q,
            &p.weight_root,
            &p.input,
            &p.output,
            &p.body,
            &small_params(),
        )
    }

    fn prove_and_verify(&self) -> (ProveOutput, Verified) {
        let out = prove(&self.q, &self.model, &self.public, &small_params()).unwrap();
        let v = self.check(&out.proof).unwrap();
        (out, v)
    }

    /// Every value of the step changed by ±1 by a cheating prover is caught.
    fn assert_cheats_rejected(&self) {
        let setup = Setup {
            params: small_params(),
            graph: self.graph.clone(),
            q: self.q.clone(),
            model: CommittedModel::new(&self.q, &small_params()),
            input: self.public.clone(),
            input_f: vec![],
        };
        perturbations_rejected_public(&setup);
    }

    /// Largest |W_after − W_after of f64 SGD| over all parameters.
    fn max_weight_error(&self, out: &ProveOutput) -> f64 {
        let (after, _) = sgd_step_f64(&self.graph, &self.x, &self.y, &self.spec);
        let scale = (1u64 << self.q.config.weight_frac) as f64;
        parameter_updates(&self.graph, &after, &self.q, &out.witness)
            .iter()
            .map(|p| (p.quant_after as f64 / scale - p.float_after).abs())
            .fold(0.0, f64::max)
    }
}

fn mse(batch: usize, lr: f64) -> SgdSpec {
    SgdSpec {
        batch,
        lr,
        loss: Loss::Mse,
    }
}

/// A step of the seed MLP on random data.
fn step(batch: usize, lr: f64, seed: u64) -> Step {
    Step::new(
        seed_mlp(),
        rnd(seed, 5 * batch),
        rnd(seed + 1, 2 * batch),
        mse(batch, lr),
    )
}

#[test]
fn seed_sgd_step_proves_verifies_and_keeps_every_update() {
    let s = step(1, 0.01, 11);
    let (out, v) = s.prove_and_verify();
    assert_eq!(v.weight_root_after, out.weight_root_after);
    assert_ne!(v.weight_root_after, out.proof.weight_root);

    // Against f64 SGD on the same data.
    let scale = (1u64 << s.q.config.weight_frac) as f64;
    let (after, _loss) = sgd_step_f64(&s.graph, &s.x, &s.y, &s.spec);
    let updates = parameter_updates(&s.graph, &after, &s.q, &out.witness);
    assert_eq!(updates.len(), 138);
    let (mut kept, mut moved) = (0, 0);
    for p in &updates {
        let df = p.float_after - p.float_before;
        let dq = (p.quant_after - p.quant_before) as f64 / scale;
        if df.abs() > 1.0 / scale {
            moved += 1;
            if dq != 0.0 && (dq - df).abs() < 0.01 * df.abs() + 2.0 / scale {
                kept += 1;
            }
        }
    }
    let max_err = s.max_weight_error(&out);
    eprintln!("updates kept {kept}/{moved}, max |W_after - f64| = {max_err:.3e}");
    assert!(moved > 60, "the seed step moves most parameters ({moved})");
    assert_eq!(kept, moved, "every update above one quantum survives");
    assert!(max_err < 1e-4, "{max_err}");
}

#[test]
fn batched_sgd_step_proves_and_verifies() {
    step(8, 0.01, 12).prove_and_verify();
}

#[test]
fn updated_weight_off_by_one_is_rejected() {
    let s = step(2, 0.01, 13);
    let honest = zkgrad_model::forward(&s.q, &s.public).unwrap();
    for (ni, _) in s.q.updates() {
        for d in [-1i64, 1] {
            let mut w = honest.clone();
            w.values[ni + 1][0] += d;
            let p = zkgrad_prover::prove_witness(&s.q, &s.model, w, &small_params()).proof;
            assert!(s.check(&p).is_err());
        }
    }
}

#[test]
fn cheating_prover_off_by_one_anywhere_in_the_step_is_rejected() {
    step(2, 0.01, 14).assert_cheats_rejected();
}

#[test]
fn wrong_learning_rate_and_swapped_sample_are_rejected() {
    let s = step(2, 0.01, 15);
    let (out, _) = s.prove_and_verify();
    let p = &out.proof;
    // A verifier expecting lr = 0.02 builds another circuit: the proof does not verify.
    let q2 = sgd_step(&s.graph, &mse(2, 0.02), s.q_config()).unwrap();
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

impl Step {
    /// The precision this step's circuit was built at.
    fn q_config(&self) -> TrainConfig {
        TrainConfig {
            table_bits: self.q.config.table_bits,
            act_frac: self.q.config.act_frac,
            weight_frac: self.q.config.weight_frac,
        }
    }
}

#[test]
fn wide_range_checks_on_large_tensors_go_through_limbs_and_stay_sound() {
    let graph = zkgrad_model::zoo::mlp(&[64, 32, 4], ActKind::Relu, 3);
    let batch = 8;
    let y: Vec<f64> = rnd(22, 4 * batch).iter().map(|v| v * 0.5).collect();
    let s = Step::new(graph, rnd(21, 64 * batch), y, mse(batch, 0.01));
    assert!(
        !s.q.decompositions().is_empty(),
        "the 32x64 gradients are split into limbs"
    );
    s.prove_and_verify();
    s.assert_cheats_rejected();
}

#[test]
fn softmax_cross_entropy_step_matches_f64_and_rejects_cheats() {
    let graph = zkgrad_model::zoo::mlp(&[4, 8, 3], ActKind::Relu, 9);
    let batch = 4;
    // one-hot targets
    let y: Vec<f64> = (0..batch)
        .flat_map(|b| (0..3).map(move |c| if c == b % 3 { 1.0 } else { 0.0 }))
        .collect();
    let spec = SgdSpec {
        batch,
        lr: 0.1,
        loss: Loss::SoftmaxCrossEntropy,
    };
    let s = Step::new(graph, rnd(31, 4 * batch), y, spec);
    let (out, _) = s.prove_and_verify();
    let max_err = s.max_weight_error(&out);
    eprintln!("cross-entropy step: max |W_after - f64| = {max_err:.3e}");
    assert!(max_err < 1e-4, "{max_err}");
    s.assert_cheats_rejected();
}

#[test]
fn whir_scheme_step_keeps_wide_tables_clear_and_rejects_cheats() {
    // A training step reads wide range tables (update remainders, up to 2^35 entries) from
    // small tensors: committing their multiplicities would mean blocks of 2^35 values. Under
    // the WHIR scheme only the tables near their reads are committed; the step proves,
    // verifies, and every cheat is caught.
    let s = step(2, 0.01, 15);
    let params = whir_small();
    let lookups = s.q.lookups();
    let committed = zkgrad_verifier::protocol::committed_tables(&s.q, &lookups, &params);
    let k = s.q.config.table_bits;
    let tables = s.q.used_tables();
    assert!(tables.iter().any(|(_, t)| t.log_size(k) > 26));
    for ((_, t), c) in tables.iter().zip(&committed) {
        assert!(!*c || t.log_size(k) <= 26, "{} committed", t.describe());
    }
    let setup = Setup {
        params,
        graph: s.graph.clone(),
        q: s.q.clone(),
        model: CommittedModel::new(&s.q, &params),
        input: s.public.clone(),
        input_f: vec![],
    };
    check(&setup, &prove_ok(&setup).proof).unwrap();
    perturbations_rejected_public(&setup);
}
