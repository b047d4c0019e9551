//! A run directory, as `train` writes it and `verify-run` and `merge-lora` read it.
//!
//! RUN/ holds `step-NNNN.zkp` (with `--prove`), `final.onnx` (the trained weights as float32 in
//! the input model's graph; for LoRA the merged W + (α/r)·B·A), the exact final weights
//! (`final-weights.bin`, see [`crate::weights_file`], or for LoRA `adapters.json`) and
//! `manifest.json` (format [`RUN_FORMAT`]), written last and atomically: a directory without a
//! manifest is an incomplete run, never mistaken for a complete one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
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

/// What [`create`] made: the directories that did not exist before (deepest first), so that a
/// failed run removes what it created and nothing the user made.
#[derive(Debug, Default)]
pub struct Created {
    pub dirs: Vec<PathBuf>,
}

impl Created {
    /// Removes `files` (those the run wrote into `out`) and then the directories [`create`]
    /// made, if empty: never a directory, link or file the user made.
    pub fn undo(&self, out: &Path, files: &[String]) {
        for f in files {
            let _ = std::fs::remove_file(out.join(f));
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Creates the run directory `out`, which must not exist or be an empty directory (or a link to
/// one): a run never mixes with another's files. Says which directories it created.
pub fn create(out: &Path) -> Result<Created> {
    if std::fs::symlink_metadata(out).is_ok() {
        if !out.is_dir() {
            bail!(
                "run directory {}: exists and is not a directory",
                out.display()
            );
        }
        if std::fs::read_dir(out).map_or(true, |mut r| r.next().is_some()) {
            bail!(
                "run directory {} already exists and is not empty",
                out.display()
            );
        }
        return Ok(Created::default());
    }
    let mut dirs = Vec::new();
    let mut d = Some(out);
    while let Some(p) =
        d.filter(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err())
    {
        dirs.push(p.to_path_buf());
        d = p.parent();
    }
    let created = Created { dirs };
    if let Err(e) = std::fs::create_dir_all(out) {
        created.undo(out, &[]);
        bail!("cannot create run directory {}: {e}", out.display());
    }
    Ok(created)
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
