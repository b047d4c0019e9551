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
        "b39fe9b25bd6a7d0612be5be0ac99a2936e7b02f79eda76f58b67437d082eb2b"
    );
}

#[test]
fn lenet5_whir_proof_bytes_unchanged() {
    assert_eq!(
        inference_hash(&zoo_cnn::lenet5(), 12, Scheme::Whir),
        "d1fb0e9568ec51b196e426a5ebadc41b36c9277a0108b63370fd48b71e06e343"
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
        "f0f4942d74ffcd844f96c3d87f7a6644300419bd4fa6f58b4a46b5fd463426aa"
    );
}
