//! Issue 13: verifying by commitment a proof that carries a hostile circuit description — a
//! description over the verifier's limits is refused as such before anything is built, and a
//! long one within them is decoded and set up in linear time.

use std::time::Instant;

use zkgrad_circuit::describe::DescLimits;
use zkgrad_circuit::QGraph;
use zkgrad_pcs::PcsParams;
use zkgrad_verifier::protocol::weights_root;
use zkgrad_verifier::{
    model_commitment, verify_with_commitment, verify_with_commitment_limits, ProofFile, VerifyError,
};

#[path = "../../circuit/tests/fixtures/hostile_circuits.rs"]
mod hostile_circuits;
use hostile_circuits::*;

/// A proof file of `g` (no weights: its weight root is the empty commitment's, so the header
/// checks pass) with `body`, and the commitment a client would send for it.
fn proof_of(g: &QGraph, body: Vec<u8>) -> (ProofFile, [u8; 32], PcsParams) {
    let params = PcsParams::default();
    let circuit = g.describe();
    let weight_root = weights_root(g, &[], &params);
    let proof = ProofFile {
        config: g.config,
        pcs: params.scheme(),
        weight_root,
        protocol_id: zkgrad_verifier::protocol_id(g, &params, &weight_root),
        circuit: circuit.clone(),
        input: vec![0; g.public_input_len()],
        output: vec![0; g.output_tensor().len()],
        body,
    };
    let c = model_commitment(&circuit, &weight_root);
    (proof, c, params)
}

fn garbage(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(167) ^ 0xa5).collect()
}

#[test]
fn description_over_limits_refused_as_over_limits() {
    let g = broadcast_map(1 << 27);
    let (proof, c, params) = proof_of(&g, garbage(4096));
    match verify_with_commitment(&proof, &c, &params) {
        Err(VerifyError::OverLimits(why)) => assert!(why.contains("max_tensor_elements"), "{why}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A service's own limits.
    let g = requant_chain(300, 1);
    let (proof, c, params) = proof_of(&g, garbage(4096));
    let limits = DescLimits {
        max_nodes: 299,
        ..DescLimits::default()
    };
    assert!(matches!(
        verify_with_commitment_limits(&proof, &c, &params, &limits),
        Err(VerifyError::OverLimits(_))
    ));
    // Within them, the garbage body is what is refused.
    assert!(matches!(
        verify_with_commitment(&proof, &c, &params),
        Err(e) if !matches!(e, VerifyError::OverLimits(_) | VerifyError::Circuit(_))
    ));
}

#[test]
fn requant_chain_of_5000_nodes_with_a_garbage_body_refused() {
    let g = requant_chain(5_000, 1);
    let (proof, c, params) = proof_of(&g, garbage(1 << 16));
    assert!(verify_with_commitment(&proof, &c, &params).is_err());
}

/// Timings for the report (run with `--release --ignored --nocapture`).
#[test]
#[ignore]
fn requant_chain_timings() {
    for n in [2_500, 5_000, 20_000, 65_000] {
        let g = requant_chain_of(n, 2048, 24);
        let (proof, c, params) = proof_of(&g, garbage(1 << 16));
        let t0 = Instant::now();
        let back = QGraph::from_description(&proof.circuit).expect("valid");
        let decode = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let r = verify_with_commitment(&proof, &c, &params);
        let verify = t1.elapsed().as_secs_f64();
        eprintln!(
            "requant chain {n}: description {} bytes, decode {decode:.3} s, verify_with_commitment {verify:.3} s ({:?})",
            proof.circuit.len(),
            r.err()
        );
        drop(back);
    }
}

/// The wiring sum of a 2^26-value index map, reached with an all-zero body (every sumcheck
/// before it closes on zero): its time and the process's peak memory, for the report (run
/// alone with `--release --ignored --nocapture`).
#[test]
#[ignore]
fn index_map_of_2_26_values_reached_with_a_zero_body() {
    let g = broadcast_map(1 << 26);
    let (proof, c, params) = proof_of(&g, vec![0; 1 << 16]);
    let t0 = Instant::now();
    let r = verify_with_commitment(&proof, &c, &params);
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(String::from));
    eprintln!(
        "2^26 index map, zero body: {:.3} s, {hwm:?}, {:?}",
        t0.elapsed().as_secs_f64(),
        r.err()
    );
}
