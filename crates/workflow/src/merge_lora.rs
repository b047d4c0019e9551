//! Writing a LoRA run's merged model, W + (α/r)·B·A (what `zkgrad merge-lora` does).
//!
//! It does not verify the run: it builds the step circuit from the statement the manifest
//! records and only checks that the adapters commit to the manifest's final weight root;
//! `verify-run RUN/ … --merged OUT` checks the run and the merged model against the verifier's
//! own statement.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde_json::{json, Value};
use zkgrad_pcs::PcsParams;
use zkgrad_verifier::commit_weights_root;

use crate::cache::Mode;
use crate::commitment::commitment_hex;
use crate::failure::{unusable, Failure};
use crate::files::write_atomic;
use crate::hex::hex;
use crate::model::{LoadedModel, Precision};
use crate::run_dir::{read_adapters, read_manifest, run_model, ADAPTERS_FILE, MANIFEST};
use crate::run_spec::RunSpec;

/// A merged model written.
#[derive(Clone, Debug)]
pub struct MergedLora {
    /// The merged model's commitment, as `zkgrad commit` gives it (default precision and
    /// scheme).
    pub commitment: String,
    /// The run's α and rank, as its manifest records them.
    pub alpha: f64,
    pub rank: usize,
    /// The adapters file merged.
    pub adapters: PathBuf,
}

/// Writes the model the LoRA run `run`'s `adapters.json` describes to `out`: the base model
/// (`model`, else the path the manifest records) with W + (α/r)·B·A.
pub fn merge_lora(run: &Path, out: &Path, model: Option<&PathBuf>) -> Result<MergedLora, Failure> {
    let m = read_manifest(run)?;
    let spec = RunSpec::recorded(&m)
        .map_err(|e| unusable(anyhow!("{}: {e:#}", run.join(MANIFEST).display())))?;
    let Some(l) = &spec.lora else {
        return Err(unusable(anyhow!("{} is not a LoRA run", run.display())));
    };
    let model = run_model(&m, run, model)?;
    crate::files::check_outputs(&[("--out", out)], &[("the base model", model.as_path())])
        .map_err(unusable)?;
    let n = m.get("steps").and_then(Value::as_array).map_or(1, Vec::len);
    let circuit = spec.circuit(&model, None, n).map_err(unusable)?;
    let path = run.join(ADAPTERS_FILE);
    let doc = read_adapters(&path, &circuit.q0)
        .map_err(|e| unusable(anyhow!("{}: {e}", path.display())))?;
    let ints = circuit
        .weights_from_adapters(&doc, l)
        .map_err(|e| unusable(anyhow!("{}: {e}", path.display())))?;
    let root = hex(&commit_weights_root(
        &circuit.with_weights(&ints),
        &PcsParams::default(),
    ));
    if m.get("final_weight_root") != Some(&json!(root)) {
        return Err(unusable(anyhow!(
            "{}: these adapters do not commit to the manifest's final weight root",
            path.display()
        )));
    }
    let merged_graph = circuit.final_graph(&ints, Some(l));
    let onnx = zkgrad_onnx::export_weights(&circuit.bytes, &merged_graph, circuit.sources())
        .map_err(|e| unusable(anyhow!("writing {}: {e}", out.display())))?;
    write_atomic(out, &onnx).map_err(unusable)?;
    // The merged model's commitment, as `zkgrad commit` prints it (default precision and scheme).
    let lm = LoadedModel::load(out, &Precision::default(), Mode::Off).map_err(unusable)?;
    let scheme = zkgrad_verifier::protocol::auto_scheme(&lm.q);
    let wroot = commit_weights_root(&lm.q, &PcsParams::for_scheme(scheme));
    Ok(MergedLora {
        commitment: commitment_hex(&lm.q.describe(), &wroot),
        alpha: l.alpha,
        rank: l.rank,
        adapters: path,
    })
}
