//! One module per subcommand: its arguments, and a thin function that calls the library and
//! prints.

pub mod args;
pub mod bench;
pub mod commit;
pub mod generate;
pub mod inspect;
pub mod merge_lora;
pub mod progress;
pub mod prove;
pub mod serve;
pub mod train;
pub mod verify;
pub mod verify_run;

/// Where a proof's time went, in milliseconds, and its bytes per phase (`--json`).
pub(crate) fn phases(t: &zkgrad_prover::ProveTimings) -> serde_json::Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    serde_json::json!({
        "forward_ms": ms(t.forward),
        "commit_ms": ms(t.commit),
        "lookups_ms": ms(t.lookups),
        "layers_ms": ms(t.layers),
        "openings_ms": ms(t.openings),
        "bytes_commitments": t.bytes[0],
        "bytes_lookups": t.bytes[1],
        "bytes_layers": t.bytes[2],
        "bytes_witness_opening": t.bytes[3],
        "bytes_weight_openings": t.bytes[4],
    })
}

/// Where a proof's time went, as `prove` and `generate` print it.
pub(crate) fn phases_line(t: &zkgrad_prover::ProveTimings) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    format!(
        "  forward {:.1} ms · witness commit {:.1} ms · lookups {:.1} ms · layers {:.1} ms · openings {:.1} ms",
        ms(t.forward),
        ms(t.commit),
        ms(t.lookups),
        ms(t.layers),
        ms(t.openings)
    )
}

/// A proof's soundness, as `prove` and `generate` print it: the union bound over every check
/// the verifier makes (`zkgrad_verifier::soundness::budget`; docs/SECURITY.md).
pub(crate) fn soundness_line(bits: f64) -> String {
    format!(
        "soundness: {bits:.1} bits (the union bound over every check of this proof; at least {} by construction)",
        zkgrad_verifier::soundness::TARGET_BITS
    )
}
