//! `zkgrad`: prove and verify neural-network inference. A thin binary over the libraries: each
//! subcommand lives in [`commands`], over [`zkgrad_workflow`].
//!
//! Exit codes: 0 success (for `verify`: the proof is valid); 1 the proof is invalid; 2 the input
//! was unusable (missing or malformed file, unsupported model, bad arguments). Results go to
//! stdout, progress and summaries to stderr.

/// `println!` that ignores a closed stdout (`zkgrad … | head` must not panic).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod allocator;
mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zkgrad_workflow::Failure;

use commands::{
    bench, commit, generate, inspect, merge_lora, prove, serve, train, verify, verify_run,
};

#[derive(Parser)]
#[command(
    name = "zkgrad",
    version,
    about = "Succinct proofs of neural-network inference, checked in milliseconds, with no trusted setup"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// The most elements one tensor of an imported model may declare (default 2^28): sizes
    /// are checked against it before anything is allocated.
    #[arg(long, global = true, value_name = "N")]
    max_tensor_elements: Option<usize>,
    /// The most nodes an imported model may have (default 1,000,000).
    #[arg(long, global = true, value_name = "N")]
    max_nodes: Option<usize>,
    /// Exit (status 3) as soon as standard input closes: a service that runs zkgrad as a child
    /// process holds the pipe, so a child never outlives a killed service.
    #[arg(long, global = true, hide = true)]
    exit_with_parent: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a model on an input and prove the result.
    Prove(prove::ProveArgs),
    /// Generate tokens greedily with a language model and prove the decoding (one forward pass
    /// over prompt and output, a proven argmax at every generated position).
    Generate(generate::GenerateArgs),
    /// Check a proof (exit 0: valid, 1: invalid, 2: unusable input).
    Verify(verify::VerifyArgs),
    /// Print a model's commitment, its public fingerprint.
    Commit(commit::CommitArgs),
    /// Print a model's graph, shapes, parameter count and what zkgrad supports.
    Inspect(inspect::InspectArgs),
    /// Measure prove/verify time, proof size, peak memory and accuracy on the built-in workloads.
    Bench(bench::BenchArgs),
    /// Train with SGD, optionally proving every step, into a run directory.
    Train(train::TrainArgs),
    /// Check a run directory against a training statement: every step's proof, the chain of
    /// weight commitments, the manifest and the final files.
    VerifyRun(verify_run::VerifyRunArgs),
    /// Run the proving service: an HTTP API over jobs kept in SQLite (or PostgreSQL), with
    /// workers that run them.
    Serve(serve::ServeArgs),
    /// Run jobs from a PostgreSQL-backed service's queue (as many workers, on as many machines,
    /// as wanted).
    Worker(serve::WorkerArgs),
    /// Write a LoRA run's merged model (W + (α/r)·B·A) as ONNX and print its commitment (does not
    /// verify the run: verify-run --merged does).
    MergeLora(merge_lora::MergeLoraArgs),
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    if cli.exit_with_parent {
        std::thread::spawn(|| {
            use std::io::Read as _;
            let mut sink = [0u8; 256];
            while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(3);
        });
    }
    let defaults = zkgrad_onnx::Limits::default();
    zkgrad_workflow::limits::set(zkgrad_onnx::Limits {
        max_tensor_elements: cli
            .max_tensor_elements
            .unwrap_or(defaults.max_tensor_elements),
        max_nodes: cli.max_nodes.unwrap_or(defaults.max_nodes),
    });
    let result = match cli.cmd {
        Cmd::Prove(a) => prove::run(a).map_err(Failure::from),
        Cmd::Generate(a) => generate::run(a).map_err(Failure::from),
        Cmd::Verify(a) => verify::run(a),
        Cmd::Commit(a) => commit::run(a).map_err(Failure::from),
        Cmd::Inspect(a) => inspect::run(a).map_err(Failure::from),
        Cmd::Bench(a) => bench::run(a).map_err(Failure::from),
        Cmd::Train(a) => train::run(a).map_err(Failure::from),
        Cmd::VerifyRun(a) => verify_run::run(a),
        Cmd::MergeLora(a) => merge_lora::run(a),
        Cmd::Serve(a) => serve::run(a).map_err(Failure::from),
        Cmd::Worker(a) => serve::run_worker(a).map_err(Failure::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(msg)) => {
            eprintln!("invalid proof: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Unusable(e)) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}
