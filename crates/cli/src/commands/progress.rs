//! `--progress-json`: machine-readable progress on stderr, one JSON object per line,
//! `{"progress": {"stage": NAME, "done": K, "of": N}}`: stage `NAME` starts with `K` of the
//! command's `N` units done (for `prove`, its stages; for `train`, its steps). A service
//! running the CLI as a child process (`zkgrad serve`) reads these lines; nothing else is
//! printed differently.

use std::io::Write as _;

use zkgrad_prover::Phase;

/// The stages of `zkgrad prove`, in order: loading (import, calibration, the float model's
/// pass), the weight commitment, the prover's phases, writing the files.
pub const PROVE_STAGES: [&str; 8] = [
    "load",
    "weights",
    "forward",
    "commitments",
    "lookups",
    "layers",
    "openings",
    "write",
];

/// Where progress goes: nowhere, or JSON lines on stderr.
#[derive(Clone, Copy)]
pub struct Progress {
    pub json: bool,
}

impl Progress {
    /// Stage `stage` starts with `done` of `of` units done.
    pub fn stage(&self, stage: &str, done: usize, of: usize) {
        if self.json {
            let line = serde_json::json!({"progress": {"stage": stage, "done": done, "of": of}});
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// One of `zkgrad prove`'s [`PROVE_STAGES`] starts.
    pub fn prove_stage(&self, stage: &str) {
        let i = PROVE_STAGES.iter().position(|s| *s == stage).unwrap_or(0);
        self.stage(stage, i, PROVE_STAGES.len());
    }

    /// A prover phase starts.
    pub fn phase(&self, p: Phase) {
        self.prove_stage(p.name());
    }

    /// One of `zkgrad generate`'s stages starts (`decoded` tokens of `new` decoded; `done`
    /// counts every token and every proving stage): `load`, `decode` (again after each token),
    /// then `prove`'s stages from `weights` on.
    pub fn generate_stage(&self, stage: &str, decoded: usize, new: usize) {
        let proving = &PROVE_STAGES[1..];
        let of = 1 + new + proving.len();
        let done = match proving.iter().position(|s| *s == stage) {
            Some(i) => 1 + new + i,
            None if stage == "decode" => 1 + decoded,
            None => 0,
        };
        self.stage(stage, done, of);
    }
}
