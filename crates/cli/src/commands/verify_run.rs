//! `zkgrad verify-run`: check a run directory against the statement its arguments give (see
//! [`zkgrad_workflow::verify_run`]), and print what it proves.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkgrad_workflow::run_dir::FINAL_ONNX;
use zkgrad_workflow::run_spec::loss_name;
use zkgrad_workflow::verify_run::{verify_run, VerifyRunOptions};
use zkgrad_workflow::Failure;

use super::args::StepArgs;

#[derive(Args)]
pub struct VerifyRunArgs {
    /// The run directory.
    run: PathBuf,
    /// The model the run started from (default: the path the manifest records; the proofs
    /// check the file either way).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The data the run was trained on: act_frac is derived from it as train derives it (unless
    /// --act-frac is given), and every step's batch is checked to be its samples in the run's
    /// order. Without it, the batches are not checked against any data.
    #[arg(long)]
    data: Option<PathBuf>,
    /// For a CSV data file: how many of the last columns are targets.
    #[arg(long)]
    targets: Option<usize>,
    /// The number of steps the run must have (default: any).
    #[arg(long)]
    steps: Option<usize>,
    /// For a LoRA run: also check that this model is the base model with W + (α/r)·B·A for the
    /// run's final adapters.
    #[arg(long)]
    merged: Option<PathBuf>,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    step: StepArgs,
}

pub fn run(a: VerifyRunArgs) -> Result<(), Failure> {
    let o = VerifyRunOptions {
        run: a.run,
        model: a.model,
        data: a.data,
        targets: a.targets,
        steps: a.steps,
        merged: a.merged,
        step: a.step.options(),
    };
    let r = verify_run(&o)?;
    let (n, spec, cfg, model) = (r.steps, &r.spec, r.cfg, &r.model);
    let (losses, final_root, exact) = (&r.losses, &r.final_weight_root, &r.exact_weights_file);
    let ms = r.verify_ms;
    if !r.batches_checked {
        eprintln!("note: the batches were not checked against a data file (give --data)");
    }
    if a.json {
        out!(
            "{}",
            json!({"verified": true, "steps": n, "model": model, "lr": spec.sgd.lr,
                   "batch": spec.sgd.batch, "loss": loss_name(spec.sgd.loss), "lora": spec.lora_json(),
                   "shuffle": spec.shuffle, "act_frac": cfg.act_frac, "weight_frac": cfg.weight_frac,
                   "table_bits": cfg.table_bits, "pcs": r.statement.scheme.name(), "losses": losses,
                   "batches_checked": r.batches_checked, "final_weight_root": final_root,
                   "final_files": [FINAL_ONNX, exact], "verify_ms": ms})
        );
    } else {
        out!("verified {n} steps");
        out!("model: {}", model.display());
        out!("statement: {}", spec.describe());
        out!("precision: {}", r.statement.precision_line());
        match (losses.first(), losses.last()) {
            (Some(first), Some(last)) if n > 1 => {
                out!("loss: step 1 {first:.6}, step {n} {last:.6}")
            }
            (Some(first), _) => out!("loss: step 1 {first:.6}"),
            _ => {}
        }
        if let Some(d) = &o.data {
            out!("batches: the samples of {} in the run's order", d.display());
        }
        out!("final weight root: {final_root}");
        out!("final files: {FINAL_ONNX} and {exact} hold the proven final weights");
        if let Some(p) = &o.merged {
            out!("merged model: {} is W + (α/r)·B·A for them", p.display());
        }
        eprintln!("checked in {ms:.1} ms");
    }
    Ok(())
}
