//! Workers: claim a job, run it, record how it ended.
//!
//! A job runs as a child process of the `zkgrad` binary itself — `zkgrad prove`, `zkgrad
//! verify` or `zkgrad train --prove` with `--json` — so the service proves through exactly the
//! CLI's code paths, and a job can be stopped at any moment (cancel, time limit) by killing its
//! process, which also contains a crash or an out-of-memory kill to the one job. The child
//! reports its stages as `--progress-json` lines on stderr; the worker records them with each
//! lease renewal. The child is started with `--exit-with-parent`: it exits when its stdin
//! closes, so a worker killed with `kill -9` leaves no prover running behind it.
//!
//! The order of the ending is what makes a crash harmless: the proof file is written in the
//! job's work directory, synced, and renamed into `proofs/` (atomic), and only then is the job
//! marked succeeded — conditionally on still holding its lease. A crash before the mark leaves
//! a running job whose lease lapses and which is run again.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::store::{now, JobRow, JobState, Lease, Store};

/// What workers need to run jobs.
pub struct RunnerConfig {
    /// The `zkgrad` executable the jobs run.
    pub exe: PathBuf,
    /// The data directory: `models/`, `proofs/`, `runs/`, `work/`, `cache/`.
    pub data: PathBuf,
    /// How long a lease lasts without renewal (seconds); renewed (and a cancel looked for)
    /// every `min(lease_s / 10, 1 s)`.
    pub lease_s: f64,
    /// This process's name in leases.
    pub worker_name: String,
}

impl RunnerConfig {
    /// A succeeded job's proof: named by the attempt that made it, so that a worker whose
    /// lease lapsed mid-job can never overwrite the proof of the attempt that was recorded.
    pub fn proof_path(&self, job_id: &str, attempt: i64) -> PathBuf {
        self.data
            .join("proofs")
            .join(format!("{job_id}-{attempt}.zkp"))
    }

    /// A succeeded training job's run directory (named as [`Self::proof_path`]).
    pub fn run_dir(&self, job_id: &str, attempt: i64) -> PathBuf {
        self.data.join("runs").join(format!("{job_id}-{attempt}"))
    }

    /// A job's payload (its input, training data or proof), written before its row.
    pub fn payload_path(&self, job_id: &str) -> PathBuf {
        self.data.join("payloads").join(job_id)
    }
}

/// Wakes idle workers when a job is queued (in this process; workers elsewhere poll).
#[derive(Default)]
pub struct Wake {
    posted: Mutex<u64>,
    cv: std::sync::Condvar,
}

impl Wake {
    pub fn notify(&self) {
        if let Ok(mut n) = self.posted.lock() {
            *n += 1;
        }
        self.cv.notify_all();
    }

    /// Waits until [`Self::notify`] or `timeout`.
    fn wait(&self, timeout: Duration) {
        if let Ok(n) = self.posted.lock() {
            let seen = *n;
            let _ = self.cv.wait_timeout_while(n, timeout, |n| *n == seen);
        }
    }
}

/// Creates the data directory's subdirectories.
pub fn prepare_data_dir(data: &Path) -> Result<()> {
    for d in [
        "models", "proofs", "runs", "payloads", "work", "tmp", "cache",
    ] {
        std::fs::create_dir_all(data.join(d))
            .with_context(|| format!("cannot create {}", data.join(d).display()))?;
    }
    Ok(())
}

/// Starts `n` worker threads; they stop claiming once `stop` is set.
pub fn start_workers(
    store: Arc<dyn Store>,
    cfg: Arc<RunnerConfig>,
    n: usize,
    stop: Arc<AtomicBool>,
    wake: Arc<Wake>,
) -> Vec<thread::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let (store, cfg, stop, wake) = (store.clone(), cfg.clone(), stop.clone(), wake.clone());
            thread::spawn(move || {
                worker_loop(
                    &*store,
                    &cfg,
                    &format!("{}-{i}", cfg.worker_name),
                    &stop,
                    &wake,
                )
            })
        })
        .collect()
}

/// Claims and runs jobs until `stop` is set.
pub fn worker_loop(
    store: &dyn Store,
    cfg: &RunnerConfig,
    name: &str,
    stop: &AtomicBool,
    wake: &Wake,
) {
    let mut idle = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        let claimed = store
            .sweep(now())
            .and_then(|_| store.claim(name, now(), cfg.lease_s));
        match claimed {
            Ok(Some(job)) => {
                idle = Duration::from_millis(50);
                run_job(store, cfg, name, &job);
            }
            Ok(None) => {
                wake.wait(idle);
                idle = (idle * 2).min(Duration::from_millis(400));
            }
            Err(e) => {
                eprintln!("worker {name}: database: {e:#}");
                thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// How a child process ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    /// The stderr lines that were not progress reports (the last 40).
    stderr: Vec<String>,
}

/// Why a job stopped before its process ended by itself.
enum Stopped {
    Cancelled,
    TimedOut(f64),
    LeaseLost,
}

fn run_job(store: &dyn Store, cfg: &RunnerConfig, worker: &str, job: &JobRow) {
    let work = cfg
        .data
        .join("work")
        .join(format!("{}-{}", job.id, job.attempts));
    let _ = std::fs::remove_dir_all(&work);
    let outcome = std::fs::create_dir_all(&work)
        .map_err(|e| format!("cannot create the work directory: {e}"))
        .and_then(|()| model_unchanged(store, job))
        .and_then(|()| command(store, cfg, job, &work))
        .map(|cmd| supervise(store, cfg, worker, job, cmd));
    let (state, result, error) = match outcome {
        Err(why) => (JobState::Failed, None, Some(why)),
        Ok(Err(Stopped::LeaseLost)) => {
            // Another worker has it: leave it alone.
            let _ = std::fs::remove_dir_all(&work);
            return;
        }
        Ok(Err(Stopped::Cancelled)) => (JobState::Cancelled, None, Some("cancelled".to_string())),
        Ok(Err(Stopped::TimedOut(limit))) => (
            JobState::TimedOut,
            None,
            Some(format!(
                "time limit of {limit} s reached; the job was stopped"
            )),
        ),
        Ok(Ok(ended)) => match conclude(cfg, job, &work, &ended) {
            Ok((state, result)) => (state, Some(result), None),
            Err(why) => (JobState::Failed, None, Some(why)),
        },
    };
    let recorded = store.finish(
        &job.id,
        worker,
        state,
        now(),
        result.as_ref(),
        error.as_deref(),
    );
    if matches!(recorded, Ok(true)) {
        let _ = std::fs::remove_file(cfg.payload_path(&job.id));
    } else if state == JobState::Succeeded {
        // Not ours to record any more: what this attempt published goes.
        let _ = std::fs::remove_file(cfg.proof_path(&job.id, job.attempts));
        let _ = std::fs::remove_dir_all(cfg.run_dir(&job.id, job.attempts));
    }
    match recorded {
        Ok(true) => eprintln!(
            "worker {worker}: job {} {} (attempt {})",
            job.id,
            state.name(),
            job.attempts
        ),
        // The lease lapsed while the job ran and another worker has it now: its end is the
        // other worker's to record.
        Ok(false) => eprintln!(
            "worker {worker}: job {}: lease lost before it ended; not recorded",
            job.id
        ),
        Err(e) => eprintln!(
            "worker {worker}: job {}: cannot record its end: {e:#}",
            job.id
        ),
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// The job's model file is the one that was registered (its BLAKE3 hash recorded then).
fn model_unchanged(store: &dyn Store, job: &JobRow) -> std::result::Result<(), String> {
    let Some(id) = job.spec.get("model_id").and_then(Value::as_str) else {
        return Ok(()); // a verify job by commitment
    };
    let m = match store.model(id) {
        Ok(Some(m)) => m,
        Ok(None) => return Err(format!("model {id} is not stored (deleted?)")),
        Err(e) => return Err(format!("database: {e:#}")),
    };
    let Some(want) = m.info.get("file_blake3").and_then(Value::as_str) else {
        return Ok(());
    };
    match crate::api::file_hash(Path::new(&m.path)) {
        Ok(h) if h == want => Ok(()),
        Ok(_) => Err(format!(
            "the model file changed since it was registered as {id}; register it again"
        )),
        Err(e) => Err(format!("the model file cannot be read: {e}")),
    }
}

/// The child process for a job: `zkgrad <subcommand> …` with its files in `work`.
fn command(
    store: &dyn Store,
    cfg: &RunnerConfig,
    job: &JobRow,
    work: &Path,
) -> std::result::Result<Command, String> {
    let spec = &job.spec;
    let model_path = |id: &str| -> std::result::Result<String, String> {
        match store.model(id) {
            Ok(Some(m)) => Ok(m.path),
            Ok(None) => Err(format!("model {id} is not stored (deleted?)")),
            Err(e) => Err(format!("database: {e:#}")),
        }
    };
    // The payload, copied into the work directory under the name the child reads.
    let copy_payload = |name: &str| -> std::result::Result<PathBuf, String> {
        let p = work.join(name);
        std::fs::copy(cfg.payload_path(&job.id), &p)
            .map_err(|e| format!("the job's payload is missing: {e}"))?;
        Ok(p)
    };
    let mut cmd = Command::new(&cfg.exe);
    let options = spec.get("options").cloned().unwrap_or(json!({}));
    match job.kind.as_str() {
        "prove" => {
            let model = model_path(str_field(spec, "model_id"))?;
            let input = copy_payload("input.json")?;
            cmd.arg("prove")
                .arg("--model")
                .arg(model)
                .arg("--input")
                .arg(input)
                .arg("--proof")
                .arg(work.join("proof.zkp"))
                .args(["--json", "--progress-json"]);
            precision_args(&mut cmd, &options);
        }
        "verify" => {
            let proof = copy_payload("proof.zkp")?;
            cmd.arg("verify").arg("--proof").arg(proof).arg("--json");
            if let Some(c) = spec.get("commitment").and_then(Value::as_str) {
                cmd.arg("--commitment").arg(c);
            } else {
                cmd.arg("--model")
                    .arg(model_path(str_field(spec, "model_id"))?);
            }
            precision_args(&mut cmd, &options);
        }
        "train" => {
            let model = model_path(str_field(spec, "model_id"))?;
            let data = copy_payload("data.json")?;
            cmd.arg("train")
                .arg("--model")
                .arg(model)
                .arg("--data")
                .arg(data)
                .arg("--out")
                .arg(work.join("run"))
                .args(["--json", "--progress-json"]);
            if options
                .get("prove")
                .and_then(Value::as_bool)
                .unwrap_or(true)
            {
                cmd.arg("--prove");
            }
            for (key, flag) in [
                ("steps", "--steps"),
                ("loss", "--loss"),
                ("lr", "--lr"),
                ("batch", "--batch"),
                ("shuffle", "--shuffle"),
                ("lora_rank", "--lora-rank"),
                ("lora_alpha", "--lora-alpha"),
                ("lora_targets", "--lora-targets"),
                ("table_bits", "--table-bits"),
                ("act_frac", "--act-frac"),
                ("weight_frac", "--weight-frac"),
            ] {
                if let Some(v) = options.get(key) {
                    cmd.arg(flag).arg(scalar(v));
                }
            }
        }
        other => return Err(format!("unknown job kind {other:?}")),
    }
    cmd.arg("--exit-with-parent")
        .env("ZKGRAD_CACHE_DIR", cfg.data.join("cache"))
        .current_dir(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(cmd)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The precision and scheme options of `prove` and `verify`.
fn precision_args(cmd: &mut Command, options: &Value) {
    for (key, flag) in [
        ("pcs", "--pcs"),
        ("table_bits", "--table-bits"),
        ("act_frac", "--act-frac"),
        ("weight_frac", "--weight-frac"),
    ] {
        if let Some(v) = options.get(key) {
            cmd.arg(flag).arg(scalar(v));
        }
    }
    for (key, flag) in [
        ("per_tensor_scales", "--per-tensor-scales"),
        ("global_scale", "--global-scale"),
    ] {
        if options.get(key).and_then(Value::as_bool) == Some(true) {
            cmd.arg(flag);
        }
    }
}

/// How often a running job's worker looks for a cancel between lease renewals.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Runs the child to its end, renewing the lease and recording progress every
/// `min(lease_s / 10, 1 s)`, and stops it on a cancel, the time limit, or a lost lease.
fn supervise(
    store: &dyn Store,
    cfg: &RunnerConfig,
    worker: &str,
    job: &JobRow,
    mut cmd: Command,
) -> std::result::Result<Ended, Stopped> {
    let progress = Arc::new(Mutex::new(json!({"stage": "starting", "done": 0, "of": 1})));
    let mut child: Child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ok(Ended {
                code: Some(2),
                stdout: String::new(),
                stderr: vec![format!("error: cannot start {}: {e}", cfg.exe.display())],
            })
        }
    };
    // Held open until the child ends: its closing tells the child to exit.
    let stdin = child.stdin.take();
    let stderr_lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let err_reader = child.stderr.take().map(|e| {
        let (progress, lines) = (progress.clone(), stderr_lines.clone());
        thread::spawn(move || {
            for line in BufReader::new(e).lines().map_while(Result::ok) {
                let parsed = serde_json::from_str::<Value>(&line).ok();
                if let Some(p) = parsed.as_ref().and_then(|v| v.get("progress")) {
                    if let Ok(mut g) = progress.lock() {
                        *g = p.clone();
                    }
                } else if let Ok(mut l) = lines.lock() {
                    l.push(line);
                    if l.len() > 40 {
                        l.remove(0);
                    }
                }
            }
        })
    });
    let out_reader = child.stdout.take().map(|mut o| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = o.read_to_string(&mut s);
            s
        })
    });
    let started = Instant::now();
    let renew = Duration::from_secs_f64((cfg.lease_s / 10.0).clamp(0.05, 1.0));
    let mut last_renewal = Instant::now();
    let mut last_check = Instant::now();
    let stopped = loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break None,
            Ok(None) => {}
        }
        if started.elapsed().as_secs_f64() > job.time_limit_s {
            break Some(Stopped::TimedOut(job.time_limit_s));
        }
        if last_check.elapsed() >= CANCEL_CHECK && last_renewal.elapsed() < renew {
            // Between renewals, a read for a cancel: a cancel stops the job within ~0.1 s.
            last_check = Instant::now();
            if let Ok(Some(j)) = store.job(&job.id) {
                if j.cancel_requested {
                    break Some(Stopped::Cancelled);
                }
            }
        }
        if last_renewal.elapsed() >= renew {
            last_renewal = Instant::now();
            let p = progress.lock().map(|g| g.clone()).unwrap_or(Value::Null);
            match store.heartbeat(&job.id, worker, now(), cfg.lease_s, &with_fraction(&p)) {
                Ok(Lease::Held { cancel: true }) => break Some(Stopped::Cancelled),
                Ok(Lease::Held { cancel: false }) => {}
                Ok(Lease::Lost) => break Some(Stopped::LeaseLost),
                // A database hiccup: keep running; the lease has slack for a few misses.
                Err(e) => eprintln!("worker {worker}: job {}: heartbeat: {e:#}", job.id),
            }
        }
        thread::sleep(Duration::from_millis(20));
    };
    if stopped.is_some() {
        let _ = child.kill();
    }
    let status = child.wait().ok();
    drop(stdin);
    let stdout = out_reader.and_then(|h| h.join().ok()).unwrap_or_default();
    if let Some(h) = err_reader {
        let _ = h.join();
    }
    if let Some(s) = stopped {
        return Err(s);
    }
    let stderr = stderr_lines.lock().map(|l| l.clone()).unwrap_or_default();
    Ok(Ended {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    })
}

/// A progress report with `fraction = done / of` added.
pub fn with_fraction(p: &Value) -> Value {
    let mut p = p.clone();
    let done = p.get("done").and_then(Value::as_f64).unwrap_or(0.0);
    let of = p.get("of").and_then(Value::as_f64).unwrap_or(1.0).max(1.0);
    if let Some(o) = p.as_object_mut() {
        o.insert("fraction".into(), json!((done / of).clamp(0.0, 1.0)));
    }
    p
}

/// The one-line reason a child failed (its last `error:` line, or its last line), without the
/// server's paths.
fn failure_line(cfg: &RunnerConfig, work: &Path, e: &Ended) -> String {
    let line = raw_failure_line(e);
    let mut line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    for (name, what) in [
        ("input.json", "the job's input"),
        ("data.json", "the job's data"),
        ("proof.zkp", "the proof"),
    ] {
        line = line.replace(&work.join(name).display().to_string(), what);
    }
    line = line.replace(&work.display().to_string(), "<work>");
    line.replace(&cfg.data.display().to_string(), "<data>")
}

fn raw_failure_line(e: &Ended) -> String {
    let line = e
        .stderr
        .iter()
        .rev()
        .find(|l| l.starts_with("error"))
        .or_else(|| e.stderr.last())
        .cloned()
        .unwrap_or_else(|| match e.code {
            Some(c) => format!("the job's process exited with status {c}"),
            None => "the job's process was killed by a signal".to_string(),
        });
    line
}

/// How a job whose process ended by itself went: its state and result. Files it made are moved
/// into place (synced, renamed) before this returns.
fn conclude(
    cfg: &RunnerConfig,
    job: &JobRow,
    work: &Path,
    e: &Ended,
) -> std::result::Result<(JobState, Value), String> {
    let summary = || -> std::result::Result<Value, String> {
        serde_json::from_str(e.stdout.trim())
            .map_err(|err| format!("the job's process printed no summary ({err})"))
    };
    match (job.kind.as_str(), e.code) {
        ("prove", Some(0)) => {
            let mut s = summary()?;
            // With the default options the proof's model commitment is the model's id: a
            // model file changed since it was registered is not proven under the old id.
            let defaults = job.spec.get("options").is_none_or(|o| o == &json!({}));
            let proved = s.get("model_commitment").and_then(Value::as_str);
            if defaults && proved != job.spec.get("model_id").and_then(Value::as_str) {
                return Err(format!(
                    "the model file changed since it was registered: it commits to {}",
                    proved.unwrap_or("?")
                ));
            }
            publish_file(
                &work.join("proof.zkp"),
                &cfg.proof_path(&job.id, job.attempts),
            )?;
            if let Some(o) = s.as_object_mut() {
                o.remove("proof"); // the work directory's path, gone now
            }
            Ok((JobState::Succeeded, s))
        }
        ("verify", Some(0)) => Ok((JobState::Succeeded, summary()?)),
        // Exit 1: the proof is invalid — a verdict, not a failure of the job.
        ("verify", Some(1)) => {
            let mut s = summary().unwrap_or_else(|_| json!({}));
            if let Some(o) = s.as_object_mut() {
                o.insert("verified".into(), json!(false));
                o.entry("error")
                    .or_insert_with(|| json!(failure_line(cfg, work, e)));
            }
            Ok((JobState::Succeeded, s))
        }
        ("train", Some(0)) => {
            let mut s = summary()?;
            let dest = cfg.run_dir(&job.id, job.attempts);
            let _ = std::fs::remove_dir_all(&dest);
            sync_tree(&work.join("run"))?;
            std::fs::rename(work.join("run"), &dest)
                .map_err(|err| format!("cannot move the run directory into place: {err}"))?;
            sync_dir(dest.parent().unwrap_or(&cfg.data))?;
            if let Some(o) = s.as_object_mut() {
                o.remove("run");
            }
            Ok((JobState::Succeeded, s))
        }
        _ => Err(failure_line(cfg, work, e)),
    }
}

/// Moves `from` to `to` durably: `from` synced, renamed (atomic), the directory synced.
fn publish_file(from: &Path, to: &Path) -> std::result::Result<(), String> {
    std::fs::File::open(from)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("the proof file is missing: {e}"))?;
    std::fs::rename(from, to).map_err(|e| format!("cannot move the proof into place: {e}"))?;
    if let Some(dir) = to.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::result::Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", dir.display()))
}

/// Syncs every file under `dir`, and the directories.
fn sync_tree(dir: &Path) -> std::result::Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| format!("cannot sync {}: {e}", p.display()))?;
        }
    }
    sync_dir(dir)
}
