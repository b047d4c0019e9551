//! Where the service keeps its state: models, jobs and their results, in SQLite (embedded, the
//! default) or PostgreSQL (shared by many workers). Both keep the same rows and obey the same
//! rules; this module is the contract, `sqlite` and `postgres` its two implementations.
//!
//! # The job lifecycle
//! `queued → running → succeeded | failed | cancelled | timed_out`, and `queued → cancelled`.
//! A worker *claims* the oldest queued job and holds it under a *lease* (`lease_owner`,
//! `lease_until`) that it renews while the job runs ([`Store::heartbeat`]). Only the lease
//! holder can finish a job ([`Store::finish`] is conditional on `lease_owner`), so a job whose
//! worker died — its lease lapsed and another worker took it over — is finished exactly once.
//! [`Store::sweep`] puts a running job whose lease has lapsed back in the queue, or fails it
//! with the reason once it has been started [`MAX_ATTEMPTS`] times.
//!
//! Proof files are written (atomically, by rename) *before* a job is marked succeeded, so a
//! job is never reported succeeded without its proof.

pub mod postgres;
pub mod sqlite;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

/// How many times a job is started before a lapsed lease fails it instead of re-queueing it (a
/// job that kills its worker every time — out of memory — must not loop forever).
pub const MAX_ATTEMPTS: i64 = 3;

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::TimedOut,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::TimedOut => "timed_out",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.name() == s)
    }

    /// Whether the job is over (nothing will change it again).
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// A stored model: its id is its commitment under the default options.
#[derive(Clone, Debug, Serialize)]
pub struct ModelRow {
    pub id: String,
    pub created_at: f64,
    /// Where the ONNX file is: the service's copy, or a path on the server (`--model-dir`).
    pub path: String,
    pub size_bytes: i64,
    /// What `zkgrad commit --json` reported: parameters, inputs, outputs, precision, scheme.
    pub info: Value,
}

/// A job as stored.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub state: JobState,
    /// The request, as validated by the API.
    pub spec: Value,
    /// Which API key submitted it (a hash of the key, never the key).
    pub key_id: Option<String>,
    pub created_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    /// The latest progress report: `{"stage", "done", "of"}`.
    pub progress: Value,
    pub error: Option<String>,
    pub result: Option<Value>,
    pub attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<f64>,
    pub cancel_requested: bool,
    pub time_limit_s: f64,
}

/// A job to insert.
pub struct NewJob {
    pub id: String,
    pub kind: String,
    pub spec: Value,
    pub key_id: Option<String>,
    pub created_at: f64,
    pub time_limit_s: f64,
}

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds `max_queue` jobs already.
    QueueFull,
    /// The key has `max_per_key` jobs queued or running.
    KeyBusy,
}

/// What a heartbeat learned.
#[derive(Debug, PartialEq, Eq)]
pub enum Lease {
    /// Still ours; `cancel`: a cancel was requested.
    Held { cancel: bool },
    /// Another worker has the job now (our lease lapsed), or it is over.
    Lost,
}

/// The service's state. Every method is one transaction.
pub trait Store: Send + Sync {
    /// Which engine: "sqlite" or "postgres".
    fn engine(&self) -> &'static str;

    /// Stores a model and grants it to `key` (the uploader's key id; `""` on a server without
    /// keys); `false` if one with that id was there already (then only the grant is added:
    /// whoever uploads the same model holds it).
    fn put_model(&self, m: &ModelRow, key: &str) -> Result<bool>;
    /// A model, whoever holds it (workers).
    fn model(&self, id: &str) -> Result<Option<ModelRow>>;
    /// A model if `key` holds it.
    fn model_for(&self, id: &str, key: &str) -> Result<Option<ModelRow>>;
    /// The models `key` holds.
    fn models_for(&self, key: &str) -> Result<Vec<ModelRow>>;
    /// Takes `key`'s hold on a model away, and deletes the model's row once nobody holds it;
    /// `Some(true)` if the row went, `Some(false)` if others still hold it, `None` if `key`
    /// held no such model.
    fn release_model(&self, id: &str, key: &str) -> Result<Option<bool>>;
    /// How many queued or running jobs name the model.
    fn active_jobs_of_model(&self, id: &str) -> Result<i64>;

    /// Inserts a queued job unless the queue or the key is full (checked in the same
    /// transaction).
    fn insert_job(
        &self,
        j: &NewJob,
        max_queue: i64,
        max_per_key: i64,
    ) -> Result<std::result::Result<JobRow, Refused>>;
    fn job(&self, id: &str) -> Result<Option<JobRow>>;
    /// The newest `limit` jobs of `key` (every key's for `None`), in `state` if given, newest
    /// first.
    fn jobs(&self, limit: i64, key: Option<&str>, state: Option<JobState>) -> Result<Vec<JobRow>>;

    /// Claims the oldest queued job for `worker` until `now + lease_s`.
    fn claim(&self, worker: &str, now: f64, lease_s: f64) -> Result<Option<JobRow>>;
    /// Renews `worker`'s lease on a running job and records its progress.
    fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        now: f64,
        lease_s: f64,
        progress: &Value,
    ) -> Result<Lease>;
    /// Ends a running job held by `worker`; `false` if the lease is no longer `worker`'s
    /// (nothing changed).
    fn finish(
        &self,
        id: &str,
        worker: &str,
        state: JobState,
        now: f64,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<bool>;
    /// Cancels a queued job at once, or asks a running one's worker to stop it. Returns the
    /// job as it now stands.
    fn request_cancel(&self, id: &str, now: f64) -> Result<Option<JobRow>>;
    /// Running jobs whose lease lapsed before `now`: back to the queue, or failed with the
    /// reason after [`MAX_ATTEMPTS`] starts. Returns how many were moved.
    fn sweep(&self, now: f64) -> Result<usize>;
    /// Ends every lease at once (an embedded server restarting: it was the only worker, so
    /// whatever it was running is orphaned). The next [`Store::sweep`] re-queues them.
    fn release_all_leases(&self) -> Result<usize>;
    /// Jobs per state.
    fn counts(&self) -> Result<Vec<(JobState, i64)>>;
    /// Seconds from start to finish of every succeeded prove job.
    fn prove_durations(&self) -> Result<Vec<f64>>;
}

/// Opens the store a `--database` value names: `postgres://…` (or `postgresql://…`), or a
/// SQLite file (`sqlite://PATH` or a plain path).
pub fn open(database: &str) -> Result<Box<dyn Store>> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::open(database)?))
    } else {
        let path = database.strip_prefix("sqlite://").unwrap_or(database);
        Ok(Box::new(sqlite::SqliteStore::open(std::path::Path::new(
            path,
        ))?))
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The failure a lapsed lease leaves after the last attempt.
pub fn gave_up_reason() -> String {
    format!(
        "the worker running this job stopped (killed or crashed) {MAX_ATTEMPTS} times; not retried again"
    )
}
