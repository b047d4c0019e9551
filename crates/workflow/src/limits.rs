//! The limits on what an imported model may declare (`zkgrad_onnx::Limits`: elements of one
//! tensor, nodes of a graph), for every model this process loads. The defaults are the
//! importer's (2^28 elements, 1,000,000 nodes); the CLI's `--max-tensor-elements` and
//! `--max-nodes` raise or lower them once, at start-up, before any model is read.

use std::sync::OnceLock;

use zkgrad_onnx::Limits;

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the limits for the rest of the process; `false` if they were already set (or used).
pub fn set(limits: Limits) -> bool {
    LIMITS.set(limits).is_ok()
}

/// The limits in force.
pub fn get() -> &'static Limits {
    LIMITS.get_or_init(Limits::default)
}
