//! Proofs are byte-identical across refactors: the BLAKE3 hashes of the proofs of three fixed
//! statements (the seed MLP under Ligero, LeNet-5 under WHIR, one SGD step of the seed MLP) are
//! pinned here. A change that moves code without changing the protocol keeps them; a change to
//! the protocol, the quantizer or the proof format must update them on purpose (and bump
//! `FORMAT_VERSION` when the bytes of an existing statement change).

use zkgrad_circuit::QGraph;
use zkgrad_model::quantize_input;
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_model::{zoo, zoo_cnn, Graph};
use zkgrad_pcs::{PcsParams, Scheme};
use zkgrad_prover::{prove, CommittedModel};

/// Deterministic inputs in [−1, 1).
fn inputs(seed: u64, n: usize) -> Vec<f64> {
    zoo::uniform(seed, n)
}

fn proof_hash(q: &QGraph, public: &[i64], scheme: Scheme) -> String {
    let params = PcsParams::for_scheme(scheme);
    let model = CommittedModel::new(q, &params);
    let out = prove(q, &model, public, &params).unwrap();
    let bytes = out.proof.to_bytes();
    let v = zkgrad_verifier::verify(
        q,
        &out.proof.weight_root,
        &out.proof.input,
        &out.proof.output,
        &out.proof.body,
        &params,
    );
    assert!(v.is_ok(), "the pinned proof must verify: {v:?}");
    blake3::hash(&bytes).to_hex().to_string()
}

fn inference_hash(graph: &Graph, seed: u64, scheme: Scheme) -> String {
    let x = inputs(seed, graph.n_inputs());
    let cfg = zkgrad_model::calibrate(graph, std::slice::from_ref(&x), 20);
    let q = zkgrad_model::quantize(graph, cfg).unwrap();
    let public: Vec<i64> = x
        .iter()
        .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    proof_hash(&q, &public, scheme)
}

#[test]
fn seed_mlp_ligero_proof_bytes_unchanged() {
    assert_eq!(
        inference_hash(&zoo::seed_mlp(7), 11, Scheme::Ligero),
        "1dfa6e7dcd62a31eb0c467ade2e92614056f5fbb26703e71ad389732bca3599b"
    );
}

#[test]
fn lenet5_whir_proof_bytes_unchanged() {
    assert_eq!(
        inference_hash(&zoo_cnn::lenet5(), 12, Scheme::Whir),
        "771a40075b59e15baa27eec7a2e00524e18a0dd20ec2a0470be63f698d4bf193"
    );
}

#[test]
fn seed_sgd_step_proof_bytes_unchanged() {
    let graph = zoo::seed_mlp(7);
    let spec = SgdSpec {
        batch: 2,
        lr: 0.01,
        loss: Loss::Mse,
    };
    let n_in = graph.n_inputs();
    let n_out = graph.shape(graph.output).iter().product::<usize>();
    let x = inputs(13, spec.batch * n_in);
    let y = inputs(14, spec.batch * n_out);
    let rows: Vec<Vec<f64>> = x.chunks(n_in).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&graph, &rows, 0);
    let q = sgd_step(&graph, &spec, cfg).unwrap();
    let public: Vec<i64> = x
        .iter()
        .chain(&y)
        .map(|&v| quantize_input(v, cfg.act_frac).unwrap())
        .collect();
    assert_eq!(
        proof_hash(&q, &public, Scheme::Ligero),
        "8ec4500e80a68e10b9a6c0f23f235f4a1d6fa39e948b26d22fe91564d14b6d02"
    );
}
