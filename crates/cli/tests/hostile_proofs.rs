//! Issue 13: `zkgrad verify --commitment C --proof P` with a proof that carries a hostile
//! circuit description (C its commitment, as a client of a service would send) is refused
//! within 2 s and 200 MB, before anything the description declares is built.
//!
//! A description over the verifier's limits (`DescLimits`) is unusable input: exit 2, one line
//! naming the file and the limit (`VerifyError::OverLimits` is `Failure::Unusable`). A
//! description within the limits whose proof is wrong is an invalid proof (exit 1); either way
//! the refusal comes within the bounds.

mod common;
use common::hostile::*;
use common::*;

use std::path::{Path, PathBuf};

use zkgrad_circuit::QGraph;
use zkgrad_pcs::PcsParams;
use zkgrad_verifier::protocol::weights_root;
use zkgrad_verifier::{model_commitment, ProofFile};

#[path = "../../circuit/tests/fixtures/hostile_circuits.rs"]
mod hostile_circuits;
use hostile_circuits::*;

/// Writes a proof file of `g` with a garbage body of `body` bytes to `dir/name`, and returns
/// its path and the commitment (hex) a client would send for it.
fn hostile_proof(dir: &Path, name: &str, g: &QGraph, body: usize) -> (PathBuf, String) {
    let params = PcsParams::default();
    let circuit = g.describe();
    let weight_root = weights_root(g, &[], &params);
    let input_len = g.tensors[0].len().min(16);
    let proof = ProofFile {
        config: g.config,
        pcs: params.scheme(),
        weight_root,
        protocol_id: zkgrad_verifier::protocol_id(g, &params, &weight_root),
        circuit: circuit.clone(),
        input: vec![0; input_len],
        output: vec![0],
        body: (0..body)
            .map(|i| (i as u8).wrapping_mul(167) ^ 0xa5)
            .collect(),
    };
    let path = dir.join(name);
    std::fs::write(&path, proof.to_bytes()).unwrap();
    let c = model_commitment(&circuit, &weight_root);
    let hex: String = c.iter().map(|b| format!("{b:02x}")).collect();
    (path, hex)
}

fn verify_commitment(proof: &Path, c: &str) -> Bounded {
    run_bounded(
        bin()
            .args(["verify", "--commitment", c, "--proof"])
            .arg(proof),
    )
}

/// A refusal within the bounds, with either exit code (1: invalid proof, 2: unusable input),
/// one line on stderr containing `needles`, nothing written.
fn assert_refused_bounded(
    case: &str,
    b: &Bounded,
    needles: &[&str],
    dir: &Path,
    before: &[PathBuf],
) {
    assert!(!b.killed, "{case}: still running after 20 s");
    eprintln!(
        "{case}: exit {:?}, {:.3} s, peak {:.1} MB: {}",
        b.code(),
        b.seconds,
        b.peak_rss_mb,
        b.stderr.trim()
    );
    assert!(
        matches!(b.code(), Some(1 | 2)),
        "{case}: exit {:?}; stderr: {}",
        b.status,
        b.stderr
    );
    let lines: Vec<&str> = b.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{case}: {}", b.stderr);
    for n in needles {
        assert!(lines[0].contains(n), "{case}: no {n:?} in {}", lines[0]);
    }
    assert!(b.seconds < MAX_SECONDS, "{case}: {:.2} s", b.seconds);
    assert!(
        b.peak_rss_mb < MAX_RSS_MB,
        "{case}: {:.0} MB",
        b.peak_rss_mb
    );
    assert_eq!(files_under(dir), before, "{case}: files written");
}

/// The over-limit cases: (file name, circuit, what the message names).
fn over_limit_cases() -> Vec<(&'static str, QGraph, &'static str)> {
    vec![
        // One index map of 2^27 values in a description of a few hundred bytes.
        (
            "map-2-27.zkp",
            broadcast_map(1 << 27),
            "max_tensor_elements",
        ),
        // 70,000 nodes: over the node limit.
        ("nodes-70000.zkp", requant_chain(70_000, 1), "count"),
        // 5 tensors of 2^26 values: each within the tensor limit, over 2^28 in all.
        (
            "total-2-28.zkp",
            requant_chain(4, 1 << 26),
            "max_total_elements",
        ),
    ]
}

#[test]
fn descriptions_over_the_verifiers_limits_refused_within_bounds() {
    let dir = tmpdir("hostile-over-limits");
    for (name, g, what) in over_limit_cases() {
        let (p, c) = hostile_proof(&dir, name, &g, 4096);
        let before = files_under(&dir);
        let b = verify_commitment(&p, &c);
        assert_refused_bounded(name, &b, &["limits", what], &dir, &before);
    }
}

#[test]
fn descriptions_over_the_verifiers_limits_exit_2() {
    let dir = tmpdir("hostile-over-limits-2");
    for (name, g, what) in over_limit_cases() {
        let (p, c) = hostile_proof(&dir, name, &g, 4096);
        let before = files_under(&dir);
        let b = verify_commitment(&p, &c);
        assert_refused(name, &b, &[name, "limits", what], &dir, &before);
    }
}

#[test]
fn index_map_of_2_26_values_in_a_5kb_proof_refused_within_bounds() {
    // Within the limits (the map is compact): the proof is invalid, and refused without the
    // 2^26 values being built (before: 2.05 GB).
    let dir = tmpdir("hostile-map-2-26");
    let (p, c) = hostile_proof(&dir, "map-2-26.zkp", &broadcast_map(1 << 26), 4096);
    assert!(std::fs::metadata(&p).unwrap().len() < 5 * 1024);
    let before = files_under(&dir);
    let b = verify_commitment(&p, &c);
    assert_refused_bounded("map-2-26", &b, &["invalid proof"], &dir, &before);
    assert_eq!(b.code(), Some(1), "an invalid proof: {}", b.stderr);
}

#[test]
fn requant_chain_of_5000_nodes_refused_within_bounds() {
    // Before: 2,500 nodes took 25–31 s, 5,000 took 208 s (quadratic set-up).
    let dir = tmpdir("hostile-requant-chain");
    let (p, c) = hostile_proof(&dir, "chain-5000.zkp", &requant_chain(5_000, 1), 1 << 16);
    let before = files_under(&dir);
    let b = verify_commitment(&p, &c);
    assert_refused_bounded("chain-5000", &b, &["invalid proof"], &dir, &before);
    assert_eq!(b.code(), Some(1), "an invalid proof: {}", b.stderr);
}
