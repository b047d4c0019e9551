//! `zkgrad merge-lora`: write a LoRA run's merged model and print its commitment (without
//! verifying the run; see [`zkgrad_workflow::merge_lora`]).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkgrad_workflow::merge_lora::merge_lora;
use zkgrad_workflow::Failure;

#[derive(Args)]
pub struct MergeLoraArgs {
    /// The run directory of a LoRA run.
    run: PathBuf,
    /// Where to write the merged model (the base graph with W + (α/r)·B·A).
    #[arg(long)]
    out: PathBuf,
    /// The base model (default: the path recorded in the manifest).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(a: MergeLoraArgs) -> Result<(), Failure> {
    let m = merge_lora(&a.run, &a.out, a.model.as_ref())?;
    eprintln!(
        "merged W + ({}/{})·B·A from {} into {}; the run itself is not verified here: `zkgrad verify-run {} … --merged {}` does",
        m.alpha,
        m.rank,
        m.adapters.display(),
        a.out.display(),
        a.run.display(),
        a.out.display()
    );
    if a.json {
        out!(
            "{}",
            json!({"merged": a.out, "model_commitment": m.commitment, "run_verified": false})
        );
    } else {
        out!("{}", m.commitment);
    }
    Ok(())
}
