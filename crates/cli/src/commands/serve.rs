//! `zkgrad serve` and `zkgrad worker`: the proving service (`zkgrad-serve`), whose jobs run
//! this same binary's subcommands.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use zkgrad_serve::{ServeConfig, WorkerConfig};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// The data directory: the SQLite database, models, proofs, training runs.
    #[arg(long)]
    data: PathBuf,
    /// An API key clients send as `Authorization: Bearer KEY` (repeatable; also
    /// ZKGRAD_API_KEYS, comma-separated). Without any, the server listens on loopback only.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// Keep the state in PostgreSQL (postgres://user:password@host/db) instead of
    /// DATA/zkgrad.sqlite; `zkgrad worker` processes then share its queue.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Jobs this server runs at once (0: none, for a server whose jobs `zkgrad worker`
    /// processes run).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// The most jobs waiting in the queue; more are refused with 429.
    #[arg(long, default_value_t = 1000)]
    max_queue: i64,
    /// The most jobs one API key may have queued or running; more are refused with 429.
    #[arg(long, default_value_t = 100)]
    max_jobs_per_key: i64,
    /// A job's time limit in seconds (a request may ask for less).
    #[arg(long, default_value_t = 3600.0)]
    job_time_limit: f64,
    /// The largest model upload, in MiB.
    #[arg(long, default_value_t = 2048)]
    max_model_mib: usize,
    /// The largest other request body (a job: input, training data, proof), in MiB.
    #[arg(long, default_value_t = 64)]
    max_request_mib: usize,
    /// Allow models to be named by a path relative to this directory (`{"path": …}`) instead
    /// of uploaded (for models with external data, or too large to upload).
    #[arg(long, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// How long a worker's lease on a running job lasts without renewal, in seconds.
    #[arg(long, default_value_t = 30.0)]
    lease: f64,
}

#[derive(Args)]
pub struct WorkerArgs {
    /// The PostgreSQL database the server keeps its state in.
    #[arg(long, value_name = "URL")]
    database: String,
    /// The data directory, shared with the server (models, proofs, runs).
    #[arg(long)]
    data: PathBuf,
    /// Jobs this worker runs at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// How long the lease on a running job lasts without renewal, in seconds.
    #[arg(long, default_value_t = 30.0)]
    lease: f64,
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the zkgrad executable to run jobs with")
}

pub fn run(a: ServeArgs) -> Result<()> {
    let mut keys = a.api_keys;
    if let Ok(env) = std::env::var("ZKGRAD_API_KEYS") {
        keys.extend(
            env.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from),
        );
    }
    zkgrad_serve::serve(ServeConfig {
        addr: a.addr,
        data: a.data,
        database: a.database,
        api_keys: keys,
        workers: a.workers,
        max_queue: a.max_queue,
        max_jobs_per_key: a.max_jobs_per_key,
        job_time_limit_s: a.job_time_limit,
        max_model_bytes: a.max_model_mib.saturating_mul(1 << 20),
        max_request_bytes: a.max_request_mib.saturating_mul(1 << 20),
        model_dir: a.model_dir,
        exe: exe()?,
        lease_s: a.lease,
    })
}

pub fn run_worker(a: WorkerArgs) -> Result<()> {
    zkgrad_serve::worker(WorkerConfig {
        database: a.database,
        data: a.data,
        jobs: a.jobs,
        exe: exe()?,
        lease_s: a.lease,
    })
}
