//! The verifier builds alone: what Python, a proving service or a browser embeds to check a
//! proof carries no prover, ONNX importer, float model, quantizer, training builder, CLI or
//! JSON code. This test fails when a prover-side dependency creeps back into
//! `zkgrad-verifier`'s normal dependency tree, or when the PCS, lookup or sumcheck crate is
//! built with its prover side (the `prover` feature) for it.

use std::process::Command;

/// Crates the verifier must never depend on, directly or through another crate.
const FORBIDDEN: &[&str] = &[
    "zkgrad-prover",
    "zkgrad-model",
    "zkgrad-onnx",
    "zkgrad-workflow",
    "zkgrad-cli",
    "onnx-protobuf",
    "protobuf",
    "clap",
    "serde_json",
    "anyhow",
];

fn cargo_tree(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "zkgrad-verifier",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn verifier_dependency_tree_has_no_prover_side_crate() {
    let tree = cargo_tree(&["--format", "{p}"]);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"zkgrad-circuit"),
        "unexpected tree:\n{tree}"
    );
    for f in FORBIDDEN {
        assert!(
            !names.contains(f),
            "zkgrad-verifier depends on the prover-side crate {f}:\n{tree}"
        );
    }
}

/// Crates the verifier depends on for their verifier side only: their `prover` feature (the
/// commitments, openings and provers, and rayon) must stay off.
const VERIFIER_SIDE_ONLY: &[&str] = &["zkgrad-pcs", "zkgrad-lookup", "zkgrad-sumcheck"];

#[test]
fn verifier_builds_pcs_lookup_and_sumcheck_without_their_prover_side() {
    let tree = cargo_tree(&["--format", "{p} features=[{f}]"]);
    let mut seen = Vec::new();
    for line in tree.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let features = line.split("features=[").nth(1).unwrap_or("");
        if VERIFIER_SIDE_ONLY.contains(&name) {
            seen.push(name);
            assert!(
                !features.contains("prover"),
                "{name} is built with its prover side for zkgrad-verifier:\n{tree}"
            );
        }
        if name == "zkgrad-verifier" {
            assert!(
                !features.contains("commit"),
                "zkgrad-verifier's `commit` feature is on by default:\n{tree}"
            );
        }
    }
    for name in VERIFIER_SIDE_ONLY {
        assert!(seen.contains(name), "{name} not in the tree:\n{tree}");
    }
}
