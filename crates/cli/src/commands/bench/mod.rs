//! `zkgrad bench`: prove time, verify time, proof bytes, peak RSS, one-time weight commitment
//! time and accuracy against the f64 model, per workload. Each workload runs in a child
//! process of its own so that its peak RSS is its own.

mod measure;
mod report;
mod workloads;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::Value;

use workloads::Workload;

#[derive(Args)]
pub struct BenchArgs {
    /// Run only these workloads (comma-separated); default: all of the suite.
    #[arg(long, value_delimiter = ',')]
    pub workload: Vec<String>,
    /// Which suite: "inference" (workload A and the dense nets), "training" (workload B: SGD
    /// steps), "cnn" (workload C at two precisions, and the real models) or "lora" (workload D:
    /// LoRA steps beside full SGD). For the training and LoRA suites the error column is the
    /// largest |weight after − f64 step| and the bracket the largest f64 update.
    #[arg(long, default_value = "inference")]
    pub suite: String,
    /// Timed repetitions of prove and verify (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Print one JSON object per workload instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the markdown table to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Commitment scheme: "auto" (the default: `zkgrad prove`'s choice for inference
    /// workloads, Ligero for training and LoRA steps), "ligero" or "whir".
    #[arg(long = "pcs", default_value = "auto", value_parser = zkgrad_workflow::scheme::parse_scheme)]
    pub pcs: zkgrad_workflow::scheme::PcsChoice,
    /// Internal: run one workload in this process.
    #[arg(long, hide = true)]
    pub child: bool,
}

pub fn run(a: BenchArgs) -> Result<()> {
    let all = match a.suite.as_str() {
        "inference" => workloads::workloads(),
        "training" => workloads::training_workloads(),
        "cnn" => workloads::cnn_workloads(),
        "lora" => workloads::lora_workloads(),
        "transformer" => workloads::transformer_workloads(),
        other => {
            bail!("unknown suite {other:?}; available: inference, training, cnn, lora, transformer")
        }
    };
    let chosen: Vec<&Workload> = if a.workload.is_empty() {
        all.iter().collect()
    } else {
        a.workload
            .iter()
            .map(|n| {
                all.iter().find(|w| w.name == *n).ok_or_else(|| {
                    anyhow!(
                        "unknown workload {n}; available: {}",
                        all.iter()
                            .map(|w| w.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    if a.child {
        let [w] = chosen.as_slice() else {
            bail!("--child runs exactly one workload")
        };
        out!("{}", measure::run_one(w, a.runs, a.pcs.0)?);
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the zkgrad binary")?;
    let mut rows = Vec::new();
    for w in chosen {
        eprintln!("bench {} ({}) ...", w.name, w.what);
        let mut cmd = Command::new(&exe);
        cmd.args([
            "bench",
            "--child",
            "--suite",
            &a.suite,
            "--workload",
            &w.name,
            "--runs",
            &a.runs.to_string(),
        ]);
        if let Some(s) = a.pcs.0 {
            cmd.args(["--pcs", s.name()]);
        }
        let out = cmd.output().context("cannot run the benchmark child")?;
        if !out.status.success() {
            bail!(
                "workload {} failed: {}",
                w.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let v: Value =
            serde_json::from_slice(&out.stdout).context("benchmark child printed no JSON")?;
        if a.json {
            out!("{v}");
        }
        rows.push(v);
    }
    let table = report::table(&rows, &a.suite);
    if !a.json {
        print!("{table}");
    }
    if let Some(p) = &a.out {
        std::fs::write(p, &table).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
