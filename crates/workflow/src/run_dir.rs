//! A run directory, as `train` writes it and `verify-run` and `merge-lora` read it.
//!
//! RUN/ holds `step-NNNN.zkp` (with `--prove`), `final.onnx` (the trained weights as float32 in
//! the input model's graph; for LoRA the merged W + (α/r)·B·A), the exact final weights
//! (`final-weights.bin`, see [`crate::weights_file`], or for LoRA `adapters.json`) and
//! `manifest.json` (format [`RUN_FORMAT`]), written last and atomically: a directory without a
//! manifest is an incomplete run, never mistaken for a complete one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use zkgrad_circuit::QGraph;

use crate::failure::{unusable, Failure};
use crate::files::read_at_most;

/// The manifest format `train` writes and `verify-run` reads.
pub const RUN_FORMAT: &str = "zkgrad-run/2";

/// The files of a run directory.
pub const MANIFEST: &str = "manifest.json";
pub const FINAL_ONNX: &str = "final.onnx";
pub const ADAPTERS_FILE: &str = "adapters.json";

/// The proof file of step `step` (from 1).
pub fn proof_name(step: usize) -> String {
    format!("step-{step:04}.zkp")
}

/// Creates the run directory `out`, which must not exist or be empty: a run never mixes with
/// another's files.
pub fn create(out: &Path) -> Result<()> {
    if out.exists() && std::fs::read_dir(out).map_or(true, |mut r| r.next().is_some()) {
        bail!(
            "run directory {} already exists and is not empty",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

/// The largest manifest read (a million steps' entries fit).
const MAX_MANIFEST_BYTES: usize = 1 << 30;

/// A run's manifest: of this format, and marked complete (a run directory without one, or with
/// an incomplete one, is never mistaken for a finished run).
pub fn read_manifest(run: &Path) -> Result<Value, Failure> {
    let mpath = run.join(MANIFEST);
    let bytes = read_at_most(&mpath, MAX_MANIFEST_BYTES).map_err(|_| {
        unusable(anyhow!(
            "{} holds no {MANIFEST}: not a run, or an incomplete one",
            run.display()
        ))
    })?;
    let m: Value = serde_json::from_slice(&bytes)
        .map_err(|e| unusable(anyhow!("{}: {e}", mpath.display())))?;
    if m.get("format") != Some(&json!(RUN_FORMAT)) {
        return Err(unusable(anyhow!(
            "{}: unsupported run format {} (this zkgrad reads {RUN_FORMAT})",
            mpath.display(),
            m.get("format").unwrap_or(&Value::Null)
        )));
    }
    if m.get("complete") != Some(&json!(true)) {
        return Err(unusable(anyhow!(
            "{}: the run is not marked complete",
            mpath.display()
        )));
    }
    Ok(m)
}

/// The model a run started from: the one given, else the path its manifest records.
pub fn run_model(m: &Value, run: &Path, given: Option<&PathBuf>) -> Result<PathBuf, Failure> {
    match given {
        Some(p) => Ok(p.clone()),
        None => m
            .get("model")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .ok_or_else(|| {
                unusable(anyhow!(
                    "{}: no model recorded; give --model",
                    run.join(MANIFEST).display()
                ))
            }),
    }
}

/// Every step's proof is `step-NNNN.zkp`, listed and present, and no other proof lies in RUN/.
pub fn check_proof_files(run: &Path, steps: &[Value]) -> Result<(), Failure> {
    let mut listed = BTreeSet::new();
    for (i, s) in steps.iter().enumerate() {
        let want = proof_name(i + 1);
        match s.get("proof").and_then(Value::as_str) {
            Some(p) if p == want => {}
            None => {
                return Err(unusable(anyhow!(
                    "{}: step {} has no proof",
                    run.join(MANIFEST).display(),
                    i + 1
                )))
            }
            Some(p) => {
                return Err(unusable(anyhow!(
                    "{}: step {}'s proof is {p:?}; a run proves step {} in {want}",
                    run.join(MANIFEST).display(),
                    i + 1,
                    i + 1
                )))
            }
        }
        listed.insert(want);
    }
    let present: BTreeSet<String> = std::fs::read_dir(run)
        .map_err(|e| unusable(anyhow!("{}: {e}", run.display())))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".zkp"))
        .collect();
    if let Some(missing) = listed.difference(&present).next() {
        return Err(unusable(anyhow!(
            "{}: proof {missing} is missing",
            run.display()
        )));
    }
    if let Some(extra) = present.difference(&listed).next() {
        return Err(unusable(anyhow!(
            "{}: proof {extra} is not part of the run's manifest",
            run.display()
        )));
    }
    Ok(())
}

/// A run's `adapters.json` at `path`, read no further than the largest such file for the step
/// circuit `q0` could be.
pub fn read_adapters(path: &Path, q0: &QGraph) -> Result<Value, String> {
    // A decimal i64 and its separator take at most 21 bytes.
    let limit = 22 * q0.weights.iter().map(|w| w.data.len()).sum::<usize>() + 4096;
    read_at_most(path, limit)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
}
