//! `zkgrad serve`: a proving service. Clients upload models, post prove, verify and training
//! jobs, follow their progress and fetch their proofs over HTTP (an OpenAPI document at
//! `/openapi.json`, a status page at `/`); workers run the jobs.
//!
//! - **State** lives in a [`store::Store`]: SQLite under the data directory by default,
//!   PostgreSQL with `--database postgres://…`, where `zkgrad worker` processes on any number of
//!   machines share the queue (`FOR UPDATE SKIP LOCKED` and leases; no protocol of our own).
//! - **Jobs run as child processes** of the `zkgrad` binary ([`runner`]): the CLI's own code
//!   paths, killable at any moment (cancel, time limit), a crash contained to one job.
//! - **Nothing is lost on a crash**: an accepted job is a committed row before the client hears
//!   of it; a proof file is in place before its job is marked succeeded; a job whose worker died
//!   is run again (or failed with the reason after [`store::MAX_ATTEMPTS`] starts).
//!
//! This is the only crate that knows HTTP and the API's JSON shapes ([`api`]).

pub mod api;
pub mod openapi;
pub mod runner;
pub mod store;
mod tar;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use runner::RunnerConfig;
use store::Store;

/// `zkgrad serve`'s settings.
pub struct ServeConfig {
    pub addr: String,
    pub data: PathBuf,
    /// `None`: SQLite at `data/zkgrad.sqlite`.
    pub database: Option<String>,
    pub api_keys: Vec<String>,
    pub workers: usize,
    pub max_queue: i64,
    pub max_jobs_per_key: i64,
    pub job_time_limit_s: f64,
    pub max_model_bytes: usize,
    pub max_request_bytes: usize,
    pub model_dir: Option<PathBuf>,
    /// The `zkgrad` executable jobs run.
    pub exe: PathBuf,
    pub lease_s: f64,
}

/// `zkgrad worker`'s settings.
pub struct WorkerConfig {
    pub database: String,
    pub data: PathBuf,
    pub jobs: usize,
    pub exe: PathBuf,
    pub lease_s: f64,
}

/// A name for this process's leases: host, process id and a random suffix.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}-{}", std::process::id(), &api::random_id()[..6])
}

fn check_lease(lease_s: f64) -> Result<()> {
    if !(lease_s.is_finite() && (1.0..=3600.0).contains(&lease_s)) {
        bail!("--lease must be within 1..=3600 seconds, got {lease_s}");
    }
    Ok(())
}

/// Runs the service until interrupted (Ctrl-C or SIGTERM).
pub fn serve(cfg: ServeConfig) -> Result<()> {
    check_lease(cfg.lease_s)?;
    if !(cfg.job_time_limit_s.is_finite() && cfg.job_time_limit_s > 0.0) {
        bail!(
            "--job-time-limit must be a positive number of seconds, got {}",
            cfg.job_time_limit_s
        );
    }
    if cfg.max_queue < 1 || cfg.max_jobs_per_key < 1 {
        bail!("--max-queue and --max-jobs-per-key must be at least 1");
    }
    if cfg.api_keys.iter().any(|k| k.len() < 16) {
        bail!("an API key must be at least 16 characters long");
    }
    let mut addr: SocketAddr = cfg.addr.parse().with_context(|| {
        format!(
            "--addr {:?} is not an address like 127.0.0.1:8080",
            cfg.addr
        )
    })?;
    let mut note = String::new();
    if cfg.api_keys.is_empty() && !addr.ip().is_loopback() {
        note = format!(
            " (no API key: listening on loopback only instead of {}; give --api-key or \
             ZKGRAD_API_KEYS to serve other machines)",
            addr.ip()
        );
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let model_dir = match &cfg.model_dir {
        Some(d) => Some(
            d.canonicalize()
                .with_context(|| format!("--model-dir {}", d.display()))?,
        ),
        None => None,
    };
    std::fs::create_dir_all(&cfg.data)
        .with_context(|| format!("cannot create the data directory {}", cfg.data.display()))?;
    let data = cfg
        .data
        .canonicalize()
        .with_context(|| format!("data directory {}", cfg.data.display()))?;
    runner::prepare_data_dir(&data)?;
    if let Some(d) = &model_dir {
        if d.starts_with(&data) || data.starts_with(d) {
            bail!(
                "--model-dir {} and the data directory {} overlap: give separate directories",
                d.display(),
                data.display()
            );
        }
    }
    let database = cfg
        .database
        .clone()
        .unwrap_or_else(|| data.join("zkgrad.sqlite").display().to_string());
    let store: Arc<dyn Store> = Arc::from(store::open(&database)?);
    let embedded = store.engine() == "sqlite";
    // One embedded server per data directory: a second one's start would end the first one's
    // leases. Held (an OS lock, released when the process ends, however it ends) until exit.
    let _lock = if embedded {
        let f = std::fs::File::create(data.join("lock"))
            .with_context(|| format!("cannot create {}", data.join("lock").display()))?;
        if f.try_lock().is_err() {
            bail!(
                "another zkgrad serve is using the data directory {}",
                data.display()
            );
        }
        Some(f)
    } else {
        None
    };
    if embedded {
        // This process was the database's only worker: whatever was running is orphaned.
        let released = store.release_all_leases()?;
        let moved = store.sweep(store::now())?;
        if released > 0 {
            eprintln!("recovered {released} job(s) that were running when the server stopped ({moved} re-queued or ended)");
        }
        let _ = std::fs::remove_dir_all(data.join("work"));
        let _ = std::fs::remove_dir_all(data.join("tmp"));
        runner::prepare_data_dir(&data)?;
        // An upload killed between its rename and its row left a file no row names.
        for e in std::fs::read_dir(data.join("models"))?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".onnx") {
                if store.model(id)?.is_none() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    let runner_cfg = Arc::new(RunnerConfig {
        exe: cfg.exe.clone(),
        data: data.clone(),
        lease_s: cfg.lease_s,
        worker_name: worker_name(),
    });
    let wake = Arc::new(runner::Wake::default());
    let app = Arc::new(api::App {
        store: store.clone(),
        runner: runner_cfg.clone(),
        keys: cfg.api_keys.iter().map(|k| api::ApiKey::new(k)).collect(),
        max_queue: cfg.max_queue,
        max_jobs_per_key: cfg.max_jobs_per_key,
        job_time_limit_s: cfg.job_time_limit_s,
        max_model_bytes: cfg.max_model_bytes,
        max_request_bytes: cfg.max_request_bytes,
        model_dir,
        workers: cfg.workers,
        wake: wake.clone(),
        validations: tokio::sync::Semaphore::new(2),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let _workers =
            runner::start_workers(store.clone(), runner_cfg, cfg.workers, stop.clone(), wake);
        eprintln!(
            "zkgrad serve: listening on http://{local}{note}; database {} ({}), {} worker(s), data {}",
            store.engine(),
            if embedded {
                database.clone()
            } else {
                store::postgres::redact(&database)
            },
            cfg.workers,
            data.display()
        );
        axum::serve(listener, api::router(app))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the HTTP server stopped")?;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        eprintln!("zkgrad serve: stopped; running jobs are run again on the next start");
        anyhow::Ok(())
    })?;
    // Running jobs' children exit when this process's end closes their stdin.
    std::process::exit(0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs jobs from a PostgreSQL queue until the process is stopped. A worker stopped at any
/// moment (even `kill -9`) loses nothing: its leases lapse and other workers run its jobs.
pub fn worker(cfg: WorkerConfig) -> Result<()> {
    check_lease(cfg.lease_s)?;
    if !(cfg.database.starts_with("postgres://") || cfg.database.starts_with("postgresql://")) {
        bail!(
            "zkgrad worker needs a PostgreSQL --database (postgres://…); the embedded SQLite \
             store is run by `zkgrad serve` itself"
        );
    }
    if cfg.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let data = cfg.data.canonicalize().with_context(|| {
        format!(
            "data directory {} (shared with the server)",
            cfg.data.display()
        )
    })?;
    runner::prepare_data_dir(&data)?;
    let store: Arc<dyn Store> = Arc::from(store::open(&cfg.database)?);
    let runner_cfg = Arc::new(RunnerConfig {
        exe: cfg.exe,
        data: data.clone(),
        lease_s: cfg.lease_s,
        worker_name: worker_name(),
    });
    eprintln!(
        "zkgrad worker {}: running up to {} job(s) at once from {} (data {})",
        runner_cfg.worker_name,
        cfg.jobs,
        store::postgres::redact(&cfg.database),
        data.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(runner::Wake::default());
    for h in runner::start_workers(store, runner_cfg, cfg.jobs, stop, wake) {
        let _ = h.join();
    }
    Ok(())
}
