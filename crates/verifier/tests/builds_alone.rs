//! The verifier builds alone: what Python, a proving service or a browser embeds to check a
//! proof carries no prover, ONNX importer, float model, quantizer, training builder, CLI or
//! JSON code. This test fails when a prover-side dependency creeps back into
//! `zkgrad-verifier`'s normal dependency tree.

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
