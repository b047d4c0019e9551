//! `zkgrad prove`: run a model on an input and prove the result.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde_json::json;
use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::files::{check_outputs, write_all_or_nothing};
use zkgrad_workflow::input::read_input;
use zkgrad_workflow::model::LoadedModel;
use zkgrad_workflow::prove::{prove_once, InferenceProof, ProvenOnce};

use super::args::{Precision, SchemeChoice};
use super::progress::Progress;

#[derive(Args)]
pub struct ProveArgs {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// The input: {"input_data": [[...]]}, a JSON array, or a .npy file.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the proof.
    #[arg(long)]
    proof: PathBuf,
    /// Also write the dequantized output as {"output_data": [[...]]}.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Also print, per layer, the largest error of the proven (quantized) values against the
    /// float model (stderr; with --json, as "report").
    #[arg(long)]
    report: bool,
    #[command(flatten)]
    precision: Precision,
    #[command(flatten)]
    scheme: SchemeChoice,
    /// Also report progress on stderr as JSON lines, {"progress": {"stage", "done", "of"}}
    /// (for services that run the CLI).
    #[arg(long)]
    progress_json: bool,
    /// Recompute the calibration instead of reading it from the cache (as `verify --no-cache`).
    #[arg(long)]
    no_cache: bool,
}

pub fn run(a: ProveArgs) -> Result<()> {
    let progress = Progress {
        json: a.progress_json,
    };
    progress.prove_stage("load");
    // A model with a dynamic sequence axis is specialized to the input's length.
    let n: usize = read_input(&a.input)?.iter().map(Vec::len).sum();
    // The calibration (66 float forward passes, most of the command for a large model) is read
    // from the authenticated cache that `commit` and `verify` share (crates/workflow/src/cache.rs).
    let cache = if a.no_cache { Mode::Off } else { Mode::Use };
    let mut m = LoadedModel::load_for_input(&a.model, &a.precision.options(), cache, n)?;
    let samples = read_input(&a.input)?;
    let x = m
        .join_inputs(&samples)
        .with_context(|| format!("input file {}", a.input.display()))?;
    let xq = m
        .quantize_input(&x)
        .with_context(|| format!("input file {}", a.input.display()))?;
    // Every output is checked before proving: a proof is written with its output or not at all.
    let mut outputs = vec![("--proof", a.proof.as_path())];
    if let Some(o) = &a.output {
        outputs.push(("--output", o.as_path()));
    }
    check_outputs(
        &outputs,
        &[
            ("--model", a.model.as_path()),
            ("--input", a.input.as_path()),
        ],
    )?;
    eprintln!(
        "proving {} ({} parameters, {} nodes; activations at 2^-{}, weights at 2^-{}, tables of 2^{})",
        a.model.display(),
        m.q.n_params(),
        m.graph.nodes.len(),
        m.q.config.act_frac,
        m.q.config.weight_frac,
        m.q.config.table_bits
    );
    // Proven once: what is no longer read is freed as it goes (`prove_once`).
    let ProvenOnce {
        proof: p,
        params,
        commit_time,
    } = prove_once(
        &mut m,
        a.scheme.scheme,
        &x,
        &xq,
        a.report,
        &|| progress.prove_stage("weights"),
        &|p| progress.phase(p),
    )
    .map_err(|e| anyhow!("model {}: {e}", a.model.display()))?;
    progress.prove_stage("write");
    let report = if a.report { report(&m, &p) } else { Vec::new() };
    let output_json = json!({ "output_data": p.output });
    let mut files = vec![(a.proof.as_path(), p.bytes.clone())];
    if let Some(o) = &a.output {
        files.push((o.as_path(), format!("{output_json}\n").into_bytes()));
    }
    write_all_or_nothing(&files)?;
    eprintln!("{}", super::phases_line(&p.out.timings));
    eprintln!(
        "proved in {:.1} ms (+{:.1} ms weight commitment); {} → {}",
        p.prove_time.as_secs_f64() * 1e3,
        commit_time.as_secs_f64() * 1e3,
        p.size_summary(params.scheme().name()),
        a.proof.display()
    );
    eprintln!(
        "max |error| against the float model: {:.3e}",
        p.max_abs_error
    );
    eprintln!("{}", super::soundness_line(p.out.soundness_bits));
    eprintln!("model commitment: {}", p.commitment);
    if a.json {
        out!(
            "{}",
            json!({
                "output_data": p.output,
                "float_output": p.float_output(&m),
                "report": report,
                "max_abs_error": p.max_abs_error,
                "prove_ms": p.prove_time.as_secs_f64() * 1e3,
                "weight_commit_ms": commit_time.as_secs_f64() * 1e3,
                "proof_bytes": p.bytes.len(),
                "proof_body_bytes": p.sizes().1,
                "soundness_bits": p.out.soundness_bits,
                "pcs": params.scheme().name(),
                "proof": a.proof,
                "model_commitment": p.commitment,
                "act_frac": m.q.config.act_frac,
                "weight_frac": m.q.config.weight_frac,
                "table_bits": m.q.config.table_bits,
            })
        );
    } else {
        out!("{}", json!(p.output));
    }
    Ok(())
}

/// `--report`: per layer, the largest error of the proven values against the float model, as a
/// table on stderr; the rows as JSON for `--json`.
fn report(m: &LoadedModel, p: &InferenceProof) -> Vec<serde_json::Value> {
    let rows = m.layer_errors(&p.float, &p.out.witness.values);
    eprintln!(
        "{:<36} {:<12} {:<18} {:>6} {:>12} {:>12}",
        "node", "op", "shape", "scale", "max |error|", "max |value|"
    );
    for r in &rows {
        eprintln!(
            "{:<36} {:<12} {:<18} {:>6} {:>12.3e} {:>12.3e}",
            r.node,
            r.op,
            format!("{:?}", r.shape),
            format!("2^-{}", r.scale_bits),
            r.max_abs_error,
            r.max_abs_value
        );
    }
    rows.iter()
        .map(|r| {
            json!({"node": r.node, "op": r.op, "shape": r.shape, "scale_bits": r.scale_bits,
                   "max_abs_error": r.max_abs_error, "max_abs_value": r.max_abs_value})
        })
        .collect()
}
