//! `zkgrad train`: SGD or LoRA steps on a data set, each optionally proven, into a run
//! directory; progress and the summary on stderr, `--json` on stdout.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use zkgrad_workflow::train::{train, StepDone, TrainOptions};

use super::args::StepArgs;
use super::progress::Progress;

#[derive(Args)]
pub struct TrainArgs {
    /// The ONNX model (an MLP: Gemm/MatMul layers with ReLU, Sigmoid or Tanh).
    #[arg(long)]
    model: PathBuf,
    /// Training data: {"x": [[...]], "y": [[...]]} JSON, a CSV (with --targets), or a directory
    /// with x.npy and y.npy.
    #[arg(long)]
    data: PathBuf,
    /// For a CSV: how many of the last columns are targets.
    #[arg(long)]
    targets: Option<usize>,
    /// Number of SGD steps.
    #[arg(long, default_value_t = 1)]
    steps: usize,
    /// The run directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Prove every step.
    #[arg(long)]
    prove: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    step: StepArgs,
    /// Also report progress on stderr as JSON lines, {"progress": {"stage": "step", "done",
    /// "of"}} (for services that run the CLI).
    #[arg(long)]
    progress_json: bool,
}

pub fn run(a: TrainArgs) -> Result<()> {
    let o = TrainOptions {
        model: a.model,
        data: a.data,
        targets: a.targets,
        steps: a.steps,
        out: a.out,
        prove: a.prove,
        step: a.step.options(),
    };
    let progress = Progress {
        json: a.progress_json,
    };
    progress.stage("step", 0, o.steps);
    let s = train(&o, &mut |d: &StepDone| {
        progress.stage("step", d.step, d.steps);
        eprintln!(
            "step {}/{}: loss {:.6} (f64 SGD {:.6}){}",
            d.step,
            d.steps,
            d.loss,
            d.loss_f64,
            d.proof.map_or(String::new(), |p| format!(", proof {p}"))
        );
    })?;
    let max_dev = s.max_weight_deviation;
    eprintln!(
        "trained {} steps in {:.0} ms{}; max |W − W_f64 SGD| = {max_dev:.3e}; run in {}",
        s.steps,
        s.total_ms,
        if o.prove {
            format!(
                " (proving {:.0} ms, {} proof bytes)",
                s.prove_ms, s.proof_bytes
            )
        } else {
            String::new()
        },
        o.out.display()
    );
    if a.json {
        out!(
            "{}",
            json!({"run": o.out, "steps": s.steps, "total_ms": s.total_ms, "prove_ms": s.prove_ms, "proof_bytes": s.proof_bytes,
                   "final_weight_root": s.final_weight_root, "max_weight_deviation_from_f64_sgd": max_dev,
                   "final_loss": s.final_loss})
        );
    }
    Ok(())
}
